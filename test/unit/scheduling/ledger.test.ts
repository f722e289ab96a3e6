import test from 'ava';
import {
  buildSnapshot,
  type MemberInput,
  type PoolInput,
  type Snapshot,
} from '../../../operator/scheduling/snapshot.ts';
import { ReservationLedger, type ReserveResult } from '../../../operator/scheduling/ledger.ts';
import type { NoFit, PlacementRequest } from '../../../operator/scheduling/fit.ts';
import { gpuTolerations } from '../../../operator/hardware/labels.ts';
import { built, node, pod } from './builders.ts';

const t0 = Date.parse('2026-11-27T10:00:00Z');
type Nodes = Array<ReturnType<typeof node>>;
type Pods = Array<ReturnType<typeof pod>>;
const member = (name: string, nodes: Nodes, pods: Pods = []): MemberInput => ({
  name,
  nodes: built(nodes),
  pods: built(pods),
});
/** One member `gpu-a`, one pool `p` over all its nodes. */
const fleet = (nodes: Nodes, pods: Pods = [], ledger?: ReservationLedger) =>
  buildSnapshot({
    members: [member('gpu-a', nodes, pods)],
    pools: [{ name: 'p', member: 'gpu-a' }],
    ...(ledger ? { pinned: ledger.pins() } : {}),
  });
const req = (id: string, gpusPerPod: number, pods = 1, more: Partial<PlacementRequest> = {}): PlacementRequest => ({
  id,
  pools: 'p',
  gpusPerPod,
  podKeys: Array.from({ length: pods }, (_, i) => `jobs/${id}-${i}`),
  ...more,
});
const nodesOf = (r: ReserveResult) => (r.ok ? r.reservation.pods.map((p) => p.node) : r.reasons);
const freeAfter = (l: ReservationLedger, s: Snapshot) => {
  const undo = l.assumeInto(s);
  try {
    return Object.fromEntries(s.nodes().map((n) => [n.node, n.free]));
  } finally {
    undo();
  }
};

test('two back-to-back reservations on the last free GPUs of a node cannot both succeed', (t) => {
  const nodes = [node('a')];
  const s = fleet(nodes, [pod('x/busy').gpus(4).on('a')]);
  const l = new ReservationLedger();
  t.deepEqual(nodesOf(l.reserve(s, req('j1', 4), t0)), ['a']);
  const second: NoFit[] = [
    { pool: 'p', reason: 'InsufficientGpus', message: 'needs 1 pod(s) × 4 nvidia.com/gpu, no free GPUs' },
  ];
  t.deepEqual(nodesOf(l.reserve(s, req('j2', 4), t0)), second, 'same snapshot');
  // the member cache does not show j1's pod yet: a fresh snapshot still sees 4 free
  const s2 = fleet(nodes, [pod('x/busy').gpus(4).on('a')]);
  t.is(s2.nodes()[0]?.free, 4);
  t.deepEqual(nodesOf(l.reserve(s2, req('j2', 4), t0)), second, 'fresh snapshot');
  t.deepEqual(
    l.list().map((r) => r.id),
    ['j1'],
  );
  t.deepEqual(freeAfter(l, s2), { a: 0 });
  t.is(s2.nodes()[0]?.free, 4, 'reserve leaves the snapshot as it found it');
});

test('the second reservation lands on another node when one has room', (t) => {
  const s = fleet([node('a'), node('b')], [pod('x/busy').gpus(4).on('a')]);
  const l = new ReservationLedger();
  t.deepEqual(nodesOf(l.reserve(s, req('j1', 4), t0)), ['a'], 'best-fit: the fuller node');
  t.deepEqual(nodesOf(l.reserve(s, req('j2', 4), t0)), ['b']);
  t.deepEqual(nodesOf(l.reserve(s, req('j3', 2, 2), t0)), ['b', 'b'], 'several pods may share a node');
  t.deepEqual(freeAfter(l, s), { a: 0, b: 0 });
});

