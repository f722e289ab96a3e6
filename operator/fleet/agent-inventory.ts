// The inventory a pool agent publishes in its ProviderPool's status (status.agent), and its
// reading on the hub — pure, no I/O. The agent folds its cluster's nodes, pods and RuntimeClasses
// into what the capacity code and the placement snapshot read: the pool's GPU nodes with only the
// labels that decide GPU class, confidential readiness and pool membership (each distinct label set
// once), GPUs held per node by pods that are not ours as one count, and our pods (slot-group
// label) one by one so the hub's reservation ledger can match them. The hub expands it back into
// node, pod and RuntimeClass views that the same pure code reads as it reads a member's caches.
import type { AgentNode, AgentPod, AgentStatus } from '../api/types.gen.ts';
import { labels as hw, nfdNvidiaPciLabel } from '../hardware/labels.ts';
import { slotGroupLabel } from '../scheduling/snapshot.ts';
import type { NodeView, PodView, RuntimeClassView } from './capacity.ts';
import { count, isGpuResource, podRequest, selectorMatches, terminal } from './capacity.ts';

export type AgentInventory = Required<Pick<AgentStatus, 'labelSets' | 'nodes' | 'pods' | 'runtimeClasses'>>;

/** Label keys the hub reads of a node, besides the pool's node selector and RuntimeClass selectors. */
const kept = (k: string) =>
  k.startsWith('nvidia.com/') ||
  nfdNvidiaPciLabel.test(k) ||
  k === hw.kataRuntime ||
  k === hw.snp ||
  k === hw.tdx ||
  k === hw.region ||
  k === hw.zone ||
  k.startsWith('kata-deploy.katacontainers.io/');

/** The GPU resources of a resource list, as counts. */
function gpuCounts(list: Record<string, string> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [r, q] of Object.entries(list ?? {})) if (isGpuResource(r) && count(q) > 0) out[r] = count(q);
  return out;
}

const nonEmpty = (m: Record<string, number>) => Object.keys(m).length > 0;
const sortedObject = <V>(m: Record<string, V>): Record<string, V> =>
  Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * The inventory of the nodes `nodeSelector` picks that have GPUs. Deterministic (sorted), so an
 * unchanged cluster gives an equal inventory and costs no write.
 */
