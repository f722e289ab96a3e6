// The placement loop (Kueue's scheduler): one cycle takes every queued job in queue order,
// against one fleet snapshot and the reservation ledger, and either places it (writes
// status.placement and attempts + 1 — the decision of record) or says why not. Member
// objects are the job controller's: a placement is written before anything exists in a
// member, so a crash between the two leaves a placed job that the controller materializes,
// never a workload without a placement. Leader only.
import { API_VERSION, GpuMode, JobConditionType, JobPhase, JobReason, Tier } from '../../api/constants.ts';
import type { ProviderPoolObject, TrainingJobObject } from '../../api/resources.ts';
import type { Participant, Placement, PoolRejection } from '../../api/types.gen.ts';
import type { TypedDataDomain } from 'ethers';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Fleet } from '../../fleet/fleet.ts';
import { snapshotInput } from '../../fleet/snapshot-input.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isConflict, isNotFound } from '../../kube/errors.ts';
import type { KubeObject } from '../../kube/types.ts';
import {
  initData,
  participantName,
  tenantNamespace,
  verifiedResumePoint,
  workloadName,
} from '../../materialize/index.ts';
import { type Clock, sleep } from '../../runtime/clock.ts';
import { TaskCheckCache } from '../../settlement/job-task.ts';
import type { ResumeFrom } from '../../training/lineage.ts';
import type { SettlementGates } from '../settlement/settler.ts';
import { type Condition, type ConditionInput, metaTime, setCondition } from '../../runtime/conditions.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/log.ts';
import { ReservationLedger, type Reservation } from '../../scheduling/ledger.ts';
import {
  boundedRejections,
  type Candidate,
  demandOf,
  eligibleClasses,
  match,
  noFitMessage,
  type OfferClass,
  offerFromPool,
  type PoolOffer,
  type Rejection,
} from '../../scheduling/match.ts';
import { planPreemption, type RunningWork } from '../../scheduling/preemption.ts';
import { DEFAULT_PRICING, type PricingParams } from '../../scheduling/pricing.ts';
import { queueOrder } from '../../scheduling/queue.ts';
import { buildSnapshot, slotKeys, type Snapshot } from '../../scheduling/snapshot.ts';
import {
  attemptsOf,
  isFederated,
  isFinished,
  isPlaced,
  isQueued,
  type JobKind,
  type JobObject,
  jobKey,
  jobQueueKey,
  kindOf,
  ownedConditions,
  parseQueueKey,
  podsPerPart,
  partsOf,
  resourceOf,
  schedulerConditions,
  schedulerManager,
} from './model.ts';

export interface SchedulerOptions {
  hub: KubeClient;
  fleet: Fleet;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  pools: Informer<ProviderPoolObject>;
  jobs: Record<JobKind, Informer<JobObject>>;
  pricing?: PricingParams;
  /** KBS the confidential pods' init-data points at. */
  kbsUrl: string;
  /** Least time between cycles (default 200 ms): events within it share one cycle. */
  minIntervalMs?: number;
  /** A cycle at least this often, for what no event reports (default 10 s). */
  maxIntervalMs?: number;
  /** A reservation the member caches never showed is dropped after this (default 10 min). */
  reservationTtlMs?: number;
  /** Status writes in flight at once. */
  writeConcurrency?: number;
  /** Told after each cycle which jobs were placed, e.g. the job controller's enqueue. */
  onPlaced?: (kind: JobKind, key: string) => void;
  /** Called when the last queued or running write is done (pendingWrites went to 0). */
  onWritesIdle?: () => void;
  /** Where the nvdax_placement_* metrics go. */
  registry?: Registry;
  /**
   * --require-signed-tasks: the settlement contract's EIP-712 domain. Set: a job is placed only if its
   * requester signed its task (operator/settlement/job-task.ts); unset: no signature is checked.
   */
  taskDomain?: TypedDataDomain;
  /** --settlement-deployment: escrow and stake gates (operator/controllers/settlement). */
  settlement?: Pick<SettlementGates, 'jobRefusal' | 'poolRefusal'>;
}

/** What one cycle decided for one job. */
type Outcome =
  | { kind: 'placed'; job: JobObject; parts: PlacedPart[] }
  | {
      kind: 'unplaced';
      job: JobObject;
      rejections: Rejection[];
      total: number;
      preempting?: string[];
      /** Refused before matching (an unsigned task): the condition's reason and message. */
      refused?: { reason: string; message: string };
    };

