import test from 'ava';
import { buildSnapshot, slotKeys, type PodPin, type SnapshotInput } from '../../../operator/scheduling/snapshot.ts';
import { gpuTolerations } from '../../../operator/hardware/labels.ts';
import { built, node, pod } from './builders.ts';

type Builders = { nodes: Array<ReturnType<typeof node>>; pods?: Array<ReturnType<typeof pod>> };
const snap = ({ nodes, pods = [] }: Builders, opts: Partial<SnapshotInput> = {}) =>
  buildSnapshot({
    members: [{ name: 'gpu-a', nodes: built(nodes), pods: built(pods) }],
    pools: [{ name: 'p', member: 'gpu-a' }],
    ...opts,
  });
const free = (s: ReturnType<typeof snap>) => Object.fromEntries(s.nodes().map((n) => [n.node, n.free]));

test('bound pods count where bound; finished pods and pods on unknown nodes do not', (t) => {
  const s = snap({
    nodes: [node('a'), node('b')],
    pods: [
      pod('x/p1').gpus(3).on('a'),
      pod('x/p2').gpus(2).on('a'),
      pod('x/done').gpus(8).on('b').phase('Succeeded'),
      pod('x/elsewhere').gpus(4).on('gone'),
      pod('x/cpu').on('b'),
    ],
  });
  t.deepEqual(free(s), { a: 3, b: 8 });
  t.like(s.nodes()[0], {
    member: 'gpu-a',
    node: 'a',
    product: 'NVIDIA-H100-80GB-HBM3',
    mode: 'container',
    resourceName: 'nvidia.com/gpu',
    pools: ['p'],
    allocatable: 8,
    used: 5,
    pending: 0,
    assumed: 0,
    free: 3,
  });
  t.deepEqual([...s.podKeys('gpu-a')].sort(), ['x/cpu', 'x/done', 'x/elsewhere', 'x/p1', 'x/p2']);
  t.is(s.podState('gpu-a', 'x/done'), 'terminal');
  t.is(s.podState('gpu-a', 'x/p1'), 'bound');
  t.is(s.podState('gpu-b', 'x/p1'), undefined);
});

// Nodes a (8 free) and b (4 of 8 used): a pending pod goes where the scheduler will put it.
const pending = test.macro({
  exec(
    t,
    pods: Array<ReturnType<typeof pod>>,
    want: Record<string, number>,
    unplaced: string[] = [],
    pinned: PodPin[] = [],
  ) {
    const s = snap({ nodes: [node('a'), node('b')], pods: [pod('x/base').gpus(4).on('b'), ...pods] }, { pinned });
    t.deepEqual(free(s), want);
    t.deepEqual(
      s.unplaceablePending().map((u) => u.key),
      unplaced,
    );
  },
  title: (what = '') => `pending unbound pods: ${what}`,
});
test('nominated: counts on its nominated node, not best-fit', pending, [pod('x/p').gpus(4).nominated('a')], {
  a: 4,
  b: 4,
});
test('best-fit: the node left with the fewest free GPUs', pending, [pod('x/p').gpus(4)], { a: 8, b: 0 });
test('best-fit: ties by node name', pending, [pod('x/p').gpus(2), pod('x/base2').gpus(4).on('a')], { a: 2, b: 4 });
test('best-fit: in key order, each sees the pods before it', pending, [pod('x/p2').gpus(4), pod('x/p1').gpus(2)], {
  a: 4,
  b: 2,
});
test(
  'best-fit: only nodes its node selector matches',
  pending,
  [pod('x/p').gpus(4).selector({ 'kubernetes.io/hostname': 'a' })],
  { a: 4, b: 4 },
);
test(
  'pinned by the ledger: left to the ledger, counted nowhere by the snapshot',
  pending,
  [pod('x/p').gpus(4)],
  { a: 8, b: 4 },
  [],
  [{ member: 'gpu-a', key: 'x/p', node: 'a' }],
);
test('too big for any node: holds nothing, reported', pending, [pod('x/big').gpus(16)], { a: 8, b: 4 }, ['x/big']);
test('another GPU resource: fits nowhere', pending, [pod('x/cc').gpus(1, 'nvidia.com/pgpu')], { a: 8, b: 4 }, ['x/cc']);
test('no GPU request: ignored', pending, [pod('x/cpu')], { a: 8, b: 4 });

