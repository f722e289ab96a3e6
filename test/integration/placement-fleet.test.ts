// Placement across a fleet that changes under it: federated participants on distinct pools,
// Premium preempting BestEffort, readiness while a member's controller-manager is stopped, failover
// when a member API server dies (gpu-e, stopped and restarted here), an operator killed
// mid-placement, and many jobs on few GPUs. Real operator process, real member clusters with the
// run's own kwok nodes and pools.
import test from 'ava';
import { readState } from '../../hack/sim/state.ts';
import { startComponent, stopComponent } from '../../hack/sim/cluster.ts';
import { simDir } from '../helpers/sim.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { cond, type Job, placementRun } from '../helpers/placement-run.ts';

const f = placementRun('pf');
const {
  run,
  label,
  jobsNs,
  tenant,
  image,
  payment,
  jobWhen,
  nodes,
  pool,
  poolReady,
  inferenceJob,
  memberDeployments,
  startOp,
} = f;

/** gpu-e, the member whose components the tests here stop and start again. */
function gpuEPlan() {
  const plan = readState(simDir())?.clusters.find((c) => c.name === 'gpu-e');
  if (!plan) throw new Error('the test sim has no gpu-e cluster (make sim-test-up starts it)');
  return plan;
}

let op: OperatorProc;
test.before(async () => {
  await f.setUp();
  op = startOp(1);
});
test.after.always(async () => {
  await op?.stop();
  await f.tearDown();
});

test.serial('a Federated TrainingJob gets one participant on each of two pools, all or none', async (t) => {
  const a = nodes('gpu-a', 'fed', 1);
  const b = nodes('gpu-b', 'fed', 1);
  apply('hub', [pool(`${run}-fed-a`, 'gpu-a', a, '2.00'), pool(`${run}-fed-b`, 'gpu-b', b, '2.50')]);
  await poolReady(`${run}-fed-a`);
  await poolReady(`${run}-fed-b`);
  const fed = (name: string, workers: number) => ({
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name, namespace: jobsNs, labels: label },
    spec: {
      mode: 'Federated',
      workers,
      federated: { rounds: 3, minParticipants: 2 },
      runtime: { engine: 'Custom', image },
      resources: { gpus: 2, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
      sla: { priceCap: '50' },
      payment,
    },
  });
  // three participants cannot go to three distinct pools here: none is placed
  apply('hub', [fed('fed3', 3)]);
  const three = await jobWhen('tj', 'fed3', 'fed3 unschedulable', (j) => cond(j, 'Scheduled')?.status === 'False');
  t.is(three.status?.placement, undefined);
  t.is((three.status as { participants?: unknown[] }).participants, undefined);
  apply('hub', [fed('fed2', 2)]);
  const j = await jobWhen('tj', 'fed2', 'fed2 placed', (x) => x.status?.placement?.pool !== undefined);
  const parts = (j.status as { participants?: Array<{ index: number; pool: string; price: string }> }).participants;
  t.deepEqual(
    parts?.map((p) => [p.index, p.pool]),
    [
      [0, `${run}-fed-a`],
      [1, `${run}-fed-b`],
    ],
  );
  // each participant's workload is in its own pool's member cluster
  await eventually(
    'each participant workload in its own pool member',
    async () => {
      try {
        return (
          getJson('gpu-a', ['-n', tenant, 'get', 'job', 'fed2-a1-p0']) &&
          getJson('gpu-b', ['-n', tenant, 'get', 'job', 'fed2-a1-p1'])
        );
      } catch {
        return undefined;
      }
    },
    30_000,
  );
  t.throws(() => kubectl('gpu-a', ['-n', tenant, 'get', 'job', 'fed2-a1-p1']), { message: /NotFound/ });
  kubectl('hub', ['-n', jobsNs, 'delete', 'tj', 'fed2', 'fed3']);
  kubectl('hub', ['delete', 'providerpool', `${run}-fed-a`, `${run}-fed-b`]);
});

test.serial(
  'a Premium job preempts the newest BestEffort job, never a Reserved one; the victim is queued again',
  async (t) => {
    const sel = nodes('gpu-a', 'pre', 1);
    apply('hub', [pool(`${run}-pre`, 'gpu-a', sel, '2.00')]);
    await poolReady(`${run}-pre`);
    apply('hub', [inferenceJob('reserved', 'pre', { gpus: 4, tier: 'Reserved' })]);
    await jobWhen('ij', 'reserved', 'reserved Running', (j) => j.status?.phase === 'Running');
    apply('hub', [inferenceJob('besteffort', 'pre', { gpus: 4 })]);
    await jobWhen('ij', 'besteffort', 'besteffort Running', (j) => j.status?.phase === 'Running');
    apply('hub', [inferenceJob('premium', 'pre', { gpus: 4, tier: 'Premium' })]);
    const p = await jobWhen('ij', 'premium', 'premium placed', (j) => j.status?.placement?.pool !== undefined, 60_000);
    t.is(p.status?.placement?.pool, `${run}-pre`);
    const victim = await jobWhen(
      'ij',
      'besteffort',
      'besteffort preempted',
      (j) => cond(j, 'Preempted')?.status === 'True',
    );
    t.regex(cond(victim, 'Preempted')?.message ?? '', /premium/);
    t.is(victim.status?.phase, 'Pending', 'queued again, not lost');
    t.is(victim.status?.placement, undefined);
    const reserved = getJson<Job>('hub', ['-n', jobsNs, 'get', 'ij', 'reserved']);
    t.is(reserved.status?.attempts, 1, 'a Reserved job is never preempted');
    t.is(cond(reserved, 'Preempted'), undefined);
    const events = kubectl('hub', [
      '-n',
      jobsNs,
      'get',
      'events',
      '--field-selector',
      'reason=Preempted',
      '-o',
      'json',
    ]);
    t.regex(events, /Preempted by InferenceJob .*premium/);
    // the victim's pods are gone from the member: only the two others run there
    await eventually(
      'victim workload removed',
      async () => memberDeployments('gpu-a', 'nvdax.io/job-name=besteffort').length === 0,
      30_000,
    );
    kubectl('hub', ['-n', jobsNs, 'delete', 'ij', 'reserved', 'besteffort', 'premium']);
    kubectl('hub', ['delete', 'providerpool', `${run}-pre`]);
  },
);