interface PlacedPart {
  index: number;
  candidate: Candidate;
  reservation: Reservation;
}

const poolOwner = 'providerpool';

export class PlacementScheduler {
  readonly #o: SchedulerOptions;
  readonly ledger = new ReservationLedger();
  #dirty = true;
  #wake: (() => void) | undefined;
  /** Last no-fit message written per job, so an unchanged answer costs no write. */
  readonly #lastMessage = new Map<string, string>();
  /** Attempts this process placed, until the cache shows them: a stale copy is not placed again. */
  readonly #written = new Map<string, number>();
  /**
   * Jobs whose decision is being written. Writes run beside later cycles (as kube-scheduler binds
   * while it schedules the next pod): a cycle never waits on the API server, and a job with a write
   * in flight sits out the cycles until it lands; its GPUs stay booked in the ledger meanwhile.
   */
  readonly #inflight = new Set<string>();
  /** Placements and releases first; no-fit reports (which later cycles repeat anyway) after them. */
  readonly #lane: Array<() => Promise<void>> = [];
  readonly #laneLow: Array<() => Promise<void>> = [];
  #running = 0;
  /** --require-signed-tasks: signature checks, one per job generation. */
  readonly #taskChecks: TaskCheckCache | undefined;
  /** Premium jobs whose victims are on their way out, until when. */
  readonly #preempting = new Map<string, number>();
  cycles = 0;

  readonly #metrics: { cycle: Histogram; decisions: Counter<'result'>; queued: Gauge; writes: Gauge } | undefined;

