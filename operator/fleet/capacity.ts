// Pool capacity from a member cluster's nodes, pods and RuntimeClasses — pure, no I/O.
// Container GPU nodes are counted from GFD labels and `nvidia.com/gpu`; confidential
// GPU nodes (no GFD labels there) from the sandbox device plugin's resource
// (`nvidia.com/pgpu` or a model-named one) with the model taken from NFD's PCI label.
import { gpuTolerations, labels, nfdNvidiaPciLabel, resources, sandboxModelResource } from '../hardware/labels.ts';
import { modelByPciDevice, modelByProduct, modelBySandboxResource } from '../hardware/catalog.ts';
import { formatTaint, untoleratedTaint, type Toleration } from './taints.ts';

/** The parts of a Node, Pod and RuntimeClass read here (client-node's V1 types satisfy them). */
export interface NodeView {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: Array<{ key: string; effect: string; value?: string }> };
  status?: {
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    conditions?: Array<{ type: string; status: string }>;
  };
}
export interface PodView {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    containers: Array<{ resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }>;
    initContainers?: Array<{ resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }>;
  };
  status?: { phase?: string; nominatedNodeName?: string };
}
export interface RuntimeClassView {
  metadata?: { name?: string };
  scheduling?: { nodeSelector?: Record<string, string> };
}

export type GpuMode = 'container' | 'confidential';
export type Tee = 'snp' | 'tdx';

export interface ProductCapacity {
  product: string;
  mode: GpuMode;
  /** The extended resource a pod requests to get these GPUs. */
  resourceName: string;
  memoryMiB?: number;
  nodes: number;
  total: number;
  allocatable: number;
  inUse: number;
  available: number;
  /** Most GPUs free on one node: the largest job that fits without spanning nodes. */
  largestFreeBlock: number;
  /** TEEs of the CC-ready nodes among these (confidential mode); empty when none is ready. */
  tees: Tee[];
}

export interface ConfidentialSummary {
  /** Nodes whose GPUs are in CC mode and ready, on an SNP or TDX host with the kata runtime. */
  readyNodes: number;
  /** Nodes with CC-capable GPUs whose CC mode is not on/ready. */
  notReadyNodes: number;
  tees: Tee[];
  /** RuntimeClasses present in the cluster whose node selector matches at least one ready CC node. */
  usableRuntimeClasses: string[];
  /** Confidential RuntimeClasses present but matching no ready node (named for the condition message). */
  unusableRuntimeClasses: string[];
}

export interface PoolCapacity {
  nodes: number;
  readyNodes: number;
  capacity: ProductCapacity[];
  confidential: ConfidentialSummary;
}

export const isGpuResource = (r: string) => r === resources.gpu || r === resources.pgpu || sandboxModelResource.test(r);

/** Integer quantity of a countable extended resource ("8"); other forms count as 0. */
export function count(q: string | undefined): number {
  if (q === undefined) return 0;
  const n = Number(q);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0;
}

export function selectorMatches(
  selector: Record<string, string> | undefined,
  nodeLabels: Record<string, string> | undefined,
): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => nodeLabels?.[k] === v);
}

export function nodeReady(n: NodeView): boolean {
  return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Why pods with `tolerations` (the placed pods') cannot land on `n`: NotReady, Cordoned or an untolerated taint. */
export function unschedulableReason(
  n: NodeView,
  tolerations: readonly Toleration[] = gpuTolerations,
): string | undefined {
  if (!nodeReady(n)) return 'NotReady';
  if (n.spec?.unschedulable) return 'Cordoned';
  const taint = untoleratedTaint(n.spec?.taints, tolerations);
  return taint ? `taint ${formatTaint(taint)}` : undefined;
}

/** Ready, not cordoned, and every scheduling taint tolerated by `tolerations` (the placed pods'). */
export function schedulable(n: NodeView, tolerations: readonly Toleration[] = gpuTolerations): boolean {
  return unschedulableReason(n, tolerations) === undefined;
}

/** A pod's effective request for a resource: max(sum of containers, any init container), limits when no request. */
export function podRequest(pod: PodView, resource: string): number {
  const of = (c: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }) =>
    count(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]);
  const main = (pod.spec?.containers ?? []).reduce((a, c) => a + of(c), 0);
  const init = Math.max(0, ...(pod.spec?.initContainers ?? []).map(of));
  return Math.max(main, init);
}

export const terminal = (p: PodView) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export function productOf(n: NodeView, resource: string): { product: string; mode: GpuMode; memoryMiB?: number } {
  const l = n.metadata?.labels ?? {};
  if (resource === resources.gpu) {
    const product = l[labels.gpuProduct] ?? 'unknown';
    const memoryMiB = Number(l[labels.gpuMemory]) || modelByProduct(product)?.memoryMiB;
    return memoryMiB ? { product, mode: 'container', memoryMiB } : { product, mode: 'container' };
  }
  let model = modelBySandboxResource(resource);
  if (!model) {
    for (const k of Object.keys(l)) {
      const m = nfdNvidiaPciLabel.exec(k);
      if (m?.[1] && l[k] === 'true') {
        model = modelByPciDevice(m[1]);
        if (model) break;
      }
    }
  }
  return model
    ? { product: model.product, mode: 'confidential', memoryMiB: model.memoryMiB }
    : { product: `unknown (${resource})`, mode: 'confidential' };
}

