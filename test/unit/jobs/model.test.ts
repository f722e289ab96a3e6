import test from 'ava';
import {
  attemptUsage,
  failuresOf,
  isPlaced,
  isQueued,
  mergeUsage,
  partsOf,
  PodTimeLedger,
  podsPerPart,
  type JobObject,
} from '../../../operator/controllers/jobs/model.ts';

const t0 = Date.parse('2026-11-28T10:00:00Z');
const job = (spec: Record<string, unknown>, status: Record<string, unknown> = {}, kind = 'InferenceJob') =>
  ({
    kind,
    metadata: { name: 'j', namespace: 'ns' },
    spec: { sla: { priceCap: '1' }, resources: { gpus: 1 }, ...spec },
    status,
  }) as unknown as JobObject;

test('usage: GPUs × seconds from each pod start to its end or now; pods that never started cost nothing', (t) => {
  const u = attemptUsage(
    [{ gpus: 2, startedAt: t0, endedAt: t0 + 60_000 }, { gpus: 1, startedAt: t0 + 30_000 }, { gpus: 8 }],
    { attempt: 2, pool: 'a', price: '2.15' },
    t0 + 90_000,
  );
  t.is(u.gpuSeconds, 2 * 60 + 1 * 60);
  t.is(u.startTime, '2026-11-28T10:00:00Z');
  t.is(u.attempt, 2);
  t.is(u.price, '2.15');
});

test('usage never goes below what was recorded (pods gone from the member no longer show)', (t) => {
  const u = attemptUsage([], { attempt: 1, pool: 'a' }, t0, {
    attempt: 1,
    gpuSeconds: 500,
    startTime: '2026-11-28T09:00:00Z',
  });
  t.is(u.gpuSeconds, 500);
  t.is(u.startTime, '2026-11-28T09:00:00Z');
});

test('a scaled-down Deployment: the deleted pod keeps its GPU time once it has left the member (the ledger)', (t) => {
  const base = { attempt: 1, pool: 'a' };
  const a = { id: 'uid-a', gpus: 1, startedAt: t0 };
  const b = { id: 'uid-b', gpus: 1, startedAt: t0 };
  const ledger = new PodTimeLedger();
  const both = attemptUsage([a, b], base, t0 + 20_000, undefined, ledger);
  t.is(both.gpuSeconds, 40);
  // b is deleted at 20 s (its deletionTimestamp), then leaves the cache; a runs on
  const deleting = attemptUsage([a, { ...b, endedAt: t0 + 20_000 }], base, t0 + 22_000, both, ledger);
  t.is(deleting.gpuSeconds, 42);
  const after = attemptUsage([a], base, t0 + 30_000, deleting, ledger);
  t.is(after.gpuSeconds, 30 + 20, "a's 30 s and b's 20 s");
  // without the ledger the sum stood still at the floor until a alone caught up, and b's time was lost
  t.is(attemptUsage([a], base, t0 + 30_000, deleting).gpuSeconds, 42);
  t.is(attemptUsage([a], base, t0 + 60_000, deleting).gpuSeconds, 60);
  t.is(attemptUsage([a], base, t0 + 60_000, after, ledger).gpuSeconds, 80);
  // a pod that leaves the cache and comes back (a relist) is not counted twice
  attemptUsage([], base, t0 + 61_000, undefined, ledger);
  t.is(attemptUsage([a], base, t0 + 62_000, undefined, ledger).gpuSeconds, 62 + 20);
  t.is(ledger.size, 2);
  // a deletionTimestamp is the delete plus the grace period (here 40 s after the start): last seen 15 s after
  // its start, then gone, the pod counts 15 s, not 40
  const c = { id: 'uid-c', gpus: 1, startedAt: t0 + 100_000 };
  const l2 = new PodTimeLedger();
  attemptUsage([{ ...c, endedAt: t0 + 140_000 }], base, t0 + 115_000, undefined, l2);
  t.is(attemptUsage([], base, t0 + 200_000, undefined, l2).gpuSeconds, 15);
  // a pod without an id (none known) counts while it is there, and is not remembered
  t.is(attemptUsage([{ gpus: 2, startedAt: t0 }], base, t0 + 10_000, undefined, new PodTimeLedger()).gpuSeconds, 20);
});

test('meteredTime says when gpuSeconds was true: it moves with usage, and each minute while nothing changes', (t) => {
  const running = [{ gpus: 1, startedAt: t0 }];
  const first = attemptUsage(running, { attempt: 1, pool: 'a' }, t0 + 10_000);
  t.is(first.meteredTime, '2026-11-28T10:00:10Z');
  const moved = attemptUsage(running, { attempt: 1, pool: 'a' }, t0 + 20_000, first);
  t.is(moved.meteredTime, '2026-11-28T10:00:20Z');
  // nothing runs: the same usage keeps its time for a minute (no write per reconcile), then moves on
  const idle = attemptUsage([], { attempt: 1, pool: 'a' }, t0 + 30_000, moved);
  t.is(idle.meteredTime, '2026-11-28T10:00:20Z');
  const later = attemptUsage([], { attempt: 1, pool: 'a' }, t0 + 80_000, moved);
  t.is(later.meteredTime, '2026-11-28T10:01:20Z');
});

test('per-attempt entries merge by attempt and sum', (t) => {
  const m = mergeUsage([{ attempt: 1, gpuSeconds: 10, endReason: 'PoolLost' }], { attempt: 2, gpuSeconds: 5 });
  t.is(m.gpuSeconds, 15);
  t.deepEqual(
    m.attempts.map((a) => a.attempt),
    [1, 2],
  );
  t.is(mergeUsage(m.attempts, { attempt: 2, gpuSeconds: 7 }).gpuSeconds, 17);
});

test('placed means the current attempt has a placement; a released one is queued again', (t) => {
  t.true(isQueued(job({})));
  const placed = job({}, { attempts: 1, placement: { pool: 'a', attempt: 1 } });
  t.true(isPlaced(placed));
  t.false(isQueued(placed));
  t.true(isQueued(job({}, { attempts: 1 })), 'placement removed after a failover');
  t.false(isQueued(job({ suspend: true })));
  t.false(isQueued(job({}, { phase: 'Failed' })));
});

test('parts and pods: replicas, Distributed workers, one pod per federated participant', (t) => {
  t.is(podsPerPart(job({ replicas: 3 })), 3);
  t.is(podsPerPart(job({ autoscaling: { minReplicas: 0, maxReplicas: 4 } })), 1);
  t.is(podsPerPart(job({ mode: 'Distributed', workers: 4 }, {}, 'TrainingJob')), 4);
  const fed = job({ mode: 'Federated', workers: 3, federated: { rounds: 2 } }, {}, 'TrainingJob');
  t.is(partsOf(fed), 3);
  t.is(podsPerPart(fed), 1);
});

test('retries count pool losses and failures, not preemptions', (t) => {
  const j = job(
    {},
    {
      usage: {
        attempts: [
          { attempt: 1, endReason: 'Preempted' },
          { attempt: 2, endReason: 'PoolLost' },
          { attempt: 3, endReason: 'Failed' },
        ],
      },
    },
  );
  t.is(failuresOf(j), 2);
});
