import test from 'ava';
import { computeCapacity, podRequest, type NodeView, type PodView } from '../../../operator/fleet/capacity.ts';
import { buildNodes, runtimeClasses, type NodeGroup } from '../../../hack/sim/nodes.ts';

const ready = <T extends NodeView>(n: T): T => ({
  ...n,
  status: { ...n.status, conditions: [{ type: 'Ready', status: 'True' }] },
});
const nodes = (prefix: string, g: NodeGroup) => buildNodes(prefix, g, 'eu-west', 'eu-west-a').map(ready);
const pod = (nodeName: string, resource: string, n: number, phase = 'Running', init = 0): PodView => ({
  metadata: { name: `p-${nodeName}-${n}`, namespace: 'x' },
  spec: {
    nodeName,
    containers: [{ resources: { limits: { [resource]: String(n) } } }],
    ...(init ? { initContainers: [{ resources: { requests: { [resource]: String(init) } } }] } : {}),
  },
  status: { phase },
});

test('container GPU nodes: product from GFD labels, in-use from non-terminal pods, largest free block per node', (t) => {
  const ns = nodes('a', { template: 'gpu-container', gpu: 'H100', count: 2 });
  const pods = [
    pod(ns[0]!.metadata.name, 'nvidia.com/gpu', 3),
    pod(ns[0]!.metadata.name, 'nvidia.com/gpu', 2),
    pod(ns[1]!.metadata.name, 'nvidia.com/gpu', 1),
    pod(ns[1]!.metadata.name, 'nvidia.com/gpu', 8, 'Succeeded'),
    pod('other-node', 'nvidia.com/gpu', 4),
  ];
  const c = computeCapacity(ns, pods, []);
  t.deepEqual(c.capacity, [
    {
      product: 'NVIDIA-H100-80GB-HBM3',
      mode: 'container',
      resourceName: 'nvidia.com/gpu',
      memoryMiB: 81559,
      nodes: 2,
      total: 16,
      allocatable: 16,
      inUse: 6,
      available: 10,
      largestFreeBlock: 7,
      tees: [],
    },
  ]);
  t.is(c.confidential.readyNodes, 0);
});

test('confidential nodes: no GFD labels, model from the NFD PCI label or the model-named resource', (t) => {
  const snp = nodes('b', { template: 'gpu-confidential', gpu: 'H100', tee: 'snp', count: 1 });
  const tdx = nodes('c', { template: 'gpu-confidential', gpu: 'H200', tee: 'tdx', resourceName: 'model', count: 1 });
  t.false('nvidia.com/gpu.product' in snp[0]!.metadata.labels, 'the sim must not invent GFD labels on CC nodes');
  const c = computeCapacity([...snp, ...tdx], [pod(snp[0]!.metadata.name, 'nvidia.com/pgpu', 1)], runtimeClasses());
  t.deepEqual(
    c.capacity.map((e) => [e.product, e.mode, e.resourceName, e.total, e.inUse, e.available]),
    [
      ['NVIDIA-H100-80GB-HBM3', 'confidential', 'nvidia.com/pgpu', 8, 1, 7],
      ['NVIDIA-H200', 'confidential', 'nvidia.com/GH100_H200_SXM_141GB', 8, 0, 8],
    ],
  );
  t.deepEqual(c.confidential.tees, ['snp', 'tdx']);
  // kata-qemu-coco-dev offers no TEE: not confidential on a production pool
  t.deepEqual(c.confidential.usableRuntimeClasses, ['kata-qemu-nvidia-gpu-snp', 'kata-qemu-nvidia-gpu-tdx']);
  const dev = computeCapacity([...snp, ...tdx], [], runtimeClasses(), { development: true });
  t.deepEqual(dev.confidential.usableRuntimeClasses, [
    'kata-qemu-coco-dev',
    'kata-qemu-nvidia-gpu-snp',
    'kata-qemu-nvidia-gpu-tdx',
  ]);
});

test('one product under two resource names (pgpu alias and model-named) gives two entries', (t) => {
  const named = nodes('m', { template: 'gpu-confidential', gpu: 'H200', tee: 'tdx', resourceName: 'model', count: 1 });
  const alias = nodes('n', { template: 'gpu-confidential', gpu: 'H200', tee: 'snp', count: 1 });
  const c = computeCapacity([...named, ...alias], [], runtimeClasses());
  t.deepEqual(
    c.capacity.map((e) => [e.product, e.mode, e.resourceName]),
    [
      ['NVIDIA-H200', 'confidential', 'nvidia.com/GH100_H200_SXM_141GB'],
      ['NVIDIA-H200', 'confidential', 'nvidia.com/pgpu'],
    ],
  );
});

