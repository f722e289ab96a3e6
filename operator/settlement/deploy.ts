// Deploys and wires the settlement contracts on any chain, given a funded deployer signer: token, timelock,
// governor, provider registry, settlement; roles granted; the deployer's admin rights renounced so only
// governance (the timelock) changes parameters. Used by hack/chain, the tests and the benchmark alike.
//
// Supply distribution at deployment (defaults): the whole supply (1,000,000,000 NVDAx) is minted to the
// deployer; `rewardReserve` (100,000,000, 10%) moves into the registry's reward reserve; the rest (900,000,000,
// 90%) stays with the deployer, minus whatever `fund` hands out (hack/chain funds 15 test accounts with 100,000
// each). Voting power needs delegation (ERC20Votes): the deployer does not delegate, so its tokens do not vote
// until it (or whoever it transfers them to) delegates. Whoever holds a quorum (4%) and a majority can pass a
// proposal, so the time-lock delay is at least the unbonding delay (checked here, and on chain when governance
// sets the unbonding delay): a provider that sees a proposal queued can unbond and leave before it executes.
import { Contract, ContractFactory, getAddress, parseUnits, type Signer, type TransactionResponse } from 'ethers';
import { artifact, type ContractName, gasWithHeadroom } from './contracts.ts';

export interface DeployParams {
  /** Whole token supply, minted once to the deployer (wei). */
  supply: bigint;
  /** Tokens moved into the registry's reward reserve; also the emission cap (wei). */
  rewardReserve: bigint;
  /** Reward emission, wei per second. */
  emissionRate: bigint;
  minStake: bigint;
  unbondingDelay: number;
  slashVerifierBps: number;
  /** Most a non-governance slasher (the verifier) may slash per call (wei); also bounded by the locked stake. */
  maxSlash: bigint;
  periodSeconds: number;
  feeBps: number;
  stakeLockBps: number;
  disputeWindow: number;
  settleWindow: number;
  /** Governor, in blocks. */
  votingDelay: number;
  votingPeriod: number;
  proposalThreshold: bigint;
  quorumPercent: number;
  /** Timelock delay, seconds; must be at least `unbondingDelay`. */
  timelockDelay: number;
}

export const defaultParams: DeployParams = {
  supply: parseUnits('1000000000', 18),
  rewardReserve: parseUnits('100000000', 18),
  emissionRate: parseUnits('1', 18),
  minStake: parseUnits('1000', 18),
  unbondingDelay: 7 * 86400,
  slashVerifierBps: 1000,
  maxSlash: parseUnits('1000', 18),
  periodSeconds: 3600,
  feeBps: 200,
  stakeLockBps: 1000,
  disputeWindow: 86400,
  settleWindow: 2 * 86400,
  votingDelay: 1,
  votingPeriod: 50,
  proposalThreshold: 0n,
  quorumPercent: 4,
  // As long as the unbonding delay: providers can leave before a queued proposal executes.
  timelockDelay: 7 * 86400,
};

export interface Roles {
  coordinator: string;
  verifier: string;
  guardian: string;
  feeRecipient: string;
}

export interface DeployOptions {
  /** Pays for and owns the deployment until it renounces; receives the supply. */
  deployer: Signer;
  roles: Roles;
  params?: Partial<DeployParams>;
  /** Token transfers from the deployer after wiring (test accounts, requesters, providers). */
  fund?: Array<{ address: string; amount: bigint }>;
  log?: (msg: string) => void;
}

export interface Deployment {
  chainId: string;
  rpcUrl?: string;
  deployer: string;
  deployedAtBlock: number;
  contracts: Record<'token' | 'timelock' | 'governor' | 'registry' | 'settlement', string>;
  roles: Roles;
  params: Record<keyof DeployParams, string>;
}

/**
 * Sends one call and waits for it, with gas headroom: the estimate runs on the last block, and a call whose
 * cost depends on the block's time (reward accrual rewrites its timestamp slot) needs more when it is mined in
 * a later second — without headroom it ran out of gas now and then.
 */
async function mined(c: Contract, method: string, args: unknown[], what: string): Promise<void> {
  const f = c.getFunction(method);
  const gas = await f.estimateGas(...args);
  const tx: TransactionResponse = await f(...args, { gasLimit: gasWithHeadroom(gas) });
  const receipt = await tx.wait();
  if (receipt?.status !== 1) throw new Error(`deploy: ${what} failed`);
}

async function create(name: ContractName, deployer: Signer, args: unknown[]): Promise<Contract> {
  const a = artifact(name);
  const c = await new ContractFactory(a.abi, a.bytecode, deployer).deploy(...args);
  await c.waitForDeployment();
  return new Contract(await c.getAddress(), a.abi, deployer);
}

