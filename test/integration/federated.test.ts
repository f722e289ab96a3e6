// A Federated TrainingJob end to end: the real operator places three participants on three pools of the
// simulated clusters (two clusters), starts the job's coordinator and publishes where it listens; three
// participant processes (standing in for the participant pods, speaking the real protocol with development
// evidence) join it, and the job's status advances round by round — SecureAggregation, every participant
// contributing — to Succeeded, with each round's aggregate hash recorded.
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { ProviderPool, TrainingJob } from '../../operator/api/types.gen.ts';
import { participantName } from '../../operator/materialize/names.ts';
import { createDevAttester, devPolicy } from '../../provider-runtime/attester/attester.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { type OperatorProc, startOperator } from '../helpers/operator.ts';
import { kubeconfigPath, loadKubeConfig, projectRoot, uniqueName } from '../helpers/sim.ts';

const run = uniqueName('fl');
const label = { 'nvdax.io/test-run': run };
const hub = loadKubeConfig('hub');
const opNs = `${run}-system`;
const jobsNs = `${run}-jobs`;
const tenant = `nvdax-${jobsNs}`;
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
  kubectl('hub', ['apply', '--server-side', '--force-conflicts', '-f', join(import.meta.dirname, '..', '..', 'crds')]);
  kubectl('hub', ['wait', '--for=condition=Established', 'crd/trainingjobs.nvdax.io', '--timeout=30s']);
  await createNamespace(hub, opNs);
  await createNamespace(hub, jobsNs);
  for (const c of ['gpu-a', 'gpu-b']) {
    kubectl('hub', ['-n', opNs, 'create', 'secret', 'generic', c, `--from-file=kubeconfig=${kubeconfigPath(c)}`]);
  }
  for (const p of pools) {
    const labels = { ...label, 'nvdax.io/test-group': p.name };
    apply(
      p.cluster,
      buildNodes(p.name, { template: 'gpu-container', gpu: 'L4', count: 1, labels }, 'eu-west', 'eu-west-a'),
    );
    apply('hub', [
      {
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'ProviderPool',
        metadata: { name: p.name, labels: label },
        spec: {
          provider: { address: '0x4444444444444444444444444444444444444444' },
          region: 'eu-west',
          jurisdiction: 'DE',
          development: true,
          cluster: { mode: 'KubeconfigSecret', secretRef: { name: p.cluster, namespace: opNs } },
          nodeSelector: labels,
          baseRates: [{ gpuProduct: 'NVIDIA-L4', pricePerGpuHour: '0.40' }],
        },
      },
    ]);
  }
  op = startOperator({
    identity: `${run}-op-1`,
    poolSelector: `nvdax.io/test-run=${run}`,
    leaseNamespace: opNs,
    extra: ['--federated-bind-address', '127.0.0.1', '--attestation-policy', join(dir, 'policy.json')],
  });
  for (const p of pools) {
    await eventually(
      `pool ${p.name} Ready`,
      async () => getJson<ProviderPool>('hub', ['get', 'providerpool', p.name]).status?.phase === 'Ready',
      60_000,
    );
  }
});

test.after.always(async () => {
  for (const c of children) c.kill('SIGKILL');
  await op?.stop();
  kubectl('hub', ['-n', jobsNs, 'delete', 'tj', '--all', '--wait=false']);
  for (const n of kubectl('hub', ['-n', jobsNs, 'get', 'tj', '-o', 'name']).split('\n').filter(Boolean)) {
    kubectl('hub', ['-n', jobsNs, 'patch', n, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  }
  kubectl('hub', ['delete', 'providerpools', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
  for (const c of ['gpu-a', 'gpu-b']) {
    kubectl(c, ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
    await deleteNamespace(loadKubeConfig(c), tenant);
  }
  await deleteNamespace(hub, jobsNs);
  await deleteNamespace(hub, opNs);
  rmSync(dir, { recursive: true, force: true });
});

function participant(coordinator: string, id: string, index: number): Promise<number | null> {
  const p = spawn(
    process.execPath,
    [
      join(projectRoot, 'provider-runtime', 'participant', 'main.ts'),
      '--coordinator',
      coordinator,
      '--job',
      `${jobsNs}/fl`,
      '--id',
      id,
      '--index',
      String(index),
      '--samples',
      '150',
      '--epochs',
      '1',
      '--dev-attester-keys',
      join(dir, 'keys.json'),
      '--init-data',
      join(dir, 'init.toml'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
  );
  children.push(p);
  return new Promise((resolve) => p.on('close', resolve));
}

test.serial('a Federated TrainingJob on three pools advances its rounds in status to Succeeded', async (t) => {
  apply('hub', [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: 'fl', namespace: jobsNs, labels: label },
      spec: {
        mode: 'Federated',
        runtime: { engine: 'Flower', image: `ghcr.io/nvdax/fl@sha256:${'ab'.repeat(32)}` },
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
  const codes = await Promise.all([0, 1, 2].map((i) => participant(endpoint, participantName('fl', 1, i), i)));
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
});
