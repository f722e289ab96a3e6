// Which pending job the placement loop tries first — pure. Tiers in order; within a tier the
// requesters take turns, so one requester's flood cannot starve another's jobs (Kueue's fair
// sharing, reduced to round-robin). The rule is stated in docs/placement.md.
import type { Tier } from '../api/constants.ts';
import { cmp } from './snapshot.ts';

export interface QueuedJob {
  /** Unique and stable, e.g. `InferenceJob:<namespace>/<name>`; breaks every tie. */
  key: string;
  tier: Tier;
  /** Who asked (the hub namespace). */
  requester: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
}

const tierRank: Record<string, number> = { Premium: 0, Reserved: 1, BestEffort: 2 };
/** An unknown tier queues with BestEffort. */
const rankOf = (t: string) => tierRank[t] ?? 2;

const oldestFirst = (a: QueuedJob, b: QueuedJob) => a.createdAt - b.createdAt || cmp(a.key, b.key);

/**
 * Premium, then Reserved, then BestEffort. Within a tier, round-robin by requester: each
 * requester's jobs oldest first (ties by key), requesters in the order of their oldest job
 * (then requester name); round n takes every requester's n-th job. Returns a new array.
 */
export function queueOrder<T extends QueuedJob>(jobs: readonly T[]): T[] {
  const tiers = new Map<number, Map<string, T[]>>();
  for (const j of jobs) {
    const rank = rankOf(j.tier);
    const byRequester = tiers.get(rank) ?? new Map<string, T[]>();
    tiers.set(rank, byRequester);
    const lane = byRequester.get(j.requester);
    if (lane) lane.push(j);
    else byRequester.set(j.requester, [j]);
  }
  const out: T[] = [];
  for (const rank of [...tiers.keys()].sort((a, b) => a - b)) {
    const lanes = [...(tiers.get(rank)?.entries() ?? [])].map(([requester, js]) => ({
      requester,
      jobs: js.sort(oldestFirst),
    }));
    lanes.sort((a, b) => oldestFirst(a.jobs[0] as T, b.jobs[0] as T) || cmp(a.requester, b.requester));
    const longest = lanes.reduce((m, l) => Math.max(m, l.jobs.length), 0);
    for (let round = 0; round < longest; round++) {
      for (const lane of lanes) {
        const j = lane.jobs[round];
        if (j) out.push(j);
      }
    }
  }
  return out;
}
