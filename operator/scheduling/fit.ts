// Fit or no-fit for one placement request against a snapshot — pure. Each candidate pool
// answers with the first predicate that refuses it, as data (Kueue's flavor assigner, pepr's
// filters); reasons are sorted by pool so messages are the same on every run.
import type { GpuMode, Tee } from '../fleet/capacity.ts';
import { classKey, cmp, type NodeClass, type NodeSlot, type Snapshot } from './snapshot.ts';

export interface PlacementRequest {
  /** Stable across reconciles, e.g. `<namespace>/<job>#<attempt>`: a second reserve with it books nothing. */
  id: string;
  /** Candidate pools, in preference order. */
  pools: string | readonly string[];
  product?: string;
  mode?: GpuMode;
  resourceName?: string;
  /** Implies confidential mode. */
  tee?: Tee;
  gpusPerPod: number;
  /** One per pod, `namespace/name` in the member; deterministic, so the cache can be matched against them. */
  podKeys: readonly string[];
}

export type NoFitReason =
  | 'PoolUnknown'
  | 'MemberUnavailable'
  | 'NoGpuNodes'
  | 'ProductMismatch'
  | 'ModeMismatch'
  | 'CcNotReady'
  | 'TeeMismatch'
  | 'ResourceMismatch'
  | 'NoSchedulableNode'
  | 'InsufficientGpus';

export interface NoFit {
  pool: string;
  reason: NoFitReason;
  message: string;
}

export interface PlacedPod {
  key: string;
  node: string;
  resourceName: string;
  gpus: number;
}

/** Every pod of one placement is on one member and one node class. */
export interface Placement extends NodeClass {
  pool: string;
  member: string;
  pods: readonly PlacedPod[];
}

export type FitResult = { ok: true; placement: Placement } | { ok: false; reasons: NoFit[] };

/** Throws on a request no fleet could satisfy by construction (a caller's bug, not a fleet state). */
export function validateRequest(r: PlacementRequest): void {
  if (!Number.isInteger(r.gpusPerPod) || r.gpusPerPod < 1) {
    throw new RangeError(`gpusPerPod must be a positive integer: ${r.gpusPerPod}`);
  }
  if (r.podKeys.length === 0) throw new RangeError('podKeys must name at least one pod');
  if (new Set(r.podKeys).size !== r.podKeys.length) {
    throw new RangeError(`podKeys repeat a name: ${r.podKeys.join(', ')}`);
  }
}

/** The first candidate pool that fits wins; with none, one reason per pool. */
export function fit(snapshot: Snapshot, r: PlacementRequest): FitResult {
  validateRequest(r);
  const reasons: NoFit[] = [];
  for (const pool of typeof r.pools === 'string' ? [r.pools] : r.pools) {
    const res = fitPool(snapshot, pool, r);
    if ('pods' in res) return { ok: true, placement: res };
    reasons.push(res);
  }
  return { ok: false, reasons: reasons.sort((a, b) => cmp(a.pool, b.pool) || cmp(a.reason, b.reason)) };
}

const list = (xs: Iterable<string>) => [...new Set(xs)].sort(cmp).join(', ');
const few = (xs: string[], n = 3) => (xs.length > n ? `${xs.slice(0, n).join(', ')}, …` : xs.join(', '));

