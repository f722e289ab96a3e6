// Pure builders for the simulated clusters' Nodes and RuntimeClasses. They mirror
// what NVIDIA's GPU Operator, Node Feature Discovery and kata-deploy put on real
// nodes, in the GPU Operator's two modes:
//  - container: the GPU device plugin advertises `nvidia.com/gpu`, GFD labels the model;
//  - vm-passthrough (Confidential Containers): the sandbox device plugin advertises
//    `nvidia.com/pgpu` (or a model-named resource); GFD does not run there, so such
//    nodes carry no `nvidia.com/gpu.product` — only NFD's PCI labels and `nvidia.com/cc.*`.
import { simulatedDriver as driver, gpuModels, type GpuModelName } from '../../operator/hardware/catalog.ts';

export type NodeTemplate = 'cpu' | 'gpu-container' | 'gpu-confidential';
export type Tee = 'snp' | 'tdx';

export interface NodeGroup {
  template: NodeTemplate;
  count: number;
  gpu?: GpuModelName;
  gpusPerNode?: number;
  tee?: Tee;
  /** Confidential nodes only: `pgpu` (the GPU Operator's default alias) or `model` (model-named resource). */
  resourceName?: 'pgpu' | 'model';
  /** Confidential nodes only: false models a CC-capable GPU whose CC mode is off / not ready. */
  ccReady?: boolean;
  zone?: string;
  /** Extra labels, e.g. to let a test select its own nodes. */
  labels?: Record<string, string>;
  /** Taints as real GPU node pools carry them (GKE: nvidia.com/gpu=present:NoSchedule). */
  taints?: Array<{ key: string; value?: string; effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule' }>;
  /** How many of the group's nodes (the first ones) get `taints` (default: all). */
  tainted?: number;
}

export interface NodeManifest {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: Record<string, unknown>;
  status: { capacity: Record<string, string>; allocatable: Record<string, string>; nodeInfo: Record<string, string> };
}

const kwokAnnotation = { 'kwok.x-k8s.io/node': 'fake' };

/** Builds `group.count` nodes named `<prefix>-<template>-<gpu>-<i>`; region/zone are topology labels. */
export function buildNodes(prefix: string, group: NodeGroup, region: string, defaultZone: string): NodeManifest[] {
  const out: NodeManifest[] = [];
  const zone = group.zone ?? defaultZone;
  for (let i = 0; i < group.count; i++) {
    const kind =
      group.template === 'cpu'
        ? 'cpu'
        : `${group.template === 'gpu-container' ? 'gpu' : `cc${group.tee ?? 'snp'}`}-${(group.gpu ?? 'H100').toLowerCase()}`;
    const name = `${prefix}-${kind}-${i}`;
    const tainted = i < (group.tainted ?? group.count);
    out.push(buildNode(name, tainted ? group : { ...group, taints: [] }, region, zone));
  }
  return out;
}

function buildNode(name: string, g: NodeGroup, region: string, zone: string): NodeManifest {
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'topology.kubernetes.io/region': region,
    'topology.kubernetes.io/zone': zone,
    type: 'kwok',
    ...g.labels,
  };
  const resources: Record<string, string> = { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '1Ti' };
  if (g.template !== 'cpu') {
    const m = gpuModels[g.gpu ?? 'H100'];
    const n = g.gpusPerNode ?? 8;
    Object.assign(resources, { cpu: '192', memory: '2Ti' });
    labels['node.kubernetes.io/instance-type'] = `sim-${(g.gpu ?? 'H100').toLowerCase()}x${n}`;
    labels['nvidia.com/gpu.present'] = 'true';
    labels[`feature.node.kubernetes.io/pci-0302_10de_${m.pciDevice}.present`] = 'true';
    labels['feature.node.kubernetes.io/pci-10de.present'] = 'true';
    if (g.template === 'gpu-container') {
      Object.assign(labels, {
        'nvidia.com/gpu.workload.config': 'container',
        'nvidia.com/gpu.deploy.device-plugin': 'true',
        'nvidia.com/gpu.deploy.gpu-feature-discovery': 'true',
        'nvidia.com/gpu.product': m.product,
        'nvidia.com/gpu.count': String(n),
        'nvidia.com/gpu.memory': String(m.memoryMiB),
        'nvidia.com/gpu.family': m.family,
        'nvidia.com/gpu.compute.major': String(m.computeMajor),
        'nvidia.com/gpu.compute.minor': String(m.computeMinor),
        'nvidia.com/gpu.machine': m.machine,
        'nvidia.com/gpu.replicas': '1',
        'nvidia.com/gpu.sharing-strategy': 'none',
        'nvidia.com/mig.capable': String(m.family === 'hopper' || m.family === 'ampere'),
        'nvidia.com/mig.strategy': 'single',
        'nvidia.com/cuda.driver.major': String(driver.major),
        'nvidia.com/cuda.driver.minor': String(driver.minor),
        'nvidia.com/cuda.driver.rev': driver.rev,
        'nvidia.com/cuda.runtime.major': String(driver.cudaMajor),
        'nvidia.com/cuda.runtime.minor': String(driver.cudaMinor),
      });
      resources['nvidia.com/gpu'] = String(n);
    } else {
      const tee = g.tee ?? 'snp';
      const ready = g.ccReady ?? true;
      Object.assign(labels, {
        'nvidia.com/gpu.workload.config': 'vm-passthrough',
        'nvidia.com/gpu.deploy.sandbox-device-plugin': 'true',
        'nvidia.com/gpu.deploy.vfio-manager': 'true',
        'nvidia.com/gpu.deploy.cc-manager': 'true',
        'nvidia.com/cc.capable': 'true',
        'nvidia.com/cc.mode': ready ? 'on' : 'off',
        'nvidia.com/cc.mode.state': ready ? 'on' : 'off',
        'nvidia.com/cc.ready.state': String(ready),
        'katacontainers.io/kata-runtime': 'true',
      });
      labels[tee === 'snp' ? 'amd.feature.node.kubernetes.io/snp' : 'intel.feature.node.kubernetes.io/tdx'] = 'true';
      resources[g.resourceName === 'model' ? m.sandboxResource : 'nvidia.com/pgpu'] = String(n);
    }
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels, annotations: { ...kwokAnnotation, 'node.alpha.kubernetes.io/ttl': '0' } },
    spec: g.taints?.length ? { taints: g.taints.map((t) => ({ ...t })) } : {},
    status: {
      capacity: resources,
      allocatable: { ...resources },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'fake',
        containerRuntimeVersion: 'containerd://2.1.0',
      },
    },
  };
}