  constructor(o: SchedulerOptions) {
    this.#o = o;
    this.#taskChecks = o.taskDomain ? new TaskCheckCache(o.taskDomain) : undefined;
    const registers = o.registry ? [o.registry] : undefined;
    if (!registers) return;
    const self = this;
    this.#metrics = {
      cycle: new Histogram({
        name: 'nvdax_placement_cycle_seconds',
        help: 'Time a placement cycle takes to decide (snapshot, queue, match), writes not included',
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers,
      }),
      decisions: new Counter({
        name: 'nvdax_placement_decisions_total',
        help: 'Placement decisions by result (placed, unplaced)',
        labelNames: ['result'],
        registers,
      }),
      queued: new Gauge({ name: 'nvdax_placement_queued_jobs', help: 'Jobs queued in the last cycle', registers }),
      writes: new Gauge({
        name: 'nvdax_placement_pending_writes',
        help: 'Placement status writes queued or in flight',
        registers,
        collect() {
          this.set(self.pendingWrites);
        },
      }),
    };
  }

  /** Something changed (a job, a pool, member capacity): run a cycle soon. */
  poke(): void {
    this.#dirty = true;
    this.#wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#o;
    const min = this.#o.minIntervalMs ?? 200;
    const max = this.#o.maxIntervalMs ?? 10_000;
    while (!signal.aborted) {
      const started = clock.monotonic();
      if (this.#dirty) {
        this.#dirty = false;
        try {
          await this.cycle(signal);
        } catch (e) {
          if (signal.aborted) return;
          this.#o.log.error({ err: e }, 'Placement cycle failed');
          this.#dirty = true;
        }
      }
      const wait = Math.max(0, min - (clock.monotonic() - started));
      await sleep(clock, wait, signal).catch(() => {});
      if (signal.aborted) return;
      if (!this.#dirty) {
        await new Promise<void>((resolve) => {
          const t = clock.setTimeout(resolve, max);
          this.#wake = () => {
            clock.clearTimeout(t);
            resolve();
          };
          signal.addEventListener('abort', () => this.#wake?.(), { once: true });
        });
        this.#wake = undefined;
        this.#dirty = true;
      }
    }
  }

  /** One pass over every queued job. Exposed for tests and benchmarks. */
  async cycle(signal?: AbortSignal): Promise<{ placed: number; unplaced: number }> {
    const o = this.#o;
    const now = o.clock.now();
    const started = o.clock.monotonic();
    this.cycles++;
    const all = [...o.jobs.InferenceJob.list(), ...o.jobs.TrainingJob.list()];
    // a job the cache still shows queued although we placed it (our write not seen yet) waits
    const fresh = (job: JobObject) => attemptsOf(job) >= (this.#written.get(jobQueueKey(job)) ?? 0);
    const waiting = (j: JobObject) => isQueued(j) && fresh(j) && !this.#inflight.has(jobQueueKey(j));
    // nothing to decide: no snapshot (a pass over every node and pod of the fleet). Member pods and nodes
    // poke a cycle as they change, thousands of times while a burst's workloads start; the ledger catches
    // up with the caches in the next cycle that has a job to place.
    if (!all.some(waiting)) {
      this.#metrics?.queued.set(0);
      return { placed: 0, unplaced: 0 };
    }
    const pools = o.pools.list();
    const snapshot = buildSnapshot(
      snapshotInput(
        o.fleet,
        pools.map((p) => ({ name: p.metadata?.name ?? '', nodeSelector: p.spec.nodeSelector })),
        this.ledger.pins(),
        poolOwner,
      ),
    );
    this.ledger.observe(snapshot);
    this.#forgetGone(now);
    for (const r of this.ledger.expire(now, o.reservationTtlMs ?? 600_000)) {
      o.log.warn({ reservation: r.id, pool: r.pool }, 'Reservation expired before its pods appeared');
    }
    const cycle = this.ledger.begin(snapshot);
    const outcomes: Outcome[] = [];
    try {
      // placed jobs whose pods the members do not show yet hold their GPUs (after a restart too); a job
      // the job controller saw run has had its pods in the caches, and a finished one holds nothing
      for (const job of all) {
        if (isPlaced(job) && job.status?.phase === JobPhase.Scheduled) this.#holdPlaced(job, snapshot, cycle, now);
      }
      const summaries = new Map(snapshot.pools().map((s) => [s.name, s]));
      const offers = pools.map((p) => this.#offer(p, summaries.get(p.metadata?.name ?? '')));
      for (const [k, a] of this.#written) {
        const { kind, key } = parseQueueKey(k);
        const j = o.jobs[kind].get(key);
        if (!j || attemptsOf(j) >= a) this.#written.delete(k);
      }
      const queued = queueOrder(
        all.filter(waiting).map((job) => ({
          job,
          key: jobQueueKey(job),
          tier: job.spec.sla.tier ?? Tier.BestEffort,
          requester: job.metadata?.namespace ?? '',
          createdAt: Date.parse(String(job.metadata?.creationTimestamp ?? '')) || 0,
        })),
      );
      for (const { job } of queued) {
        const refused = this.#taskRefusal(job, now, all) ?? o.settlement?.jobRefusal(job);
        // its escrow is being read for the first time: no verdict to write yet (the read pokes a cycle)
        if (refused?.reason === JobReason.EscrowPending) continue;
        const out: Outcome = refused
          ? { kind: 'unplaced', job, rejections: [], total: offers.length, refused }
          : this.#place(job, offers, cycle, now);
        if (out.kind === 'placed') {
          for (const part of out.parts) this.#consume(offers, snapshot, part);
        } else if (!refused && job.spec.sla.tier === Tier.Premium) {
          out.preempting = this.#preempt(job, all, snapshot, offers, now);
        }
        outcomes.push(out);
      }
    } finally {
      cycle.end();
    }
    this.#write(outcomes, all, now, signal);
    const placed = outcomes.filter((x) => x.kind === 'placed').length;
    this.#metrics?.cycle.observe((o.clock.monotonic() - started) / 1000);
    this.#metrics?.decisions.inc({ result: 'placed' }, placed);
    this.#metrics?.decisions.inc({ result: 'unplaced' }, outcomes.length - placed);
    this.#metrics?.queued.set(outcomes.length);
    if (outcomes.length) {
      o.log.debug(
        {
          placed,
          unplaced: outcomes.length - placed,
          reservations: this.ledger.list().length,
          free: Object.fromEntries(snapshot.pools().map((p) => [p.name, p.classes.reduce((a, c) => a + c.free, 0)])),
        },
        'Placement cycle',
      );
    }
    return { placed, unplaced: outcomes.length - placed };
  }

  /**
   * Drops reservations whose job no longer needs them: deleted, finished, running and Ready (all
   * its pods were in the member caches, which may not show finished pods at all), or placed anew.
   */
  #forgetGone(now: number): void {
    for (const r of this.ledger.list()) {
      const m = /^(InferenceJob|TrainingJob):(.+)#(\d+)\/\d+$/.exec(r.id);
      if (!m) continue;
      const job = this.#o.jobs[m[1] as JobKind].get(m[2] ?? '');
      const attempt = Number(m[3]);
      // a reservation this process just booked may be ahead of the cache: keep it a while
      const young = now - r.createdAt < 30_000;
      const stale = !job
        ? !young
        : isFinished(job) ||
          (job.status?.phase === JobPhase.Running &&
            job.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ||
          (attemptsOf(job) >= attempt && !isPlaced(job) && !young) ||
          attemptsOf(job) > attempt;
      if (stale) this.ledger.release(r.id);
    }
  }

  /**
   * With --require-signed-tasks, why the job may not be placed: its requester did not sign its task (the
   * signature is verified once per generation), or, before its first placement, the signature has expired.
   */
  #taskRefusal(job: JobObject, now: number, all: JobObject[]): { reason: string; message: string } | undefined {
    if (!this.#taskChecks) return undefined;
    // the deadline binds the task's opening, at the first placement; a failover re-places an opened task
    const check = this.#taskChecks.check(job, now, {
      deadline: attemptsOf(job) === 0,
      live: () => new Set(all.map((j) => j.metadata?.uid)),
    });
    return check.ok ? undefined : { reason: check.reason, message: check.message };
  }

  /** The reservation id of one part of one attempt. */
  static reservationId(job: JobObject, attempt: number, index: number): string {
    return `${jobQueueKey(job)}#${attempt}/${index}`;
  }

  #group(job: JobObject, attempt: number, index: number): string {
    const name = job.metadata?.name ?? '';
    return isFederated(job) ? participantName(name, attempt, index) : workloadName(name, attempt);
  }

  #holdPlaced(job: JobObject, snapshot: Snapshot, cycle: ReturnType<ReservationLedger['begin']>, now: number): void {
    const attempt = attemptsOf(job);
    const p = job.status?.placement;
    const ns = tenantNamespace(job.metadata?.namespace ?? '');
    type Part = { index: number; pool: string; gpuProduct?: string; resourceName?: string; teeType?: string };
    const parts: Part[] = isFederated(job)
      ? (job.status?.participants ?? []).flatMap((x) => (x.pool ? [{ ...x, pool: x.pool }] : []))
      : p?.pool
        ? [{ index: 0, pool: p.pool, ...p }]
        : [];
    for (const part of parts) {
      const id = PlacementScheduler.reservationId(job, attempt, part.index);
      if (this.ledger.get(id)) continue;
      const member = this.#o.fleet.memberOf(poolOwner, part.pool);
      const group = this.#group(job, attempt, part.index);
      if (!member || snapshot.podState(member.key, `${ns}/${group}#0`) !== undefined) continue;
      cycle.reserve(
        {
          id,
          pools: part.pool,
          gpusPerPod: job.spec.resources.gpus,
          podKeys: slotKeys(ns, group, podsPerPart(job)),
          ...(part.gpuProduct ? { product: part.gpuProduct } : {}),
          ...(part.resourceName ? { resourceName: part.resourceName } : {}),
          ...(part.teeType ? { tee: part.teeType as 'snp' | 'tdx' } : {}),
        },
        now,
      );
    }
  }

  #offer(pool: ProviderPoolObject, summary: ReturnType<Snapshot['pools']>[number] | undefined): PoolOffer {
    const name = pool.metadata?.name ?? '';
    const member = this.#o.fleet.memberOf(poolOwner, name);
    const ready = pool.status?.phase === 'Ready' && member?.ready() === true && summary?.memberAvailable === true;
    const classes: OfferClass[] = (summary?.classes ?? []).map((c) => ({
      product: c.product,
      mode: c.mode,
      resourceName: c.resourceName,
      ...(c.tee ? { tee: c.tee } : {}),
      ...(c.memoryMiB ? { memoryMiB: c.memoryMiB } : {}),
      allocatable: c.allocatable,
      free: c.free,
      largestFreeBlock: c.largestFreeBlock,
    }));
    const unstaked = this.#o.settlement?.poolRefusal(pool);
    return offerFromPool(pool, {
      classes,
      ready,
      ...(unstaked !== undefined ? { unstaked } : {}),
      ...(ready
        ? {}
        : {
            notReady:
              member?.ready() === false ? 'member cluster not synced' : `phase ${pool.status?.phase ?? 'Pending'}`,
          }),
    });
  }

  /** After a reservation, its pool's offer shows what is left (free GPUs and the largest block). */
  #consume(offers: PoolOffer[], snapshot: Snapshot, part: PlacedPart): void {
    const i = offers.findIndex((x) => x.name === part.candidate.pool);
    const offer = offers[i];
    if (!offer) return;
    const r = part.reservation;
    const slots = snapshot.nodes({ member: r.member, pool: r.pool });
    const classes = offer.classes.map((c) => {
      const same = slots.filter(
        (s) => s.product === c.product && s.mode === c.mode && s.resourceName === c.resourceName && s.tee === c.tee,
      );
      if (!same.length) return c;
      return {
        ...c,
        free: same.reduce((a, s) => a + s.free, 0),
        largestFreeBlock: Math.max(0, ...same.map((s) => s.free)),
      };
    });
    const used = r.pods.reduce((a, p) => a + p.gpus, 0);
    offers[i] = { ...offer, classes, utilization: { ...offer.utilization, used: offer.utilization.used + used } };
  }

  #place(job: JobObject, offers: PoolOffer[], cycle: ReturnType<ReservationLedger['begin']>, now: number): Outcome {
    const kind = kindOf(job);
    const demand = demandOf(job.spec as never, kind);
    // a job whose task is open on chain is paid to that task's provider only: it is placed again on its pools
    const taskProvider = job.status?.settlement?.task !== undefined ? job.status.settlement.provider : undefined;
    if (taskProvider) demand.provider = taskProvider;
    const attempt = attemptsOf(job) + 1;
    const ns = tenantNamespace(job.metadata?.namespace ?? '');
    const parts = partsOf(job);
    const used = new Set<string>();
    const placed: PlacedPart[] = [];
    let last: { rejections: Rejection[] } = { rejections: [] };
    for (let index = 0; index < parts; index++) {
      // federated participants go to distinct pools (residency applies to each)
      const { candidates, rejections } = match(demand, offers, this.#o.pricing ?? DEFAULT_PRICING, { exclude: used });
      last = { rejections };
      let got: PlacedPart | undefined;
      for (const c of candidates) {
        const res = cycle.reserve(
          {
            id: PlacementScheduler.reservationId(job, attempt, index),
            pools: c.pool,
            product: c.cls.product,
            mode: c.cls.mode,
            resourceName: c.cls.resourceName,
            ...(c.cls.tee ? { tee: c.cls.tee } : {}),
            gpusPerPod: demand.gpusPerPod,
            podKeys: slotKeys(ns, this.#group(job, attempt, index), demand.pods),
          },
          now,
        );
        if (res.ok) {
          got = { index, candidate: c, reservation: res.reservation };
          break;
        }
        // the class summary allowed it but the nodes do not pack it: say so for this pool
        rejections.push(
          ...res.reasons.map((r) => ({ pool: c.pool, reason: 'InsufficientGpus' as const, message: r.message })),
        );
      }
      if (!got) {
        // all or none: a gang that cannot place every part frees what it booked
        for (const p of placed) this.ledger.release(p.reservation.id);
        return { kind: 'unplaced', job, rejections: last.rejections, total: offers.length };
      }
      placed.push(got);
      used.add(got.candidate.pool);
    }
    return { kind: 'placed', job, parts: placed };
  }

  /**
   * A Premium job that fits nowhere may evict BestEffort work (the rule is in
   * docs/placement.md); returns the victims' keys, or undefined.
   */
  #preempt(
    job: JobObject,
    all: JobObject[],
    snapshot: Snapshot,
    offers: PoolOffer[],
    now: number,
  ): string[] | undefined {
    const key = jobQueueKey(job);
    // victims already chosen are still going (their pods terminate): choose no more meanwhile
    if ((this.#preempting.get(key) ?? 0) > now) return undefined;
    const demand = demandOf(job.spec as never, kindOf(job));
    const pricing = this.#o.pricing ?? DEFAULT_PRICING;
    // candidate pools: those that pass every filter but capacity, in the classes the job accepts
    const { rejections } = match(demand, offers, pricing);
    const pools = rejections.filter((r) => r.reason === 'InsufficientGpus').map((r) => r.pool);
    if (!pools.length) return undefined;
    const running: RunningWork[] = [];
    for (const other of all) {
      if (!isPlaced(other) || other.spec.sla.tier !== Tier.BestEffort) continue;
      if (this.#inflight.has(jobQueueKey(other))) continue; // already on its way out
      for (const r of this.#placedReservations(other)) running.push(r);
    }
    const plan = planPreemption({
      preemptor: { key, tier: Tier.Premium, pods: demand.pods, gpusPerPod: demand.gpusPerPod },
      candidates: pools.flatMap((pool) => {
        const member = this.#o.fleet.memberOf(poolOwner, pool);
        const offer = offers.find((o) => o.name === pool);
        if (!member || !offer) return [];
        const classes = eligibleClasses(demand, offer, pricing);
        const slots = snapshot
          .nodes({ member: member.key, pool })
          .filter((s) =>
            classes.some(
              (c) =>
                c.product === s.product && c.mode === s.mode && c.resourceName === s.resourceName && c.tee === s.tee,
            ),
          );
        return [{ pool, member: member.key, slots }];
      }),
      running,
    });
    if (plan) this.#preempting.set(key, now + 60_000);
    return plan?.victims;
  }

  /** Where a placed job's pods hold GPUs now (member caches, or the ledger while they are not shown). */
  #placedReservations(job: JobObject): RunningWork[] {
    const attempt = attemptsOf(job);
    const out: RunningWork[] = [];
    const pool = job.status?.placement?.pool;
    if (!pool) return out;
    const member = this.#o.fleet.memberOf(poolOwner, pool);
    if (!member) return out;
    const ns = tenantNamespace(job.metadata?.namespace ?? '');
    const group = this.#group(job, attempt, 0);
    const started = Date.parse(job.status?.placement?.scheduledTime ?? '') || 0;
    const pods = member
      .pods()
      .filter((p) => p.metadata?.namespace === ns && p.metadata?.labels?.['nvdax.io/slot-group'] === group)
      .flatMap((p) =>
        p.spec?.nodeName && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed'
          ? [
              {
                node: p.spec.nodeName,
                resourceName: job.status?.placement?.resourceName ?? '',
                gpus: job.spec.resources.gpus,
              },
            ]
          : [],
      );
    const reserved = this.ledger.get(PlacementScheduler.reservationId(job, attempt, 0));
    const all = [
      ...pods,
      ...(reserved?.pods.map((p) => ({ node: p.node, resourceName: p.resourceName, gpus: p.gpus })) ?? []),
    ];
    if (all.length) {
      out.push({
        key: jobQueueKey(job),
        tier: Tier.BestEffort,
        pool,
        member: member.key,
        startedAt: started,
        pods: all,
      });
    }
    return out;
  }

  /** Hands one cycle's writes to the lane, each job's marked in flight until its write lands. */
  #write(outcomes: Outcome[], all: JobObject[], now: number, signal?: AbortSignal): void {
    const o = this.#o;
    // victims by queue key: only a cycle that preempts needs it (a pass over every job)
    let byKey: Map<string, JobObject> | undefined;
    const victimOf = (k: string) => {
      byKey ??= new Map(all.map((j) => [jobQueueKey(j), j]));
      return byKey.get(k);
    };
    const tasks = {
      push: (run: () => Promise<void>, keys: string[], low = false) => {
        for (const k of keys) this.#inflight.add(k);
        (low ? this.#laneLow : this.#lane).push(async () => {
          try {
            await run();
          } finally {
            for (const k of keys) this.#inflight.delete(k);
          }
        });
      },
    };
    for (const out of outcomes) {
      const job = out.job;
      const key = jobQueueKey(job);
      if (out.kind === 'placed') {
        tasks.push(async () => {
          try {
            await this.#applyPlacement(job, out.parts, now, signal);
            this.#written.set(key, attemptsOf(job) + 1);
            this.#lastMessage.delete(key);
            const first = out.parts[0]?.candidate;
            if (!first) return;
            void o.events.normal(
              job,
              JobReason.Placed,
              `Placed on pool ${first.pool} at ${first.quote.price} NVDAx/GPU-hour (attempt ${attemptsOf(job) + 1})`,
            );
            o.onPlaced?.(kindOf(job), jobKey(job));
          } catch (e) {
            // not written (deleted, or decided on a stale copy): its GPUs are free again, and it is tried anew
            for (const p of out.parts) this.ledger.release(p.reservation.id);
            if (isConflict(e)) this.poke();
            else if (!isNotFound(e)) throw e;
          }
        }, [key]);
        continue;
      }
      const message = out.refused
        ? out.refused.message
        : out.preempting?.length
          ? `preempting ${out.preempting.map((v) => v.slice(v.indexOf(':') + 1)).join(', ')}; ${noFitMessage(out.rejections, out.total)}`
          : noFitMessage(out.rejections, out.total);
      if (this.#lastMessage.get(key) === message && job.status?.phase === JobPhase.Pending) continue;
      this.#lastMessage.set(key, message);
      tasks.push(
        async () => {
          try {
            await this.#applyUnplaced(
              job,
              out.rejections,
              message,
              out.refused?.reason ?? (out.preempting ? JobReason.Preempting : reasonOf(out.rejections)),
              now,
              signal,
            );
          } catch (e) {
            this.#lastMessage.delete(key);
            if (isConflict(e) || isNotFound(e)) return this.poke();
            throw e;
          }
          void o.events.warning(job, 'FailedScheduling', message.slice(0, 1000));
        },
        [key],
        true,
      );
      for (const victim of out.preempting ?? []) {
        const v = victimOf(victim);
        if (!v) continue;
        tasks.push(async () => {
          await this.release(v, {
            reason: JobReason.Preempted,
            message: `preempted by ${kindOf(job)} ${jobKey(job)} (Premium)`,
            preemptedBy: `${kindOf(job)} ${jobKey(job)}`,
            signal,
          });
          void o.events.warning(
            v,
            JobReason.Preempted,
            `Preempted by ${kindOf(job)} ${jobKey(job)} (Premium); queued again`,
          );
          void o.events.normal(job, JobReason.Preempting, `Preempting ${kindOf(v)} ${jobKey(v)} (BestEffort)`);
        }, [victim]);
      }
    }
    this.#drain(signal);
  }

  /** Runs the lane's writes, at most writeConcurrency at once; a failed one is logged and retried by a cycle. */
  #drain(signal?: AbortSignal): void {
    const limit = this.#o.writeConcurrency ?? 32;
    while (this.#running < limit && this.#lane.length + this.#laneLow.length) {
      const task = this.#lane.shift() ?? this.#laneLow.shift();
      if (!task) break;
      this.#running++;
      void task()
        .catch((e: unknown) => {
          if (signal?.aborted) return;
          this.#o.log.error({ err: e }, 'Placement write failed');
          this.poke();
        })
        .finally(() => {
          this.#running--;
          this.#drain(signal);
          if (this.pendingWrites === 0) this.#o.onWritesIdle?.();
        });
    }
  }

  /** Writes queued or in flight (0 once every decision so far is written). */
  get pendingWrites(): number {
    return this.#lane.length + this.#laneLow.length + this.#running;
  }

  #schedulingStatus(job: JobObject, set: ConditionInput[], now: number): Condition[] {
    let conds = ownedConditions(job.status?.conditions as Condition[] | undefined, schedulerConditions);
    for (const c of set) conds = setCondition(conds, c, now);
    return conds;
  }

  async #applyPlacement(job: JobObject, parts: PlacedPart[], now: number, signal?: AbortSignal): Promise<void> {
    const attempt = attemptsOf(job) + 1;
    const first = parts[0];
    if (!first) throw new Error('a placement has at least one part');
    const c = first.candidate;
    const tee = c.cls.tee;
    const confidential = c.cls.mode === 'confidential';
    const init = confidential ? initData({ kbsUrl: this.#o.kbsUrl }) : undefined;
    const gpus = job.spec.resources.gpus * podsPerPart(job) * parts.length;
    const placement: Placement = {
      pool: c.pool,
      cluster: first.reservation.member,
      namespace: tenantNamespace(job.metadata?.namespace ?? ''),
      gpuProduct: c.cls.product,
      gpus,
      mode: confidential ? GpuMode.Confidential : GpuMode.Container,
      resourceName: c.cls.resourceName,
      price: c.quote.price,
      ...(tee ? { teeType: tee } : {}),
      ...(c.runtimeClassName ? { runtimeClass: c.runtimeClassName } : {}),
      scheduledTime: metaTime(now),
      attempt,
      quote: {
        baseRate: c.quote.baseRate,
        latencyFactor: c.quote.latencyFactor,
        loadFactor: c.quote.loadFactor,
        verifierFee: c.quote.verifierFee,
        quotedTime: metaTime(now),
      },
      ...(init ? { initDataDigest: init.digest, initDataAlgorithm: init.algorithm as 'sha384' } : {}),
      ...resumeAtPlacement(job, attempt, now),
    };
    const participants: Participant[] | undefined = isFederated(job)
      ? parts.map((p) => ({
          index: p.index,
          pool: p.candidate.pool,
          price: p.candidate.quote.price,
          gpuProduct: p.candidate.cls.product,
          resourceName: p.candidate.cls.resourceName,
          ...(p.candidate.cls.tee ? { teeType: p.candidate.cls.tee } : {}),
          ...(p.candidate.runtimeClassName ? { runtimeClass: p.candidate.runtimeClassName } : {}),
        }))
      : undefined;
    const message =
      parts.length > 1
        ? `placed ${parts.length} participants on ${parts.map((p) => p.candidate.pool).join(', ')}`
        : `placed on pool ${c.pool} (${c.cls.product}${tee ? `, ${tee}` : ''}) at ${c.quote.price} NVDAx/GPU-hour`;
    const conditions = this.#schedulingStatus(
      job,
      [
        { type: JobConditionType.Scheduled, status: 'True', reason: JobReason.Placed, message },
        ...(job.status?.conditions?.some((x) => x.type === JobConditionType.Preempted && x.status === 'True')
          ? [
              {
                type: JobConditionType.Preempted,
                status: 'False' as const,
                reason: JobReason.Placed,
                message: 'placed again',
              },
            ]
          : []),
      ],
      now,
    );
    await this.#apply(
      job,
      {
        phase: JobPhase.Scheduled,
        attempts: attempt,
        placement,
        conditions,
        ...(participants ? { participants } : {}),
      },
      signal,
    );
  }

  async #applyUnplaced(
    job: JobObject,
    rejections: Rejection[],
    message: string,
    reason: string,
    now: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const conditions = this.#schedulingStatus(
      job,
      [{ type: JobConditionType.Scheduled, status: 'False', reason, message }],
      now,
    );
    const list: PoolRejection[] = boundedRejections(rejections).map((r) => ({
      pool: r.pool,
      reason: r.reason,
      message: r.message.slice(0, 512),
    }));
    await this.#apply(
      job,
      { phase: JobPhase.Pending, attempts: attemptsOf(job), rejections: list, conditions },
      signal,
    );
  }

  /**
   * Takes a job's placement away (failover, preemption, a failed attempt to retry): the
   * attempt count stays, the job is queued again, and the job controller removes the old
   * attempt's member objects. Written with the scheduler's field manager, as placement is its.
   */
  async release(
    job: JobObject,
    o: { reason: string; message: string; preemptedBy?: string; signal?: AbortSignal | undefined },
  ): Promise<void> {
    const now = this.#o.clock.now();
    const attempt = attemptsOf(job);
    for (let i = 0; i < partsOf(job); i++) this.ledger.release(PlacementScheduler.reservationId(job, attempt, i));
    const set: ConditionInput[] = [
      { type: JobConditionType.Scheduled, status: 'False', reason: o.reason, message: o.message },
    ];
    if (o.preemptedBy)
      set.push({ type: JobConditionType.Preempted, status: 'True', reason: JobReason.Preempted, message: o.message });
    await this.#apply(
      job,
      { phase: JobPhase.Pending, attempts: attempt, conditions: this.#schedulingStatus(job, set, now) },
      o.signal,
    );
    this.poke();
  }

  /**
   * Applies the scheduler's fields with the copy's resourceVersion as a precondition: a
   * decision made on a stale copy (the cache has not shown our last write yet) is refused
   * with Conflict instead of undoing that write, e.g. dropping a placement just made.
   */
  async #apply(job: JobObject, status: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
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
        status,
      } as KubeObject,
      { fieldManager: schedulerManager, force: true, ...(signal ? { signal } : {}) },
    );
  }
}