const taints = test.macro({
  exec(t, tolerations: SnapshotInput['tolerations'], want: Record<string, number>) {
    const s = snap(
      {
        nodes: [
          node('gke').taint('nvidia.com/gpu', 'present'),
          node('sku').taint('sku', 'gpu'),
          node('custom').taint('dedicated', 'ml'),
          node('evict').taint('dedicated', 'ml', 'NoExecute'),
          node('prefer').taint('dedicated', 'ml', 'PreferNoSchedule'),
          node('down').notReady(),
          node('off').cordoned(),
        ],
      },
      tolerations ? { tolerations } : {},
    );
    t.deepEqual(Object.fromEntries(s.nodes().map((n) => [n.node, n.allocatable])), want);
  },
  title: (what = '') => `a tainted node counts only for pods that tolerate it: ${what}`,
});
test('gpuTolerations (default)', taints, undefined, {
  gke: 8,
  sku: 8,
  custom: 0,
  evict: 0,
  prefer: 8,
  down: 0,
  off: 0,
});
test('plus dedicated=ml', taints, [...gpuTolerations, { key: 'dedicated', operator: 'Equal', value: 'ml' }], {
  gke: 8,
  sku: 8,
  custom: 8,
  evict: 8,
  prefer: 8,
  down: 0,
  off: 0,
});
test('none', taints, [], { gke: 0, sku: 0, custom: 0, evict: 0, prefer: 8, down: 0, off: 0 });

test('a blocked node says why; a pending pod that tolerates its taint lands there, not on our capacity', (t) => {
  const s = snap({
    nodes: [node('custom').taint('dedicated', 'ml'), node('open'), node('down').notReady(), node('off').cordoned()],
    pods: [pod('team/ml').gpus(8).tolerates({ key: 'dedicated', operator: 'Exists' })],
  });
  t.deepEqual(
    s.nodes().map((n) => [n.node, n.blocked, n.free]),
    [
      ['custom', 'taint dedicated=ml:NoSchedule', 0],
      ['down', 'NotReady', 0],
      ['off', 'Cordoned', 0],
      ['open', undefined, 8],
    ],
  );
  t.like(
    s.nodes().find((n) => n.node === 'custom'),
    { used: 8, pending: 8 },
  );
  t.deepEqual(s.unplaceablePending(), []);
});

