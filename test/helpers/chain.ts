// A real local EVM node (anvil) per test file, on a free port, with the contracts deployed. Transactions go
// through anvil's unlocked accounts (eth_sendTransaction with a fixed gas limit: one round trip, no gas
// estimation), signatures are made locally with the same accounts' keys.
import type { ChildProcess } from 'node:child_process';
import {
  type Contract,
  HDNodeWallet,
  Interface,
  type InterfaceAbi,
  JsonRpcProvider,
  Mnemonic,
  parseUnits,
  type TransactionReceipt,
  type Wallet,
} from 'ethers';
import { DEV_MNEMONIC, freePort, spawnAnvil, stopChild, waitForRpc } from '../../hack/chain/anvil.ts';
import { artifact, encodeItems } from '../../operator/settlement/contracts.ts';
import {
  type Contracts,
  connect,
  type DeployParams,
  type Deployment,
  deploy,
  type Roles,
} from '../../operator/settlement/deploy.ts';
import {
  buildTask,
  signTask,
  type TaskFields,
  type TaskValue,
  taskDomain,
  toContractTask,
} from '../../operator/settlement/task.ts';

export interface Chain {
  rpcUrl: string;
  provider: JsonRpcProvider;
  /** Account i of the dev mnemonic (unlocked on the node). */
  wallets: HDNodeWallet[];
  send<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

export async function startChain(accounts = 20, extraArgs: string[] = []): Promise<Chain> {
  const port = await freePort();
  const child: ChildProcess = spawnAnvil({ port, accounts, extraArgs });
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForRpc(rpcUrl, 30_000, () => child.exitCode === null);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, batchStallTime: 0, cacheTimeout: -1 });
  const root = HDNodeWallet.fromSeed(Mnemonic.fromPhrase(DEV_MNEMONIC).computeSeed());
  const wallets = Array.from({ length: accounts }, (_, i) => root.derivePath(`m/44'/60'/0'/0/${i}`).connect(provider));
  return {
    rpcUrl,
    provider,
    wallets,
    send: (method, params = []) => provider.send(method, params),
    stop: async () => {
      provider.destroy();
      await stopChild(child);
    },
  };
}

/** Account layout used by the contract tests. */
export const ACCOUNTS = { deployer: 0, coordinator: 1, verifier: 2, guardian: 3, feeRecipient: 4 } as const;

export interface Deployed {
  chain: Chain;
  dep: Deployment;
  c: Contracts;
  roles: Roles;
}

export async function deployAll(
  chain: Chain,
  params: Partial<DeployParams> = {},
  fund: bigint = 0n,
): Promise<Deployed> {
  const w = chain.wallets;
  const roles: Roles = {
    coordinator: w[ACCOUNTS.coordinator]!.address,
    verifier: w[ACCOUNTS.verifier]!.address,
    guardian: w[ACCOUNTS.guardian]!.address,
    feeRecipient: w[ACCOUNTS.feeRecipient]!.address,
  };
  const dep = await deploy({
    deployer: w[ACCOUNTS.deployer]! as unknown as Wallet,
    roles,
    params,
    fund: fund > 0n ? w.slice(5).map((x) => ({ address: x.address, amount: fund })) : [],
  });
  return { chain, dep, c: connect(dep, chain.provider), roles };
}

/** What a transaction did: its receipt, or the custom error it reverted with. */
export interface TxResult {
  ok: boolean;
  receipt: TransactionReceipt;
  gasUsed: bigint;
  /** Name of the custom error (or the revert string) when it reverted. */
  error?: string;
  errorArgs?: readonly unknown[];
}

const allErrors = (() => {
  const abis: InterfaceAbi[] = ['NVDAxToken', 'NVDAxGovernor', 'NVDAxTimelock', 'ProviderRegistry', 'Settlement'].map(
    (n) => artifact(n as 'Settlement').abi,
  );
  const frags = abis.flatMap((a) => new Interface(a).fragments.filter((f) => f.type === 'error'));
  const seen = new Set<string>();
  return new Interface(frags.filter((f) => !seen.has(f.format()) && seen.add(f.format())));
})();

export function decodeError(data: string | undefined): { name: string; args: readonly unknown[] } {
  if (!data || data === '0x') return { name: 'revert (no data)', args: [] };
  try {
    const e = allErrors.parseError(data);
    if (e) return { name: e.name, args: [...e.args] };
  } catch {}
  return { name: `unknown error ${data.slice(0, 10)}`, args: [] };
}

/**
 * Sends `contract.method(...args)` from the unlocked account `from` and waits for the receipt. A revert is
 * returned (ok: false) with its decoded error, not thrown.
 */