test('a reservation stops counting once the snapshot shows its pods bound: never twice', (t) => {
  const l = new ReservationLedger();
  t.deepEqual(nodesOf(l.reserve(fleet([node('a')]), req('j1', 3), t0)), ['a']);
  const seen = fleet([node('a')], [pod('jobs/j1-0').gpus(3).on('a')]);
  t.deepEqual(freeAfter(l, seen), { a: 5 }, 'counted by the snapshot, not again by the ledger');
  t.deepEqual(nodesOf(l.reserve(seen, req('j2', 5), t0)), ['a'], 'would fail with 3 counted twice');
  t.deepEqual(
    l.observe(seen).map((r) => r.id),
    ['j1'],
  );
  t.deepEqual(
    l.list().map((r) => r.id),
    ['j2'],
  );
  t.deepEqual(freeAfter(l, seen), { a: 0 });
});

test('a reserved pod the cache shows unbound counts on its reserved node, not best-fit elsewhere', (t) => {
  const l = new ReservationLedger();
  const nodes = [node('a'), node('b').gpus(4)];
  // b is full when j1 is placed, so j1 goes to a
  t.deepEqual(nodesOf(l.reserve(fleet(nodes, [pod('x/busy').gpus(4).on('b')]), req('j1', 4), t0)), ['a']);
  const pending = [pod('x/busy').gpus(4).on('b').phase('Succeeded'), pod('jobs/j1-0').gpus(4)];
  const unpinned = fleet(nodes, pending);
  t.deepEqual(freeAfter(l, unpinned), { a: 8, b: 0 }, 'without pins the scheduler-like best-fit picks b');
  const s = fleet(nodes, pending, l);
  t.like(s.nodes()[0], { node: 'a', used: 0, pending: 0, free: 8 }, 'the snapshot leaves it to the ledger');
  t.deepEqual(freeAfter(l, s), { a: 4, b: 4 }, 'the ledger holds it on a');
  t.deepEqual(nodesOf(l.reserve(s, req('j2', 4, 2), t0)), ['a', 'b']);
  t.deepEqual(l.observe(s), [], 'an unbound pod stays in the ledger');
  t.deepEqual(
    l.pins().map((p) => `${p.key}@${p.node}`),
    ['jobs/j1-0@a', 'jobs/j2-0@a', 'jobs/j2-1@b'],
  );
});

test('the member scheduler bound others of ours on the reserved node: a waiting pod holds where there is room', (t) => {
  const l = new ReservationLedger();
  const nodes = [node('a').gpus(4), node('b').gpus(4)];
  const s0 = fleet(nodes);
  t.deepEqual(nodesOf(l.reserve(s0, req('j1', 4), t0)), ['a']);
  t.deepEqual(nodesOf(l.reserve(s0, req('j2', 4), t0)), ['b']);
  // kube-scheduler put j2's pod on a (j1's reserved node); j1's pod still waits
  const s = fleet(nodes, [pod('jobs/j2-0').gpus(4).on('a'), pod('jobs/j1-0').gpus(4)], l);
  l.observe(s);
  t.deepEqual(freeAfter(l, s), { a: 0, b: 0 }, 'j1 holds b, so nothing looks free');
  t.false(l.reserve(s, req('j3', 4), t0).ok, 'no third job on two 4-GPU nodes');
});

test('a reserved pod the cache shows pending but placed nowhere still holds its node', (t) => {
  const l = new ReservationLedger();
  t.deepEqual(nodesOf(l.reserve(fleet([node('a').gpus(4)]), req('j1', 4), t0)), ['a']);
  // a foreign pod took the node meanwhile; ours waits and the snapshot (no pins) places it nowhere
  const s = fleet([node('a').gpus(4)], [pod('x/other').gpus(4).on('a'), pod('jobs/j1-0').gpus(4)]);
  t.deepEqual(
    s.unplaceablePending().map((u) => u.key),
    ['jobs/j1-0'],
  );
  t.like(l.assumeInto(s) && s.nodes()[0], { used: 4, assumed: 4, free: 0 });
});

