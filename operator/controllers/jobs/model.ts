// What the placement loop and the job controller share about a job of either kind: how
// many parts (federated participants) and pods it has, which status fields each writer
// owns, and the pure usage arithmetic. No I/O.
import { JobPhase, TrainingMode } from '../../api/constants.ts';
import type { InferenceJobObject, TrainingJobObject } from '../../api/resources.ts';
import { inferenceJobs, trainingJobs } from '../../api/resources.ts';
import type { AttemptUsage, Placement } from '../../api/types.gen.ts';
import type { ResourceType } from '../../kube/types.ts';
import type { Condition } from '../../runtime/conditions.ts';

export type JobObject = InferenceJobObject | TrainingJobObject;
export type JobKind = 'InferenceJob' | 'TrainingJob';

/** Field managers: the placement loop owns where a job runs, the job controller what runs there. */
export const schedulerManager = 'nvdax-scheduler';
export const jobManager = 'nvdax-job-controller';
/** Member objects of a job are removed before the hub object goes. */
export const cleanupFinalizer = 'nvdax.io/member-cleanup';

export const resourceOf = (kind: JobKind): ResourceType => (kind === 'InferenceJob' ? inferenceJobs : trainingJobs);
export const kindOf = (job: JobObject): JobKind => (job.kind === 'TrainingJob' ? 'TrainingJob' : 'InferenceJob');
export const jobKey = (job: JobObject) => `${job.metadata?.namespace ?? ''}/${job.metadata?.name ?? ''}`;
/** Queue keys carry the kind, as both kinds share one namespace of names. */
export const queueKey = (kind: JobKind, key: string) => `${kind}:${key}`;
/** A job's queue key: `queueKey(kindOf(job), jobKey(job))`. */
export const jobQueueKey = (job: JobObject) => queueKey(kindOf(job), jobKey(job));
export function parseQueueKey(k: string): { kind: JobKind; key: string } {
  const i = k.indexOf(':');
  return { kind: k.slice(0, i) as JobKind, key: k.slice(i + 1) };
}

export const isFederated = (job: JobObject): job is TrainingJobObject =>
  job.kind === 'TrainingJob' && (job as TrainingJobObject).spec.mode === TrainingMode.Federated;

/** Parts placed apart: one per federated participant, else one. */
export const partsOf = (job: JobObject): number => (isFederated(job) ? (job.spec.workers ?? 1) : 1);

/** Pods of one part: replicas, Distributed workers, or one per federated participant. */
export function podsPerPart(job: JobObject): number {
  if (job.kind === 'TrainingJob') return isFederated(job) ? 1 : ((job as TrainingJobObject).spec.workers ?? 1);
  const s = (job as InferenceJobObject).spec;
  // scale-to-zero still places the first replica: the pool and price are chosen up front
  return Math.max(1, s.replicas ?? s.autoscaling?.minReplicas ?? 1);
}

export const attemptsOf = (job: JobObject) => job.status?.attempts ?? 0;

/** Placed: the current attempt has a placement (a failover or preemption removes it). */
export const isPlaced = (job: JobObject) =>
  job.status?.placement?.pool !== undefined && job.status.placement.attempt === attemptsOf(job);

export const isFinished = (job: JobObject) =>
  job.status?.phase === JobPhase.Succeeded || job.status?.phase === JobPhase.Failed;

/** Waits for the placement loop: not placed, not finished, not suspended, not being deleted. */
export const isQueued = (job: JobObject) =>
  !isPlaced(job) && !isFinished(job) && job.spec.suspend !== true && !job.metadata?.deletionTimestamp;

/** Attempts that ended in a failure the job's `retries` pays for (a preemption is not its fault). */
export const failuresOf = (job: JobObject) =>
  (job.status?.usage?.attempts ?? []).filter((a) => a.endReason === 'PoolLost' || a.endReason === 'Failed').length;

/** Where each part runs: part 0 is status.placement; federated parts are status.participants. */
export interface PartPlacement {
  index: number;
  pool: string;
}

export function partsPlaced(job: JobObject): PartPlacement[] {
  const p = job.status?.placement;
  if (!p?.pool) return [];
  if (!isFederated(job)) return [{ index: 0, pool: p.pool }];
  return (job.status?.participants ?? []).flatMap((x) => (x.pool ? [{ index: x.index, pool: x.pool }] : []));
}

/** Conditions each writer owns; it applies all of them each time, so none is dropped by mistake. */
export const schedulerConditions = ['Scheduled', 'Preempted'] as const;
export const jobConditions = ['Ready', 'Complete', 'Failed'] as const;

export const ownedConditions = (all: readonly Condition[] | undefined, types: readonly string[]): Condition[] =>
  (all ?? []).filter((c) => types.includes(c.type));

/** A member pod as usage reads it. */
export interface UsagePod {
  /** The pod's uid (its name where the agent reports it): how a PodTimeLedger knows it when it is gone. */
  id?: string | undefined;
  gpus: number;
  /** ms since the epoch; undefined while it has not started. */
  startedAt?: number | undefined;
  /** When it stopped running: finished, or deleted. */
  endedAt?: number | undefined;
}

