import test from 'ava';
import {
  finalLine,
  outcomeOf,
  progressOf,
  summaryCondition,
  watchJob,
  watchLines,
} from '../../../cli/commands/watch.ts';
import type { JobObject } from '../../../cli/format.ts';
import { main } from '../../../cli/nvdax.ts';
import type { InferenceJobObject, TrainingJobObject } from '../../../operator/api/resources.ts';
import type { Condition } from '../../../operator/api/types.gen.ts';
import { FakeHub, NOW, ago, kubeError, servingJob, testIo, trainingJob, waitingJob } from './fixtures.ts';

const T = '2026-03-01T12:00:00Z';

/** The chat job at each stage, with resourceVersions 1, 2, 3… */
function stages() {
  const base = servingJob();
  const cond = (type: string, status: Condition['status'], reason: string, message: string): Condition => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: ago(1),
  });
  const at = (rv: string, status: InferenceJobObject['status']): InferenceJobObject => ({
    ...base,
    metadata: { ...base.metadata, resourceVersion: rv },
    status,
  });
  const pending = at('1', {
    phase: 'Pending',
    conditions: [cond('Scheduled', 'False', 'NoMatchingPool', 'no pool fits: 1 pool: InsufficientGpus 1')],
  });
  const scheduled = at('2', {
    phase: 'Scheduled',
    conditions: [
      cond('Scheduled', 'True', 'Placed', 'placed on pool-a at 2.57'),
      cond('Ready', 'False', 'WorkloadNotReady', '0/2 replicas ready'),
    ],
    placement: base.status!.placement!,
  });
  const running = at('3', {
    ...scheduled.status,
    phase: 'Running',
    conditions: [scheduled.status!.conditions![0]!, cond('Ready', 'True', 'WorkloadReady', '2/2 replicas ready')],
    readyReplicas: 2,
  });
  const failed = at('4', {
    ...scheduled.status,
    phase: 'Failed',
    conditions: [
      ...scheduled.status!.conditions!,
      cond('Failed', 'True', 'RetriesExhausted', 'attempt 3 failed: ImagePullBackOff'),
    ],
  });
  return { pending, scheduled, running, failed };
}

test('watchLines: the first sight is one line for the condition behind the phase', (t) => {
  const { pending, running } = stages();
  t.deepEqual(watchLines(undefined, pending, NOW), [
    `${T} Pending NoMatchingPool: no pool fits: 1 pool: InsufficientGpus 1`,
  ]);
  t.deepEqual(watchLines(undefined, running, NOW), [`${T} Running WorkloadReady: 2/2 replicas ready`]);
  t.deepEqual(watchLines(undefined, { ...pending, status: undefined }, NOW), [
    `${T} Pending (not yet seen by the operator)`,
  ]);
});

test('watchLines: one line per changed condition, in lifecycle order; nothing new, nothing printed', (t) => {
  const { pending, scheduled, running, failed } = stages();
  t.deepEqual(watchLines(pending, scheduled, NOW), [
    `${T} Scheduled Placed: placed on pool-a at 2.57`,
    `${T} Scheduled WorkloadNotReady: 0/2 replicas ready`,
  ]);
  t.deepEqual(watchLines(scheduled, running, NOW), [`${T} Running WorkloadReady: 2/2 replicas ready`]);
  t.deepEqual(watchLines(scheduled, failed, NOW), [`${T} Failed RetriesExhausted: attempt 3 failed: ImagePullBackOff`]);
  t.deepEqual(watchLines(running, structuredClone(running), NOW), []);
  // a message change alone is a change
  const moving = structuredClone(scheduled);
  moving.status!.conditions![1]!.message = '1/2 replicas ready';
  t.deepEqual(watchLines(scheduled, moving, NOW), [`${T} Scheduled WorkloadNotReady: 1/2 replicas ready`]);
  // a bare phase change names the condition behind the new phase; an empty message prints the reason alone
  const suspended = structuredClone(scheduled);
  suspended.status!.phase = 'Suspended';
  suspended.status!.conditions![1]!.message = '';
  const before = structuredClone(suspended);
  before.status!.phase = 'Scheduled';
  t.deepEqual(watchLines(before, suspended, NOW), [`${T} Suspended WorkloadNotReady`]);
});

test('outcome: InferenceJob done when Running and Ready=True, TrainingJob when Succeeded, both fail on Failed', (t) => {
  const { pending, scheduled, running, failed } = stages();
  t.is(outcomeOf(pending), undefined);
  t.is(outcomeOf(scheduled), undefined);
  const notReady = structuredClone(running);
  notReady.status!.conditions![1]!.status = 'False';
  t.is(outcomeOf(notReady), undefined);
  t.is(outcomeOf(running), 'succeeded');
  t.is(outcomeOf(failed), 'failed');
  const tj = trainingJob();
  t.is(outcomeOf({ ...tj, status: { ...tj.status, phase: 'Running' } } as TrainingJobObject), undefined);
  t.is(outcomeOf({ ...tj, status: { ...tj.status, phase: 'Succeeded' } } as TrainingJobObject), 'succeeded');
});

