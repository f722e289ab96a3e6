// Work objects (operator/fleet/agent-work.ts): names, what the hub publishes, what the agent reports
// and how the job controller reads it back; and the agent member's heartbeat gate.
import test from 'ava';
import type { WorkObject } from '../../../operator/api/resources.ts';
import { AgentMember } from '../../../operator/fleet/agent-member.ts';
import {
  buildWork,
  observedWork,
  poolNamespace,
  specHashAnnotation,
  workloadNamesOf,
  workloadsOf,
  workName,
} from '../../../operator/fleet/agent-work.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { attemptOf, hubKeyOf, inferenceObjects, tenantObjects } from '../../../operator/materialize/index.ts';
import type { KubeObject } from '../../../operator/kube/types.ts';

const ref = { kind: 'InferenceJob' as const, namespace: 'team-a', name: 'chat', uid: 'u-1' };

test('pool namespaces and Work names are DNS names, hashed when the plain form does not fit', (t) => {
  t.is(poolNamespace('frankfurt-h100'), 'nvdax-pool-frankfurt-h100');
  const dotted = poolNamespace('eu.frankfurt');
  t.regex(dotted, /^nvdax-pool-eu-frankfurt-[0-9a-f]{8}$/);
  t.not(dotted, poolNamespace('eu-frankfurt'), 'a.b and a-b stay apart');
  const long = poolNamespace('x'.repeat(80));
  t.true(long.length <= 63);
  t.is(workName(ref, 2, 0), 'ij.team-a.chat.a2.p0');
  t.is(workName({ ...ref, kind: 'TrainingJob' }, 1, 3), 'tj.team-a.chat.a1.p3');
  const big = workName({ ...ref, name: 'n'.repeat(250) }, 1, 0);
  t.true(big.length <= 253);
  t.not(big, workName({ ...ref, namespace: 'team-b', name: 'n'.repeat(250) }, 1, 0));
});

test("a Work carries the job's labels and key, and a spec hash that changes only with its content", (t) => {
  const on = { pool: 'p', attempt: 1, mode: 'container' as const, resourceName: 'nvidia.com/gpu', product: 'H100' };
  const spec = {
    model: { id: 'org/m', hash: `sha256:${'cd'.repeat(32)}` },
    runtime: { engine: 'Custom', image: `img@sha256:${'ab'.repeat(32)}` },
    resources: { gpus: 1 },
    sla: { priceCap: '5' },
    payment: { requester: `0x${'33'.repeat(20)}`, escrowId: `0x${'11'.repeat(32)}` },
  };
  const { deployment, service } = inferenceObjects(ref, spec as never, on);
  const manifests = [...(tenantObjects('team-a', {}) as KubeObject[]), deployment as KubeObject, service as KubeObject];
  const w = buildWork(ref, 'p', 1, 0, manifests);
  t.is(w.metadata?.namespace, 'nvdax-pool-p');
  t.is(hubKeyOf(w), 'team-a/chat');
  t.is(attemptOf(w), 1);
  t.deepEqual(workloadNamesOf(w), ['chat-a1']);
  t.is(
    buildWork(ref, 'p', 1, 0, manifests).metadata?.annotations?.[specHashAnnotation],
    w.metadata?.annotations?.[specHashAnnotation],
  );
  const changed = buildWork(ref, 'p', 1, 0, manifests.slice(0, 3));
  t.not(changed.metadata?.annotations?.[specHashAnnotation], w.metadata?.annotations?.[specHashAnnotation]);
});

