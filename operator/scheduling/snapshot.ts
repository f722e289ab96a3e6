// A point-in-time view of free GPUs per (member cluster, node, GPU resource) — pure, no I/O.
// Built once per cycle from the member caches, as kube-scheduler's cache snapshot and Kueue's
// are; it changes only through `assume`, a what-if that returns its undo. Free GPUs belong to
// the member's node, so a node that several pools select is still booked once.
import { gpuTolerations } from '../hardware/labels.ts';
import {
  ccReady,
  count,
  isGpuResource,
  nodeReady,
  podRequest,
  productOf,
  selectorMatches,
  unschedulableReason,
  terminal,
  type GpuMode,
  type NodeView,
  type PodView,
  type Tee,
} from '../fleet/capacity.ts';
import { untoleratedTaint, type Toleration } from '../fleet/taints.ts';

/** A pod as the snapshot reads it; client-node's V1Pod satisfies it (tolerations' operator is a string there). */
export type SnapshotPod = PodView & {
  spec?: { tolerations?: ReadonlyArray<{ key?: string; operator?: string; value?: string; effect?: string }> };
};

export interface MemberInput {
  name: string;
  nodes: readonly NodeView[];
  pods: readonly SnapshotPod[];
}

export interface PoolInput {
  name: string;
  member: string;
  /** Labels a node needs to belong to the pool; none: every node of the member. */
  nodeSelector?: Record<string, string> | undefined;
}

/** Where a pod the operator placed but the member has not bound yet is meant to go (from the ledger). */
export interface PodPin {
  member: string;
  key: string;
  node: string;
}

export interface SnapshotInput {
  /** Members whose caches are synced (ready gate true); a member left out is unavailable. */
  members: readonly MemberInput[];
  pools: readonly PoolInput[];
  /** Tolerations of the pods the operator places (default gpuTolerations). */
  tolerations?: readonly Toleration[];
  /**
   * The ledger's `pins()`: our unbound pods. The snapshot leaves them to the ledger (`leftToLedger`),
   * which holds each where it fits now: the member's scheduler may well bind them elsewhere.
   */
  pinned?: readonly PodPin[];
}

/** What a GPU is, for matching: one node may offer one class per GPU resource. */
export interface NodeClass {
  product: string;
  mode: GpuMode;
  /** The extended resource a pod requests to get these GPUs. */
  resourceName: string;
  /** SNP or TDX on a CC-ready confidential node; absent otherwise (such a node takes no confidential pod). */
  tee?: Tee;
  memoryMiB?: number;
}

export interface NodeSlot extends NodeClass {
  member: string;
  node: string;
  /** Pools whose node selector picks this node, sorted. */
  pools: readonly string[];
  /** GPUs our pods may use: 0 unless the node is Ready, not cordoned and all its taints tolerated. */
  allocatable: number;
  /** GPUs held by non-terminal pods bound here plus unbound pods counted here. */
  used: number;
  /** The part of `used` held by unbound (pending) pods. */
  pending: number;
  /** GPUs held by what-ifs (`assume`), e.g. reservations the cache does not show yet. */
  assumed: number;
  free: number;
  /** Why `allocatable` is 0 although the node has GPUs: NotReady, Cordoned or `taint k=v:Effect`. */
  blocked?: string;
}

export type PodState = 'bound' | 'pending' | 'terminal';

/** A pending pod that fits on no node: it waits for capacity and holds none. */
export interface UnplacedPod {
  member: string;
  key: string;
  requests: Record<string, number>;
}

export interface ClassSummary extends NodeClass {
  nodes: number;
  allocatable: number;
  used: number;
  assumed: number;
  free: number;
  /** Most GPUs free on one node: the largest pod that fits. */
  largestFreeBlock: number;
}

export interface PoolSummary {
  name: string;
  member: string;
  /** False when the member is not in the snapshot (not ready): the pool offers nothing now. */
  memberAvailable: boolean;
  nodes: number;
  schedulableNodes: number;
  classes: ClassSummary[];
}