/**
 * A Distributed TrainingJob's new attempt starts from the newest verified checkpoint recorded before it was
 * placed: chosen here, once, and kept in status.placement, so the pods' resume env stays the same however
 * many checkpoints the attempt writes (the record may fold out of status.checkpoints; a Job's template is
 * immutable). Federated jobs resume through their coordinator (status.federation.resumedFrom).
 */
function resumeAtPlacement(job: JobObject, attempt: number, now: number): { resumeFrom?: ResumeFrom } {
  if (attempt < 2 || job.kind !== 'TrainingJob' || (job as TrainingJobObject).spec.mode !== 'Distributed') return {};
  const r = verifiedResumePoint((job as TrainingJobObject).status, now);
  return r ? { resumeFrom: r } : {};
}

function reasonOf(rejections: readonly Rejection[]): string {
  if (!rejections.length) return JobReason.NoMatchingPool;
  if (rejections.every((r) => r.reason === 'PriceCapExceeded')) return JobReason.PriceCapExceeded;
  if (rejections.every((r) => r.reason === 'InsufficientGpus' || r.reason === 'PriceCapExceeded')) {
    return JobReason.InsufficientCapacity;
  }
  if (
    rejections.every((r) => ['NoConfidentialRuntime', 'TeeMismatch', 'GpuAttestationUnavailable'].includes(r.reason))
  ) {
    return JobReason.NoConfidentialPool;
  }
  return JobReason.NoMatchingPool;
}