export function ccReady(n: NodeView): Tee | undefined {
  const l = n.metadata?.labels ?? {};
  if (l[labels.ccReadyState] !== 'true' || l[labels.kataRuntime] !== 'true') return undefined;
  if (l[labels.snp] === 'true') return 'snp';
  if (l[labels.tdx] === 'true') return 'tdx';
  return undefined;
}

/** kata-deploy's development runtime: a Kata VM with no TEE behind it (no SNP/TDX, no GPU CC). */
export const isDevelopmentRuntimeClass = (name: string) => /coco-dev/.test(name);

/**
 * Runtime classes that give a pod a TEE. `kata-qemu-coco-dev` runs the Confidential
 * Containers stack without hardware protection, so it counts only for a pool explicitly
 * marked as a development pool.
 */
export function isConfidentialRuntimeClass(name: string, development = false): boolean {
  if (isDevelopmentRuntimeClass(name)) return development;
  return /nvidia-gpu-(snp|tdx)|-(snp|tdx)$|coco/.test(name);
}

/** How a pool's capacity is computed. */
export interface CapacityOptions {
  /** Labels a node needs to belong to the pool. */
  nodeSelector?: Record<string, string> | undefined;
  /** Tolerations of the pods the operator places (default: gpuTolerations). */
  tolerations?: readonly Toleration[];
  /** A development pool: TEE-less Confidential Containers runtimes (coco-dev) count as confidential. */
  development?: boolean;
}

/**
 * Computes a pool's capacity. `nodeSelector` restricts which nodes belong to the pool;
 * pods count against a node when bound to it and not terminal; a tainted node counts as
 * allocatable only when the operator's tolerations cover its taints.
 */
export function computeCapacity(
  nodes: readonly NodeView[],
  pods: readonly PodView[],
  runtimeClasses: readonly RuntimeClassView[],
  opts: CapacityOptions = {},
): PoolCapacity {
  const { nodeSelector, tolerations = gpuTolerations, development = false } = opts;
  const mine = nodes.filter((n) => selectorMatches(nodeSelector, n.metadata?.labels));
  const names = new Set(mine.map((n) => n.metadata?.name));
  const podsByNode = new Map<string, PodView[]>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node || !names.has(node) || terminal(p)) continue;
    const list = podsByNode.get(node) ?? [];
    list.push(p);
    podsByNode.set(node, list);
  }
  const entries = new Map<string, ProductCapacity>();
  const tees = new Set<Tee>();
  const readyCcNodes: NodeView[] = [];
  let notReadyCc = 0;
  for (const n of mine) {
    const l = n.metadata?.labels ?? {};
    const tee = nodeReady(n) ? ccReady(n) : undefined;
    if (tee) {
      readyCcNodes.push(n);
      tees.add(tee);
    } else if (l['nvidia.com/cc.capable'] === 'true' || l[labels.workloadConfig] === 'vm-passthrough') notReadyCc++;
    for (const [resource, q] of Object.entries(n.status?.capacity ?? {})) {
      if (!isGpuResource(resource) || count(q) === 0) continue;
      const info = productOf(n, resource);
      const key = `${info.product}\u0000${info.mode}\u0000${resource}`;
      const e = entries.get(key) ?? {
        ...info,
        resourceName: resource,
        nodes: 0,
        total: 0,
        allocatable: 0,
        inUse: 0,
        available: 0,
        largestFreeBlock: 0,
        tees: [],
      };
      if (info.mode === 'confidential' && tee && !e.tees.includes(tee)) e.tees = [...e.tees, tee].sort();
      const alloc = schedulable(n, tolerations) ? count(n.status?.allocatable?.[resource] ?? q) : 0;
      const used = (podsByNode.get(n.metadata?.name ?? '') ?? []).reduce((a, p) => a + podRequest(p, resource), 0);
      const free = Math.max(0, alloc - used);
      e.nodes++;
      e.total += count(q);
      e.allocatable += alloc;
      e.inUse += used;
      e.available += free;
      e.largestFreeBlock = Math.max(e.largestFreeBlock, free);
      entries.set(key, e);
    }
  }
  const ccClasses = runtimeClasses.filter((rc) => isConfidentialRuntimeClass(rc.metadata?.name ?? '', development));
  const usable = ccClasses.filter((rc) =>
    readyCcNodes.some((n) => selectorMatches(rc.scheduling?.nodeSelector, n.metadata?.labels)),
  );
  const name = (rc: RuntimeClassView) => rc.metadata?.name ?? '';
  return {
    nodes: mine.length,
    readyNodes: mine.filter(nodeReady).length,
    capacity: [...entries.values()].sort(
      (a, b) =>
        a.product.localeCompare(b.product) ||
        a.mode.localeCompare(b.mode) ||
        a.resourceName.localeCompare(b.resourceName),
    ),
    confidential: {
      readyNodes: readyCcNodes.length,
      notReadyNodes: notReadyCc,
      tees: [...tees].sort(),
      usableRuntimeClasses: usable.map(name).sort(),
      unusableRuntimeClasses: ccClasses
        .filter((rc) => !usable.includes(rc))
        .map(name)
        .sort(),
    },
  };
}