/**
 * The RuntimeClasses kata-deploy installs for Confidential Containers, with its pod
 * overheads; the per-TEE node selectors are those of the NVIDIA CoCo deployment guide.
 */
export function runtimeClasses(): Array<Record<string, unknown>> {
  const rc = (name: string, memory: string, cpu: string, selector: Record<string, string>) => ({
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'kata-deploy', 'kata-deploy/instance': 'default' } },
    handler: name,
    overhead: { podFixed: { memory, cpu } },
    scheduling: { nodeSelector: { 'katacontainers.io/kata-runtime': 'true', ...selector } },
  });
  return [
    rc('kata-qemu-nvidia-gpu-snp', '10240Mi', '1.0', {
      'amd.feature.node.kubernetes.io/snp': 'true',
      'nvidia.com/cc.ready.state': 'true',
    }),
    rc('kata-qemu-nvidia-gpu-tdx', '10240Mi', '1.0', {
      'intel.feature.node.kubernetes.io/tdx': 'true',
      'nvidia.com/cc.ready.state': 'true',
    }),
    rc('kata-qemu-coco-dev', '160Mi', '250m', {}),
  ];
}

/**
 * On every node of a cluster's shape (not on nodes a test adds): a test's own pods select it, so they never land
 * on, and use the GPUs of, the nodes another test file running beside it made for its pools.
 */
export const SHAPE_LABEL = 'nvdax.io/sim-shape';

/** Every object a simulated cluster of this shape starts with: RuntimeClasses, then nodes. */
export function clusterObjects(
  cluster: string,
  shape: { region: string; nodes: NodeGroup[] },
): Array<Record<string, unknown>> {
  const nodes = shape.nodes.flatMap((g) =>
    buildNodes(cluster, { ...g, labels: { ...g.labels, [SHAPE_LABEL]: 'true' } }, shape.region, `${shape.region}-a`),
  );
  return [...runtimeClasses(), ...(nodes as unknown as Array<Record<string, unknown>>)];
}
