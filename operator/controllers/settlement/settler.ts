// The settlement client (leader only): opens each placed job's requester-signed task on chain before its
// workload may start (escrow and provider stake locked), settles its metered usage period by period in
// batches, anchors a TrainingJob's checkpoint lineage when it ends, closes the task after that (the unused
// escrow returns), and records all of it in status.settlement with an Escrowed and a Settled condition. One
// transaction at a time through the outbox (operator/settlement/outbox.ts); status.settlement is this file's
// (field manager nvdax-settlement).
//
// It also answers placement's questions from caches it keeps fresh: may this job be placed (its escrow
// covers its task's lock), may this pool take paid work (its provider has active stake), and may this
// placed job's workload start (its task is open).
import { Counter, Gauge, type Registry } from 'prom-client';
import { getAddress, Interface, isError, type Log, type TransactionReceipt } from 'ethers';
import { API_VERSION, JobConditionType, JobReason, SettlementTxType } from '../../api/constants.ts';
import type { ProviderPoolObject } from '../../api/resources.ts';
import type { LineageAnchorStatus, Settlement, SettlementTransaction } from '../../api/types.gen.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isConflict, isNotFound } from '../../kube/errors.ts';
import type { KubeObject } from '../../kube/types.ts';
import { type Clock, sleep } from '../../runtime/clock.ts';
import { type Condition, type ConditionInput, metaTime, setCondition } from '../../runtime/conditions.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import { ensureFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from '../../runtime/finalizers.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/log.ts';
import type { ChainClient, Stake } from '../../settlement/chain.ts';
import { artifact, encodeItems, formatNvdax, parseNvdax, UNIT } from '../../settlement/contracts.ts';
import { type PendingJob, PendingLocks } from '../../settlement/pending.ts';
import { jobTaskValue } from '../../settlement/job-task.ts';
import { type BilledAttempt, dueItems, orderItems, taskTerms } from '../../settlement/metering.ts';
import { type OutboxKind, type SendOutcome, Sender } from '../../settlement/outbox.ts';
import { toContractTask } from '../../settlement/task.ts';
import { type LineageSnapshot, lineageAnchor, verifyLineage } from '../../training/lineage.ts';
import type { ConfigMapOutbox } from '../../settlement/outbox.ts';
import {
  attemptsOf,
  cleanupFinalizer,
  isFinished,
  isPlaced,
  type JobKind,
  type JobObject,
  jobKey,
  kindOf,
  resourceOf,
} from '../jobs/model.ts';

export const settlementManager = 'nvdax-settlement';
export const settlementFinalizer = 'nvdax.io/settlement';
const settlementConditions = [JobConditionType.Escrowed, JobConditionType.Settled] as const;

/** What placement and the job controller ask of settlement (all answered from caches, no I/O). */
export interface SettlementGates {
  /** Why this job may not be placed now (its escrow does not cover its task's lock), or undefined. */
  jobRefusal(job: JobObject): { reason: string; message: string } | undefined;
  /** Why this pool may not take paid work (its provider has no active stake), or undefined. */
  poolRefusal(pool: ProviderPoolObject): string | undefined;
  /** Why a placed job's workload must not start yet (its task is not open on chain), or undefined. */
  materializeWait(job: JobObject): string | undefined;
}

export interface SettlerOptions {
  hub: KubeClient;
  chain: ChainClient;
  outbox: ConfigMapOutbox;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  pools: Informer<ProviderPoolObject>;
  jobs: Record<JobKind, Informer<JobObject>>;
  /** Takes a placement back (refused task): the scheduler's release. */
  release: (job: JobObject, o: { reason: string; message: string; signal?: AbortSignal }) => Promise<void>;
  /** Something placement reads changed (escrow or stake): run a cycle. */
  poke: () => void;
  /** Enqueues a job for the job controller (its task opened). */
  enqueue: (kind: JobKind, key: string) => void;
  /** Between passes (default 2 s). */
  intervalMs?: number;
  /** Escrow and stake reads are reused this long (default 5 s). */
  cacheMs?: number;
  /** Most items per settle transaction (default 500). */
  batchMax?: number;
  /** Most tasks opened per transaction (default 20). */
  openMax?: number;
  confirmations?: number;
  /** Wait this long after a period ends before billing it (default 5 s). */
  graceMs?: number;
  registry?: Registry;
}

