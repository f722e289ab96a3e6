// Property-based: random call sequences by every actor against a real anvil node, each sequence from the same
// deployed state (evm_snapshot / evm_revert). A model predicts whether each call succeeds and what every
// balance becomes; after every step the chain must agree with the model and the invariants must hold:
// token supply conserved, no (task, period) paid twice, no requester charged beyond escrow or task cap, stake
// never below its lock, a verifier's slash never above the provider's locked stake or maxSlash (its requesters'
// share credited to their escrow), governance never executing before its time-lock or without quorum, and
// settle deadlines extended by the time the settlement was paused.
//
// NVDAX_FUZZ_RUNS sets the number of sequences (default 60 for `make test`; `make fuzz` runs 10,000),
// NVDAX_FUZZ_SEED and NVDAX_FUZZ_GENESIS replay a seed and the chain's start time (printed at the start and
// on failure).
import test from 'ava';
import { type Contract, id } from 'ethers';
import fc from 'fast-check';
import { encodeItems, UNIT } from '../../operator/settlement/contracts.ts';
import { buildTask, signTask, taskDomain, toContractTask } from '../../operator/settlement/task.ts';
import { type Chain, startChain, type TxResult, tx } from '../helpers/chain.ts';
import { type System, system, TOKEN, testParams } from './fixture.ts';

// `make test` runs a fixed seed (the same sequences every time); `make fuzz` a fresh one unless given.
const RUNS = Number(process.env['NVDAX_FUZZ_RUNS'] ?? 60);
const SEED = process.env['NVDAX_FUZZ_SEED']
  ? Number(process.env['NVDAX_FUZZ_SEED'])
  : process.env['NVDAX_FUZZ_RUNS']
    ? Date.now() % 2 ** 31
    : 20261128;
const STEPS = Number(process.env['NVDAX_FUZZ_STEPS'] ?? 20);
// The chain's clock, pinned: genesis at this Unix second and each block one second after the last, whatever
// the wall clock does. Releases round to the dispute window and periods count from deployment, so where the
// start falls decides outcomes at the edges; a fixed seed with a free clock was not the same run twice.
const GENESIS = process.env['NVDAX_FUZZ_GENESIS']
  ? Number(process.env['NVDAX_FUZZ_GENESIS'])
  : process.env['NVDAX_FUZZ_RUNS']
    ? 1_800_000_000 + (Date.now() % 86_400)
    : 1_800_000_000;

let chain: Chain;
let sys: System;
let base: string; // snapshot id of the deployed state
let t0: number; // its block timestamp
let b0: number; // its block number

let prelude: Model; // the model of the base snapshot

test.before(async () => {
  chain = await startChain(16, ['--timestamp', String(GENESIS)]);
  await chain.send('anvil_setBlockTimestampInterval', [1]);
  sys = await system(chain);
  const blk = await chain.provider.getBlock('latest');
  t0 = blk!.timestamp;
  b0 = blk!.number;
  // A common start, so short sequences reach settlement: escrow deposited, providers staked, three tasks
  // open and one period over. Run through the model like any sequence.
  const m = new Model();
  await initModel(m);
  const start: Action[] = [
    ...[0, 1, 2].map((r) => ({ k: 'deposit' as const, r, amount: 2500 })),
    ...[0, 1, 2].map((p) => ({ k: 'stake' as const, p, amount: 300 })),
    ...[0, 1, 2].map((i) => ({
      k: 'open' as const,
      r: i,
      p: (i + 1) % 3,
      gpus: 2,
      priceTenths: 15,
      hours: 6,
      durationHours: 0,
      sig: 'good' as const,
    })),
    { k: 'warp' as const, seconds: 3700 },
  ];
  for (const a of start) {
    await step(m, a);
    await checkInvariants(m, a);
  }
  prelude = m;
  base = await chain.send<string>('evm_snapshot');
});

async function initModel(m: Model): Promise<void> {
  m.genesis = Number(await sys.c.settlement.getFunction('genesis')());
  m.votes = [
    [[0, (await sys.c.token.getFunction('getVotes')(sys.voters[0]!.address)) as bigint]],
    [[0, (await sys.c.token.getFunction('getVotes')(sys.voters[1]!.address)) as bigint]],
  ];
}

/** A deep copy of the model (Maps, Sets and arrays included). */
function cloneModel(m: Model): Model {
  return Object.assign(new Model(), structuredClone({ ...m }));
}

test.after.always(async () => {
  await chain?.stop();
});

// ------------------------------------------------------------------------------------------- model

const P = BigInt(testParams.periodSeconds!);
const W = testParams.disputeWindow!;
const SW = testParams.settleWindow!;
const TL = testParams.timelockDelay!;
const MAX_SLASH = testParams.maxSlash!;

interface MTask {
  r: number;
  p: number;
  reqId: number;
  provId: number;
  cap: bigint; // UNIT per period
  start: number;
  span: number;
  origSpan: number;
  stakeLock: bigint; // wei
  released: boolean;
}
interface MItem {
  task: number;
  period: number;
  amount: bigint;
}
interface MBatch {
  items: MItem[];
  hex: string;
  releaseAt: number;
  feeBps: number;
  disputed: Set<number>;
}
interface Credit {
  batch: number;
  amount: bigint; // UNIT
  releaseAt: number;
}
interface MProvider {
  id: number;
  staked: bigint;
  locked: bigint;
  unbonding: bigint;
  unbondAt: number;
}
interface MProposal {
  kind: GovKind;
  value: bigint;
  targets: string[];
  calldatas: string[];
  description: string;
  snapshot: number;
  deadline: number;
  forVotes: bigint;
  againstVotes: bigint;
  abstainVotes: bigint;
  voted: Set<number>;
  eta: number; // 0: not queued
  executed: boolean;
}
type GovKind = 'feeBps' | 'minStake' | 'stakeLockBps' | 'unpauseSettlement' | 'unpauseRegistry';

