// Text shapes shared by the commands: kubectl-style borderless tables (cli-table3), ages,
// and the job facts several commands show. Pure: objects in, strings out.
import Table from 'cli-table3';
import type { InferenceJobObject, TrainingJobObject } from '../operator/api/resources.ts';
import type { Condition } from '../operator/api/types.gen.ts';

export type JobObject = InferenceJobObject | TrainingJobObject;

const noBorders = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
};

/** A table as kubectl prints one: a header row, columns three spaces apart, no borders, no colour. */
export function table(
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
  indent = '',
): string {
  const t = new Table({
    head: [...head],
    chars: noBorders,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  // one line per row: a newline in a message would start a new table row visually
  for (const r of rows) t.push(r.map((c) => String(c).replace(/\s*\n\s*/g, ' ')));
  return t
    .toString()
    .split('\n')
    .map((l) => indent + l.trimEnd())
    .join('\n');
}

/** `-` for a value that is not there. */
export function orDash(v: string | number | undefined | null): string {
  return v === undefined || v === null || v === '' ? '-' : String(v);
}

/** Elapsed time as kubectl prints an AGE (k8s.io/apimachinery duration.HumanDuration). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** Age of a timestamp at `now`, or `-` when there is none. */
export function age(ts: string | Date | undefined, now: number): string {
  if (ts === undefined) return '-';
  const t = new Date(ts).getTime();
  return Number.isNaN(t) ? '-' : humanDuration(now - t);
}

/** RFC 3339 to the second, UTC: `2026-01-02T03:04:05Z`. */
export function isoSeconds(t: number | string | Date): string {
  return new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
}

export function conditionOf(obj: { status?: { conditions?: Condition[] } }, type: string): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/** Why the job is where it is: the Scheduled reason while not placed, else the Ready reason. */
export function jobReason(job: JobObject): string {
  const scheduled = conditionOf(job, 'Scheduled');
  if (scheduled && scheduled.status !== 'True') return scheduled.reason;
  return conditionOf(job, 'Ready')?.reason ?? scheduled?.reason ?? '';
}

/** Replicas (InferenceJob) or workers (TrainingJob) the job asks for. */
export function desiredCount(job: JobObject): number {
  if (job.kind === 'TrainingJob') {
    const s = (job as TrainingJobObject).spec;
    return s.workers ?? 1;
  }
  const j = job as InferenceJobObject;
  return j.status?.replicas ?? j.spec.replicas ?? j.spec.autoscaling?.minReplicas ?? 1;
}

/** `ready/desired` replicas or workers. */
export function readyText(job: JobObject): string {
  const ready =
    job.kind === 'TrainingJob'
      ? (job as TrainingJobObject).status?.readyWorkers
      : (job as InferenceJobObject).status?.readyReplicas;
  return `${ready ?? 0}/${desiredCount(job)}`;
}

/** GPUs the job holds (placement) or asks for (GPUs per replica or worker × their number). */
export function gpusOf(job: JobObject): number {
  return job.status?.placement?.gpus ?? job.spec.resources.gpus * desiredCount(job);
}

/** `namespace/name`, or just the name when cluster-scoped. */
export function keyOf(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}
