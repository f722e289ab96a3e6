import test from 'ava';
import type { Tier } from '../../../operator/api/constants.ts';
import { planPreemption, type RunningWork } from '../../../operator/scheduling/preemption.ts';
import type { NodeSlot } from '../../../operator/scheduling/snapshot.ts';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const GPU = 'nvidia.com/gpu';

const slot = (node: string, free: number, o: Partial<NodeSlot> = {}): NodeSlot => ({
  member: 'm',
  node,
  pools: ['p'],
  product: H100,
  mode: 'container',
  resourceName: GPU,
  allocatable: 8,
  used: 8 - free,
  pending: 0,
  assumed: 0,
  free,
  ...o,
});
const work = (
  key: string,
  tier: Tier,
  startedAt: number,
  pods: Array<[node: string, gpus: number]>,
  o: Partial<RunningWork> = {},
): RunningWork => ({
  key,
  tier,
  pool: 'p',
  member: 'm',
  startedAt,
  pods: pods.map(([node, gpus]) => ({ node, resourceName: GPU, gpus })),
  ...o,
});
const premium = (pods: number, gpusPerPod: number) => ({
  key: 'InferenceJob:ns/vip',
  tier: 'Premium' as const,
  pods,
  gpusPerPod,
});
const pool = (slots: NodeSlot[], name = 'p') => ({ pool: name, member: 'm', slots });

test('the newest BestEffort work is evicted first', (t) => {
  const running = [work('old', 'BestEffort', 1, [['n1', 4]]), work('new', 'BestEffort', 2, [['n1', 4]])];
  t.deepEqual(planPreemption({ preemptor: premium(1, 4), candidates: [pool([slot('n1', 0)])], running }), {
    pool: 'p',
    victims: ['new'],
  });
});

test('only a Premium job preempts', (t) => {
  const running = [work('be', 'BestEffort', 1, [['n1', 8]])];
  const candidates = [pool([slot('n1', 0)])];
  t.truthy(planPreemption({ preemptor: premium(1, 8), candidates, running }));
  for (const tier of ['Reserved', 'BestEffort'] as const) {
    t.is(planPreemption({ preemptor: { ...premium(1, 8), tier }, candidates, running }), undefined, tier);
  }
});

test('Reserved and Premium work is never a victim', (t) => {
  const candidates = [pool([slot('n1', 0)])];
  const guarded = [work('res', 'Reserved', 9, [['n1', 4]]), work('prem', 'Premium', 8, [['n1', 4]])];
  t.is(planPreemption({ preemptor: premium(1, 4), candidates, running: guarded }), undefined);
  // BestEffort alone frees 4 of the 8 needed: the Reserved half stays, so no plan
  const mixed = [work('res', 'Reserved', 9, [['n1', 4]]), work('be', 'BestEffort', 1, [['n1', 4]])];
  t.is(planPreemption({ preemptor: premium(1, 8), candidates, running: mixed }), undefined);
  t.deepEqual(planPreemption({ preemptor: premium(1, 4), candidates, running: mixed })?.victims, ['be']);
});

test('victims the preemptor can do without are dropped again', (t) => {
  // newest-first adds v3 (n1, not enough alone) then v2 (n2, enough): v3 is then dropped
  const running = [
    work('v3', 'BestEffort', 3, [['n1', 2]]),
    work('v2', 'BestEffort', 2, [['n2', 4]]),
    work('v1', 'BestEffort', 1, [['n1', 2]]),
  ];
  const plan = planPreemption({
    preemptor: premium(1, 4),
    candidates: [pool([slot('n1', 0), slot('n2', 0)])],
    running,
  });
  t.deepEqual(plan, { pool: 'p', victims: ['v2'] });
});

test('a victim on another node does not help a pod that needs one node', (t) => {
  // 2 + 1 free: n2's newer victim brings n2 to 3, short of the 4-GPU pod; n1's older one brings n1 to 4
  const running = [work('newest', 'BestEffort', 5, [['n2', 2]]), work('older', 'BestEffort', 1, [['n1', 2]])];
  const candidates = [pool([slot('n1', 2), slot('n2', 1)])];
  t.deepEqual(planPreemption({ preemptor: premium(1, 4), candidates, running })?.victims, ['older']);
  // work on a node outside the class's slots frees nothing there
  const elsewhere = [work('far', 'BestEffort', 5, [['n9', 8]])];
  t.is(planPreemption({ preemptor: premium(1, 4), candidates, running: elsewhere }), undefined);
});