test('progress: stages reached out of 3, the stage name and the detail', (t) => {
  const { pending, scheduled, running, failed } = stages();
  const show = (j: JobObject) => {
    const p = progressOf(j);
    return `${p.value}/${p.total} ${p.stage} | ${p.detail}`;
  };
  t.is(show(pending), '0/3 Pending | NoMatchingPool: no pool fits: 1 pool: InsufficientGpus 1');
  t.is(show(scheduled), '1/3 Scheduled | WorkloadNotReady: 0/2 replicas ready');
  t.is(show(running), '3/3 Ready | WorkloadReady: 2/2 replicas ready');
  t.is(show(failed), '1/3 Failed | RetriesExhausted: attempt 3 failed: ImagePullBackOff');
  const tj = trainingJob();
  t.is(show({ ...tj, status: { ...tj.status, phase: 'Running' } } as TrainingJobObject).slice(0, 11), '2/3 Running');
  t.is(summaryCondition(waitingJob())?.reason, 'NoMatchingPool');
});

test('final line: where it runs and at what price, or why it failed', (t) => {
  const { running, failed } = stages();
  t.is(
    finalLine(running, 'succeeded'),
    'InferenceJob team-a/chat is running and ready on pool-a at 2.57 NVDAx/GPU-hour (2 replicas ready)',
  );
  t.is(
    finalLine(failed, 'failed'),
    'InferenceJob team-a/chat failed: RetriesExhausted: attempt 3 failed: ImagePullBackOff',
  );
});

const fast = { backoffMs: () => 0 };

test('watch: lines as the job moves, a broken watch reopened at the last resourceVersion, exit 0 when ready', async (t) => {
  const { pending, scheduled, running } = stages();
  const hub = new FakeHub('team-a', [pending]);
  hub.watches.push(
    { events: [{ type: 'MODIFIED', object: scheduled }], end: kubeError('Network', 0, 'WATCH …: ECONNRESET') },
    { events: [{ type: 'BOOKMARK', object: { metadata: { resourceVersion: '2' } } }], end: undefined },
    { events: [{ type: 'MODIFIED', object: running }] },
  );
  const io = testIo(hub);
  t.is(await watchJob(hub, io, { kind: 'InferenceJob', name: 'chat', timeoutMs: 5000, ...fast }), 0);
  t.deepEqual(io.stdout, [
    `${T} Pending NoMatchingPool: no pool fits: 1 pool: InsufficientGpus 1`,
    `${T} Scheduled Placed: placed on pool-a at 2.57`,
    `${T} Scheduled WorkloadNotReady: 0/2 replicas ready`,
    `${T} Running WorkloadReady: 2/2 replicas ready`,
    'InferenceJob team-a/chat is running and ready on pool-a at 2.57 NVDAx/GPU-hour (2 replicas ready)',
  ]);
  t.deepEqual(io.stderr, [`${T} watch interrupted (WATCH …: ECONNRESET); reconnecting`]);
  t.deepEqual(
    hub.calls.map((c) => [c.verb, c.name ?? c.fieldSelector, c.namespace, c.resourceVersion]),
    [
      ['get', 'chat', 'team-a', undefined],
      ['watch', 'metadata.name=chat', 'team-a', '1'],
      ['watch', 'metadata.name=chat', 'team-a', '2'],
      ['watch', 'metadata.name=chat', 'team-a', '2'],
    ],
  );
  t.true(hub.closed);
});

test('watch: 410 Gone re-reads the object and watches on from its version; Failed exits 1', async (t) => {
  const { pending, scheduled, failed } = stages();
  const hub = new FakeHub('team-a', [pending]);
  hub.gets.push(pending, scheduled);
  hub.watches.push({ events: [], end: kubeError('Gone', 410) }, { events: [{ type: 'MODIFIED', object: failed }] });
  const io = testIo(hub);
  t.is(await watchJob(hub, io, { kind: 'InferenceJob', name: 'chat', timeoutMs: 5000, ...fast }), 1);
  t.deepEqual(
    hub.calls.map((c) => `${c.verb} ${c.resourceVersion ?? ''}`),
    ['get ', 'watch 1', 'get ', 'watch 2'],
  );
  t.is(io.stdout.length, 4);
  t.deepEqual(io.stderr, ['InferenceJob team-a/chat failed: RetriesExhausted: attempt 3 failed: ImagePullBackOff']);
});