export async function tx(
  chain: Chain,
  from: string,
  contract: Contract,
  method: string,
  args: readonly unknown[],
  gas = 29_000_000n,
): Promise<TxResult> {
  const to = await contract.getAddress();
  const data = contract.interface.encodeFunctionData(method, args);
  const call = { from, to, data, gas: `0x${gas.toString(16)}` };
  const hash = await chain.send<string>('eth_sendTransaction', [call]);
  const receipt = await receiptOf(chain, hash, method);
  if (receipt.status === 1) return { ok: true, receipt, gasUsed: receipt.gasUsed };
  // Replay on the state the transaction saw (the block before) to learn why it reverted.
  let revertData: string | undefined;
  try {
    await chain.send('eth_call', [call, `0x${(receipt.blockNumber - 1).toString(16)}`]);
  } catch (e) {
    revertData = findRevertData(e);
  }
  const err = decodeError(revertData);
  return { ok: false, receipt, gasUsed: receipt.gasUsed, error: err.name, errorArgs: err.args };
}

/** Anvil answers eth_sendTransaction once the transaction is in its pool; the block follows shortly. */
export async function receiptOf(chain: Chain, hash: string, what: string): Promise<TransactionReceipt> {
  const until = Date.now() + 60_000;
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const r = await chain.provider.getTransactionReceipt(hash);
    if (r) return r;
    if (Date.now() > until) throw new Error(`no receipt for ${what} (${hash}) after 60 s`);
    await new Promise((res) => setTimeout(res, wait));
  }
}

function findRevertData(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (x: unknown): string | undefined => {
    if (!x || typeof x !== 'object' || seen.has(x)) return undefined;
    seen.add(x);
    const o = x as Record<string, unknown>;
    if (typeof o['data'] === 'string' && o['data'].startsWith('0x')) return o['data'];
    for (const k of ['error', 'info', 'data']) {
      const r = walk(o[k]);
      if (r) return r;
    }
    return undefined;
  };
  return walk(e);
}

/** Like `tx` but throws when it reverts. */
export async function mustTx(
  chain: Chain,
  from: string,
  contract: Contract,
  method: string,
  args: readonly unknown[],
): Promise<TxResult> {
  const r = await tx(chain, from, contract, method, args);
  if (!r.ok) throw new Error(`${method} reverted: ${r.error} ${JSON.stringify(r.errorArgs, big)}`);
  return r;
}

export const big = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

export async function latestTimestamp(chain: Chain): Promise<number> {
  const b = await chain.provider.getBlock('latest');
  return b!.timestamp;
}

/** Stamps the next block (the next transaction's) with `ts`, so a test of durations is not at the mercy of a
 * wall-clock second ticking between two transactions. */
export async function nextBlockAt(chain: Chain, ts: number): Promise<void> {
  await chain.send('evm_setNextBlockTimestamp', [ts]);
}

/** Moves the next block's time to `ts` and mines it. */
export async function warpTo(chain: Chain, ts: number): Promise<void> {
  await chain.send('evm_setNextBlockTimestamp', [ts]);
  await chain.send('evm_mine', []);
}

export async function mineBlocks(chain: Chain, n: number): Promise<void> {
  await chain.send('anvil_mine', [`0x${n.toString(16)}`, '0x1']);
}

// ------------------------------------------------------------------------------------------------
// Tasks: signed by requester wallets, opened by the coordinator.

let nonceSeq = 1n;

export function taskFields(requester: string, over: Partial<TaskFields> = {}): TaskFields {
  const n = nonceSeq++;
  return {
    requester,
    hubJob: { namespace: 'team-a', name: `job-${n}` },
    model: 'hf://meta-llama/Llama-3.1-8B-Instruct',
    sla: { tier: 'Reserved', priceCap: '2', regions: ['eu-west'], dataResidency: ['DE', 'EU'] },
    gpus: 1,
    maxTotal: '48',
    nonce: n,
    deadline: 4_000_000_000,
    ...over,
  };
}

export async function signed(d: Deployed, wallet: HDNodeWallet, value: TaskValue) {
  const domain = taskDomain(BigInt(d.dep.chainId), d.dep.contracts.settlement);
  return signTask(wallet, domain, value);
}