class Model {
  t = t0;
  block = b0;
  paused = { settlement: false, registry: false };
  feeBps = testParams.feeBps!;
  stakeLockBps = testParams.stakeLockBps!;
  minStake = testParams.minStake!;
  genesis = 0;
  /** Finished pauses of the settlement, [start, end]; pausedSince: the running one's start. */
  pauses: Array<[number, number]> = [];
  pausedSince = 0;
  reqIds = new Map<number, number>();
  escrow = new Map<number, { free: bigint; locked: bigint }>();
  providers = new Map<number, MProvider>();
  providerCount = 0;
  tasks: MTask[] = [];
  settled = new Map<string, bigint>(); // "task:period" => amount paid (UNIT), 0 when refunded or reversed
  batches: MBatch[] = [];
  credits = new Map<number, Credit[]>(); // by provider index
  feeCredits: Credit[] = [];
  usedNonces = new Map<number, Set<bigint>>();
  nonce = 1n;
  proposals: MProposal[] = [];
  /** Voting balance checkpoints per voter: [block, balance]. */
  votes: Array<Array<[number, bigint]>> = [[], []];

  period(): number {
    return Number((BigInt(this.t) - BigInt(this.genesis)) / P);
  }
  /** The time from which `window` seconds not paused have passed until t (as Settlement._cutoff). */
  cutoff(window: number, t = this.t): number {
    if (t <= window) return 0;
    let c = t - window;
    for (let i = this.pauses.length - 1; i >= 0; i--) {
      const [start, end] = this.pauses[i]!;
      if (end <= c) break;
      if (c <= end - start) return 0;
      c -= end - start;
    }
    return c;
  }
  oldest(t = this.t): number {
    const c = this.cutoff(SW, t);
    return c <= this.genesis ? 0 : Math.floor((c - this.genesis) / Number(P));
  }
  releaseTime(t: number): number {
    return Math.ceil((t + W) / W) * W;
  }
  available(list: Credit[], t = this.t): bigint {
    return list.filter((c) => c.releaseAt <= t).reduce((s, c) => s + c.amount, 0n);
  }
  pending(list: Credit[], t = this.t): bigint {
    return list.filter((c) => c.releaseAt > t).reduce((s, c) => s + c.amount, 0n);
  }
  votesAt(v: number, block: number): bigint {
    let bal = 0n;
    for (const [b, x] of this.votes[v]!) if (b <= block) bal = x;
    return bal;
  }
}

// ----------------------------------------------------------------------------------------- actions

/** Mostly one of the last two entries (recent proposals and batches are the live ones). */
const recent = <T>(list: readonly T[], i: number): T | undefined =>
  list.length ? list[i % 4 === 3 ? i % list.length : Math.max(0, list.length - 1 - (i % 2))] : undefined;
const recentIndex = (n: number, i: number): number => (i % 4 === 3 ? i % n : Math.max(0, n - 1 - (i % 2)));

const actionArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('deposit' as const),
      r: fc.nat(2),
      amount: fc.integer({ min: 1, max: 3000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('withdrawEscrow' as const),
      r: fc.nat(2),
      frac: fc.integer({ min: 0, max: 120 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('stake' as const), p: fc.nat(2), amount: fc.integer({ min: 1, max: 400 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('unbond' as const), p: fc.nat(2), frac: fc.integer({ min: 0, max: 110 }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('withdrawUnbonded' as const), p: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('claimRewards' as const), p: fc.nat(2) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('open' as const),
      r: fc.nat(2),
      p: fc.nat(2),
      gpus: fc.integer({ min: 1, max: 4 }),
      priceTenths: fc.integer({ min: 1, max: 40 }),
      hours: fc.integer({ min: 1, max: 6 }),
      durationHours: fc.integer({ min: 0, max: 8 }),
      sig: fc.constantFrom<'good' | 'wrongSigner' | 'tampered' | 'replay' | 'expired'>(
        'good',
        'good',
        'good',
        'good',
        'wrongSigner',
        'tampered',
        'replay',
        'expired',
      ),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('settle' as const),
      items: fc.array(
        fc.record({
          task: fc.nat(),
          // periods back from the last one over: mostly valid, sometimes current (not over) or too old
          back: fc.constantFrom<number>(0, 0, 0, 1, 2, -1, 3),
          pct: fc.oneof(
            { weight: 12, arbitrary: fc.integer({ min: 0, max: 100 }) },
            fc.integer({ min: 101, max: 105 }),
          ),
        }),
        { minLength: 0, maxLength: 6 },
      ),
      dedupe: fc.constantFrom(true, true, true, false),
      replay: fc.constantFrom(false, false, false, true),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), task: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('closeOwn' as const), r: fc.nat(2), task: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('refund' as const),
      task: fc.nat(),
      offsets: fc.array(fc.nat(7), { maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('releaseStake' as const), task: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('dispute' as const),
      batch: fc.nat(),
      idx: fc.array(fc.nat(), { maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('slash' as const),
      p: fc.nat(2),
      // percent of the locked stake: above 100 must be refused
      pct: fc.integer({ min: 0, max: 130 }),
      badSplit: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('withdrawEarnings' as const), p: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('withdrawFees' as const) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('warp' as const),
      seconds: fc.constantFrom<number>(60, 300, 700, 1300, 1800, 3600, 3600, 7300, 30_000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('pause' as const),
      which: fc.constantFrom<'settlement' | 'registry'>('settlement', 'registry'),
      byGuardian: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('propose' as const),
      kind: fc.constantFrom<GovKind>('feeBps', 'minStake', 'stakeLockBps', 'unpauseSettlement', 'unpauseRegistry'),
      value: fc.integer({ min: 0, max: 1500 }),
      voter: fc.nat(1),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('vote' as const), proposal: fc.nat(), voter: fc.nat(1), support: fc.nat(2) }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('queue' as const), proposal: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('execute' as const), proposal: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('mine' as const), blocks: fc.integer({ min: 1, max: 6 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('transferVotes' as const),
      from: fc.nat(1),
      amount: fc.integer({ min: 1, max: 60_000 }),
    }),
  },
);

/**
 * Paths too long to arise by chance in a short sequence, as randomized macros of the single actions above
 * (each still predicted and checked step by step): a whole proposal (votes, queue, execution at a random
 * delay, sometimes too early), and a settlement disputed soon after.
 */
const macroArb = fc.oneof(
  fc.record({
    k: fc.constant('govern' as const),
    kind: fc.constantFrom<GovKind>('feeBps', 'minStake', 'stakeLockBps', 'unpauseSettlement', 'unpauseRegistry'),
    value: fc.integer({ min: 0, max: 1500 }),
    votes: fc.array(fc.record({ voter: fc.nat(1), support: fc.constantFrom<number>(1, 1, 1, 0, 2) }), {
      minLength: 1,
      maxLength: 2,
    }),
    moveVotes: fc.constantFrom<number>(0, 0, 70_000),
    delay: fc.constantFrom<number>(0, TL - 2, TL - 1, TL, TL + 600),
  }),
  fc.record({
    k: fc.constant('settleDispute' as const),
    settle: fc.record({
      k: fc.constant('settle' as const),
      items: fc.array(
        fc.record({ task: fc.nat(), back: fc.constantFrom<number>(0, 0, 1), pct: fc.integer({ min: 0, max: 100 }) }),
        {
          minLength: 1,
          maxLength: 5,
        },
      ),
      dedupe: fc.constant(true),
      replay: fc.constant(false),
    }),
    idx: fc.array(fc.nat(), { maxLength: 3 }),
    wait: fc.constantFrom<number>(1, 60, 500, 1300),
  }),
  fc.record({
    k: fc.constant('settlePay' as const),
    task: fc.nat(),
    pct: fc.integer({ min: 0, max: 100 }),
    wait: fc.constantFrom<number>(300, 1300, 1300),
  }),
  fc.record({
    k: fc.constant('unbondCycle' as const),
    p: fc.nat(2),
    frac: fc.integer({ min: 1, max: 100 }),
    wait: fc.constantFrom<number>(900, 1900),
  }),
);
/** A pause of the settlement (often longer than the settle window), lifted by a proposal, then refunds and a
 * settle: what the coordinator could not settle while paused must not be refundable. */
const pauseArb = fc.record({
  k: fc.constant('pauseCycle' as const),
  length: fc.constantFrom<number>(600, 3600, 7300, 9000),
  after: fc.constantFrom<number>(60, 3600, 7300),
  task: fc.nat(),
  offsets: fc.array(fc.nat(7), { minLength: 1, maxLength: 3 }),
  back: fc.constantFrom<number>(0, 1, 2, 3),
});
type Macro = typeof pauseArb extends fc.Arbitrary<infer X> ? X | MacroBase : never;
type MacroBase = typeof macroArb extends fc.Arbitrary<infer M> ? M : never;

function expand(x: Action | Macro): Action[] {
  if (x.k === 'pauseCycle') {
    return [
      { k: 'pause', which: 'settlement', byGuardian: true },
      { k: 'warp', seconds: x.length },
      ...expand({
        k: 'govern',
        kind: 'unpauseSettlement',
        value: 0,
        votes: [{ voter: 0, support: 1 }],
        moveVotes: 0,
        delay: TL,
      }),
      { k: 'warp', seconds: x.after },
      { k: 'refund', task: x.task, offsets: x.offsets },
      { k: 'settle', items: [{ task: x.task, back: x.back, pct: 50 }], dedupe: true, replay: false },
    ];
  }
  if (x.k === 'govern') {
    const out: Action[] = [{ k: 'propose', kind: x.kind, value: x.value, voter: 0 }];
    // Tokens moved after the proposal must not change its votes (the snapshot was taken at proposal time).
    out.push({ k: 'mine', blocks: 1 });
    if (x.moveVotes) out.push({ k: 'transferVotes', from: 0, amount: x.moveVotes });
    for (const v of x.votes) out.push({ k: 'vote', proposal: 0, voter: v.voter, support: v.support });
    out.push({ k: 'mine', blocks: 6 }, { k: 'queue', proposal: 0 });
    if (x.delay) out.push({ k: 'warp', seconds: x.delay });
    out.push({ k: 'execute', proposal: 0 });
    return out;
  }
  if (x.k === 'settleDispute') {
    return [x.settle, { k: 'warp', seconds: x.wait }, { k: 'dispute', batch: 0, idx: x.idx }];
  }
  if (x.k === 'settlePay') {
    // Earnings and fees become withdrawable only once the dispute window is over (release within 2 windows).
    return [
      { k: 'settle', items: [{ task: x.task, back: 0, pct: x.pct }], dedupe: true, replay: false },
      { k: 'warp', seconds: x.wait },
      ...[0, 1, 2].map((p) => ({ k: 'withdrawEarnings' as const, p })),
      { k: 'withdrawFees' },
    ];
  }
  if (x.k === 'unbondCycle') {
    return [
      { k: 'unbond', p: x.p, frac: x.frac },
      { k: 'warp', seconds: x.wait },
      { k: 'withdrawUnbonded', p: x.p },
    ];
  }
  return [x];
}
type Action =
  fc.Arbitrary<typeof actionArb extends fc.Arbitrary<infer A> ? A : never> extends fc.Arbitrary<infer B> ? B : never;

// ------------------------------------------------------------------------------------------ runner

class Violation extends Error {}

const minBig = (x: bigint, y: bigint): bigint => (x < y ? x : y);

/** Outcomes per action kind, to show the sequences reach the interesting paths. */
const stats = new Map<string, { ok: number; reverted: number }>();

function expectOutcome(a: Action, r: TxResult, ok: boolean, why: string): void {
  const st = stats.get(a.k) ?? { ok: 0, reverted: 0 };
  st[r.ok ? 'ok' : 'reverted']++;
  stats.set(a.k, st);
  if (r.ok !== ok) {
    throw new Violation(
      `${a.k}: chain ${r.ok ? 'succeeded' : `reverted (${r.error} ${r.errorArgs?.map(String).join(',')})`} but the model ` +
        `expected ${ok ? 'success' : 'a revert'}${why ? ` (${why})` : ''}: ${JSON.stringify(a)}`,
    );
  }
}

async function send(m: Model, from: string, c: Contract, method: string, args: unknown[]): Promise<TxResult> {
  m.t += 1;
  m.block += 1;
  await chain.send('evm_setNextBlockTimestamp', [m.t]);
  return tx(chain, from, c, method, args, 12_000_000n);
}

async function govCall(kind: GovKind, value: bigint): Promise<{ target: string; data: string }> {
  const { settlement, registry } = sys.c;
  switch (kind) {
    case 'feeBps':
      return {
        target: await settlement.getAddress(),
        data: settlement.interface.encodeFunctionData('setFeeBps', [value]),
      };
    case 'stakeLockBps':
      return {
        target: await settlement.getAddress(),
        data: settlement.interface.encodeFunctionData('setStakeLockBps', [value]),
      };
    case 'minStake':
      return {
        target: await registry.getAddress(),
        data: registry.interface.encodeFunctionData('setMinStake', [value]),
      };
    case 'unpauseSettlement':
      return { target: await settlement.getAddress(), data: settlement.interface.encodeFunctionData('unpause', []) };
    case 'unpauseRegistry':
      return { target: await registry.getAddress(), data: registry.interface.encodeFunctionData('unpause', []) };
  }
}

async function step(m: Model, a: Action): Promise<void> {
  const { settlement, registry, token, governor } = sys.c;
  const R = sys.requesters;
  const PV = sys.providers;
  const coord = sys.roles.coordinator;
  switch (a.k) {
    case 'deposit': {
      const amount = BigInt(a.amount) * TOKEN;
      const r = await send(m, R[a.r]!.address, settlement, 'deposit', [amount]);
      expectOutcome(a, r, !m.paused.settlement, 'paused');
      if (r.ok) {
        if (!m.reqIds.has(a.r)) m.reqIds.set(a.r, m.reqIds.size + 1);
        const e = m.escrow.get(a.r) ?? { free: 0n, locked: 0n };
        m.escrow.set(a.r, { free: e.free + amount, locked: e.locked });
      }
      return;
    }
    case 'withdrawEscrow': {
      const e = m.escrow.get(a.r) ?? { free: 0n, locked: 0n };
      const amount = (e.free * BigInt(a.frac)) / 100n;
      const r = await send(m, R[a.r]!.address, settlement, 'withdrawEscrow', [amount]);
      expectOutcome(a, r, !m.paused.settlement && amount > 0n && m.reqIds.has(a.r) && amount <= e.free, '');
      if (r.ok) e.free -= amount;
      return;
    }
    case 'stake': {
      const amount = BigInt(a.amount) * TOKEN;
      const pv = m.providers.get(a.p);
      const staked = (pv?.staked ?? 0n) + amount;
      const r = await send(m, PV[a.p]!.address, registry, 'stake', [amount]);
      expectOutcome(a, r, !m.paused.registry && staked >= m.minStake, `staked ${staked} vs min ${m.minStake}`);
      if (r.ok) {
        if (pv) pv.staked = staked;
        else m.providers.set(a.p, { id: ++m.providerCount, staked, locked: 0n, unbonding: 0n, unbondAt: 0 });
      }
      return;
    }
    case 'unbond': {
      const pv = m.providers.get(a.p);
      const free = pv ? pv.staked - pv.locked : 0n;
      const amount = (free * BigInt(a.frac)) / 100n;
      const left = (pv?.staked ?? 0n) - amount;
      const r = await send(m, PV[a.p]!.address, registry, 'requestUnbond', [amount]);
      expectOutcome(
        a,
        r,
        !m.paused.registry && amount > 0n && amount <= free && (left === 0n || left >= m.minStake),
        '',
      );
      if (r.ok && pv) {
        pv.staked = left;
        pv.unbonding += amount;
        pv.unbondAt = m.t + testParams.unbondingDelay!;
      }
      return;
    }
    case 'withdrawUnbonded': {
      const pv = m.providers.get(a.p);
      const r = await send(m, PV[a.p]!.address, registry, 'withdrawUnbonded', []);
      expectOutcome(a, r, !m.paused.registry && !!pv && pv.unbonding > 0n && m.t >= pv.unbondAt, '');
      if (r.ok && pv) pv.unbonding = 0n;
      return;
    }
    case 'claimRewards': {
      // Rewards depend on time-weighted stake: the registry's own views are the reference here; the
      // invariants below bound what was claimed by what was emitted.
      const r = await send(m, PV[a.p]!.address, registry, 'claimRewards', []);
      if (r.ok && m.paused.registry) throw new Violation('claimRewards succeeded while paused');
      return;
    }
    case 'open': {
      const wallet = R[a.r]!;
      let nonce = m.nonce++;
      const used = m.usedNonces.get(a.r) ?? new Set<bigint>();
      if (a.sig === 'replay' && used.size) nonce = [...used][0]!;
      const value = buildTask({
        requester: wallet.address,
        hubJob: { namespace: 'ns', name: `job${nonce}` },
        model: 'm',
        sla: {
          priceCap: (a.priceTenths / 10).toString(),
          ...(a.durationHours ? { maxDurationSeconds: a.durationHours * 3600 } : {}),
        },
        gpus: a.gpus,
        maxTotal: ((a.priceTenths * a.gpus * a.hours) / 10 + 0.05).toFixed(2),
        nonce,
        deadline: a.sig === 'expired' ? m.t : m.t + 10_000,
      });
      const domain = taskDomain(BigInt(sys.dep.chainId), sys.dep.contracts.settlement);
      const signer = a.sig === 'wrongSigner' ? R[(a.r + 1) % 3]! : wallet;
      const sig = await signTask(signer, domain, value);
      const sent = a.sig === 'tampered' ? { ...value, maxTotal: value.maxTotal * 2n } : value;
      const r = await send(m, coord, settlement, 'openTasks', [
        [{ task: toContractTask(sent), signature: sig, provider: PV[a.p]!.address }],
      ]);
      // Terms as the contract computes them.
      const cap = (value.sla.priceCap * BigInt(a.gpus) * P) / 3600n / UNIT;
      let span = Number(value.maxTotal / (cap * UNIT));
      if (a.durationHours) span = Math.min(span, Math.ceil((a.durationHours * 3600) / Number(P)));
      const lock = cap * UNIT * BigInt(span);
      const stakeLock = (lock * BigInt(m.stakeLockBps)) / 10_000n;
      const e = m.escrow.get(a.r);
      const pv = m.providers.get(a.p);
      const sigOk = (a.sig === 'good' || a.sig === 'replay') && !used.has(nonce);
      const ok =
        !m.paused.settlement &&
        !m.paused.registry &&
        sigOk &&
        m.reqIds.has(a.r) &&
        span > 0 &&
        !!e &&
        lock <= e.free &&
        !!pv &&
        pv.staked >= m.minStake &&
        stakeLock <= pv.staked - pv.locked;
      expectOutcome(a, r, ok, `sig ${a.sig}, lock ${lock}, stakeLock ${stakeLock}`);
      if (r.ok && e && pv) {
        used.add(nonce);
        m.usedNonces.set(a.r, used);
        e.free -= lock;
        e.locked += lock;
        pv.locked += stakeLock;
        m.tasks.push({
          r: a.r,
          p: a.p,
          reqId: m.reqIds.get(a.r)!,
          provId: pv.id,
          cap,
          start: m.period(),
          span,
          origSpan: span,
          stakeLock,
          released: false,
        });
      }
      return;
    }
    case 'settle': {
      let items: MItem[] = [];
      if (a.replay && m.batches.length) items = [...m.batches[m.batches.length - 1]!.items.slice(0, 2)];
      for (const x of a.items) {
        const ti = m.tasks.length ? x.task % m.tasks.length : x.task % 3;
        const t = m.tasks[ti];
        const period = Math.max(0, m.period() - 1 - x.back);
        items.push({ task: ti, period, amount: ((t?.cap ?? 1000n) * BigInt(x.pct)) / 100n });
      }
      if (a.dedupe)
        items = items.filter((it, i) => items.findIndex((o) => o.task === it.task && o.period === it.period) === i);
      // Sorted by task (cheapest), as the coordinator does; duplicates stay.
      items.sort((p, q) => p.task - q.task || p.period - q.period);
      const hex = encodeItems(items);
      const r = await send(m, coord, settlement, 'settle', [hex]);
      const now = m.period();
      const oldest = m.oldest();
      const seen = new Set<string>();
      let why = '';
      for (const it of items) {
        const t = m.tasks[it.task];
        const key = `${it.task}:${it.period}`;
        if (!t) why ||= `unknown task ${it.task}`;
        else if (it.period < t.start || it.period >= t.start + t.span) why ||= `period ${it.period} outside task`;
        else if (it.period >= now || it.period < oldest) why ||= `period ${it.period} not settleable now`;
        else if (it.amount > t.cap) why ||= `amount above cap`;
        else if (m.settled.has(key) || seen.has(key)) why ||= `duplicate ${key}`;
        seen.add(key);
      }
      if (!items.length) why = 'empty';
      if (m.paused.settlement) why ||= 'paused';
      expectOutcome(a, r, why === '', why);
      if (r.ok) {
        const releaseAt = m.releaseTime(m.t);
        const batch = m.batches.length;
        for (const it of items) {
          const t = m.tasks[it.task]!;
          const key = `${it.task}:${it.period}`;
          if (m.settled.has(key)) throw new Violation(`(task, period) ${key} paid twice`);
          m.settled.set(key, it.amount);
          const e = m.escrow.get(t.r)!;
          e.locked -= t.cap * UNIT;
          e.free += (t.cap - it.amount) * UNIT;
          const fee = (it.amount * BigInt(m.feeBps)) / 10_000n;
          const list = m.credits.get(t.p) ?? [];
          list.push({ batch, amount: it.amount - fee, releaseAt });
          m.credits.set(t.p, list);
          m.feeCredits.push({ batch, amount: fee, releaseAt });
        }
        m.batches.push({ items, hex, releaseAt, feeBps: m.feeBps, disputed: new Set() });
      }
      return;
    }
    case 'close': {
      const t = m.tasks[a.task % Math.max(1, m.tasks.length)];
      const idx = a.task % Math.max(1, m.tasks.length);
      const r = await send(m, coord, settlement, 'closeTasks', [[idx]]);
      expectOutcome(a, r, !m.paused.settlement && !!t, '');
      if (r.ok && t) {
        const end = m.period() + 1;
        if (t.start + t.span > end) {
          const newSpan = end - t.start;
          const refund = t.cap * UNIT * BigInt(t.span - newSpan);
          t.span = newSpan;
          const e = m.escrow.get(t.r)!;
          e.locked -= refund;
          e.free += refund;
        }
      }
      return;
    }
    case 'closeOwn': {
      const idx = a.task % Math.max(1, m.tasks.length);
      const t = m.tasks[idx];
      const r = await send(m, R[a.r]!.address, settlement, 'closeOwnTasks', [[idx]]);
      expectOutcome(a, r, !m.paused.settlement && m.reqIds.has(a.r) && !!t && t.r === a.r, `task of ${t?.r}`);
      if (r.ok && t) {
        // The current period and one more stay (the provider's notice).
        const end = m.period() + 2;
        if (t.start + t.span > end) {
          const newSpan = Math.max(0, end - t.start);
          const refund = t.cap * UNIT * BigInt(t.span - newSpan);
          t.span = newSpan;
          const e = m.escrow.get(t.r)!;
          e.locked -= refund;
          e.free += refund;
        }
      }
      return;
    }
    case 'refund': {
      const idx = a.task % Math.max(1, m.tasks.length);
      const t = m.tasks[idx];
      const periods = a.offsets.map((o) => (t?.start ?? 0) + o);
      const r = await send(m, sys.stranger.address, settlement, 'refundPeriods', [idx, periods]);
      const oldest = m.oldest();
      const seen = new Set<number>();
      let why = m.paused.settlement ? 'paused' : t ? '' : 'no task';
      for (const p of periods) {
        if (!t) break;
        if (p < t.start || p >= t.start + t.span) why ||= 'out of range';
        else if (p >= oldest) why ||= 'too early';
        else if (m.settled.has(`${idx}:${p}`) || seen.has(p)) why ||= 'settled';
        seen.add(p);
      }
      expectOutcome(a, r, why === '', why);
      if (r.ok && t) {
        for (const p of periods) m.settled.set(`${idx}:${p}`, 0n);
        const refund = t.cap * UNIT * BigInt(periods.length);
        const e = m.escrow.get(t.r)!;
        e.locked -= refund;
        e.free += refund;
      }
      return;
    }
    case 'releaseStake': {
      const idx = a.task % Math.max(1, m.tasks.length);
      const t = m.tasks[idx];
      const r = await send(m, sys.stranger.address, settlement, 'releaseStake', [[idx]]);
      // The last period's settle window and two dispute windows, time paused not counted.
      const endTime = t ? m.genesis + (t.start + t.span) * Number(P) : 0;
      const ok = !!t && m.cutoff(SW + 2 * W) >= endTime;
      expectOutcome(a, r, !m.paused.settlement && ok, `ends ${endTime}, cutoff ${m.cutoff(SW + 2 * W)}`);
      if (r.ok && t && !t.released) {
        t.released = true;
        const pv = m.providers.get(t.p)!;
        pv.locked -= minBig(t.stakeLock, pv.locked);
      }
      return;
    }
    case 'dispute': {
      const bi = recentIndex(Math.max(1, m.batches.length), a.batch);
      const b = m.batches[bi];
      const idx = b ? a.idx.map((i) => i % b.items.length) : [0];
      const args = b ? [bi, b.hex, b.releaseAt, b.feeBps, idx, id('evidence')] : [0, '0x', 0, 0, idx, id('evidence')];
      const r = await send(m, sys.roles.verifier, settlement, 'dispute', args);
      const seen = new Set<number>();
      let why = b ? '' : 'no batch';
      if (b && m.t >= b.releaseAt) why ||= 'window over';
      for (const i of b ? idx : []) {
        if (b!.disputed.has(i) || seen.has(i)) why ||= `index ${i} disputed`;
        seen.add(i);
      }
      expectOutcome(a, r, why === '', why);
      if (r.ok && b) {
        for (const i of idx) {
          b.disputed.add(i);
          const it = b.items[i]!;
          const t = m.tasks[it.task]!;
          const fee = (it.amount * BigInt(b.feeBps)) / 10_000n;
          m.escrow.get(t.r)!.free += it.amount * UNIT;
          m.settled.set(`${it.task}:${it.period}`, 0n);
          takeBack(m.credits.get(t.p)!, bi, it.amount - fee);
          takeBack(m.feeCredits, bi, fee);
        }
      }
      return;
    }
    case 'slash': {
      // The verifier may take at most the locked stake and maxSlash; governance's unbounded path is tested in
      // settlement.test.ts.
      const pv = m.providers.get(a.p);
      const locked = pv?.locked ?? 0n;
      const amount = (locked * BigInt(a.pct)) / 100n;
      const cut = (amount * 1000n) / 10_000n;
      const rest = amount - cut;
      const split = [rest / 2n, rest - rest / 2n + (a.badSplit ? 1n : 0n)];
      const r = await send(m, sys.roles.verifier, registry, 'slash', [
        sys.providers[a.p]!.address,
        amount,
        id('evidence'),
        [R[0]!.address, R[1]!.address],
        split,
      ]);
      const limit = minBig(locked, MAX_SLASH);
      // Each requester credited must hold an escrow (requesters 0 and 1 deposited in the prelude).
      const escrows = m.reqIds.has(0) && m.reqIds.has(1);
      expectOutcome(a, r, !!pv && amount > 0n && amount <= limit && !a.badSplit && escrows, `limit ${limit}`);
      if (r.ok && pv) {
        if (amount > limit) throw new Violation(`slashed ${amount} above the limit ${limit}`);
        pv.staked -= amount;
        pv.locked -= amount;
        // The requesters' share is credited to their escrow, not transferred.
        for (const [i, x] of split.entries()) {
          const e = m.escrow.get(i) ?? { free: 0n, locked: 0n };
          m.escrow.set(i, { free: e.free + x, locked: e.locked });
        }
      }
      return;
    }
    case 'withdrawEarnings': {
      const list = m.credits.get(a.p) ?? [];
      const r = await send(m, PV[a.p]!.address, settlement, 'withdrawEarnings', []);
      const avail = m.available(list); // at the block's time (send moved m.t to it)
      expectOutcome(a, r, !m.paused.settlement && m.providers.has(a.p) && avail > 0n, `available ${avail}`);
      if (r.ok)
        m.credits.set(
          a.p,
          list.filter((c) => c.releaseAt > m.t),
        );
      return;
    }
    case 'withdrawFees': {
      const r = await send(m, sys.roles.feeRecipient, settlement, 'withdrawFees', []);
      const avail = m.available(m.feeCredits); // at the block's time (send moved m.t to it)
      expectOutcome(a, r, !m.paused.settlement && avail > 0n, `available ${avail}`);
      if (r.ok) m.feeCredits = m.feeCredits.filter((c) => c.releaseAt > m.t);
      return;
    }
    case 'warp': {
      m.t += a.seconds;
      await chain.send('evm_setNextBlockTimestamp', [m.t]);
      await chain.send('evm_mine', []);
      m.block += 1;
      return;
    }
    case 'mine': {
      for (let i = 0; i < a.blocks; i++) {
        m.t += 1;
        await chain.send('evm_setNextBlockTimestamp', [m.t]);
        await chain.send('evm_mine', []);
      }
      m.block += a.blocks;
      return;
    }
    case 'pause': {
      const c = a.which === 'settlement' ? settlement : registry;
      const r = await send(m, a.byGuardian ? sys.roles.guardian : sys.stranger.address, c, 'pause', []);
      expectOutcome(a, r, a.byGuardian && !m.paused[a.which], '');
      if (r.ok) m.paused[a.which] = true;
      if (r.ok && a.which === 'settlement') m.pausedSince = m.t;
      return;
    }
    case 'propose': {
      const value =
        a.kind === 'minStake'
          ? BigInt(a.value + 1) * TOKEN
          : a.kind === 'feeBps'
            ? BigInt(a.value % 2001)
            : BigInt(a.value);
      const call = await govCall(a.kind, value);
      const description = `proposal ${m.proposals.length} ${a.kind} ${value}`;
      const r = await send(m, sys.voters[a.voter]!.address, governor, 'propose', [
        [call.target],
        [0],
        [call.data],
        description,
      ]);
      expectOutcome(a, r, true, '');
      m.proposals.push({
        kind: a.kind,
        value,
        targets: [call.target],
        calldatas: [call.data],
        description,
        snapshot: m.block + testParams.votingDelay!,
        deadline: m.block + testParams.votingDelay! + testParams.votingPeriod!,
        forVotes: 0n,
        againstVotes: 0n,
        abstainVotes: 0n,
        voted: new Set(),
        eta: 0,
        executed: false,
      });
      return;
    }
    case 'vote': {
      const pr = recent(m.proposals, a.proposal);
      const pid = pr ? await proposalId(pr) : 0n;
      const r = await send(m, sys.voters[a.voter]!.address, governor, 'castVote', [pid, a.support]);
      const active = !!pr && pr.snapshot < m.block && m.block <= pr.deadline;
      expectOutcome(a, r, active && !pr.voted.has(a.voter), `state at block ${m.block}`);
      if (r.ok && pr) {
        pr.voted.add(a.voter);
        // Weight as of the snapshot block: tokens moved after it do not count.
        const w = m.votesAt(a.voter, pr.snapshot);
        if (a.support === 0) pr.againstVotes += w;
        else if (a.support === 1) pr.forVotes += w;
        else pr.abstainVotes += w;
      }
      return;
    }
    case 'queue': {
      const pr = recent(m.proposals, a.proposal);
      const r = pr
        ? await send(m, sys.voters[0]!.address, governor, 'queue', [pr.targets, [0], pr.calldatas, id(pr.description)])
        : await send(m, sys.voters[0]!.address, governor, 'queue', [[], [], [], id('none')]);
      const ok = !!pr && pr.eta === 0 && !pr.executed && m.block > pr.deadline && succeeded(pr);
      expectOutcome(a, r, ok, '');
      if (r.ok && pr) pr.eta = m.t + testParams.timelockDelay!;
      return;
    }
    case 'execute': {
      const pr = recent(m.proposals, a.proposal);
      if (!pr) return;
      const r = await send(m, sys.voters[1]!.address, governor, 'execute', [
        pr.targets,
        [0],
        pr.calldatas,
        id(pr.description),
      ]);
      const effectOk =
        (pr.kind === 'unpauseSettlement' && m.paused.settlement) ||
        (pr.kind === 'unpauseRegistry' && m.paused.registry) ||
        (pr.kind === 'minStake' && pr.value > 0n) ||
        (pr.kind === 'feeBps' && pr.value <= 2000n) ||
        (pr.kind === 'stakeLockBps' && pr.value <= 10_000n);
      const ready = pr.eta !== 0 && !pr.executed && m.t >= pr.eta;
      if (r.ok) {
        // The governance invariant, checked on what the chain did: never before the time-lock, never
        // without quorum and a majority.
        if (pr.eta === 0 || m.t < pr.eta)
          throw new Violation(`executed before its time-lock (eta ${pr.eta}, now ${m.t})`);
        if (!succeeded(pr)) throw new Violation('executed without quorum or majority');
      }
      expectOutcome(a, r, ready && effectOk, `eta ${pr.eta}`);
      if (r.ok) {
        pr.executed = true;
        if (pr.kind === 'feeBps') m.feeBps = Number(pr.value);
        if (pr.kind === 'stakeLockBps') m.stakeLockBps = Number(pr.value);
        if (pr.kind === 'minStake') m.minStake = pr.value;
        if (pr.kind === 'unpauseSettlement') {
          m.paused.settlement = false;
          if (m.pausedSince < m.t) m.pauses.push([m.pausedSince, m.t]);
        }
        if (pr.kind === 'unpauseRegistry') m.paused.registry = false;
      }
      return;
    }
    case 'transferVotes': {
      const from = a.from;
      const to = 1 - from;
      const amount = BigInt(a.amount) * TOKEN;
      const have = m.votesAt(from, m.block);
      const r = await send(m, sys.voters[from]!.address, token, 'transfer', [sys.voters[to]!.address, amount]);
      expectOutcome(a, r, amount <= have, '');
      if (r.ok) {
        m.votes[from]!.push([m.block, have - amount]);
        m.votes[to]!.push([m.block, m.votesAt(to, m.block) + amount]);
      }
      return;
    }
  }
}

/** Removes `amount` of what batch `batch` credited (several entries of one batch are fungible). */
function takeBack(list: Credit[], batch: number, amount: bigint): void {
  let left = amount;
  for (const c of list.filter((x) => x.batch === batch)) {
    const take = minBig(c.amount, left);
    c.amount -= take;
    left -= take;
  }
  if (left !== 0n) throw new Violation(`model: batch ${batch} credited less than the ${amount} taken back`);
}

const QUORUM = (testParams.supply! * BigInt(testParams.quorumPercent!)) / 100n;
function succeeded(p: MProposal): boolean {
  return p.forVotes > p.againstVotes && p.forVotes + p.abstainVotes >= QUORUM;
}

async function proposalId(p: MProposal): Promise<bigint> {
  return sys.c.governor.getFunction('hashProposal')(p.targets, [0], p.calldatas, id(p.description));
}

// ------------------------------------------------------------------------------------- invariants

async function checkInvariants(m: Model, last: Action): Promise<void> {
  const { token, settlement, registry } = sys.c;
  const where = `after ${JSON.stringify(last)}`;
  const accounts = [...chain.wallets.slice(0, 14).map((w) => w.address)];
  const contracts = await Promise.all([settlement.getAddress(), registry.getAddress(), sys.c.timelock.getAddress()]);
  const [supply, ...balances] = await Promise.all([
    token.getFunction('totalSupply')() as Promise<bigint>,
    ...[...accounts, ...contracts].map((a) => token.getFunction('balanceOf')(a) as Promise<bigint>),
  ]);
  const sum = balances.reduce((s, b) => s + b, 0n);
  if (sum !== supply || supply !== testParams.supply)
    throw new Violation(`supply not conserved: ${sum} vs ${supply} ${where}`);

  // Settlement holds exactly what it owes. All reads at once: ethers sends them as one JSON-RPC batch.
  const held = balances[accounts.length]!;
  let owed = 0n;
  const [escrows, earnings, stakes] = await Promise.all([
    Promise.all(sys.requesters.map((r) => settlement.getFunction('escrowOf')(r.address) as Promise<[bigint, bigint]>)),
    Promise.all(sys.providers.map((p) => settlement.getFunction('earningsOf')(p.address) as Promise<[bigint, bigint]>)),
    Promise.all(
      sys.providers.map(
        (p) =>
          registry.getFunction('provider')(p.address) as Promise<{ staked: bigint; locked: bigint; unbonding: bigint }>,
      ),
    ),
  ]);
  for (let r = 0; r < 3; r++) {
    const [free, locked] = escrows[r]!;
    const e = m.escrow.get(r) ?? { free: 0n, locked: 0n };
    if (free !== e.free || locked !== e.locked) {
      throw new Violation(`requester ${r} escrow ${free}/${locked}, model ${e.free}/${e.locked} ${where}`);
    }
    owed += free + locked;
  }
  for (let p = 0; p < 3; p++) {
    const [avail, pend] = earnings[p]!;
    const list = m.credits.get(p) ?? [];
    if (avail !== m.available(list) * UNIT || pend !== m.pending(list) * UNIT) {
      throw new Violation(
        `provider ${p} earnings ${avail}/${pend}, model ${m.available(list) * UNIT}/${m.pending(list) * UNIT} ${where}`,
      );
    }
    owed += avail + pend;
    const s = stakes[p]!;
    const mp = m.providers.get(p);
    if (s.staked !== (mp?.staked ?? 0n) || s.locked !== (mp?.locked ?? 0n) || s.unbonding !== (mp?.unbonding ?? 0n)) {
      throw new Violation(`provider ${p} stake ${s.staked}/${s.locked}/${s.unbonding} differs from the model ${where}`);
    }
    if (s.staked < s.locked) throw new Violation(`provider ${p} stake ${s.staked} below its lock ${s.locked} ${where}`);
  }
  const [fa, fp] = (await settlement.getFunction('feeEarnings')()) as [bigint, bigint];
  if (fa !== m.available(m.feeCredits) * UNIT || fp !== m.pending(m.feeCredits) * UNIT) {
    throw new Violation(`fee earnings ${fa}/${fp} differ from the model ${where}`);
  }
  owed += fa + fp;
  if (held !== owed) throw new Violation(`settlement holds ${held} but owes ${owed} ${where}`);

  // No requester charged beyond a task's lock: per task, what was paid (net of reversals) <= cap * span.
  const paid = new Map<number, bigint>();
  for (const [key, amount] of m.settled) {
    const task = Number(key.split(':')[0]);
    paid.set(task, (paid.get(task) ?? 0n) + amount);
  }
  for (const [task, amount] of paid) {
    const t = m.tasks[task]!;
    if (amount > t.cap * BigInt(t.origSpan))
      throw new Violation(`task ${task} charged ${amount} above its cap ${where}`);
  }

  // Registry: holdings = stake + unbonding + unclaimed reserve; emission within its cap and the reserve.
  const [regHeld, totalStaked, totalUnbonding, funded, claimed, emitted, cap] = await Promise.all([
    Promise.resolve(balances[accounts.length + 1]!),
    ...['totalStaked', 'totalUnbonding', 'rewardsFunded', 'rewardsClaimed', 'emitted', 'emissionCap'].map(
      (f) => registry.getFunction(f)() as Promise<bigint>,
    ),
  ]);
  if (regHeld !== totalStaked! + totalUnbonding! + funded! - claimed!) {
    throw new Violation(
      `registry holds ${regHeld}, accounts for ${totalStaked! + totalUnbonding! + funded! - claimed!} ${where}`,
    );
  }
  const earnedEach = await Promise.all(
    sys.providers.map((pv) => registry.getFunction('earned')(pv.address) as Promise<bigint>),
  );
  const earned = earnedEach.reduce((x, y) => x + y, 0n);
  if (!(emitted! <= cap! && cap! <= funded! && earned + claimed! <= cap!)) {
    throw new Violation(
      `emission out of bounds: emitted ${emitted}, cap ${cap}, funded ${funded}, owed ${earned + claimed!} ${where}`,
    );
  }
}

// ------------------------------------------------------------------------------------------- test

let lastFailure = '';

test.serial('random call sequences keep every invariant', async (t) => {
  t.timeout(Math.max(180_000, RUNS * 5_000));
  const replay = `NVDAX_FUZZ_SEED=${SEED} NVDAX_FUZZ_GENESIS=${GENESIS}`;
  t.log(`fast-check seed ${SEED}, genesis ${GENESIS}, ${RUNS} sequences of up to ${STEPS} steps (${replay} replays)`);
  console.log(`fuzz: seed ${SEED}, genesis ${GENESIS}, ${RUNS} sequences`);
  let done = 0;
  const started = Date.now();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 6, arbitrary: actionArb },
            { weight: 2, arbitrary: macroArb },
            { weight: 1, arbitrary: pauseArb },
          ),
          {
            minLength: 1,
            maxLength: STEPS,
          },
        ),
        async (xs) => {
          await chain.send('evm_revert', [base]);
          base = await chain.send<string>('evm_snapshot');
          const m = cloneModel(prelude);
          const actions = xs.flatMap(expand);
          for (const [i, a] of actions.entries()) {
            try {
              await step(m, a);
              await checkInvariants(m, a);
            } catch (e) {
              // fast-check reports the inputs; say which step broke what.
              lastFailure = `step ${i + 1}/${actions.length}: ${(e as Error).message}`;
              throw e;
            }
          }
          done++;
          if (done % 100 === 0)
            console.log(`fuzz: ${done}/${RUNS} sequences, ${((Date.now() - started) / 1000).toFixed(0)} s`);
        },
      ),
      {
        numRuns: RUNS,
        seed: SEED,
        endOnFailure: RUNS > 100,
        ...(process.env['NVDAX_FUZZ_PATH'] ? { path: process.env['NVDAX_FUZZ_PATH'] } : {}),
      },
    );
  } catch (e) {
    t.log(`last failure: ${lastFailure}`);
    console.error(`fuzz: failed with ${replay}: ${lastFailure}`);
    throw e;
  }
  t.log([...stats].map(([k, v]) => `${k} ${v.ok}/${v.ok + v.reverted}`).join(', '));
  // The paths that matter must have been taken, not only refused.
  if (RUNS >= 50) {
    for (const k of [
      'open',
      'settle',
      'dispute',
      'execute',
      'withdrawEarnings',
      'close',
      'closeOwn',
      'slash',
    ] as const) {
      t.true((stats.get(k)?.ok ?? 0) > 0, `no successful ${k} in ${RUNS} sequences`);
    }
  }
});