/**
 * A pod's GPUs times the ms from its start to its end (or `now` while it runs); 0 before it starts. An end after
 * `now` (a deleted pod's deletionTimestamp is the delete plus its grace period) counts to `now`: a ledger keeps
 * the last value it saw, and the grace period is not time the pod ran.
 */
const podGpuMs = (p: UsagePod, now: number): number =>
  p.startedAt === undefined ? 0 : p.gpus * (Math.max(p.startedAt, Math.min(p.endedAt ?? now, now)) - p.startedAt);

/**
 * The GPU time of one attempt's pods, the gone ones included. A Deployment scaled down or rolled out deletes
 * pods, and a deleted pod soon leaves the member's cache: without a memory of it, its time dropped out of the
 * sum, which then stood still (never below what was recorded) until the pods left had caught up, and the attempt
 * was billed less than its pods ran. The job controller keeps one per running attempt, in memory: after an
 * operator restart the pods gone before it are again only the floor of what status recorded.
 */
export class PodTimeLedger {
  readonly #ms = new Map<string, number>();

  /** GPU-ms of the pods seen now, at their time now, and of those seen before and gone, at their last sighting. */
  total(pods: readonly UsagePod[], now: number): number {
    let anonymous = 0;
    for (const p of pods) {
      if (p.id === undefined) anonymous += podGpuMs(p, now);
      else this.#ms.set(p.id, podGpuMs(p, now));
    }
    let sum = anonymous;
    for (const ms of this.#ms.values()) sum += ms;
    return sum;
  }

  /** Pods it remembers. */
  get size(): number {
    return this.#ms.size;
  }
}

/**
 * GPU-seconds of one attempt: each pod's GPUs times the seconds from its start to its end
 * (or `now` while it runs); a pod that never started costs nothing. With `ledger`, pods gone from the member
 * still count at their last sighting; without one (or for pods gone before it was made) they no longer show,
 * and the result never goes below what was recorded.
 */
export function attemptUsage(
  pods: readonly UsagePod[],
  base: { attempt: number; pool: string; price?: string | undefined },
  now: number,
  prev?: AttemptUsage,
  ledger?: PodTimeLedger,
): AttemptUsage {
  let first: number | undefined;
  for (const p of pods) {
    if (p.startedAt === undefined) continue;
    first = first === undefined ? p.startedAt : Math.min(first, p.startedAt);
  }
  const ms = ledger ? ledger.total(pods, now) : pods.reduce((sum, p) => sum + podGpuMs(p, now), 0);
  const gpuSeconds = Math.max(prev?.gpuSeconds ?? 0, Math.floor(ms / 1000));
  const startTime = prev?.startTime ?? (first !== undefined ? new Date(first).toISOString() : undefined);
  // when gpuSeconds was true: settlement bills a period only once this is past its end. It moves with
  // gpuSeconds, and at least each minute while nothing runs, so an idle attempt does not hold billing up
  const lastMetered = prev?.meteredTime ? Date.parse(prev.meteredTime) : undefined;
  const meteredTime =
    gpuSeconds !== prev?.gpuSeconds || lastMetered === undefined || now - lastMetered >= METER_REFRESH_MS
      ? metaTimeOf(new Date(now).toISOString())
      : prev.meteredTime;
  return {
    ...prev,
    attempt: base.attempt,
    pool: base.pool,
    ...(base.price ? { price: base.price } : {}),
    gpuSeconds,
    ...(startTime ? { startTime: metaTimeOf(startTime) } : {}),
    ...(meteredTime ? { meteredTime } : {}),
  };
}

/** An attempt's meteredTime moves at least this often while it is reconciled. */
export const METER_REFRESH_MS = 60_000;

/** RFC 3339 at seconds precision, as metav1.Time round-trips. */
export const metaTimeOf = (iso: string) => iso.replace(/\.\d{3}Z$/, 'Z');

/**
 * The part of status.usage the job controller writes: GPU time. Requests, device time and tokens come from
 * verified receipts and are the report intake's (operator/controllers/reports), so they are left out of its
 * writes.
 */
export function meteredUsage<
  U extends { requests?: number; deviceTimeMs?: number; inputTokens?: number; outputTokens?: number },
>(u: U | undefined): Omit<U, 'requests' | 'deviceTimeMs' | 'inputTokens' | 'outputTokens'> | undefined {
  if (!u) return u;
  const { requests: _r, deviceTimeMs: _d, inputTokens: _i, outputTokens: _o, ...rest } = u;
  return rest;
}

/** Per-attempt entries merged by attempt (newest 32) and their total. */
export function mergeUsage(
  list: readonly AttemptUsage[] | undefined,
  entry: AttemptUsage,
): { attempts: AttemptUsage[]; gpuSeconds: number } {
  const byAttempt = new Map((list ?? []).map((a) => [a.attempt, a]));
  byAttempt.set(entry.attempt, entry);
  const attempts = [...byAttempt.values()].sort((a, b) => a.attempt - b.attempt).slice(-32);
  return { attempts, gpuSeconds: attempts.reduce((s, a) => s + (a.gpuSeconds ?? 0), 0) };
}

export type { Placement };
