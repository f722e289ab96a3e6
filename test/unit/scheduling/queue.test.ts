import test from 'ava';
import type { Tier } from '../../../operator/api/constants.ts';
import { type QueuedJob, queueOrder } from '../../../operator/scheduling/queue.ts';

const job = (key: string, tier: Tier, requester: string, createdAt: number): QueuedJob => ({
  key,
  tier,
  requester,
  createdAt,
});
const keys = (js: readonly QueuedJob[]) => js.map((j) => j.key);

test('Premium before Reserved before BestEffort, whatever the age', (t) => {
  const jobs = [
    job('be', 'BestEffort', 'a', 1),
    job('res', 'Reserved', 'a', 2),
    job('prem', 'Premium', 'a', 3),
    job('be2', 'BestEffort', 'b', 0),
  ];
  t.deepEqual(keys(queueOrder(jobs)), ['prem', 'res', 'be2', 'be']);
});

test('a requester flooding a tier does not put another requester last', (t) => {
  const flood = Array.from({ length: 100 }, (_, i) => job(`a-${String(i).padStart(3, '0')}`, 'BestEffort', 'ns-a', i));
  const single = job('b-0', 'BestEffort', 'ns-b', 50);
  const order = keys(queueOrder([...flood, single]));
  t.is(order.length, 101);
  // A's oldest job is older than B's, so A goes first; B takes the second turn
  t.deepEqual(order.slice(0, 3), ['a-000', 'b-0', 'a-001']);
  t.is(order.at(-1), 'a-099');
});

test('requesters take turns, each oldest first, requesters ordered by their oldest job', (t) => {
  const jobs = [
    job('a3', 'Reserved', 'a', 30),
    job('b1', 'Reserved', 'b', 5),
    job('a1', 'Reserved', 'a', 10),
    job('c1', 'Reserved', 'c', 1),
    job('a2', 'Reserved', 'a', 20),
    job('b2', 'Reserved', 'b', 40),
  ];
  t.deepEqual(keys(queueOrder(jobs)), ['c1', 'b1', 'a1', 'b2', 'a2', 'a3']);
});

test('ties break by key, and the order does not depend on the input order', (t) => {
  const jobs = [
    job('y', 'Premium', 'a', 7),
    job('x', 'Premium', 'a', 7),
    job('w', 'Premium', 'b', 7),
    job('v', 'BestEffort', 'b', 7),
  ];
  const expected = ['w', 'x', 'y', 'v'];
  t.deepEqual(keys(queueOrder(jobs)), expected);
  t.deepEqual(keys(queueOrder([...jobs].reverse())), expected);
  t.deepEqual(keys(queueOrder([jobs[2]!, jobs[0]!, jobs[3]!, jobs[1]!])), expected);
});

test('returns a new array with the callers objects and leaves the input alone', (t) => {
  const jobs = [job('b', 'BestEffort', 'a', 2), job('a', 'Premium', 'a', 1)] as const;
  const out = queueOrder(jobs);
  t.not(out, jobs as unknown);
  t.is(out[0], jobs[1]);
  t.deepEqual(keys(jobs), ['b', 'a']);
  t.deepEqual(queueOrder([]), []);
});