export function buildInventory(
  nodes: readonly NodeView[],
  pods: readonly PodView[],
  runtimeClasses: readonly RuntimeClassView[],
  nodeSelector?: Record<string, string>,
): AgentInventory {
  const selectorKeys = new Set([
    ...Object.keys(nodeSelector ?? {}),
    ...runtimeClasses.flatMap((rc) => Object.keys(rc.scheduling?.nodeSelector ?? {})),
  ]);
  const mine = nodes
    .filter((n) => selectorMatches(nodeSelector, n.metadata?.labels) && nonEmpty(gpuCounts(n.status?.capacity)))
    .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
  const names = new Set(mine.map((n) => n.metadata?.name ?? ''));
  const used = new Map<string, Record<string, number>>();
  const ours: AgentPod[] = [];
  for (const p of pods) {
    if (terminal(p)) continue;
    const group = p.metadata?.labels?.[slotGroupLabel];
    const node = p.spec?.nodeName;
    const requests: Record<string, number> = {};
    for (const c of [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])]) {
      for (const r of Object.keys({ ...c.resources?.requests, ...c.resources?.limits })) {
        if (isGpuResource(r) && requests[r] === undefined) {
          const n = podRequest(p, r);
          if (n > 0) requests[r] = n;
        }
      }
    }
    if (group) {
      ours.push({
        namespace: p.metadata?.namespace ?? '',
        name: p.metadata?.name ?? '',
        slotGroup: group,
        ...(node ? { node } : {}),
        ...(p.status?.phase ? { phase: p.status.phase } : {}),
        ...(nonEmpty(requests) ? { requests: sortedObject(requests) } : {}),
      });
      continue;
    }
    if (!node || !names.has(node) || !nonEmpty(requests)) continue;
    const u = used.get(node) ?? {};
    for (const [r, n] of Object.entries(requests)) u[r] = (u[r] ?? 0) + n;
    used.set(node, u);
  }
  const labelSets: Array<Record<string, string>> = [];
  const setIndex = new Map<string, number>();
  const out: AgentNode[] = mine.map((n) => {
    const l = sortedObject(
      Object.fromEntries(Object.entries(n.metadata?.labels ?? {}).filter(([k]) => kept(k) || selectorKeys.has(k))),
    );
    const id = JSON.stringify(l);
    let i = setIndex.get(id);
    if (i === undefined) {
      i = labelSets.length;
      labelSets.push(l);
      setIndex.set(id, i);
    }
    const taints = (n.spec?.taints ?? [])
      .filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
      .map((t) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect }));
    const name = n.metadata?.name ?? '';
    const u = used.get(name);
    return {
      name,
      labelSet: i,
      ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      ...(n.spec?.unschedulable ? { unschedulable: true } : {}),
      ...(taints.length ? { taints } : {}),
      capacity: sortedObject(gpuCounts(n.status?.capacity)),
      allocatable: sortedObject(gpuCounts(n.status?.allocatable ?? n.status?.capacity)),
      ...(u ? { used: sortedObject(u) } : {}),
    };
  });
  ours.sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  return {
    labelSets,
    nodes: out,
    pods: ours,
    runtimeClasses: runtimeClasses
      .map((rc) => ({
        name: rc.metadata?.name ?? '',
        ...(rc.scheduling?.nodeSelector ? { nodeSelector: sortedObject(rc.scheduling.nodeSelector) } : {}),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

const strings = (m: Record<string, number> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]));

/** Prefix of the name of the pod that stands for a node's GPUs held by pods other than ours. */
export const usedPodPrefix = '~used/';

/** The inventory as node, pod and RuntimeClass views, as the capacity code and the snapshot read them. */
export function expandInventory(inv: Partial<AgentInventory> | undefined): {
  nodes: NodeView[];
  pods: PodView[];
  runtimeClasses: RuntimeClassView[];
} {
  const sets = inv?.labelSets ?? [];
  const nodes: NodeView[] = (inv?.nodes ?? []).map((n) => ({
    metadata: { name: n.name, labels: { ...(sets[n.labelSet ?? -1] ?? {}) } },
    spec: {
      ...(n.unschedulable ? { unschedulable: true } : {}),
      ...(n.taints?.length ? { taints: n.taints.map((t) => ({ ...t })) } : {}),
    },
    status: {
      capacity: strings(n.capacity),
      allocatable: strings(n.allocatable),
      conditions: [{ type: 'Ready', status: n.ready ? 'True' : 'False' }],
    },
  }));
  const pods: PodView[] = [];
  for (const n of inv?.nodes ?? []) {
    if (!n.used || !nonEmpty(n.used)) continue;
    pods.push({
      metadata: { name: `${usedPodPrefix}${n.name}`, namespace: '' },
      spec: { nodeName: n.name, containers: [{ resources: { requests: strings(n.used) } }] },
      status: { phase: 'Running' },
    });
  }
  for (const p of inv?.pods ?? []) {
    pods.push({
      metadata: {
        name: p.name,
        namespace: p.namespace,
        ...(p.slotGroup ? { labels: { [slotGroupLabel]: p.slotGroup } } : {}),
      },
      spec: {
        ...(p.node ? { nodeName: p.node } : {}),
        containers: [{ resources: { requests: strings(p.requests) } }],
      },
      status: { ...(p.phase ? { phase: p.phase } : {}) },
    });
  }
  const runtimeClasses: RuntimeClassView[] = (inv?.runtimeClasses ?? []).map((rc) => ({
    metadata: { name: rc.name },
    ...(rc.nodeSelector ? { scheduling: { nodeSelector: { ...rc.nodeSelector } } } : {}),
  }));
  return { nodes, pods, runtimeClasses };
}