test.serial(
  "a job is Running once its pod is Ready in the member, before the member's Deployment status says so",
  async (t) => {
    const gpuE = gpuEPlan();
    const e = nodes('gpu-e', 'rp', 1);
    apply('hub', [pool(`${run}-rp-e`, 'gpu-e', e, '1.00')]);
    await poolReady(`${run}-rp-e`);
    // the pod is made, then its ReplicaSet's and Deployment's status can no longer follow it: the
    // controller-manager stops while the pod waits for the scheduler, which then binds it (kwok readies it)
    await stopComponent(gpuE, 'kube-scheduler');
    try {
      apply('hub', [inferenceJob('ready-pod', 'rp')]);
      await eventually(
        'the job pod made in gpu-e',
        async () =>
          getJson<{ items: unknown[] }>('gpu-e', ['-n', tenant, 'get', 'pods', '-l', 'nvdax.io/job-name=ready-pod'])
            .items.length === 1,
        30_000,
      );
      await stopComponent(gpuE, 'kube-controller-manager');
      await startComponent(gpuE, 'kube-scheduler');
      const j = await jobWhen('ij', 'ready-pod', 'ready-pod Running', (x) => x.status?.phase === 'Running', 30_000);
      t.is(cond(j, 'Ready')?.status, 'True');
      t.is((j.status as { readyReplicas?: number }).readyReplicas, 1);
      const dep = getJson<{ status?: { readyReplicas?: number } }>('gpu-e', [
        '-n',
        tenant,
        'get',
        'deployment',
        'ready-pod-a1',
      ]);
      t.is(dep.status?.readyReplicas ?? 0, 0, 'the Deployment did not say it: the pod did');
    } finally {
      await startComponent(gpuE, 'kube-scheduler');
      await startComponent(gpuE, 'kube-controller-manager');
    }
    kubectl('hub', ['-n', jobsNs, 'delete', 'ij', 'ready-pod']);
    kubectl('hub', ['delete', 'providerpool', `${run}-rp-e`]);
  },
);

test.serial(
  'a lost member is failed over after the grace period; when it returns, the old attempt is removed',
  async (t) => {
    const gpuE = gpuEPlan();
    const e = nodes('gpu-e', 'fo', 1);
    const a = nodes('gpu-a', 'fo', 1);
    // the pool on gpu-e is cheaper, so it is chosen first
    apply('hub', [pool(`${run}-fo-e`, 'gpu-e', e, '1.00'), pool(`${run}-fo-a`, 'gpu-a', a, '3.00')]);
    await poolReady(`${run}-fo-e`);
    await poolReady(`${run}-fo-a`);
    apply('hub', [inferenceJob('survivor', 'fo')]);
    const first = await jobWhen('ij', 'survivor', 'survivor Running on gpu-e', (j) => j.status?.phase === 'Running');
    t.is(first.status?.placement?.pool, `${run}-fo-e`);
    t.is(memberDeployments('gpu-e', 'nvdax.io/job-name=survivor').length, 1);
    await stopComponent(gpuE, 'kube-apiserver');
    try {
      const moved = await jobWhen(
        'ij',
        'survivor',
        'survivor placed again on gpu-a',
        (j) => j.status?.placement?.pool === `${run}-fo-a`,
        60_000,
      );
      t.is(moved.status?.attempts, 2);
      t.is(moved.status?.placement?.attempt, 2);
      const ended = moved.status?.usage?.attempts?.find((x) => x.attempt === 1);
      t.is(ended?.endReason, 'PoolLost');
      t.truthy(ended?.endTime);
      await jobWhen('ij', 'survivor', 'survivor Running on gpu-a', (j) => j.status?.phase === 'Running');
      t.deepEqual(
        memberDeployments('gpu-a', 'nvdax.io/job-name=survivor').map((d) => d.metadata.name),
        ['survivor-a2'],
      );
    } finally {
      await startComponent(gpuE, 'kube-apiserver');
    }
    // fencing: once gpu-e answers again, the first attempt's objects there are deleted
    await eventually(
      'attempt 1 removed from gpu-e',
      async () => memberDeployments('gpu-e', 'nvdax.io/job-name=survivor').length === 0,
      60_000,
    );
    const now = getJson<Job>('hub', ['-n', jobsNs, 'get', 'ij', 'survivor']);
    t.is(now.status?.placement?.pool, `${run}-fo-a`, 'it stays where it runs: one place at a time');
    t.is(now.status?.attempts, 2);
    kubectl('hub', ['-n', jobsNs, 'delete', 'ij', 'survivor']);
    kubectl('hub', ['delete', 'providerpool', `${run}-fo-e`, `${run}-fo-a`]);
  },
);