/** Deploys everything and returns the addresses; throws naming the step that failed. */
export async function deploy(opts: DeployOptions): Promise<Deployment> {
  const p: DeployParams = { ...defaultParams, ...opts.params };
  if (p.rewardReserve > p.supply) throw new RangeError('params.rewardReserve: must not exceed params.supply');
  if (p.timelockDelay < p.unbondingDelay) {
    throw new RangeError(
      `params.timelockDelay: ${p.timelockDelay} s is shorter than params.unbondingDelay ${p.unbondingDelay} s; ` +
        'it must be at least as long, so providers can unbond before a queued proposal executes',
    );
  }
  const log = opts.log ?? (() => {});
  const d = opts.deployer;
  const me = await d.getAddress();
  const roles: Roles = {
    coordinator: getAddress(opts.roles.coordinator),
    verifier: getAddress(opts.roles.verifier),
    guardian: getAddress(opts.roles.guardian),
    feeRecipient: getAddress(opts.roles.feeRecipient),
  };
  const net = await d.provider?.getNetwork();
  if (!net) throw new Error('deploy: the deployer signer has no provider');

  log('deploying token, timelock, governor');
  const token = await create('NVDAxToken', d, [me, p.supply]);
  const timelock = await create('NVDAxTimelock', d, [p.timelockDelay, [], [], me]);
  const governor = await create('NVDAxGovernor', d, [
    await token.getAddress(),
    await timelock.getAddress(),
    p.votingDelay,
    p.votingPeriod,
    p.proposalThreshold,
    p.quorumPercent,
  ]);
  log('deploying provider registry and settlement');
  const registry = await create('ProviderRegistry', d, [
    await token.getAddress(),
    me,
    p.minStake,
    p.unbondingDelay,
    p.slashVerifierBps,
    p.emissionRate,
    p.maxSlash,
  ]);
  const settlement = await create('Settlement', d, [
    await token.getAddress(),
    await registry.getAddress(),
    me,
    p.periodSeconds,
    {
      feeBps: p.feeBps,
      stakeLockBps: p.stakeLockBps,
      disputeWindow: p.disputeWindow,
      settleWindow: p.settleWindow,
      feeRecipient: roles.feeRecipient,
    },
  ]);
  const [tl, gov, reg, set] = await Promise.all([
    timelock.getAddress(),
    governor.getAddress(),
    registry.getAddress(),
    settlement.getAddress(),
  ]);

  log('funding the reward reserve and wiring roles');
  if (p.rewardReserve > 0n) {
    await mined(token, 'approve', [reg, p.rewardReserve], 'approve reward reserve');
    await mined(registry, 'fundRewards', [p.rewardReserve], 'fund rewards');
  }
  await mined(registry, 'setEmission', [p.emissionRate, p.rewardReserve], 'set emission');
  await mined(registry, 'setSettlement', [set], "set the registry's settlement (slash escrow)");
  const admin = await registry.getFunction('DEFAULT_ADMIN_ROLE')();
  const grants: Array<[Contract, string, string]> = [
    [registry, 'SETTLEMENT_ROLE', set],
    [registry, 'SLASHER_ROLE', roles.verifier],
    [registry, 'SLASHER_ROLE', tl],
    [registry, 'GUARDIAN_ROLE', roles.guardian],
    [settlement, 'COORDINATOR_ROLE', roles.coordinator],
    [settlement, 'VERIFIER_ROLE', roles.verifier],
    [settlement, 'GUARDIAN_ROLE', roles.guardian],
    [timelock, 'PROPOSER_ROLE', gov],
    [timelock, 'CANCELLER_ROLE', gov],
    [timelock, 'EXECUTOR_ROLE', gov],
  ];
  for (const [c, role, who] of grants) {
    const r = await c.getFunction(role)();
    await mined(c, 'grantRole', [r, who], `grant ${role} to ${who}`);
  }
  // Governance takes over; the deployer keeps nothing.
  for (const c of [registry, settlement]) {
    await mined(c, 'grantRole', [admin, tl], 'grant admin to the timelock');
    await mined(c, 'renounceRole', [admin, me], 'renounce deployer admin');
  }
  await mined(timelock, 'renounceRole', [admin, me], 'renounce timelock admin');

  if (opts.fund?.length) log(`funding ${opts.fund.length} accounts`);
  for (const f of opts.fund ?? []) {
    await mined(token, 'transfer', [getAddress(f.address), f.amount], `fund ${f.address}`);
  }
  const block = await d.provider?.getBlockNumber();
  return {
    chainId: net.chainId.toString(),
    deployer: me,
    deployedAtBlock: block ?? 0,
    contracts: { token: await token.getAddress(), timelock: tl, governor: gov, registry: reg, settlement: set },
    roles,
    params: Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)])) as Deployment['params'],
  };
}

export interface Contracts {
  token: Contract;
  timelock: Contract;
  governor: Contract;
  registry: Contract;
  settlement: Contract;
}

/** Contract handles for a deployment, bound to `runner` (a signer to send, a provider to read). */
export function connect(dep: Pick<Deployment, 'contracts'>, runner: Signer | Contract['runner']): Contracts {
  const c = (name: ContractName, address: string) => new Contract(address, artifact(name).abi, runner);
  return {
    token: c('NVDAxToken', dep.contracts.token),
    timelock: c('NVDAxTimelock', dep.contracts.timelock),
    governor: c('NVDAxGovernor', dep.contracts.governor),
    registry: c('ProviderRegistry', dep.contracts.registry),
    settlement: c('Settlement', dep.contracts.settlement),
  };
}