export interface Snapshot {
  hasMember(member: string): boolean;
  pool(name: string): PoolInput | undefined;
  /** GPU slots, sorted by member, node, resource; copies, so callers cannot change the snapshot. */
  nodes(filter?: { member?: string; pool?: string }): NodeSlot[];
  pools(): PoolSummary[];
  /** How the member cache shows `namespace/name`; undefined when it does not show it. */
  podState(member: string, key: string): PodState | undefined;
  podKeys(member: string): ReadonlySet<string>;
  unplaceablePending(): readonly UnplacedPod[];
  /** A pending pod pinned by the ledger: the snapshot does not count it, the ledger does. */
  leftToLedger(member: string, key: string): boolean;
  /** Free GPUs of one slot now (0 for an unknown one). */
  free(member: string, node: string, resourceName: string): number;
  /** What-if: holds `gpus` on a slot until the returned undo runs (a no-op for an unknown slot). */
  assume(member: string, node: string, resourceName: string, gpus: number): () => void;
  /**
   * The node of `pool` with the fewest free GPUs of class `cls` that still has `gpus` free (first by name on a
   * tie); undefined when none has. Reads the slots in place: no copies, so a cycle may ask it per pod.
   */
  tightest(member: string, pool: string, cls: NodeClass, gpus: number): string | undefined;
}

/** Code-point order, so results do not depend on the locale. */
export const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
export const podKey = (p: PodView) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;

/**
 * Pods of a Deployment or an Indexed Job have generated names, so the operator's pods carry
 * this label (the workload's name) and the snapshot keys them `namespace/group#i` instead: i
 * counts the group's pods, bound before pending before finished, then by name. A reservation
 * names its pods the same way (`slotKeys`), so the ledger matches them without knowing names.
 */
export const slotGroupLabel = 'nvdax.io/slot-group';

export const slotKeys = (namespace: string, group: string, pods: number): string[] =>
  Array.from({ length: pods }, (_, i) => `${namespace}/${group}#${i}`);

const stateRank = (p: PodView) => (terminal(p) ? 2 : p.spec?.nodeName ? 0 : 1);

/** Each pod with the key the snapshot knows it by. */
function keyed(pods: readonly SnapshotPod[]): Array<[string, SnapshotPod]> {
  const out: Array<[string, SnapshotPod]> = [];
  const groups = new Map<string, SnapshotPod[]>();
  for (const p of pods) {
    const g = p.metadata?.labels?.[slotGroupLabel];
    if (!g) {
      out.push([podKey(p), p]);
      continue;
    }
    const k = `${p.metadata?.namespace ?? ''}/${g}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  for (const [k, ps] of groups) {
    ps.sort((a, b) => stateRank(a) - stateRank(b) || cmp(a.metadata?.name ?? '', b.metadata?.name ?? ''));
    for (const [i, p] of ps.entries()) out.push([`${k}#${i}`, p]);
  }
  return out;
}
export const classKey = (c: NodeClass) => [c.product, c.mode, c.resourceName, c.tee ?? ''].join('\u0000');
const slotKey = (member: string, node: string, resource: string) => [member, node, resource].join('\u0000');

interface Slot extends Omit<NodeSlot, 'free'> {
  /** Allocatable for pods with their own tolerations (Ready and not cordoned), for pending pods. */
  open: number;
}

/** A slot's free GPUs now: allocatable less what pods and what-ifs hold, never below 0. */
const slotFree = (s: Pick<Slot, 'allocatable' | 'used' | 'assumed'>) => Math.max(0, s.allocatable - s.used - s.assumed);

interface NodeEntry {
  view: NodeView;
  slots: Map<string, Slot>;
}

export function buildSnapshot(input: SnapshotInput): Snapshot {
  const tolerations = input.tolerations ?? gpuTolerations;
  const pins = new Map((input.pinned ?? []).map((p) => [`${p.member}\u0000${p.key}`, p.node]));
  const slots = new Map<string, Slot>();
  const seen = new Map<string, Map<string, PodState>>();
  const unplaced: UnplacedPod[] = [];
  const ledgerHeld = new Set<string>();
  for (const m of input.members) {
    const nodes = memberNodes(m, input.pools, tolerations);
    for (const e of nodes.values()) {
      for (const s of e.slots.values()) slots.set(slotKey(s.member, s.node, s.resourceName), s);
    }
    const states = new Map<string, PodState>();
    const pending: Pending[] = [];
    for (const [key, p] of keyed(m.pods)) {
      const bound = p.spec?.nodeName;
      states.set(key, terminal(p) ? 'terminal' : bound ? 'bound' : 'pending');
      if (terminal(p)) continue;
      if (bound) {
        for (const s of nodes.get(bound)?.slots.values() ?? []) s.used += podRequest(p, s.resourceName);
        continue;
      }
      const requests = gpuRequests(p);
      if (!requests.size) continue;
      const pin = pins.get(`${m.name}\u0000${key}`);
      if (pin !== undefined) ledgerHeld.add(`${m.name}\u0000${key}`);
      else pending.push({ pod: p, key, requests, pin });
    }
    seen.set(m.name, states);
    for (const p of placePending(nodes, pending, tolerations)) {
      unplaced.push({ member: m.name, key: p.key, requests: Object.fromEntries(p.requests) });
    }
  }
  return new FleetSnapshot(slots, new Map(input.pools.map((p) => [p.name, p])), seen, unplaced, ledgerHeld);
}