test('a tainted node counts only when the placed pods tolerate its taints', (t) => {
  const nodes = [node('gke').taint('nvidia.com/gpu', 'present'), node('custom').taint('dedicated', 'ml')];
  const l = new ReservationLedger();
  const s = fleet(nodes);
  t.deepEqual(nodesOf(l.reserve(s, req('j1', 8), t0)), ['gke']);
  t.deepEqual(nodesOf(l.reserve(s, req('j2', 8), t0)), [
    { pool: 'p', reason: 'InsufficientGpus', message: 'needs 1 pod(s) × 8 nvidia.com/gpu, no free GPUs' },
  ]);
  const only = buildSnapshot({ members: [member('gpu-a', [nodes[1]!])], pools: [{ name: 'p', member: 'gpu-a' }] });
  t.deepEqual(nodesOf(l.reserve(only, req('j3', 1), t0)), [
    { pool: 'p', reason: 'NoSchedulableNode', message: 'no schedulable node: custom taint dedicated=ml:NoSchedule' },
  ]);
  const tolerating = buildSnapshot({
    members: [member('gpu-a', nodes)],
    pools: [{ name: 'p', member: 'gpu-a' }],
    tolerations: [...gpuTolerations, { key: 'dedicated', operator: 'Exists' }],
  });
  t.deepEqual(nodesOf(l.reserve(tolerating, req('j2', 8), t0)), ['custom']);
});

