// Which running work a Premium job that fits nowhere may evict — pure. Only BestEffort work
// is ever a victim; the newest goes first (least work lost), and no more is evicted than the
// preemptor's pods need, node by node. The rule is stated in docs/placement.md.
import { Tier } from '../api/constants.ts';
import { classKey, cmp, type NodeSlot } from './snapshot.ts';

/** A placed job's pods as they hold GPUs now. */
export interface RunningWork {
  key: string;
  tier: Tier;
  pool: string;
  member: string;
  /** When it started (ms since the epoch): the newer, the less work an eviction loses. */
  startedAt: number;
  pods: ReadonlyArray<{ node: string; resourceName: string; gpus: number }>;
}

export interface PreemptionPlan {
  pool: string;
  /** Keys of the work to evict, newest first. */
  victims: string[];
}

export interface PreemptionInput {
  preemptor: { key: string; tier: Tier; pods: number; gpusPerPod: number };
  /** Pools to try, in order, with the node slots of the GPU classes the preemptor accepts there (with free). */
  candidates: ReadonlyArray<{ pool: string; member: string; slots: readonly NodeSlot[] }>;
  running: readonly RunningWork[];
  /** Most victims in one plan (default 8). */
  maxVictims?: number;
}

export const DEFAULT_MAX_VICTIMS = 8;

const slotId = (node: string, resourceName: string) => `${node}\u0000${resourceName}`;
const newestFirst = (a: RunningWork, b: RunningWork) => b.startedAt - a.startedAt || cmp(a.key, b.key);

/**
 * The first candidate pool where evicting BestEffort work lets every preemptor pod pack (each
 * whole on one node, best-fit), with its victims; undefined when none works or the preemptor
 * is not Premium. Per pool and GPU class: add that pool's BestEffort work newest-first until
 * the pods pack, then drop, oldest first, every victim the pods still pack without; a class
 * where the pods pack with no victim needs no preemption and is skipped. Within a pool the
 * class with the fewest victims wins (ties: class order); more than maxVictims: the pool fails.
 */
export function planPreemption(o: PreemptionInput): PreemptionPlan | undefined {
  const { preemptor } = o;
  if (!Number.isSafeInteger(preemptor.pods) || preemptor.pods < 1) {
    throw new RangeError(`preemptor.pods must be a positive integer: ${preemptor.pods}`);
  }
  if (!Number.isSafeInteger(preemptor.gpusPerPod) || preemptor.gpusPerPod < 1) {
    throw new RangeError(`preemptor.gpusPerPod must be a positive integer: ${preemptor.gpusPerPod}`);
  }
  if (preemptor.tier !== Tier.Premium) return undefined;
  const max = o.maxVictims ?? DEFAULT_MAX_VICTIMS;
  for (const cand of o.candidates) {
    const victims = o.running
      .filter((w) => w.tier === Tier.BestEffort && w.pool === cand.pool && w.member === cand.member)
      .filter((w) => w.key !== preemptor.key)
      .sort(newestFirst);
    const classes = new Map<string, NodeSlot[]>();
    for (const s of cand.slots) {
      if (s.member !== cand.member) continue;
      const k = classKey(s);
      const list = classes.get(k);
      if (list) list.push(s);
      else classes.set(k, [s]);
    }
    let best: string[] | undefined;
    for (const [, slots] of [...classes].sort(([a], [b]) => cmp(a, b))) {
      const plan = planClass(slots, victims, preemptor.pods, preemptor.gpusPerPod);
      if (plan && (!best || plan.length < best.length)) best = plan;
    }
    if (best && best.length <= max) return { pool: cand.pool, victims: best };
  }
  return undefined;
}

/** Victims (newest first) that make `pods` × `gpusPerPod` pack on one class's slots, or undefined. */
function planClass(
  slots: readonly NodeSlot[],
  running: readonly RunningWork[],
  pods: number,
  gpusPerPod: number,
): string[] | undefined {
  const ids = new Set(slots.map((s) => slotId(s.node, s.resourceName)));
  // what each victim gives back on these slots; work with nothing here cannot help
  const gives = new Map<string, Map<string, number>>();
  const helpful: RunningWork[] = [];
  for (const w of running) {
    const back = new Map<string, number>();
    for (const p of w.pods) {
      const id = slotId(p.node, p.resourceName);
      if (ids.has(id) && p.gpus > 0) back.set(id, (back.get(id) ?? 0) + p.gpus);
    }
    if (back.size) {
      gives.set(w.key, back);
      helpful.push(w);
    }
  }
  const freeWith = (victims: readonly RunningWork[]) => {
    const free = new Map<string, number>();
    for (const s of slots) {
      const id = slotId(s.node, s.resourceName);
      let f = s.free;
      for (const v of victims) f += gives.get(v.key)?.get(id) ?? 0;
      // a victim's GPUs come back only up to what the node lets our pods use
      free.set(id, Math.min(Math.max(s.free, s.allocatable - s.assumed), f));
    }
    return free;
  };
  if (packs(freeWith([]), pods, gpusPerPod)) return undefined;
  let chosen: RunningWork[] = [];
  let fits = false;
  for (const w of helpful) {
    chosen.push(w);
    if (packs(freeWith(chosen), pods, gpusPerPod)) {
      fits = true;
      break;
    }
  }
  if (!fits) return undefined;
  for (const v of [...chosen].reverse()) {
    const without = chosen.filter((w) => w !== v);
    if (packs(freeWith(without), pods, gpusPerPod)) chosen = without;
  }
  return chosen.map((w) => w.key);
}

/** Best-fit, one pod at a time, each whole on one slot: the one left with the fewest free GPUs, ties by id. */
function packs(free: Map<string, number>, pods: number, gpusPerPod: number): boolean {
  const left = new Map(free);
  for (let i = 0; i < pods; i++) {
    let at: string | undefined;
    let best = Infinity;
    for (const [id, f] of left) {
      if (f >= gpusPerPod && (f < best || (f === best && at !== undefined && id < at))) {
        at = id;
        best = f;
      }
    }
    if (at === undefined) return false;
    left.set(at, best - gpusPerPod);
  }
  return true;
}