/** Opens tasks (requester wallet, provider address, task value) in chunks; returns the first index. */
export async function openTasks(
  d: Deployed,
  reqs: Array<{ wallet: HDNodeWallet; provider: string; value: TaskValue }>,
  chunk = 50,
): Promise<number> {
  const first = Number(await d.c.settlement.getFunction('taskCount')());
  for (let i = 0; i < reqs.length; i += chunk) {
    const part = await Promise.all(
      reqs.slice(i, i + chunk).map(async (r) => ({
        task: toContractTask(r.value),
        signature: await signed(d, r.wallet, r.value),
        provider: r.provider,
      })),
    );
    await mustTx(d.chain, d.roles.coordinator, d.c.settlement, 'openTasks', [part]);
  }
  return first;
}

export interface Scenario {
  payers: HDNodeWallet[];
  payees: HDNodeWallet[];
  firstTask: number;
  tasks: number;
  /** The period every task ran in, already ended. */
  period: number;
}

/**
 * `tasks` tasks over `parties` requesters and `parties` providers (task i belongs to pair i * parties / tasks,
 * so each pair's tasks are contiguous), all opened in the same period, then time moved past that period.
 * Needs 5 + 2 * parties accounts.
 */
export async function settleScenario(d: Deployed, tasks: number, parties: number): Promise<Scenario> {
  const w = d.chain.wallets;
  const payers = w.slice(5, 5 + parties);
  const payees = w.slice(5 + parties, 5 + 2 * parties);
  if (payees.length < parties) throw new Error(`settleScenario: needs ${5 + 2 * parties} accounts`);
  const { token, registry, settlement } = d.c;
  const perPair = Math.ceil(tasks / parties);
  const escrow = parseUnits('48', 18) * BigInt(perPair) + parseUnits('1', 18);
  const stake = parseUnits('1000', 18) + parseUnits('5', 18) * BigInt(perPair);
  const deployer = w[ACCOUNTS.deployer]!.address;
  for (const a of [...payers, ...payees]) {
    await mustTx(d.chain, deployer, token, 'transfer', [a.address, escrow + stake]);
  }
  for (const p of payers) {
    await mustTx(d.chain, p.address, token, 'approve', [await settlement.getAddress(), escrow]);
    await mustTx(d.chain, p.address, settlement, 'deposit', [escrow]);
  }
  for (const p of payees) {
    await mustTx(d.chain, p.address, token, 'approve', [await registry.getAddress(), stake]);
    await mustTx(d.chain, p.address, registry, 'stake', [stake]);
  }
  const reqs = Array.from({ length: tasks }, (_, i) => {
    const k = Math.floor((i * parties) / tasks);
    return { wallet: payers[k]!, provider: payees[k]!.address, value: buildTask(taskFields(payers[k]!.address)) };
  });
  const firstTask = await openTasks(d, reqs);
  const period = Number(await settlement.getFunction('currentPeriod')());
  const periodSeconds = Number(await settlement.getFunction('periodSeconds')());
  const genesis = Number(await settlement.getFunction('genesis')());
  await warpTo(d.chain, genesis + (period + 1) * periodSeconds + 1);
  return { payers, payees, firstTask, tasks, period };
}

export interface SettleGas {
  /** Gas of the first batch (parties' balance slots still empty). */
  first: bigint;
  /** Gas of the next period's batch over the same tasks: the steady state of a running system. */
  steady: bigint;
  items: string;
  scenario: Scenario;
  /** The steady batch: id and release time, from its BatchSettled event. */
  batchId: bigint;
  releaseAt: bigint;
}

/**
 * Settles `tasks` tasks of `parties` requester/provider pairs (see settleScenario) twice, for two consecutive
 * periods, and returns the gas of each batch. Amounts vary per item; each is below the task's cap.
 */
export async function measureSettle(d: Deployed, tasks: number, parties: number): Promise<SettleGas> {
  const s = await settleScenario(d, tasks, parties);
  const items = (period: number) =>
    encodeItems(
      Array.from({ length: tasks }, (_, i) => ({ task: s.firstTask + i, period, amount: 1_500_000n + BigInt(i) })),
    );
  const first = await mustTx(d.chain, d.roles.coordinator, d.c.settlement, 'settle', [items(s.period)]);
  const genesis = Number(await d.c.settlement.getFunction('genesis')());
  await warpTo(d.chain, genesis + (s.period + 2) * 3600 + 1);
  const steadyItems = items(s.period + 1);
  const steady = await mustTx(d.chain, d.roles.coordinator, d.c.settlement, 'settle', [steadyItems]);
  const ev = steady.receipt.logs
    .map((l) => d.c.settlement.interface.parseLog(l))
    .find((l) => l?.name === 'BatchSettled');
  return {
    first: first.gasUsed,
    steady: steady.gasUsed,
    items: steadyItems,
    scenario: s,
    batchId: ev!.args['batchId'] as bigint,
    releaseAt: ev!.args['releaseAt'] as bigint,
  };
}