test('CC-capable but not ready nodes are counted apart, carry no TEE and make no runtime usable', (t) => {
  const off = nodes('d', { template: 'gpu-confidential', gpu: 'H200', tee: 'snp', ccReady: false, count: 2 });
  const tdx = nodes('e', { template: 'gpu-confidential', gpu: 'H100', tee: 'tdx', count: 1 });
  t.deepEqual(
    computeCapacity([...off, ...tdx], [], runtimeClasses()).capacity.map((e) => [e.product, e.tees]),
    [
      ['NVIDIA-H100-80GB-HBM3', ['tdx']],
      ['NVIDIA-H200', []],
    ],
  );
  const c = computeCapacity(off, [], runtimeClasses());
  t.is(c.confidential.readyNodes, 0);
  t.is(c.confidential.notReadyNodes, 2);
  t.deepEqual(c.confidential.usableRuntimeClasses, []);
  t.true(c.confidential.unusableRuntimeClasses.includes('kata-qemu-nvidia-gpu-snp'));
});

test('a missing RuntimeClass leaves ready CC nodes without a usable runtime', (t) => {
  const snp = nodes('e', { template: 'gpu-confidential', gpu: 'H100', tee: 'snp', count: 1 });
  const c = computeCapacity(
    snp,
    [],
    runtimeClasses().filter((rc) => (rc['metadata'] as { name: string }).name !== 'kata-qemu-nvidia-gpu-snp'),
  );
  t.is(c.confidential.readyNodes, 1);
  t.false(c.confidential.usableRuntimeClasses.includes('kata-qemu-nvidia-gpu-snp'));
});

test('node selector restricts the pool; NotReady, cordoned and tainted nodes count in total but not allocatable', (t) => {
  const ns: NodeView[] = nodes('f', {
    template: 'gpu-container',
    gpu: 'L4',
    gpusPerNode: 4,
    count: 4,
    labels: { pool: 'p1' },
  });
  const other = nodes('g', { template: 'gpu-container', gpu: 'L4', gpusPerNode: 4, count: 1 });
  ns[1] = { ...ns[1]!, status: { ...ns[1]!.status, conditions: [{ type: 'Ready', status: 'Unknown' }] } };
  ns[2] = { ...ns[2]!, spec: { unschedulable: true } };
  ns[3] = { ...ns[3]!, spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] } };
  const c = computeCapacity([...ns, ...other], [], [], { nodeSelector: { pool: 'p1' } });
  t.is(c.nodes, 4);
  t.is(c.readyNodes, 3);
  t.like(c.capacity[0], { product: 'NVIDIA-L4', total: 16, allocatable: 4, available: 4, largestFreeBlock: 4 });
});

test('pod request: requests over limits, init containers take the max', (t) => {
  t.is(podRequest(pod('n', 'nvidia.com/gpu', 2, 'Running', 3), 'nvidia.com/gpu'), 3);
  t.is(podRequest(pod('n', 'nvidia.com/gpu', 2, 'Running', 1), 'nvidia.com/gpu'), 2);
  t.is(podRequest(pod('n', 'nvidia.com/gpu', 2), 'nvidia.com/pgpu'), 0);
});

test('a tainted node is allocatable only when the placed pods tolerate all its scheduling taints', (t) => {
  const gke = nodes('g', {
    template: 'gpu-container',
    gpu: 'H100',
    count: 1,
    taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
  });
  const team = nodes('d', {
    template: 'gpu-container',
    gpu: 'H100',
    count: 1,
    taints: [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }],
  });
  const soft = nodes('s', {
    template: 'gpu-container',
    gpu: 'H100',
    count: 1,
    taints: [{ key: 'dedicated', value: 'batch', effect: 'PreferNoSchedule' }],
  });
  const c = computeCapacity([...gke, ...team, ...soft], [], []);
  t.like(
    c.capacity[0],
    { nodes: 3, total: 24, allocatable: 16, available: 16 },
    'the team-tainted node is not allocatable',
  );
  const none = computeCapacity([...gke, ...team, ...soft], [], [], { tolerations: [] });
  t.like(none.capacity[0], { allocatable: 8 }, 'without tolerations only the PreferNoSchedule node counts');
  const all = computeCapacity([...gke, ...team, ...soft], [], [], { tolerations: [{ operator: 'Exists' }] });
  t.like(all.capacity[0], { allocatable: 24 }, 'an empty key with Exists tolerates everything');
});