test('every pod packs whole: two 4-GPU pods need room on two nodes', (t) => {
  const running = [work('a', 'BestEffort', 2, [['n1', 4]]), work('b', 'BestEffort', 1, [['n2', 4]])];
  const candidates = [pool([slot('n1', 0), slot('n2', 0)])];
  t.deepEqual(planPreemption({ preemptor: premium(2, 4), candidates, running })?.victims, ['a', 'b']);
  t.deepEqual(planPreemption({ preemptor: premium(1, 4), candidates, running })?.victims, ['a']);
});

test('maxVictims bounds the plan (default 8)', (t) => {
  const running = Array.from({ length: 8 }, (_, i) => work(`be${i}`, 'BestEffort', i, [['n1', 1]]));
  const candidates = [pool([slot('n1', 0)])];
  const plan = planPreemption({ preemptor: premium(1, 8), candidates, running });
  t.is(plan?.victims.length, 8);
  t.deepEqual(plan?.victims.slice(0, 2), ['be7', 'be6']);
  t.is(planPreemption({ preemptor: premium(1, 8), candidates, running, maxVictims: 7 }), undefined);
  t.deepEqual(planPreemption({ preemptor: premium(1, 2), candidates, running, maxVictims: 2 })?.victims, [
    'be7',
    'be6',
  ]);
});

test('the first pool that works wins; work on other pools or members is not touched', (t) => {
  const running = [
    work('q-job', 'BestEffort', 5, [['n1', 8]], { pool: 'q' }),
    work('p-job', 'BestEffort', 1, [['n1', 8]]),
    work('other-member', 'BestEffort', 9, [['n1', 8]], { member: 'm2' }),
  ];
  const candidates = [pool([slot('n1', 0)], 'p'), pool([slot('n1', 0, { pools: ['q'] })], 'q')];
  t.deepEqual(planPreemption({ preemptor: premium(1, 8), candidates, running }), { pool: 'p', victims: ['p-job'] });
  // a pool over the victim bound is passed over for the next one
  const crowded = [
    ...Array.from({ length: 3 }, (_, i) => work(`small${i}`, 'BestEffort', i, [['n1', 3]])),
    running[0]!,
  ];
  const c2 = [pool([slot('n1', 0)], 'p'), pool([slot('n1', 0)], 'q')];
  t.deepEqual(planPreemption({ preemptor: premium(1, 8), candidates: c2, running: crowded, maxVictims: 2 }), {
    pool: 'q',
    victims: ['q-job'],
  });
  t.is(planPreemption({ preemptor: premium(1, 8), candidates: [], running }), undefined);
});

test('no plan where nothing needs evicting, or where the node cannot take our pods', (t) => {
  const running = [work('be', 'BestEffort', 1, [['n1', 4]])];
  // fits already: preemption is not what blocks it
  t.is(planPreemption({ preemptor: premium(1, 4), candidates: [pool([slot('n1', 4)])], running }), undefined);
  // a cordoned node (allocatable 0) gives nothing back
  const cordoned = slot('n1', 0, { allocatable: 0, used: 4, blocked: 'Cordoned' });
  t.is(planPreemption({ preemptor: premium(1, 4), candidates: [pool([cordoned])], running }), undefined);
});

test('all pods of the preemptor go to one GPU class', (t) => {
  // n1 container and n2 confidential each have 4 free: together 2 × 4, but not in one class
  const slots = [
    slot('n1', 4),
    slot('n2', 4, { mode: 'confidential', resourceName: 'nvidia.com/pgpu', tee: 'snp' }),
    slot('n3', 0),
  ];
  const running = [work('be', 'BestEffort', 1, [['n3', 4]])];
  t.deepEqual(planPreemption({ preemptor: premium(2, 4), candidates: [pool(slots)], running })?.victims, ['be']);
});

test('a preemptor asking for nothing is a caller bug', (t) => {
  t.throws(() => planPreemption({ preemptor: premium(0, 4), candidates: [], running: [] }), { instanceOf: RangeError });
  t.throws(() => planPreemption({ preemptor: premium(1, 0), candidates: [], running: [] }), { instanceOf: RangeError });
});