function memberNodes(m: MemberInput, pools: readonly PoolInput[], tolerations: readonly Toleration[]) {
  const nodes = new Map<string, NodeEntry>();
  const sorted = [...m.nodes].sort((a, b) => cmp(a.metadata?.name ?? '', b.metadata?.name ?? ''));
  for (const n of sorted) {
    const name = n.metadata?.name;
    if (!name) continue;
    const labels = n.metadata?.labels;
    const poolNames = pools
      .filter((p) => p.member === m.name && selectorMatches(p.nodeSelector, labels))
      .map((p) => p.name)
      .sort(cmp);
    const open = nodeReady(n) && !n.spec?.unschedulable;
    const blocked = unschedulableReason(n, tolerations);
    const entry: NodeEntry = { view: n, slots: new Map() };
    for (const [resource, q] of Object.entries(n.status?.capacity ?? {}).sort(([a], [b]) => cmp(a, b))) {
      if (!isGpuResource(resource) || count(q) === 0) continue;
      const { product, mode, memoryMiB } = productOf(n, resource);
      const tee = mode === 'confidential' ? ccReady(n) : undefined;
      const alloc = count(n.status?.allocatable?.[resource] ?? q);
      entry.slots.set(resource, {
        member: m.name,
        node: name,
        product,
        mode,
        resourceName: resource,
        ...(tee ? { tee } : {}),
        ...(memoryMiB ? { memoryMiB } : {}),
        ...(blocked ? { blocked } : {}),
        pools: poolNames,
        allocatable: blocked ? 0 : alloc,
        open: open ? alloc : 0,
        used: 0,
        pending: 0,
        assumed: 0,
      });
    }
    nodes.set(name, entry);
  }
  return nodes;
}

/** GPU resource → count for every GPU resource the pod's containers name. */
function gpuRequests(p: PodView): Map<string, number> {
  const names = new Set<string>();
  for (const c of [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])]) {
    for (const r of [...Object.keys(c.resources?.requests ?? {}), ...Object.keys(c.resources?.limits ?? {})]) {
      if (isGpuResource(r)) names.add(r);
    }
  }
  const out = new Map<string, number>();
  for (const r of [...names].sort(cmp)) {
    const n = podRequest(p, r);
    if (n > 0) out.set(r, n);
  }
  return out;
}

interface Pending {
  pod: SnapshotPod;
  key: string;
  requests: Map<string, number>;
  pin: string | undefined;
}

/**
 * Counts unbound pods where the scheduler will put them: on the nominated node, else on the
 * node the ledger reserved, else best-fit (fewest GPUs left, ties by node name) among nodes
 * with room that the pod's selector and tolerations allow. Returns those that fit nowhere.
 */
function placePending(
  nodes: Map<string, NodeEntry>,
  pending: Pending[],
  tolerations: readonly Toleration[],
): Pending[] {
  const offers = (node: string | undefined, p: Pending) =>
    node !== undefined && [...p.requests.keys()].every((r) => nodes.get(node)?.slots.has(r));
  const hold = (node: string, p: Pending) => {
    for (const [r, n] of p.requests) {
      const s = nodes.get(node)?.slots.get(r);
      if (s) {
        s.used += n;
        s.pending += n;
      }
    }
  };
  const floating: Pending[] = [];
  // nominated and pinned pods hold their node whatever is free: the scheduler has already chosen
  for (const p of pending) {
    const fixed = [p.pod.status?.nominatedNodeName, p.pin].find((n) => offers(n, p));
    if (fixed) hold(fixed, p);
    else floating.push(p);
  }
  const unplaced: Pending[] = [];
  for (const p of floating.sort((a, b) => cmp(a.key, b.key))) {
    const own = p.pod.spec?.tolerations as readonly Toleration[] | undefined;
    let best: { node: string; left: number } | undefined;
    for (const [name, e] of nodes) {
      if (!offers(name, p) || !selectorMatches(p.pod.spec?.nodeSelector, e.view.metadata?.labels)) continue;
      if (untoleratedTaint(e.view.spec?.taints, own ?? tolerations)) continue;
      let left = 0;
      for (const [r, n] of p.requests) {
        const s = e.slots.get(r);
        left = s && s.open - s.used >= n ? left + s.open - s.used - n : -Infinity;
      }
      if (left >= 0 && (!best || left < best.left)) best = { node: name, left };
    }
    if (best) hold(best.node, p);
    else unplaced.push(p);
  }
  return unplaced;
}