test('two pools on one member see one shared node: its free GPUs exist once', (t) => {
  const s = buildSnapshot({
    members: [{ name: 'gpu-a', nodes: built([node('a'), node('l4').model('L4').gpus(2)]), pods: [] }],
    pools: [
      { name: 'all', member: 'gpu-a' },
      { name: 'h100', member: 'gpu-a', nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' } },
      { name: 'lost', member: 'gpu-z' },
    ],
  });
  t.deepEqual(
    s.nodes().map((n) => [n.node, n.pools, n.free]),
    [
      ['a', ['all', 'h100'], 8],
      ['l4', ['all'], 2],
    ],
  );
  t.deepEqual(
    s.pools().map((p) => [p.name, p.memberAvailable, p.nodes, p.classes.map((c) => [c.product, c.free])]),
    [
      [
        'all',
        true,
        2,
        [
          ['NVIDIA-H100-80GB-HBM3', 8],
          ['NVIDIA-L4', 2],
        ],
      ],
      ['h100', true, 1, [['NVIDIA-H100-80GB-HBM3', 8]]],
      ['lost', false, 0, []],
    ],
  );
  const undo = s.assume('gpu-a', 'a', 'nvidia.com/gpu', 6);
  t.deepEqual(
    s.pools().map((p) => p.classes[0]?.free),
    [2, 2, undefined],
    'one booking shows in both pools',
  );
  t.like(s.pools()[0]?.classes[0], { allocatable: 8, used: 0, assumed: 6, free: 2, largestFreeBlock: 2 });
  undo();
  undo();
  t.deepEqual(free(s), { a: 8, l4: 2 }, 'undo runs once');
});

test('confidential nodes: class from the sandbox resource and NFD labels, TEE only when CC-ready', (t) => {
  const s = snap({
    nodes: [
      node('snp').confidential('snp'),
      node('tdx').confidential('tdx').model('H200'),
      node('off').confidential('snp', false),
      node('gpu'),
    ],
  });
  t.deepEqual(
    s.nodes().map((n) => [n.node, n.product, n.mode, n.resourceName, n.tee]),
    [
      ['gpu', 'NVIDIA-H100-80GB-HBM3', 'container', 'nvidia.com/gpu', undefined],
      ['off', 'NVIDIA-H100-80GB-HBM3', 'confidential', 'nvidia.com/pgpu', undefined],
      ['snp', 'NVIDIA-H100-80GB-HBM3', 'confidential', 'nvidia.com/pgpu', 'snp'],
      ['tdx', 'NVIDIA-H200', 'confidential', 'nvidia.com/pgpu', 'tdx'],
    ],
  );
  t.deepEqual(
    s.pools()[0]?.classes.map((c) => [c.product, c.mode, c.tee, c.nodes]),
    [
      ['NVIDIA-H100-80GB-HBM3', 'confidential', undefined, 1],
      ['NVIDIA-H100-80GB-HBM3', 'confidential', 'snp', 1],
      ['NVIDIA-H100-80GB-HBM3', 'container', undefined, 1],
      ['NVIDIA-H200', 'confidential', 'tdx', 1],
    ],
  );
});

test('pods of a slot group are keyed by index, bound before pending before finished, so reservations match them', (t) => {
  const s = snap({
    nodes: [node('n1')],
    pods: [
      pod('x/web-a1-zzz').gpus(1).group('web-a1'),
      pod('x/web-a1-yyy').gpus(1).group('web-a1').on('n1'),
      pod('x/web-a1-aaa').gpus(1).group('web-a1').on('n1').phase('Succeeded'),
    ],
  });
  t.deepEqual(slotKeys('x', 'web-a1', 3), ['x/web-a1#0', 'x/web-a1#1', 'x/web-a1#2']);
  t.is(s.podState('gpu-a', 'x/web-a1#0'), 'bound');
  t.is(s.podState('gpu-a', 'x/web-a1#1'), 'pending');
  t.is(s.podState('gpu-a', 'x/web-a1#2'), 'terminal');
  t.is(s.podState('gpu-a', 'x/web-a1-yyy'), undefined);
  // the pending one counts (best-fit on n1), the finished one does not
  t.is(s.nodes()[0]?.free, 6);
});

test('tightest: the node of the pool and class with the fewest free GPUs that still fit, what-ifs counted', (t) => {
  const s = snap({
    nodes: [node('a'), node('b'), node('c'), node('cc').confidential('snp')],
    pods: [pod('x/a').gpus(2).on('a'), pod('x/b').gpus(6).on('b'), pod('x/c').gpus(7).on('c')],
  });
  const container = { product: 'NVIDIA-H100-80GB-HBM3', mode: 'container', resourceName: 'nvidia.com/gpu' } as const;
  // free: a 6, b 2, c 1; cc is another class
  t.is(s.tightest('gpu-a', 'p', container, 1), 'c');
  t.is(s.tightest('gpu-a', 'p', container, 2), 'b');
  t.is(s.tightest('gpu-a', 'p', container, 3), 'a');
  t.is(s.tightest('gpu-a', 'p', container, 7), undefined, 'no node has 7 free');
  t.is(s.tightest('gpu-a', 'other-pool', container, 1), undefined);
  t.is(s.tightest('gpu-b', 'p', container, 1), undefined);
  const undo = s.assume('gpu-a', 'c', 'nvidia.com/gpu', 1);
  t.is(s.tightest('gpu-a', 'p', container, 1), 'b', 'c is full while the what-if holds');
  undo();
  t.is(s.tightest('gpu-a', 'p', container, 1), 'c');
  const cc = s.nodes().find((n) => n.node === 'cc');
  t.is(s.tightest('gpu-a', 'p', { ...container, ...cc, mode: 'confidential' }, 8), 'cc');
});