interface OpenMeta {
  jobs: Array<{ kind: JobKind; key: string; uid: string; requester: string; nonce: string; provider: string }>;
}
interface SettleMeta {
  items: Array<{ kind: JobKind; key: string; uid: string; task: number; period: number; amount: string }>;
}
type DueRow = SettleMeta['items'][number] & { pair: string; amountUnits: bigint };
interface CloseMeta {
  jobs: Array<{ kind: JobKind; key: string; uid: string; task: number }>;
}
interface AnchorMeta {
  jobs: Array<{
    kind: JobKind;
    key: string;
    uid: string;
    task: number;
    anchor: string;
    head: string;
    step: number;
    records: number;
  }>;
}
const ZERO32 = `0x${'00'.repeat(32)}`;

const nvdax = formatNvdax;
const toWei = parseNvdax;
const addWei = (a: string | undefined, wei: bigint) => nvdax((a ? toWei(a) : 0n) + wei);

export class Settler implements SettlementGates {
  readonly #o: SettlerOptions;
  readonly #sender: Sender;
  readonly #iface: Interface;
  readonly #escrow = new Map<string, { free: bigint; at: number }>();
  readonly #stake = new Map<string, { stake: Stake; at: number }>();
  readonly #wanted = new Set<string>();
  #clock: { genesis: number; periodSeconds: number } | undefined;
  #chainError: string | undefined;
  readonly #metrics:
    | { backlog: Gauge; gas: Counter<'kind'>; failures: Counter<'kind'>; sent: Counter<'kind'>; settled: Counter }
    | undefined;

