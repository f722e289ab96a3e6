// Metering (pure): a job's status.usage → the settle items of its task, period by period. No I/O here;
// the settler (operator/controllers/settlement) reads the job and the chain and sends what this returns.
import type { AttemptUsage } from '../api/types.gen.ts';
import { parseNvdax, UNIT } from './contracts.ts';

/** The task's terms on chain, as TaskOpened recorded them (status.settlement keeps a copy). */
export interface TaskTerms {
  task: number;
  startPeriod: number;
  span: number;
  /** Most one period may charge, in UNIT (1e12 wei). */
  capUnits: bigint;
}

/** The settlement contract's clock: period p runs from genesis + p × periodSeconds (Unix seconds). */
export interface PeriodClock {
  genesis: number;
  periodSeconds: number;
}

export const periodStart = (c: PeriodClock, p: number): number => (c.genesis + p * c.periodSeconds) * 1000;
export const periodEnd = (c: PeriodClock, p: number): number => periodStart(c, p + 1);
export const periodAt = (c: PeriodClock, ms: number): number =>
  Math.floor((Math.floor(ms / 1000) - c.genesis) / c.periodSeconds);

/** One attempt as billing sees it: its usage, and whether its pool's provider is the task's. */
export interface BilledAttempt {
  usage: AttemptUsage;
  /** False for an attempt on another provider's pool: the task pays only the provider it was opened for. */
  billable: boolean;
}

export interface MeterInput {
  terms: TaskTerms;
  clock: PeriodClock;
  /** Periods already settled, counted from startPeriod (status.settlement.settledPeriods). */
  settled: number;
  attempts: readonly BilledAttempt[];
  /**
   * The job's attempt now placed and not ended (status.attempts while it is placed), whose usage must be
   * metered past a period's end before that period is billed; undefined when nothing runs.
   */
  running?: number;
  /** The job is gone or finished: every recorded attempt is final as recorded. */
  final: boolean;
  now: number;
  /** Wait this long after a period ends before billing it (clock skew, a last usage write). */
  graceMs?: number;
}

export interface DueItem {
  task: number;
  period: number;
  /** In UNIT. */
  amount: bigint;
  gpuSeconds: number;
}

/** When an attempt's usage is known through (ms), and the interval it spread over. */
function span(a: AttemptUsage): { start: number; end: number } | undefined {
  if (!a.startTime) return undefined;
  const start = Date.parse(a.startTime);
  const end = Date.parse(a.endTime ?? a.meteredTime ?? a.startTime);
  return { start, end: Math.max(start, end) };
}

/**
 * GPU-seconds of an attempt before `t`: its gpuSeconds spread evenly over its start..end (its pods run
 * inside it, so no period gets more than the attempt's GPUs × the period), rounded down per prefix, so the
 * periods' shares add up to the attempt's gpuSeconds exactly.
 */
export function gpuSecondsBefore(a: AttemptUsage, t: number): number {
  const s = span(a);
  const total = a.gpuSeconds ?? 0;
  if (!s || t <= s.start) return 0;
  if (t >= s.end) return total;
  return Math.floor((total * (t - s.start)) / (s.end - s.start));
}

/** Wei per GPU-hour from a decimal NVDAx price ("2.5"). */
export const priceWei = (price: string): bigint => parseNvdax(price);

/**
 * Amount in UNIT for GPU-seconds at a price per GPU-hour, rounded down (the requester is never charged a
 * fraction of a UNIT it did not use), and never above the period's cap.
 */
export function amountUnits(gpuSeconds: number, price: string, capUnits: bigint): bigint {
  const units = (BigInt(gpuSeconds) * priceWei(price)) / (3600n * UNIT);
  return units > capUnits ? capUnits : units;
}

/**
 * The periods of the task that can be billed now, in order from the first not yet settled: a period is
 * due once it is over (plus grace) and every attempt that ran in it is metered past its end (or the job is
 * final). Each item charges what the billable attempts used in it at their quoted prices; a period
 * without use is settled at 0, which returns its whole cap to the requester.
 */
export function dueItems(m: MeterInput): DueItem[] {
  const out: DueItem[] = [];
  const grace = m.graceMs ?? 5_000;
  const runningUsage = m.running !== undefined ? m.attempts.find((a) => a.usage.attempt === m.running) : undefined;
  for (let k = m.settled; k < m.terms.span; k++) {
    const p = m.terms.startPeriod + k;
    const from = periodStart(m.clock, p);
    const to = periodEnd(m.clock, p);
    if (m.now < to + grace) break;
    if (!m.final && m.running !== undefined) {
      // the attempt running now must have been metered past this period's end
      const u = runningUsage?.usage;
      const known = u ? Date.parse(u.endTime ?? u.meteredTime ?? '') : Number.NaN;
      if (!(known >= to)) break;
    }
    let units = 0n;
    let gpuSeconds = 0;
    for (const a of m.attempts) {
      if (!a.billable || !a.usage.price) continue;
      const g = gpuSecondsBefore(a.usage, to) - gpuSecondsBefore(a.usage, from);
      if (g <= 0) continue;
      gpuSeconds += g;
      units += amountUnits(g, a.usage.price, m.terms.capUnits);
    }
    out.push({
      task: m.terms.task,
      period: p,
      amount: units > m.terms.capUnits ? m.terms.capUnits : units,
      gpuSeconds,
    });
  }
  return out;
}

/**
 * Items as the contract likes them: by task, then period (a task's periods must go in order, so a batch
 * never skips one), and each (requester, provider) pair's tasks side by side (one escrow and one earnings
 * write per pair; see docs/settlement.md).
 */
export function orderItems<T extends { task: number; period: number; pair: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) =>
    a.pair !== b.pair ? (a.pair < b.pair ? -1 : 1) : a.task !== b.task ? a.task - b.task : a.period - b.period,
  );
}

/**
 * cap = priceCap × gpus × periodSeconds / 3600 in UNIT, span and the wei the task locks, as the contract's
 * taskTerms computes them from the signed task (wei amounts, as TaskValue holds them).
 */
export function taskTerms(
  t: { sla: { priceCap: bigint; maxDurationSeconds: bigint }; gpus: number; maxTotal: bigint },
  periodSeconds: number,
): { capUnits: bigint; span: number; lockWei: bigint } {
  const P = BigInt(periodSeconds);
  const capUnits = (t.sla.priceCap * BigInt(t.gpus) * P) / 3600n / UNIT;
  if (capUnits === 0n) throw new RangeError("spec.sla.priceCap: one period's cap rounds to 0 NVDAx");
  let span = t.maxTotal / (capUnits * UNIT);
  if (t.sla.maxDurationSeconds !== 0n) {
    const byDuration = (t.sla.maxDurationSeconds + P - 1n) / P;
    if (byDuration < span) span = byDuration;
  }
  if (span > 0xffffn) span = 0xffffn;
  if (span === 0n) throw new RangeError("spec.payment.maxTotal: below one period's cap, so the task covers no period");
  return { capUnits, span: Number(span), lockWei: capUnits * UNIT * span };
}