test('watch: a TrainingJob is done when it Succeeded', async (t) => {
  const tj = trainingJob();
  const done = {
    ...tj,
    metadata: { ...tj.metadata, resourceVersion: '8' },
    status: { ...tj.status, phase: 'Succeeded' },
  };
  done.status.conditions = [
    ...tj.status!.conditions!,
    {
      type: 'Complete',
      status: 'True',
      reason: 'Completed',
      message: 'all workers succeeded',
      lastTransitionTime: ago(0),
    },
  ];
  const hub = new FakeHub('team-a', [tj]);
  hub.watches.push({ events: [{ type: 'MODIFIED', object: done as TrainingJobObject }] });
  const io = testIo(hub);
  t.is(await main(['watch', 'tj', 'fl'], io), 0);
  t.deepEqual(io.stdout, [
    `${T} Scheduled WorkloadNotReady: 1/3 workers running`,
    `${T} Succeeded Completed: all workers succeeded`,
    'TrainingJob team-a/fl succeeded on pool-b at 1.80 NVDAx/GPU-hour',
  ]);
});

test('watch: the timeout exits 2 and says where the job stands', async (t) => {
  const { pending } = stages();
  const hub = new FakeHub('team-a', [pending]);
  const io = testIo(hub);
  t.is(await main(['watch', 'ij', 'chat', '--timeout', '50ms'], io), 2);
  t.deepEqual(io.stderr, [
    'nvdax watch: timed out after 50ms: InferenceJob "chat" in namespace "team-a" is Pending ' +
      '(NoMatchingPool: no pool fits: 1 pool: InsufficientGpus 1)',
  ]);
  t.true(hub.closed);
});

test('watch: deleted, missing, forbidden: exit 1 with the reason', async (t) => {
  const { pending } = stages();
  let hub = new FakeHub('team-a', [pending]);
  hub.watches.push({ events: [{ type: 'DELETED', object: pending }] });
  let io = testIo(hub);
  t.is(await watchJob(hub, io, { kind: 'InferenceJob', name: 'chat', timeoutMs: 5000 }), 1);
  t.deepEqual(io.stderr, ['nvdax watch: InferenceJob "chat" in namespace "team-a" was deleted']);

  hub = new FakeHub('team-a', []);
  io = testIo(hub);
  t.is(await main(['watch', 'ij', 'chat', '-n', 'team-b'], io), 1);
  t.deepEqual(io.stderr, ['nvdax watch: InferenceJob "chat" in namespace "team-b" not found']);

  hub = new FakeHub('team-a', [pending]);
  hub.watches.push({ events: [], end: kubeError('Forbidden', 403, 'WATCH …: 403 forbidden') });
  io = testIo(hub);
  t.is(await watchJob(hub, io, { kind: 'InferenceJob', name: 'chat', timeoutMs: 5000, ...fast }), 1);
  t.deepEqual(io.stderr, [
    'nvdax watch: not allowed to read InferenceJob "chat" in namespace "team-a" (context "test-ctx"): WATCH …: 403 forbidden',
  ]);
  t.is(hub.calls.filter((c) => c.verb === 'watch').length, 1, 'a 403 is not retried');
});

test('watch: a watch that ends at once is reopened after a pause, not in a tight loop', async (t) => {
  const { pending, running } = stages();
  const hub = new FakeHub('team-a', [pending]);
  hub.watches.push({ events: [] }, { events: [] }, { events: [{ type: 'MODIFIED', object: running }] });
  const waits: number[] = [];
  const io = testIo(hub);
  const code = await watchJob(hub, io, {
    kind: 'InferenceJob',
    name: 'chat',
    timeoutMs: 5000,
    backoffMs: (n) => {
      waits.push(n);
      return 1;
    },
  });
  t.is(code, 0);
  t.deepEqual(waits, [1, 2]);
});

test('watch on a terminal: a cli-progress display with the stage, changes logged above it', async (t) => {
  const { pending, scheduled, running } = stages();
  const hub = new FakeHub('team-a', [pending]);
  hub.watches.push(
    { events: [{ type: 'MODIFIED', object: scheduled }] },
    { events: [{ type: 'MODIFIED', object: running }] },
  );
  let drawn = '';
  const tty = Object.assign(
    {
      write(s: string) {
        drawn += s;
        return true;
      },
    },
    { isTTY: true, columns: 200 },
  ) as unknown as NodeJS.WritableStream;
  const io = testIo(hub, {}, { isTTY: true, tty });
  t.is(await watchJob(hub, io, { kind: 'InferenceJob', name: 'chat', timeoutMs: 5000, ...fast }), 0);
  const esc = String.fromCharCode(27); // terminal control sequences: CSI …, save/restore cursor
  const plain = drawn.replace(new RegExp(`${esc}\\[[0-9;?]*[A-Za-z]|${esc}[78]`, 'g'), '');
  t.regex(plain, /InferenceJob team-a\/chat [█░]+ Ready \(3\/3\) WorkloadReady: 2\/2 replicas ready/);
  t.true(plain.includes(`${T} Scheduled Placed: placed on pool-a at 2.57\n`));
  t.deepEqual(io.stdout, [
    'InferenceJob team-a/chat is running and ready on pool-a at 2.57 NVDAx/GPU-hour (2 replicas ready)',
  ]);
});
