// A Federated TrainingJob end to end: the real operator places three participants on three pools of the
// simulated clusters (two clusters), starts the job's coordinator and publishes where it listens; three
// participant processes (standing in for the participant pods, speaking the real protocol with development
// evidence) join it, and the job's status advances round by round — SecureAggregation, every participant
// contributing — to Succeeded, with each round's aggregate hash recorded, and each round's checkpoint (written
// by a participant under --federated-checkpoint-root, signed, checked against the aggregate) in the lineage in
// status.checkpoints.
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrainingJob } from '../../operator/api/types.gen.ts';
import { type LineageSnapshot, verifyLineage } from '../../operator/training/lineage.ts';
import { participantName } from '../../operator/materialize/names.ts';
import { createDevAttester, devPolicy } from '../../provider-runtime/attester/attester.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { placementRun } from '../helpers/placement-run.ts';
import { projectRoot } from '../helpers/sim.ts';
import { SIM_RUN_ENV } from '../../hack/sim/cluster.ts';

const r = placementRun('fl', ['gpu-a', 'gpu-b']);
const { run, jobsNs } = r;
const dir = mkdtempSync(join(tmpdir(), 'nvdax-federated-'));
const pools = [
  { name: `${run}-a1`, cluster: 'gpu-a' },
  { name: `${run}-a2`, cluster: 'gpu-a' },
  { name: `${run}-b`, cluster: 'gpu-b' },
];
type Job = TrainingJob & { metadata: { name: string } };
const getJob = () => getJson<Job>('hub', ['-n', jobsNs, 'get', 'tj', 'fl']);

let op: OperatorProc;
const children: ChildProcess[] = [];

test.before(async () => {
  const attester = await createDevAttester();
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(devPolicy(attester)));
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(attester.keys));
  writeFileSync(join(dir, 'init.toml'), 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n');
  await r.setUp();
  for (const p of pools) {
    const selector = r.nodes(p.cluster, p.name.slice(run.length + 1), 1, 'L4');
    apply('hub', [r.pool(p.name, p.cluster, selector, '0.40', { development: true })]);
  }
  op = r.startOp(1, [
    '--failover-grace',
    '60s',
    '--federated-bind-address',
    '127.0.0.1',
    '--attestation-policy',
    join(dir, 'policy.json'),
    '--federated-checkpoint-root',
    join(dir, 'ckpt'),
  ]);
  for (const p of pools) await r.poolReady(p.name);
});

test.after.always(async () => {
  for (const c of children) c.kill('SIGKILL');
  await op?.stop();
  await r.tearDown();
  rmSync(dir, { recursive: true, force: true });
});

/** A participant process standing in for a participant pod: it gets the pod's environment, nothing else. */
function participant(podEnv: Record<string, string | undefined>): Promise<number | null> {
  const p = spawn(
    process.execPath,
    [
      join(projectRoot, 'provider-runtime', 'participant', 'main.ts'),
      '--samples',
      '150',
      '--epochs',
      '1',
      '--dev-attester-keys',
      join(dir, 'keys.json'),
      '--init-data',
      join(dir, 'init.toml'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...podEnv, NODE_NO_WARNINGS: '1' } },
  );
  children.push(p);
  return new Promise((resolve) => p.on('close', resolve));
}

test.serial('a Federated TrainingJob on three pools advances its rounds in status to Succeeded', async (t) => {
  apply('hub', [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: 'fl', namespace: jobsNs, labels: r.label },
      spec: {
        mode: 'Federated',
        // the simulated pods run until the test ends (kwok would finish a Job's pod 1-6 s after Ready, and the
        // finished job close its coordinator before the participants below, run by the test, reached it)
        runtime: { engine: 'Flower', image: `ghcr.io/nvdax/fl@sha256:${'ab'.repeat(32)}`, env: [{ ...SIM_RUN_ENV }] },
        workers: 3,
        resources: { gpus: 1 },
        federated: { rounds: 3, minParticipants: 3, aggregation: 'SecureAggregation', roundTimeout: '60s' },
        sla: { priceCap: '10' },
        payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
      },
    },
  ]);
  const waiting = await eventually(
    'coordinator published',
    async () => {
      const j = getJob();
      return j.status?.federation?.coordinator ? j : undefined;
    },
    90_000,
    250,
  );
  t.deepEqual(
    [...new Set(waiting.status?.participants?.map((p) => p.pool))].sort(),
    pools.map((p) => p.name).sort(),
    'one participant per pool',
  );
  t.is(waiting.status?.federation?.state, 'Waiting');
  t.is(waiting.status?.federation?.attempt, 1);
  const endpoint = waiting.status?.federation?.coordinator ?? '';
  // the participant Jobs the operator materialized tell their pods where the coordinator is, and who they are
  const envOf = (cluster: string) =>
    getJson<{
      items: Array<{
        spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
      }>;
    }>(cluster, ['-n', r.tenant, 'get', 'jobs.batch']).items.map((j) =>
      Object.fromEntries((j.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value])),
    );
  const envs = await eventually('participant Jobs materialized', async () => {
    const all = [...envOf('gpu-a'), ...envOf('gpu-b')];
    return all.length === 3 ? all : undefined;
  });
  t.deepEqual(
    envs.map((e) => [e['NVDAX_COORDINATOR'], e['NVDAX_JOB'], e['NVDAX_PARTICIPANT_ID']]).sort(),
    [0, 1, 2].map((i) => [endpoint, `${jobsNs}/fl`, participantName('fl', 1, i)]).sort(),
  );
  const codes = await Promise.all(envs.map((e) => participant(e)));
  t.deepEqual(codes, [0, 0, 0], 'every participant completed');
  const done = await eventually(
    'rounds complete',
    async () => {
      const j = getJob();
      return j.status?.federation?.state === 'Succeeded' ? j : undefined;
    },
    60_000,
    250,
  );
  t.is(done.status?.currentRound, 3);
  t.is(done.status?.progress, '100%');
  t.deepEqual(
    done.status?.rounds?.map((r) => [r.round, r.participants, r.contributors]),
    [
      [1, 3, 3],
      [2, 3, 3],
      [3, 3, 3],
    ],
  );
  for (const r of done.status?.rounds ?? []) t.regex(r.aggregateHash ?? '', /^sha256:[0-9a-f]{64}$/);
  t.is(new Set(done.status?.rounds?.map((r) => r.aggregateHash)).size, 3, 'the model changed every round');
  // every round's checkpoint is the aggregate, signed, and chained in status
  const lineage = done.status?.checkpoints as LineageSnapshot;
  t.notThrows(() => verifyLineage(lineage));
  t.deepEqual(
    lineage.entries.map((e) => [e.step, e.sha256]),
    (done.status?.rounds ?? []).map((r) => [r.round, r.aggregateHash]),
  );
  t.is(done.status?.lastCheckpoint?.step, 3);
});