class FleetSnapshot implements Snapshot {
  readonly #slots: Map<string, Slot>;
  readonly #pools: Map<string, PoolInput>;
  readonly #seen: Map<string, Map<string, PodState>>;
  readonly #unplaced: readonly UnplacedPod[];
  readonly #ledgerHeld: Set<string>;

  constructor(
    slots: Map<string, Slot>,
    pools: Map<string, PoolInput>,
    seen: Map<string, Map<string, PodState>>,
    unplaced: UnplacedPod[],
    ledgerHeld: Set<string>,
  ) {
    this.#ledgerHeld = ledgerHeld;
    this.#slots = slots;
    this.#pools = pools;
    this.#seen = seen;
    this.#unplaced = Object.freeze(unplaced);
  }

  hasMember(member: string) {
    return this.#seen.has(member);
  }
  pool(name: string) {
    return this.#pools.get(name);
  }
  podState(member: string, key: string) {
    return this.#seen.get(member)?.get(key);
  }
  podKeys(member: string): ReadonlySet<string> {
    return new Set(this.#seen.get(member)?.keys());
  }
  unplaceablePending() {
    return this.#unplaced;
  }
  leftToLedger(member: string, key: string): boolean {
    return this.#ledgerHeld.has(`${member}\u0000${key}`);
  }
  free(member: string, node: string, resourceName: string): number {
    const s = this.#slots.get(slotKey(member, node, resourceName));
    return s ? slotFree(s) : 0;
  }

  nodes(filter: { member?: string; pool?: string } = {}): NodeSlot[] {
    const out: NodeSlot[] = [];
    for (const { open: _, ...s } of this.#slots.values()) {
      if (filter.member !== undefined && s.member !== filter.member) continue;
      if (filter.pool !== undefined && !s.pools.includes(filter.pool)) continue;
      out.push({ ...s, pools: [...s.pools], free: slotFree(s) });
    }
    return out.sort((a, b) => cmp(a.member, b.member) || cmp(a.node, b.node) || cmp(a.resourceName, b.resourceName));
  }

  pools(): PoolSummary[] {
    return [...this.#pools.values()]
      .sort((a, b) => cmp(a.name, b.name))
      .map((p) => {
        const slots = this.nodes({ member: p.member, pool: p.name });
        const classes = new Map<string, ClassSummary>();
        for (const s of slots) {
          const { member: _m, node: _n, pools: _p, pending: _q, blocked: _b, ...cls } = s;
          const c = classes.get(classKey(s)) ?? {
            ...cls,
            nodes: 0,
            allocatable: 0,
            used: 0,
            assumed: 0,
            free: 0,
            largestFreeBlock: 0,
          };
          c.nodes++;
          c.allocatable += s.allocatable;
          c.used += s.used;
          c.assumed += s.assumed;
          c.free += s.free;
          c.largestFreeBlock = Math.max(c.largestFreeBlock, s.free);
          classes.set(classKey(s), c);
        }
        const names = new Set(slots.map((s) => s.node));
        return {
          name: p.name,
          member: p.member,
          memberAvailable: this.hasMember(p.member),
          nodes: names.size,
          schedulableNodes: new Set(slots.filter((s) => s.allocatable > 0).map((s) => s.node)).size,
          classes: [...classes.entries()].sort(([a], [b]) => cmp(a, b)).map(([, c]) => c),
        };
      });
  }

  /** Slots by member, pool and class, sorted by node: made on first use (the slots' set never changes). */
  #byClass: Map<string, Slot[]> | undefined;

  tightest(member: string, pool: string, cls: NodeClass, gpus: number): string | undefined {
    if (!this.#byClass) {
      this.#byClass = new Map();
      const sorted = [...this.#slots.values()].sort((a, b) => cmp(a.node, b.node));
      for (const s of sorted) {
        for (const p of s.pools) {
          const k = [s.member, p, classKey(s)].join('\u0001');
          const list = this.#byClass.get(k);
          if (list) list.push(s);
          else this.#byClass.set(k, [s]);
        }
      }
    }
    let best: { node: string; free: number } | undefined;
    for (const s of this.#byClass.get([member, pool, classKey(cls)].join('\u0001')) ?? []) {
      const free = slotFree(s);
      if (free >= gpus && (!best || free < best.free)) best = { node: s.node, free };
    }
    return best?.node;
  }

  assume(member: string, node: string, resourceName: string, gpus: number): () => void {
    const s = this.#slots.get(slotKey(member, node, resourceName));
    if (!s) return () => {};
    s.assumed += gpus;
    let undone = false;
    return () => {
      if (!undone) {
        undone = true;
        s.assumed -= gpus;
      }
    };
  }
}