  constructor(o: SettlerOptions) {
    this.#o = o;
    this.#iface = new Interface([
      ...(artifact('Settlement').abi as never[]),
      ...(artifact('ProviderRegistry').abi as never[]).filter((x: { type?: string }) => x.type === 'error'),
    ]);
    this.#sender = new Sender({
      chain: o.chain,
      store: o.outbox,
      clock: o.clock,
      log: o.log,
      iface: this.#iface,
      ...(o.confirmations !== undefined ? { confirmations: o.confirmations } : {}),
      onGas: (kind, gas) => this.#metrics?.gas.inc({ kind }, Number(gas)),
    });
    const registers = o.registry ? [o.registry] : undefined;
    if (registers) {
      const self = this;
      this.#metrics = {
        backlog: new Gauge({
          name: 'nvdax_settlement_outbox_backlog',
          help: 'Settle items due and not yet sent, plus tasks waiting to be opened or closed',
          registers,
          collect() {
            this.set(self.backlog());
          },
        }),
        gas: new Counter({
          name: 'nvdax_settlement_gas_used_total',
          help: 'Gas used by mined settlement transactions, by kind (open, settle, anchor, close)',
          labelNames: ['kind'],
          registers,
        }),
        failures: new Counter({
          name: 'nvdax_settlement_failures_total',
          help: 'Settlement passes or transactions that failed, by kind (rpc, revert, refused)',
          labelNames: ['kind'],
          registers,
        }),
        sent: new Counter({
          name: 'nvdax_settlement_transactions_total',
          help: 'Settlement transactions mined, by kind (open, settle, anchor, close)',
          labelNames: ['kind'],
          registers,
        }),
        settled: new Counter({ name: 'nvdax_settlement_items_total', help: 'Periods settled', registers }),
      };
    }
  }

  // ------------------------------------------------------------------ gates

  jobRefusal(job: JobObject): { reason: string; message: string } | undefined {
    if (job.status?.settlement?.task !== undefined) return undefined; // opened: a failover re-places it
    const clock = this.#clock;
    if (!clock) return { reason: JobReason.ChainUnavailable, message: this.#chainError ?? 'connecting to the chain' };
    let lock: bigint;
    try {
      lock = taskTerms(jobTaskValue(job), clock.periodSeconds).lockWei;
    } catch (e) {
      return { reason: JobReason.TaskInvalid, message: (e as Error).message };
    }
    const requester = job.spec.payment.requester.toLowerCase();
    const seen = this.#escrow.get(requester);
    if (!seen || this.#o.clock.now() - seen.at > (this.#o.cacheMs ?? 5_000)) this.#want(`escrow:${requester}`);
    if (!seen) return { reason: JobReason.EscrowPending, message: `reading the escrow of ${requester}` };
    // what this operator has placed for the same requester but not opened yet will take its share first
    const locks = this.#pendingLocks(clock.periodSeconds);
    const uid = job.metadata?.uid ?? '';
    const pending = locks.others(requester, uid);
    if (seen.free - pending >= lock) {
      locks.add({ uid, requester, lock }); // let through: the next job of this requester sees it at once
      return undefined;
    }
    return {
      reason: seen.free === 0n ? JobReason.EscrowMissing : JobReason.EscrowInsufficient,
      message:
        `escrow of ${requester} has ${nvdax(seen.free)} NVDAx free` +
        (pending ? ` (${nvdax(pending)} of it for other jobs being opened)` : '') +
        `; the task locks ${nvdax(lock)} (its cap per period × periods): deposit with nvdax escrow deposit`,
    };
  }

  poolRefusal(pool: ProviderPoolObject): string | undefined {
    const addr = pool.spec.provider?.address?.toLowerCase();
    if (!addr) return 'pool names no provider address';
    const seen = this.#stake.get(addr);
    if (!seen || this.#o.clock.now() - seen.at > (this.#o.cacheMs ?? 5_000) * 2) this.#want(`stake:${addr}`);
    if (!seen) return `reading the stake of provider ${addr}`;
    const { staked, minStake } = seen.stake;
    if (staked < minStake) {
      return `provider ${addr} has ${nvdax(staked)} NVDAx staked, below the minimum ${nvdax(minStake)}`;
    }
    return undefined;
  }

  materializeWait(job: JobObject): string | undefined {
    if (job.status?.settlement?.task !== undefined) return undefined;
    return 'waiting for its task to be opened on chain (escrow and stake locked)';
  }

  /** Due items, opens and closes not sent yet (the backlog metric). */
  backlog(): number {
    return this.#lastBacklog;
  }
  #lastBacklog = 0;

  #want(key: string): void {
    this.#wanted.add(key);
  }

  /**
   * The locks of jobs placed but not opened, per requester: built from the caches at most once a second (a
   * placement cycle asks about every queued job), kept current in between by jobRefusal's own approvals.
   */
  #pendingLocks(periodSeconds: number): PendingLocks {
    const now = this.#o.clock.monotonic();
    if (this.#pending && now - this.#pending.builtAt < 1_000) return this.#pending;
    const jobs: PendingJob[] = [];
    for (const j of this.#allJobs()) {
      if (!isPlaced(j) || j.status?.settlement?.task !== undefined || isFinished(j)) continue;
      try {
        const lock = taskTerms(jobTaskValue(j), periodSeconds).lockWei;
        jobs.push({ uid: j.metadata?.uid ?? '', requester: j.spec.payment.requester, lock });
      } catch {}
    }
    this.#pending = new PendingLocks(jobs, now);
    return this.#pending;
  }
  #pending: PendingLocks | undefined;

  #allJobs(): JobObject[] {
    return [...this.#o.jobs.InferenceJob.list(), ...this.#o.jobs.TrainingJob.list()];
  }

  // ------------------------------------------------------------------ loop

  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    let backoff = 1_000;
    while (!signal.aborted) {
      try {
        if (!this.#clock) {
          await o.chain.connect();
          this.#clock = await o.chain.clock();
          o.poke();
        }
        await this.#refresh();
        const pending = await o.outbox.load();
        if (pending) await this.#apply(await this.#sender.resume(pending, signal), signal);
        await this.pass(signal);
        if (this.#chainError) {
          this.#chainError = undefined;
          o.poke();
        }
        backoff = 1_000;
        await sleep(o.clock, o.intervalMs ?? 2_000, signal).catch(() => {});
      } catch (e) {
        if (signal.aborted) return;
        this.#metrics?.failures.inc({ kind: 'rpc' });
        const msg = e instanceof Error ? e.message : String(e);
        if (this.#chainError !== msg) o.log.warn({ err: e }, 'Settlement pass failed; retrying');
        this.#chainError = msg.slice(0, 300);
        await sleep(o.clock, backoff, signal).catch(() => {});
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** Reads the escrows and stakes placement asked about (and those pools use), then pokes placement. */
  async #refresh(): Promise<void> {
    const o = this.#o;
    for (const p of o.pools.list()) {
      const addr = p.spec.provider?.address?.toLowerCase();
      const seen = addr ? this.#stake.get(addr) : undefined;
      if (addr && (!seen || o.clock.now() - seen.at > (o.cacheMs ?? 5_000) * 2)) this.#wanted.add(`stake:${addr}`);
    }
    if (!this.#wanted.size) return;
    const keys = [...this.#wanted];
    this.#wanted.clear();
    let changed = false;
    await Promise.all(
      keys.map(async (k) => {
        const [what, addr = ''] = k.split(':');
        if (what === 'escrow') {
          const { free } = await o.chain.escrowOf(addr);
          changed ||= this.#escrow.get(addr)?.free !== free;
          this.#escrow.set(addr, { free, at: o.clock.now() });
        } else {
          const stake = await o.chain.stakeOf(addr);
          const before = this.#stake.get(addr)?.stake;
          changed ||= before?.staked !== stake.staked || before?.minStake !== stake.minStake;
          this.#stake.set(addr, { stake, at: o.clock.now() });
        }
      }),
    );
    if (changed) o.poke();
  }

  /** One pass: open, anchor, close, settle, then finish deleted jobs. Exposed for tests. */
  async pass(signal: AbortSignal): Promise<void> {
    const jobs = this.#allJobs();
    const opens = jobs.filter(
      (j) => isPlaced(j) && !isFinished(j) && !isBeingDeleted(j) && j.status?.settlement?.task === undefined,
    );
    const ending = jobs.filter(
      (j) =>
        j.status?.settlement?.task !== undefined &&
        !j.status.settlement.closed &&
        (isFinished(j) || (isBeingDeleted(j) && !hasFinalizer(j, cleanupFinalizer))),
    );
    // a TrainingJob's lineage is anchored before its task closes (the next pass closes it)
    const anchors = ending.filter((j) => anchorDue(j));
    const closes = ending.filter((j) => !anchorDue(j));
    const due = this.#due(jobs);
    this.#lastBacklog = opens.length + anchors.length + closes.length + due.length;
    if (opens.length) await this.#open(opens, signal);
    if (anchors.length) await this.#anchor(anchors, signal);
    if (closes.length) await this.#close(closes, signal);
    if (due.length) await this.#settle(due, signal);
    await this.#finish(this.#allJobs(), signal);
  }

  // ------------------------------------------------------------------ open

  async #open(jobs: JobObject[], signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const batch: Array<{ job: JobObject; req: unknown; meta: OpenMeta['jobs'][number] }> = [];
    for (const job of jobs.slice(0, o.openMax ?? 20)) {
      const pool = o.pools.get(job.status?.placement?.pool ?? '');
      const provider = pool?.spec.provider?.address;
      if (!provider) continue;
      let req: unknown;
      try {
        const value = jobTaskValue(job);
        req = { task: toContractTask(value), signature: job.spec.payment.signature ?? '0x', provider };
      } catch (e) {
        await this.#refuse(job, JobReason.TaskInvalid, (e as Error).message, signal);
        continue;
      }
      // the finalizer first: a job deleted after its task opens still gets its usage settled and task closed
      await this.#finalize(job, signal);
      batch.push({
        job,
        req,
        meta: {
          kind: kindOf(job),
          key: jobKey(job),
          uid: job.metadata?.uid ?? '',
          requester: job.spec.payment.requester,
          nonce: job.spec.payment.nonce ?? '',
          provider: getAddress(provider),
        },
      });
    }
    if (!batch.length) return;
    const data = (reqs: unknown[]) => this.#iface.encodeFunctionData('openTasks', [reqs]);
    let out = await this.#send('open', data(batch.map((b) => b.req)), { jobs: batch.map((b) => b.meta) }, signal);
    if (out.status === 'refused' && batch.length > 1) {
      // one of them would revert the batch: open them one by one, refusing only that one
      for (const b of batch) {
        out = await this.#send('open', data([b.req]), { jobs: [b.meta] }, signal);
        if (out.status === 'refused') await this.#refusedOpen(b.job, out, signal);
      }
      return;
    }
    const only = batch[0];
    if (out.status === 'refused' && only) await this.#refusedOpen(only.job, out, signal);
  }

  async #refusedOpen(job: JobObject, out: Extract<SendOutcome, { status: 'refused' }>, signal: AbortSignal) {
    this.#metrics?.failures.inc({ kind: 'refused' });
    const name = out.error?.name ?? '';
    const reason =
      name === 'InsufficientEscrow' || name === 'NoEscrow'
        ? JobReason.EscrowInsufficient
        : name === 'BadSignature'
          ? JobReason.TaskSignatureInvalid
          : name === 'SignatureExpired'
            ? JobReason.TaskSignatureExpired
            : JobReason.TaskInvalid;
    // the escrow read that let it through was stale: read it again before the next cycle
    this.#escrow.delete(job.spec.payment.requester.toLowerCase());
    await this.#refuse(job, reason, `the settlement contract refused to open its task: ${out.reason}`, signal);
  }

  /** The task cannot open: the placement is taken back (the job waits, queued, with the reason). */
  async #refuse(job: JobObject, reason: string, message: string, signal: AbortSignal): Promise<void> {
    await this.#writeStatus(
      job,
      { ...(job.status?.settlement ?? {}), message: message.slice(0, 1024) },
      { type: JobConditionType.Escrowed, status: 'False', reason, message },
      signal,
    );
    await this.#o.release(job, { reason, message, signal });
    void this.#o.events.warning(job, reason, message.slice(0, 1000));
  }

  // ------------------------------------------------------------------ settle

  #due(jobs: JobObject[]): DueRow[] {
    const clock = this.#clock;
    if (!clock) return [];
    const now = this.#o.clock.now();
    const out: DueRow[] = [];
    for (const job of jobs) {
      const s = job.status?.settlement;
      if (s?.task === undefined || s.startPeriod === undefined || s.span === undefined || !s.capPerPeriod) continue;
      if ((s.settledPeriods ?? 0) >= s.span) continue;
      const provider = (s.provider ?? '').toLowerCase();
      const attempts: BilledAttempt[] = (job.status?.usage?.attempts ?? []).map((usage) => ({
        usage,
        billable: this.#o.pools.get(usage.pool ?? '')?.spec.provider?.address?.toLowerCase() === provider,
      }));
      const final = isFinished(job) || isBeingDeleted(job) || s.closed === true;
      const items = dueItems({
        terms: { task: s.task, startPeriod: s.startPeriod, span: s.span, capUnits: toWei(s.capPerPeriod) / UNIT },
        clock,
        settled: s.settledPeriods ?? 0,
        attempts,
        ...(isPlaced(job) && !final ? { running: attemptsOf(job) } : {}),
        final,
        now,
        graceMs: this.#o.graceMs ?? 5_000,
      });
      for (const it of items) {
        out.push({
          kind: kindOf(job),
          key: jobKey(job),
          uid: job.metadata?.uid ?? '',
          task: it.task,
          period: it.period,
          amount: it.amount.toString(),
          amountUnits: it.amount,
          pair: `${job.spec.payment.requester.toLowerCase()}|${provider}`,
        });
      }
    }
    return out;
  }

  async #settle(due: DueRow[], signal: AbortSignal): Promise<void> {
    const o = this.#o;
    let items = orderItems(due);
    // what the chain already shows settled (a status write lost after a crash) only moves the count on
    const settled = await o.chain.settledOf(items);
    const done = items.filter((_, i) => settled[i]);
    if (done.length) await this.#markSettled(done, undefined, signal);
    items = items.filter((_, i) => !settled[i]);
    // a task's periods go in order: a batch cut short ends a task's run, never skips one of its periods
    items = items.slice(0, o.batchMax ?? 500);
    if (!items.length) return;
    const data = this.#iface.encodeFunctionData('settle', [
      encodeItems(items.map((i) => ({ task: i.task, period: i.period, amount: i.amountUnits }))),
    ]);
    const meta: SettleMeta = {
      items: items.map(({ kind, key, uid, task, period, amount }) => ({ kind, key, uid, task, period, amount })),
    };
    const out = await this.#send('settle', data, meta, signal);
    if (out.status === 'refused') {
      this.#metrics?.failures.inc({ kind: 'refused' });
      o.log.error({ reason: out.reason, items: items.length }, 'Settle batch refused by the contract');
    }
  }

  // ------------------------------------------------------------------ anchor

  /**
   * Anchors the lineage anchor of each ended TrainingJob's status.checkpoints on chain. One that does not verify
   * is recorded as not anchored (the task still closes); one the chain shows anchored already (a status write
   * lost) is recorded from the chain.
   */
  async #anchor(jobs: JobObject[], signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const list: AnchorMeta['jobs'] = [];
    for (const j of jobs.slice(0, 100)) {
      const cp = checkpointsOf(j);
      const a = lineageAnchor(cp);
      if (!cp || !a) continue;
      const ref = { kind: kindOf(j), key: jobKey(j), uid: j.metadata?.uid ?? '' };
      try {
        verifyLineage(cp);
      } catch (e) {
        o.log.warn({ job: ref.key, err: e }, 'Checkpoint lineage does not verify; not anchored');
        await this.#recordLineage(ref, signal, {
          message: `not anchored: status.checkpoints does not verify (${(e as Error).message})`.slice(0, 1024),
        });
        continue;
      }
      list.push({ ...ref, task: j.status?.settlement?.task ?? 0, ...a });
    }
    if (!list.length) return;
    let onChain: string[];
    try {
      onChain = await o.chain.lineageOf(list.map((j) => j.task));
    } catch (e) {
      if (!isError(e, 'CALL_EXCEPTION')) throw e;
      // a settlement contract deployed before anchoring existed: the tasks close without it
      for (const m of list) {
        await this.#recordLineage(m, signal, {
          message: `not anchored: the settlement contract has no lineageOf (${e.shortMessage})`,
        });
      }
      return;
    }
    const send = list.filter((_, i) => onChain[i] === ZERO32);
    for (const [i, m] of list.entries()) {
      const was = onChain[i] ?? ZERO32;
      if (was === ZERO32) continue;
      const same = was.toLowerCase() === m.anchor.toLowerCase();
      await this.#recordLineage(m, signal, {
        anchor: was,
        ...(same ? { head: m.head, step: m.step, records: m.records } : {}),
        message: same
          ? 'found anchored on chain already'
          : `the chain holds another anchor for task ${m.task}; status.checkpoints anchors to ${m.anchor}`,
      });
    }
    if (!send.length) return;
    const data = this.#iface.encodeFunctionData('anchorLineages', [
      send.map((m) => ({ task: m.task, head: m.anchor, step: m.step })),
    ]);
    const out = await this.#send('anchor', data, { jobs: send } satisfies AnchorMeta, signal);
    if (out.status !== 'refused') return;
    this.#metrics?.failures.inc({ kind: 'refused' });
    o.log.error({ reason: out.reason, jobs: send.length }, 'Anchoring lineages refused by the contract');
    if (out.error?.name === 'EnforcedPause') return; // tried again after the pause (closing waits too)
    for (const m of send)
      await this.#recordLineage(m, signal, { message: `not anchored: ${out.reason}`.slice(0, 1024) });
  }

  async #applyAnchor(meta: AnchorMeta, receipt: TransactionReceipt, signal: AbortSignal): Promise<void> {
    for (const ev of this.#logs(receipt, 'LineageAnchored')) {
      const task = Number(ev.args['task']);
      const m = meta.jobs.find((j) => j.task === task);
      if (!m) continue;
      await this.#recordLineage(m, signal, {
        anchor: String(ev.args['head']),
        head: m.head,
        step: Number(ev.args['step']),
        records: m.records,
        txHash: receipt.hash,
        blockNumber: receipt.blockNumber,
        time: metaTime(this.#o.clock.now()),
      });
    }
  }

  /** Writes status.settlement.lineage once (an anchored or refused lineage is not written again). */
  #recordLineage(
    ref: { kind: JobKind; key: string; uid: string },
    signal: AbortSignal,
    lineage: LineageAnchorStatus,
  ): Promise<void> {
    return this.#update(ref, signal, (job) => {
      const s = job.status?.settlement;
      if (!s || s.lineage) return undefined;
      return { settlement: { ...s, lineage } };
    });
  }

  // ------------------------------------------------------------------ close

  async #close(jobs: JobObject[], signal: AbortSignal): Promise<void> {
    const list = jobs.slice(0, 100).map((j) => ({
      kind: kindOf(j),
      key: jobKey(j),
      uid: j.metadata?.uid ?? '',
      task: j.status?.settlement?.task ?? 0,
    }));
    const data = this.#iface.encodeFunctionData('closeTasks', [list.map((j) => j.task)]);
    const out = await this.#send('close', data, { jobs: list } satisfies CloseMeta, signal);
    if (out.status === 'refused') {
      this.#metrics?.failures.inc({ kind: 'refused' });
      this.#o.log.error({ reason: out.reason }, 'Closing tasks refused by the contract');
    }
  }

  // ------------------------------------------------------------------ send and apply

  async #send(kind: OutboxKind, data: string, meta: unknown, signal: AbortSignal): Promise<SendOutcome> {
    const out = await this.#sender.submit(kind, this.#o.chain.target.settlement, data, meta, signal);
    if (out.status !== 'refused') await this.#apply(out, signal);
    return out;
  }

  /** Writes what a mined (or reverted) transaction did into the jobs' statuses, then frees the outbox. */
  async #apply(out: SendOutcome, signal: AbortSignal): Promise<void> {
    if (out.status === 'refused') return;
    const { entry, receipt } = out;
    if (out.status === 'reverted') {
      this.#metrics?.failures.inc({ kind: 'revert' });
      this.#o.log.error(
        { kind: entry.kind, tx: receipt.hash },
        'Settlement transaction reverted; re-derived next pass',
      );
    } else {
      this.#metrics?.sent.inc({ kind: entry.kind });
      if (entry.kind === 'open') await this.#applyOpen(entry.meta as OpenMeta, receipt, signal);
      if (entry.kind === 'settle') await this.#markSettled((entry.meta as SettleMeta).items, receipt, signal);
      if (entry.kind === 'anchor') await this.#applyAnchor(entry.meta as AnchorMeta, receipt, signal);
      if (entry.kind === 'close') await this.#applyClose(entry.meta as CloseMeta, receipt, signal);
    }
    await this.#sender.done();
  }

  #logs(receipt: TransactionReceipt, name: string) {
    return receipt.logs
      .filter((l: Log) => l.address.toLowerCase() === this.#o.chain.target.settlement.toLowerCase())
      .flatMap((l) => {
        try {
          const d = this.#iface.parseLog(l);
          return d && d.name === name ? [d] : [];
        } catch {
          return [];
        }
      });
  }

  #tx(receipt: TransactionReceipt, type: string, wei: bigint): SettlementTransaction {
    return {
      txHash: receipt.hash,
      type: type as SettlementTransaction['type'],
      amount: nvdax(wei),
      blockNumber: receipt.blockNumber,
      time: metaTime(this.#o.clock.now()),
    };
  }

  async #applyOpen(meta: OpenMeta, receipt: TransactionReceipt, signal: AbortSignal): Promise<void> {
    const clock = this.#clock ?? (await this.#o.chain.clock());
    for (const ev of this.#logs(receipt, 'TaskOpened')) {
      const requester = String(ev.args['requester']).toLowerCase();
      const nonce = String(ev.args['nonce']);
      const m = meta.jobs.find((j) => j.requester.toLowerCase() === requester && j.nonce === nonce);
      if (!m) continue;
      const rec = BigInt(ev.args['record']);
      const cap = (rec >> 40n) & 0xffffffffffn;
      const locked = BigInt(ev.args['locked']);
      const settlement: Settlement = {
        task: Number(ev.args['task']),
        taskHash: String(ev.args['taskHash']),
        provider: getAddress(String(ev.args['provider'])),
        startPeriod: Number((rec >> 16n) & 0xffffffn),
        span: Number(rec & 0xffffn),
        periodSeconds: clock.periodSeconds,
        capPerPeriod: nvdax(cap * UNIT),
        settledPeriods: 0,
        escrowed: nvdax(locked),
        charged: '0',
        refunded: '0',
        message: 'task open; usage is settled period by period',
        transactions: [this.#tx(receipt, SettlementTxType.Open, locked)],
      };
      await this.#update(m, signal, (job) => ({
        settlement: job.status?.settlement?.task !== undefined ? job.status.settlement : settlement,
        condition: {
          type: JobConditionType.Escrowed,
          status: 'True',
          reason: JobReason.EscrowVerified,
          message: `task ${settlement.task} open: ${settlement.escrowed} NVDAx locked in escrow`,
        },
      }));
      this.#escrow.delete(requester);
      this.#o.enqueue(m.kind, m.key);
    }
  }

  async #markSettled(
    items: SettleMeta['items'],
    receipt: TransactionReceipt | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const byJob = new Map<string, SettleMeta['items']>();
    for (const it of items)
      byJob.set(`${it.kind}:${it.key}:${it.uid}`, [...(byJob.get(`${it.kind}:${it.key}:${it.uid}`) ?? []), it]);
    for (const list of byJob.values()) {
      const first = list[0];
      if (!first) continue;
      await this.#update(first, signal, (job) => {
        const s = job.status?.settlement;
        if (!s || s.task !== first.task || s.startPeriod === undefined) return undefined;
        // idempotent: a transaction already recorded is not counted twice
        if (receipt && s.transactions?.some((t) => t.txHash === receipt.hash)) return undefined;
        const last = Math.max(...list.map((i) => i.period));
        const settledPeriods = Math.max(s.settledPeriods ?? 0, last - s.startPeriod + 1);
        const charged = list.reduce((a, i) => a + BigInt(i.amount) * UNIT, 0n);
        const capWei = toWei(s.capPerPeriod ?? '0');
        const returned = BigInt(list.length) * capWei - charged;
        const settlement: Settlement = {
          ...s,
          settledPeriods,
          ...(receipt ? { charged: addWei(s.charged, charged), refunded: addWei(s.refunded, returned) } : {}),
          message: `${settledPeriods} of ${s.span} periods settled`,
          transactions: receipt
            ? [...(s.transactions ?? []), this.#tx(receipt, SettlementTxType.Charge, charged)].slice(-64)
            : (s.transactions ?? []),
        };
        return { settlement, condition: this.#settledCondition(job, settlement) };
      });
    }
    if (receipt) this.#metrics?.settled.inc(items.length);
  }

  async #applyClose(meta: CloseMeta, receipt: TransactionReceipt, signal: AbortSignal): Promise<void> {
    for (const ev of this.#logs(receipt, 'TaskClosed')) {
      const task = Number(ev.args['task']);
      const m = meta.jobs.find((j) => j.task === task);
      if (!m) continue;
      const refunded = BigInt(ev.args['refunded']);
      await this.#update(m, signal, (job) => {
        const s = job.status?.settlement;
        if (!s || s.task !== task || s.closed) return undefined;
        const settlement: Settlement = {
          ...s,
          span: Number(ev.args['span']),
          closed: true,
          refunded: addWei(s.refunded, refunded),
          transactions: [...(s.transactions ?? []), this.#tx(receipt, SettlementTxType.Close, refunded)].slice(-64),
        };
        return { settlement, condition: this.#settledCondition(job, settlement) };
      });
    }
  }

  #settledCondition(job: JobObject, s: Settlement): ConditionInput | undefined {
    if (!s.closed) {
      const was = job.status?.conditions?.find((c) => c.type === JobConditionType.Settled);
      return was || (s.settledPeriods ?? 0) > 0
        ? {
            type: JobConditionType.Settled,
            status: 'False',
            reason: JobReason.Settling,
            message: `${s.settledPeriods ?? 0} periods settled; the task closes when the job ends`,
          }
        : undefined;
    }
    const done = (s.settledPeriods ?? 0) >= (s.span ?? 0);
    return {
      type: JobConditionType.Settled,
      status: done ? 'True' : 'False',
      reason: done ? JobReason.SettlementComplete : JobReason.Settling,
      message: done
        ? `all ${s.span} periods settled: ${s.charged ?? '0'} NVDAx charged, ${s.refunded ?? '0'} returned to escrow`
        : `task closed; ${s.settledPeriods ?? 0} of ${s.span} periods settled, the rest once they end`,
    };
  }

  /** Deleted jobs whose task is settled and closed (or never opened) let go of the settlement finalizer. */
  async #finish(jobs: JobObject[], signal: AbortSignal): Promise<void> {
    for (const job of jobs) {
      if (!isBeingDeleted(job) || !hasFinalizer(job, settlementFinalizer)) continue;
      const s = job.status?.settlement;
      const done = s?.task === undefined || (s.closed === true && (s.settledPeriods ?? 0) >= (s.span ?? 0));
      if (!done) continue;
      try {
        await removeFinalizer(this.#o.hub, resourceOf(kindOf(job)), job, settlementFinalizer, {
          signal,
          fieldManager: settlementManager,
        });
      } catch (e) {
        if (!isNotFound(e) && !isConflict(e)) throw e;
      }
    }
  }

  async #finalize(job: JobObject, signal: AbortSignal): Promise<void> {
    await ensureFinalizer(this.#o.hub, resourceOf(kindOf(job)), job, settlementFinalizer, {
      signal,
      fieldManager: settlementManager,
    });
  }

  /**
   * Reads the job fresh and applies status.settlement (this controller's field) and its condition; a job
   * deleted or re-created (another uid) meanwhile is skipped. Conflicts are retried with a new read.
   */
  async #update(
    ref: { kind: JobKind; key: string; uid: string },
    signal: AbortSignal,
    change: (job: JobObject) => { settlement: Settlement; condition?: ConditionInput | undefined } | undefined,
  ): Promise<void> {
    const [ns = '', name = ''] = ref.key.split('/');
    const r = await this.#o.hub.updateStatus<JobObject>(
      resourceOf(ref.kind),
      { name, namespace: ns, uid: ref.uid },
      (job) => {
        const want = change(job);
        return want ? this.#statusOf(job, want.settlement, want.condition) : undefined;
      },
      { fieldManager: settlementManager, signal },
    );
    if (r === 'conflicted') throw new Error(`status.settlement of ${ref.kind} ${ref.key}: kept conflicting`);
  }

  /** This controller's status fields: status.settlement and its conditions (Escrowed, Settled). */
  #statusOf(job: JobObject, settlement: Settlement, condition: ConditionInput | undefined): object {
    let conds = ((job.status?.conditions ?? []) as Condition[]).filter((c) =>
      (settlementConditions as readonly string[]).includes(c.type),
    );
    if (condition) conds = setCondition(conds, condition, this.#o.clock.now());
    return { settlement, ...(conds.length ? { conditions: conds } : {}) };
  }

  /** One write on the copy at hand, its resourceVersion the precondition (a stale copy conflicts). */
  async #writeStatus(
    job: JobObject,
    settlement: Settlement,
    condition: ConditionInput | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const kind = kindOf(job);
    await this.#o.hub.applyStatus(
      resourceOf(kind),
      {
        apiVersion: API_VERSION,
        kind,
        metadata: {
          name: job.metadata?.name ?? '',
          namespace: job.metadata?.namespace ?? '',
          resourceVersion: job.metadata?.resourceVersion ?? '',
        },
        status: this.#statusOf(job, settlement, condition),
      } as KubeObject,
      { fieldManager: settlementManager, force: true, signal },
    );
  }
}

/** A TrainingJob's status.checkpoints, when it holds any. */
function checkpointsOf(job: JobObject): LineageSnapshot | undefined {
  if (kindOf(job) !== 'TrainingJob') return undefined;
  const cp = (job.status as { checkpoints?: LineageSnapshot } | undefined)?.checkpoints;
  return cp?.entries?.length ? cp : undefined;
}

/** An ended job whose lineage is still to be anchored (or recorded as not anchored) before its task closes. */
function anchorDue(job: JobObject): boolean {
  return !job.status?.settlement?.lineage && checkpointsOf(job) !== undefined;
}
