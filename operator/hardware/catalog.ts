// Known NVIDIA data-centre GPUs: the names GPU Feature Discovery gives them, their
// PCI device ids (NFD labels `feature.node.kubernetes.io/pci-0302_10de_<id>.present`)
// and the model-named resources of the sandbox device plugin. Confidential GPU nodes
// have no GFD labels, so these ids and names are how the hub learns their model.
// One catalog for the operator and the simulated clusters alike.

export interface GpuModel {
  /** GFD `nvidia.com/gpu.product`: the marketing name with spaces as dashes. */
  readonly product: string;
  /** GFD `nvidia.com/gpu.memory`, MiB. */
  readonly memoryMiB: number;
  readonly family: string;
  readonly computeMajor: number;
  readonly computeMinor: number;
  /** PCI device id (vendor 10de), lower-case hex. */
  readonly pciDevice: string;
  /** The sandbox device plugin's model-named resource (its `pgpu` alias is the GPU Operator's default). */
  readonly sandboxResource: string;
  /** Supports confidential computing (Hopper and later). */
  readonly ccCapable: boolean;
  readonly machine: string;
}

export const gpuModels = {
  H100: {
    product: 'NVIDIA-H100-80GB-HBM3',
    memoryMiB: 81559,
    family: 'hopper',
    computeMajor: 9,
    computeMinor: 0,
    pciDevice: '2330',
    sandboxResource: 'nvidia.com/GH100_H100_SXM5_80GB',
    ccCapable: true,
    machine: 'PowerEdge-XE9680',
  },
  // Values from the real H200 capture in shared/reference/gpu (device id 0x2335, 143771 MiB).
  H200: {
    product: 'NVIDIA-H200',
    memoryMiB: 143771,
    family: 'hopper',
    computeMajor: 9,
    computeMinor: 0,
    pciDevice: '2335',
    sandboxResource: 'nvidia.com/GH100_H200_SXM_141GB',
    ccCapable: true,
    machine: 'PowerEdge-XE9680',
  },
  A100: {
    product: 'NVIDIA-A100-SXM4-80GB',
    memoryMiB: 81920,
    family: 'ampere',
    computeMajor: 8,
    computeMinor: 0,
    pciDevice: '20b2',
    sandboxResource: 'nvidia.com/GA100_A100_SXM4_80GB',
    ccCapable: false,
    machine: 'DGX-A100',
  },
  L4: {
    product: 'NVIDIA-L4',
    memoryMiB: 23034,
    family: 'ada-lovelace',
    computeMajor: 8,
    computeMinor: 9,
    pciDevice: '27b8',
    sandboxResource: 'nvidia.com/AD104GL_L4',
    ccCapable: false,
    machine: 'PowerEdge-R760',
  },
} as const satisfies Record<string, GpuModel>;

export type GpuModelName = keyof typeof gpuModels;

export function isGpuModelName(s: string): s is GpuModelName {
  return Object.hasOwn(gpuModels, s);
}

const models: readonly GpuModel[] = Object.values(gpuModels);

export function modelByPciDevice(id: string): GpuModel | undefined {
  return models.find((m) => m.pciDevice === id.toLowerCase());
}

export function modelBySandboxResource(resource: string): GpuModel | undefined {
  return models.find((m) => m.sandboxResource === resource);
}

export function modelByProduct(product: string): GpuModel | undefined {
  return models.find((m) => m.product === product);
}

/** The driver the simulated GPU Operator reports (as on the real H200 host). */
export const simulatedDriver = { major: 580, minor: 159, rev: '04', cudaMajor: 13, cudaMinor: 0 } as const;