test('two pools on one member book a shared node once', (t) => {
  const s = buildSnapshot({
    members: [member('gpu-a', [node('a'), node('l4').model('L4').gpus(2)])],
    pools: [
      { name: 'all', member: 'gpu-a' },
      { name: 'h100', member: 'gpu-a', nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' } },
    ],
  });
  const l = new ReservationLedger();
  t.deepEqual(nodesOf(l.reserve(s, req('j1', 6, 1, { pools: 'h100' }), t0)), ['a']);
  t.deepEqual(nodesOf(l.reserve(s, req('j2', 4, 1, { pools: 'all', product: 'NVIDIA-H100-80GB-HBM3' }), t0)), [
    { pool: 'all', reason: 'InsufficientGpus', message: 'needs 1 pod(s) × 4 nvidia.com/gpu, largest free blocks 2' },
  ]);
  t.like(l.reserve(s, req('j2', 2, 1, { pools: ['h100', 'all'] }), t0), { ok: true, reservation: { pool: 'h100' } });
  const next = l.reserve(s, req('j3', 2, 1, { pools: ['h100', 'all'] }), t0);
  t.deepEqual(nodesOf(next), ['l4'], 'the next candidate pool');
  t.like(l.get('j3'), { pool: 'all', member: 'gpu-a', product: 'NVIDIA-L4' });
});

test('reserve is idempotent per id: a reconcile that runs twice books once', (t) => {
  const s = fleet([node('a')]);
  const l = new ReservationLedger();
  const first = l.reserve(s, req('j1', 4), t0);
  const again = l.reserve(s, req('j1', 4), t0 + 1000);
  t.like(first, { ok: true, existing: false });
  t.like(again, { ok: true, existing: true });
  t.is(again.ok && again.reservation, first.ok && first.reservation);
  t.is(l.list().length, 1);
  t.deepEqual(nodesOf(l.reserve(s, req('j2', 4), t0)), ['a'], 'the other 4 are still free');
});

test('expire drops reservations older than the TTL and returns them; their GPUs are free again', (t) => {
  const s = fleet([node('a')]);
  const l = new ReservationLedger();
  l.reserve(s, req('old', 4), t0);
  l.reserve(s, req('new', 4), t0 + 5_000);
  t.deepEqual(l.expire(t0 + 10_000, 10_000), [], 'exactly the TTL is not older');
  t.deepEqual(
    l.expire(t0 + 10_001, 10_000).map((r) => [r.id, r.createdAt]),
    [['old', t0]],
  );
  t.deepEqual(
    l.list().map((r) => r.id),
    ['new'],
  );
  t.deepEqual(freeAfter(l, s), { a: 4 });
  t.deepEqual(l.release('new')?.id, 'new');
  t.is(l.release('new'), undefined);
  t.deepEqual(freeAfter(l, s), { a: 8 });
});

test('assume is a what-if: undo frees what it booked, and only that', (t) => {
  const s = fleet([node('a')]);
  const l = new ReservationLedger();
  l.reserve(s, req('kept', 2), t0);
  const tryIt = l.assume(s, req('what-if', 6), t0);
  t.true(tryIt.result.ok);
  t.deepEqual(freeAfter(l, s), { a: 0 });
  tryIt.undo();
  t.deepEqual(freeAfter(l, s), { a: 6 });
  l.assume(s, req('kept', 2), t0).undo();
  t.deepEqual(
    l.list().map((r) => r.id),
    ['kept'],
    'an existing reservation survives the undo of a repeat',
  );
});

test('observe keeps reservations of members the snapshot lacks and drops finished pods', (t) => {
  const l = new ReservationLedger();
  l.reserve(fleet([node('a')]), req('j1', 2, 2), t0);
  const other = buildSnapshot({ members: [member('gpu-b', [node('a')], [pod('jobs/j1-0').on('a')])], pools: [] });
  t.deepEqual(l.observe(other), []);
  const half = fleet([node('a')], [pod('jobs/j1-0').gpus(2).on('a').phase('Failed')]);
  t.deepEqual(l.observe(half), []);
  t.deepEqual(
    l.get('j1')?.pods.map((p) => p.key),
    ['jobs/j1-1'],
  );
});

test('malformed requests throw: they are bugs, not fleet states', (t) => {
  const s = fleet([node('a')]);
  const l = new ReservationLedger();
  t.throws(() => l.reserve(s, req('j', 0), t0), { instanceOf: RangeError });
  t.throws(() => l.reserve(s, { ...req('j', 1), podKeys: [] }, t0), { instanceOf: RangeError });
  t.throws(() => l.reserve(s, { ...req('j', 1), podKeys: ['a/x', 'a/x'] }, t0), { instanceOf: RangeError });
});

// A fleet where every candidate pool refuses for a different reason.
const noFitFleet = (): Snapshot => {
  const pools: PoolInput[] = [
    { name: 'small', member: 'gpu-a', nodeSelector: { pool: 'small' } },
    { name: 'l4', member: 'gpu-a', nodeSelector: { pool: 'l4' } },
    { name: 'down', member: 'gpu-a', nodeSelector: { pool: 'down' } },
    { name: 'cc-off', member: 'gpu-a', nodeSelector: { pool: 'cc-off' } },
    { name: 'empty', member: 'gpu-a', nodeSelector: { pool: 'none' } },
    { name: 'gone', member: 'gpu-z' },
  ];
  const nodes = [
    node('s-0').gpus(4).labels({ pool: 'small' }),
    node('s-1').gpus(2).labels({ pool: 'small' }),
    node('l4-0').model('L4').labels({ pool: 'l4' }),
    node('d-0').notReady().labels({ pool: 'down' }),
    node('d-1').cordoned().labels({ pool: 'down' }),
    node('cc-0').confidential('snp', false).labels({ pool: 'cc-off' }),
  ];
  return buildSnapshot({ members: [member('gpu-a', nodes)], pools });
};
const reasons: NoFit[] = [
  { pool: 'cc-off', reason: 'CcNotReady', message: 'confidential GPUs not CC-ready on cc-0' },
  { pool: 'down', reason: 'NoSchedulableNode', message: 'no schedulable node: d-0 NotReady, d-1 Cordoned' },
  { pool: 'empty', reason: 'NoGpuNodes', message: 'no GPU nodes' },
  { pool: 'gone', reason: 'MemberUnavailable', message: 'member cluster gpu-z is not ready' },
  { pool: 'l4', reason: 'ProductMismatch', message: 'no NVIDIA-H100-80GB-HBM3 GPUs; the pool has NVIDIA-L4' },
  { pool: 'nowhere', reason: 'PoolUnknown', message: 'pool nowhere is not known' },
  {
    pool: 'small',
    reason: 'InsufficientGpus',
    message: 'needs 2 pod(s) × 4 nvidia.com/gpu, largest free blocks 4, 2',
  },
];
const ordered = test.macro({
  exec(t, pools: string[]) {
    const request = req('j', 4, 2, { pools, product: 'NVIDIA-H100-80GB-HBM3' });
    const r = new ReservationLedger().reserve(noFitFleet(), request, t0);
    t.deepEqual(r, { ok: false, reasons });
  },
  title: (what = '') => `no-fit reasons are data, one per pool, sorted whatever the candidates' order: ${what}`,
});
const names = reasons.map((r) => r.pool);
test('sorted', ordered, names);
test('reversed', ordered, [...names].reverse());
test('shuffled', ordered, ['small', 'gone', 'nowhere', 'cc-off', 'l4', 'empty', 'down']);

// Confidential requests land only on CC-ready nodes with the requested TEE.
const cc = test.macro({
  exec(t, more: Partial<PlacementRequest>, want: string[] | NoFit[]) {
    const s = fleet([
      node('snp').confidential('snp'),
      node('tdx').confidential('tdx').gpus(4),
      node('off').confidential('tdx', false).gpus(2),
      node('gpu').gpus(2),
    ]);
    t.deepEqual(nodesOf(new ReservationLedger().reserve(s, req('j', 2, 1, more), t0)), want);
  },
  title: (what = '') => `confidential placement: ${what}`,
});
test('tdx goes to the CC-ready tdx node, never the one with CC off', cc, { tee: 'tdx' }, ['tdx']);
test('snp', cc, { mode: 'confidential', tee: 'snp' }, ['snp']);
test('any TEE: the tightest CC-ready node', cc, { mode: 'confidential' }, ['tdx']);
test('container mode skips CC nodes', cc, { mode: 'container' }, ['gpu']);
test('too big for the only tdx node', cc, { tee: 'tdx', gpusPerPod: 6 }, [
  { pool: 'p', reason: 'InsufficientGpus', message: 'needs 1 pod(s) × 6 nvidia.com/pgpu, largest free blocks 4' },
]);
test(
  'product, resource and TEE together',
  cc,
  { tee: 'tdx', product: 'NVIDIA-H100-80GB-HBM3', resourceName: 'nvidia.com/pgpu', gpusPerPod: 1 },
  ['tdx'],
);
test('container with a TEE is refused', cc, { mode: 'container', tee: 'snp' }, [
  { pool: 'p', reason: 'TeeMismatch', message: 'no snp nodes; the pool has no TEE' },
]);
test('a resource the pool lacks', cc, { mode: 'confidential', resourceName: 'nvidia.com/GH100_H100_SXM5_80GB' }, [
  {
    pool: 'p',
    reason: 'ResourceMismatch',
    message: 'no nvidia.com/GH100_H100_SXM5_80GB; the pool has nvidia.com/pgpu',
  },
]);

test('confidential placement: a tdx node with CC off does not serve a tdx request', (t) => {
  const s = fleet([node('snp').confidential('snp'), node('off').confidential('tdx', false)]);
  t.deepEqual(nodesOf(new ReservationLedger().reserve(s, req('j', 1, 1, { tee: 'tdx' }), t0)), [
    { pool: 'p', reason: 'TeeMismatch', message: 'no tdx nodes; the pool has snp' },
  ]);
});

test('a cycle books each reservation once against one snapshot and takes its what-ifs back at the end', (t) => {
  const l = new ReservationLedger();
  const s = fleet([node('a')]);
  const cycle = l.begin(s);
  const first = cycle.reserve(req('j1', 3), t0);
  const second = cycle.reserve(req('j2', 3), t0);
  const third = cycle.reserve(req('j3', 3), t0);
  t.true(first.ok && second.ok);
  t.false(third.ok, 'only 8 GPUs: the third 3-GPU job must not fit in the same cycle');
  t.is(s.nodes()[0]?.free, 2);
  cycle.end();
  t.is(s.nodes()[0]?.free, 8, 'the snapshot is back as built');
  t.deepEqual(
    l.list().map((r) => r.id),
    ['j1', 'j2'],
  );
});