test("the agent's report reads back as the workloads and pods the rollup and metering read", (t) => {
  const work = {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'Work',
    metadata: { name: 'tj.team-a.train.a1.p0', namespace: 'nvdax-pool-p' },
    spec: {
      pool: 'p',
      job: { kind: 'TrainingJob', namespace: 'team-a', name: 'train' },
      attempt: 1,
      manifests: [
        { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'train-a1', namespace: 'nvdax-team-a' } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'train-a1', namespace: 'nvdax-team-a' } },
      ],
    },
  } as WorkObject;
  const job = {
    kind: 'Job',
    metadata: { name: 'train-a1', namespace: 'nvdax-team-a', labels: { 'nvdax.io/attempt': '1', other: 'x' } },
    spec: { completions: 2 },
    status: { active: 0, succeeded: 2, conditions: [{ type: 'Complete', status: 'True' }] },
  };
  const stranger = { kind: 'Job', metadata: { name: 'other-a1', namespace: 'nvdax-team-a' }, status: {} };
  const pod = (name: string, group: string) => ({
    metadata: { name, labels: { 'nvdax.io/slot-group': group, 'nvdax.io/attempt': '1' } },
    spec: { nodeName: 'n1', containers: [{ resources: { limits: { 'nvidia.com/gpu': '2', cpu: '1' } } }] },
    status: {
      phase: 'Succeeded',
      startTime: '2026-11-28T10:00:00Z',
      containerStatuses: [
        { state: { terminated: { finishedAt: '2026-11-28T10:05:00Z' } } },
        { state: { terminated: { finishedAt: '2026-11-28T10:06:00Z' } } },
      ],
    },
  });
  const observed = observedWork(work, [job, stranger], [pod('train-a1-0', 'train-a1'), pod('x', 'other-a1')]);
  t.deepEqual(observed.objects, [
    {
      kind: 'Job',
      namespace: 'nvdax-team-a',
      name: 'train-a1',
      labels: { 'nvdax.io/attempt': '1' },
      desired: 2,
      active: 0,
      succeeded: 2,
      complete: true,
    },
  ]);
  t.deepEqual(observed.pods, [
    {
      name: 'train-a1-0',
      node: 'n1',
      labels: { 'nvdax.io/attempt': '1' },
      gpus: 2,
      phase: 'Succeeded',
      startTime: '2026-11-28T10:00:00Z',
      finishTime: '2026-11-28T10:06:00Z',
    },
  ]);
  const [back] = workloadsOf({ ...work, status: observed });
  t.is(attemptOf(back ?? {}), 1);
  t.is(back?.spec?.completions, 2);
  t.deepEqual(back?.status?.conditions, [{ type: 'Complete', status: 'True' }]);
  const failed = workloadsOf({
    ...work,
    status: { objects: [{ kind: 'Job', name: 'j', failedMessage: 'BackoffLimitExceeded' }] },
  });
  t.deepEqual(failed[0]?.status?.conditions, [{ type: 'Failed', status: 'True', message: 'BackoffLimitExceeded' }]);
});

test("an agent member's gate is open while its heartbeat is younger than the timeout", (t) => {
  const clock = new FakeClock(Date.parse('2026-11-28T10:00:00Z'));
  const heard: boolean[] = [];
  const m = new AgentMember('p', clock, (x) => heard.push(x.ready()));
  t.false(m.ready(), 'no heartbeat yet');
  t.deepEqual(m.health(), { connected: false, since: 0 });
  m.observe({ heartbeatTime: '2026-11-28T09:59:50Z', nodes: [] }, 15_000);
  t.true(m.ready());
  t.is(m.health().lastContact, Date.parse('2026-11-28T09:59:50Z'));
  clock.advance(6_000);
  t.false(m.ready(), '16 s after the last heartbeat');
  t.like(m.health(), { connected: false, since: Date.parse('2026-11-28T10:00:05Z') });
  m.observe({ heartbeatTime: '2026-11-28T10:00:06Z' }, 15_000);
  t.false(m.ready(), 'a heartbeat without an inventory is not enough to place on');
  m.observe({ heartbeatTime: '2026-11-28T10:00:06Z', nodes: [] }, 15_000);
  // its users hear the gate open and close, as they hear a connected member's (observed at each pool reconcile)
  t.deepEqual(heard, [true, false, true]);
});
