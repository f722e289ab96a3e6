// Label keys and resource names that NVIDIA's GPU Operator, GPU Feature Discovery,
// Node Feature Discovery and kata-deploy put on nodes. Written once, here.
export const labels = {
  gpuProduct: 'nvidia.com/gpu.product',
  gpuMemory: 'nvidia.com/gpu.memory',
  gpuCount: 'nvidia.com/gpu.count',
  gpuFamily: 'nvidia.com/gpu.family',
  workloadConfig: 'nvidia.com/gpu.workload.config',
  ccMode: 'nvidia.com/cc.mode',
  ccModeState: 'nvidia.com/cc.mode.state',
  ccReadyState: 'nvidia.com/cc.ready.state',
  kataRuntime: 'katacontainers.io/kata-runtime',
  snp: 'amd.feature.node.kubernetes.io/snp',
  tdx: 'intel.feature.node.kubernetes.io/tdx',
  region: 'topology.kubernetes.io/region',
  zone: 'topology.kubernetes.io/zone',
} as const;

export const resources = {
  /** The GPU device plugin's resource (container mode). */
  gpu: 'nvidia.com/gpu',
  /** The sandbox device plugin's default alias (vm-passthrough mode). */
  pgpu: 'nvidia.com/pgpu',
} as const;

/** `feature.node.kubernetes.io/pci-0302_10de_2335.present` → `2335` (class 0302 = 3D controller, vendor 10de = NVIDIA). */
export const nfdNvidiaPciLabel = /^feature\.node\.kubernetes\.io\/pci-03(?:00|02)_10de_([0-9a-f]{4})\.present$/;

/** The sandbox device plugin's model-named resources, e.g. `nvidia.com/GH100_H100_SXM5_80GB`. */
export const sandboxModelResource =
  /^nvidia\.com\/G[A-Z]?\d{2,3}[A-Z]*_[A-Za-z0-9_]+$|^nvidia\.com\/AD\d{3}[A-Z]*_[A-Za-z0-9_]+$/;

/**
 * Tolerations every pod the operator places carries, for the taints GPU node pools
 * commonly have (GKE adds `nvidia.com/gpu=present:NoSchedule` itself; EKS and AKS guides
 * use `nvidia.com/gpu` or `sku=gpu`). Capacity counts a tainted node only when these
 * tolerate all its NoSchedule/NoExecute taints, so what the pool reports is what a
 * placed pod can actually use.
 */
export const gpuTolerations = [
  { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'sku', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' },
] as const satisfies ReadonlyArray<{ key: string; operator: 'Exists' | 'Equal'; value?: string; effect: string }>;
