// The operator's side of the chain (ethers v6): which contracts, whose key, and the reads placement needs
// (escrow, stake). Works with any EVM node by RPC URL and chain id; nothing here assumes the local one.
import { readFileSync } from 'node:fs';
import { Contract, getAddress, JsonRpcProvider, Wallet } from 'ethers';
import { artifact } from './contracts.ts';
import { taskDomain } from './task.ts';

/** What the operator needs of a deployment (the `deployment.json` hack/chain writes has more). */
export interface ChainTarget {
  rpcUrl: string;
  chainId: bigint;
  settlement: string;
  registry: string;
}

/**
 * Reads --settlement-deployment (a deployment.json: chainId, rpcUrl, contracts.settlement, contracts.registry),
 * with --chain-rpc-url and --chain-id overriding it. Throws naming the field that is missing or wrong.
 */
export function loadTarget(
  file: string,
  over: { rpcUrl?: string | undefined; chainId?: string | undefined } = {},
): ChainTarget {
  let dep: { chainId?: string | number; rpcUrl?: string; contracts?: Record<string, string> };
  try {
    dep = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--settlement-deployment ${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const rpcUrl = over.rpcUrl ?? dep.rpcUrl;
  if (!rpcUrl || !/^https?:\/\//.test(rpcUrl)) {
    throw new Error(`--chain-rpc-url (or rpcUrl in ${file}): an http(s) URL is required, got ${String(rpcUrl)}`);
  }
  const id = over.chainId ?? dep.chainId;
  if (id === undefined || !/^[1-9][0-9]*$/.test(String(id))) {
    throw new Error(`--chain-id (or chainId in ${file}): a positive integer is required, got ${String(id)}`);
  }
  const addr = (k: string) => {
    const v = dep.contracts?.[k];
    try {
      return getAddress(String(v));
    } catch {
      throw new Error(`contracts.${k} in ${file}: an Ethereum address is required, got ${String(v)}`);
    }
  };
  return { rpcUrl, chainId: BigInt(String(id)), settlement: addr('settlement'), registry: addr('registry') };
}

/** A 0x-prefixed 32-byte hex key from a file (a mounted Secret), or an error naming the flag. */
export function readKey(file: string, flag = '--chain-key-file'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`${flag} ${file}: not readable (${(e as Error).message})`);
  }
  const key = text.startsWith('0x') ? text : `0x${text}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new Error(`${flag} ${file}: must hold a 32-byte hex private key`);
  return key;
}

export interface Stake {
  staked: bigint;
  locked: bigint;
  minStake: bigint;
}

/** Contract handles and reads; the coordinator's key signs (transactions go through the Sender). */
export class ChainClient {
  readonly target: ChainTarget;
  readonly provider: JsonRpcProvider;
  readonly wallet: Wallet;
  readonly settlement: Contract;
  readonly registry: Contract;
  #clock: { genesis: number; periodSeconds: number } | undefined;

  constructor(target: ChainTarget, key: string) {
    this.target = target;
    // staticNetwork: no chain-id probe per call, and a node that is down fails the call instead of retrying
    // for ever; the chain id is checked once by connect()
    this.provider = new JsonRpcProvider(target.rpcUrl, target.chainId, { staticNetwork: true, batchMaxCount: 50 });
    this.wallet = new Wallet(key, this.provider);
    this.settlement = new Contract(target.settlement, artifact('Settlement').abi, this.wallet);
    this.registry = new Contract(target.registry, artifact('ProviderRegistry').abi, this.provider);
  }

  get address(): string {
    return this.wallet.address;
  }

  domain() {
    return taskDomain(this.target.chainId, this.target.settlement);
  }

  /** Checks the node's chain id and reads the period clock; throws when the node is not the one configured. */
  async connect(): Promise<void> {
    const hex = (await this.provider.send('eth_chainId', [])) as string;
    if (BigInt(hex) !== this.target.chainId) {
      throw new Error(
        `chain ${this.target.rpcUrl} has chain id ${BigInt(hex)}, --chain-id says ${this.target.chainId}`,
      );
    }
    await this.clock();
  }

  /** genesis and periodSeconds: immutable on the contract, so read once. */
  async clock(): Promise<{ genesis: number; periodSeconds: number }> {
    if (!this.#clock) {
      const [genesis, periodSeconds] = await Promise.all([
        this.settlement.getFunction('genesis')(),
        this.settlement.getFunction('periodSeconds')(),
      ]);
      this.#clock = { genesis: Number(genesis), periodSeconds: Number(periodSeconds) };
    }
    return this.#clock;
  }

  async escrowOf(requester: string): Promise<{ free: bigint; locked: bigint }> {
    const [free, locked] = (await this.settlement.getFunction('escrowOf')(requester)) as [bigint, bigint];
    return { free, locked };
  }

  async stakeOf(provider: string): Promise<Stake> {
    const [p, minStake] = await Promise.all([
      this.registry.getFunction('provider')(provider) as Promise<{ staked: bigint; locked: bigint }>,
      this.registry.getFunction('minStake')() as Promise<bigint>,
    ]);
    return { staked: p.staked, locked: p.locked, minStake };
  }

  /** The lineage anchor stored for each task (0x00…00: none), one batched round trip. */
  async lineageOf(tasks: readonly number[]): Promise<string[]> {
    const f = this.settlement.getFunction('lineageOf');
    return Promise.all(tasks.map((t) => f(t) as Promise<string>));
  }

  /** Which of the (task, period) pairs the contract already shows settled (one batched round trip). */
  async settledOf(items: ReadonlyArray<{ task: number; period: number }>): Promise<boolean[]> {
    const f = this.settlement.getFunction('isSettled');
    return Promise.all(items.map((i) => f(i.task, i.period) as Promise<boolean>));
  }
}