function fitPool(snapshot: Snapshot, pool: string, r: PlacementRequest): Placement | NoFit {
  const no = (reason: NoFitReason, message: string): NoFit => ({ pool, reason, message });
  const def = snapshot.pool(pool);
  if (!def) return no('PoolUnknown', `pool ${pool} is not known`);
  if (!snapshot.hasMember(def.member)) return no('MemberUnavailable', `member cluster ${def.member} is not ready`);
  let slots = snapshot.nodes({ member: def.member, pool });
  if (!slots.length) return no('NoGpuNodes', 'no GPU nodes');
  const mode = r.mode ?? (r.tee ? 'confidential' : undefined);
  // ordered predicates: the first that leaves no slot names the reason
  const steps: Array<[boolean, (s: NodeSlot) => boolean, NoFitReason, (left: NodeSlot[]) => string]> = [
    [
      r.product !== undefined,
      (s) => s.product === r.product,
      'ProductMismatch',
      (left) => `no ${r.product} GPUs; the pool has ${list(left.map((s) => s.product))}`,
    ],
    [
      mode !== undefined,
      (s) => s.mode === mode,
      'ModeMismatch',
      (left) => `no ${mode} GPUs; the pool has ${list(left.map((s) => s.mode))}`,
    ],
    // a confidential node takes pods only when its GPUs are in CC mode on an SNP/TDX host
    [
      true,
      (s) => s.mode === 'container' || s.tee !== undefined,
      'CcNotReady',
      (left) => `confidential GPUs not CC-ready on ${few(left.map((s) => s.node))}`,
    ],
    [
      r.tee !== undefined,
      (s) => s.tee === r.tee,
      'TeeMismatch',
      (left) => `no ${r.tee} nodes; the pool has ${list(left.map((s) => s.tee ?? 'no TEE'))}`,
    ],
    [
      r.resourceName !== undefined,
      (s) => s.resourceName === r.resourceName,
      'ResourceMismatch',
      (left) => `no ${r.resourceName}; the pool has ${list(left.map((s) => s.resourceName))}`,
    ],
    [
      true,
      (s) => s.allocatable > 0,
      'NoSchedulableNode',
      (left) => `no schedulable node: ${few(left.map((s) => `${s.node} ${s.blocked ?? 'has no allocatable GPUs'}`))}`,
    ],
  ];
  for (const [applies, keep, reason, message] of steps) {
    if (!applies) continue;
    const kept = slots.filter(keep);
    if (!kept.length) return no(reason, message(slots));
    slots = kept;
  }
  const byClass = new Map<string, NodeSlot[]>();
  for (const s of slots) byClass.set(classKey(s), [...(byClass.get(classKey(s)) ?? []), s]);
  // among classes that fit, the tightest (fewest GPUs left on the nodes used), then by class
  let best: { left: number; pods: PlacedPod[]; cls: NodeSlot } | undefined;
  for (const [, cls] of [...byClass].sort(([a], [b]) => cmp(a, b))) {
    const packed = pack(cls, r);
    const first = cls[0];
    if (packed && first && (!best || packed.left < best.left)) best = { ...packed, cls: first };
  }
  if (best) {
    const { product, mode: m, resourceName, tee, memoryMiB } = best.cls;
    return {
      pool,
      member: def.member,
      product,
      mode: m,
      resourceName,
      ...(tee ? { tee } : {}),
      ...(memoryMiB ? { memoryMiB } : {}),
      pods: best.pods,
    };
  }
  const blocks = slots
    .map((s) => s.free)
    .filter((f) => f > 0)
    .sort((a, b) => b - a);
  const needs = `needs ${r.podKeys.length} pod(s) × ${r.gpusPerPod} ${list(slots.map((s) => s.resourceName))}`;
  const has = blocks.length ? `largest free blocks ${few(blocks.map(String), 5)}` : 'no free GPUs';
  return no('InsufficientGpus', `${needs}, ${has}`);
}

/**
 * Best-fit, one pod at a time, each whole on one node: the node left with the fewest free
 * GPUs, ties by name. With equal pods this finds a fit whenever one exists.
 */
function pack(slots: NodeSlot[], r: PlacementRequest): { left: number; pods: PlacedPod[] } | undefined {
  const free = new Map(slots.map((s) => [s.node, s.free]));
  const resourceName = slots[0]?.resourceName ?? '';
  const pods: PlacedPod[] = [];
  for (const key of r.podKeys) {
    let node: string | undefined;
    let best = Infinity;
    for (const [name, f] of free) {
      if (f >= r.gpusPerPod && (f < best || (f === best && node !== undefined && name < node))) {
        node = name;
        best = f;
      }
    }
    if (node === undefined) return undefined;
    free.set(node, best - r.gpusPerPod);
    pods.push({ key, node, resourceName, gpus: r.gpusPerPod });
  }
  const used = new Set(pods.map((p) => p.node));
  return { left: [...free].filter(([n]) => used.has(n)).reduce((a, [, f]) => a + f, 0), pods };
}
