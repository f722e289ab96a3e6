// Placement at scale: an operator killed mid-placement of 200 jobs, and 500 jobs on 240 GPUs.
// hack/test.sh runs this file after the other integration tests, alone, so that its load (hundreds of
// pods on gpu-b) does not slow the clusters the others time things on. Real operator, real members.
import test from 'ava';
import { join } from 'node:path';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { InferenceJob, ProviderPool, TrainingJob } from '../../operator/api/types.gen.ts';
import { kubeconfigPath, loadKubeConfig, uniqueName } from '../helpers/sim.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { startOperator, type OperatorProc } from '../helpers/operator.ts';

const run = uniqueName('ps');
const label = { 'nvdax.io/test-run': run };
const hub = loadKubeConfig('hub');
const opNs = `${run}-system`;
const jobsNs = `${run}-jobs`;
const tenant = `nvdax-${jobsNs}`;
const members = ['gpu-a', 'gpu-b', 'gpu-e'] as const;

type Job = (InferenceJob | TrainingJob) & { metadata: { name: string; uid?: string } };
const cond = (j: Job, type: string) => j.status?.conditions?.find((c) => c.type === type);
const listJobs = (selector: string) =>
  getJson<{ items: Job[] }>('hub', ['-n', jobsNs, 'get', 'ij', '-l', selector]).items;
/** Nodes of this run on `cluster`, tagged `group` so each test's pool selects only its own. */
function nodes(cluster: string, group: string, count: number, gpu: 'H100' | 'L4' = 'H100') {
  const labels = { ...label, 'nvdax.io/test-group': group };
  apply(
    cluster,
    buildNodes(`${run}-${group}`, { template: 'gpu-container', gpu, count, labels }, 'eu-west', 'eu-west-a'),
  );
  return labels;
}

function pool(name: string, cluster: string, selector: Record<string, string>, rate: string, extra = {}): object {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name, labels: label },
    spec: {
      provider: { address: '0x4444444444444444444444444444444444444444' },
      region: 'eu-west',
      jurisdiction: 'DE',
      cluster: { mode: 'KubeconfigSecret', secretRef: { name: cluster, namespace: opNs } },
      nodeSelector: selector,
      baseRates: [
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: rate },
        { gpuProduct: 'NVIDIA-L4', pricePerGpuHour: rate },
      ],
      heartbeatTimeout: '5s',
      ...extra,
    },
  };
}

const poolReady = (name: string) =>
  eventually(
    `pool ${name} Ready`,
    async () => getJson<ProviderPool>('hub', ['get', 'providerpool', name]).status?.phase === 'Ready',
    60_000,
  );

const image = `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}`;
const payment = { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` };
function inferenceJob(name: string, group: string, o: { gpus?: number; tier?: string; product?: string } = {}): object {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name, namespace: jobsNs, labels: { ...label, 'nvdax.io/test-group': group } },
    spec: {
      model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
      runtime: { engine: 'Custom', image },
      resources: { gpus: o.gpus ?? 1, gpuProducts: [o.product ?? 'NVIDIA-H100-80GB-HBM3'] },
      sla: { priceCap: '50', tier: o.tier ?? 'BestEffort', ...(o.tier === 'Premium' ? { maxLatencyMs: 500 } : {}) },
      retries: 2,
      payment,
    },
  };
}

/** Deployments of this run's jobs on a member, by name. */
const memberDeployments = (cluster: string, selector = 'app.kubernetes.io/managed-by=nvdax') =>
  getJson<{ items: Array<{ metadata: { name: string; labels: Record<string, string> } }> }>(cluster, [
    '-n',
    tenant,
    'get',
    'deployments',
    '-l',
    selector,
  ]).items;

let op: OperatorProc;
const startOp = (n: number, extra: string[] = []) =>
  startOperator({
    identity: `${run}-op-${n}`,
    poolSelector: `nvdax.io/test-run=${run}`,
    leaseNamespace: opNs,
    // a lease that survives a CI machine saturated by the other tests (leader election is tested elsewhere)
    extra: ['--failover-grace', '4s', '--lease-duration', '15s', '--renew-deadline', '10s', ...extra],
  });

test.before(async () => {
  kubectl('hub', ['apply', '--server-side', '--force-conflicts', '-f', join(import.meta.dirname, '..', '..', 'crds')]);
  kubectl('hub', ['wait', '--for=condition=Established', 'crd/inferencejobs.nvdax.io', '--timeout=30s']);
  await createNamespace(hub, opNs);
  await createNamespace(hub, jobsNs);
  for (const c of members) {
    kubectl('hub', ['-n', opNs, 'create', 'secret', 'generic', c, `--from-file=kubeconfig=${kubeconfigPath(c)}`]);
  }
  op = startOp(1);
});

test.after.always(async () => {
  await op?.stop();
  kubectl('hub', ['-n', jobsNs, 'delete', 'ij,tj', '--all', '--wait=false']);
  kubectl('hub', ['delete', 'providerpools', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
  for (const kind of ['ij', 'tj']) {
    const names = kubectl('hub', ['-n', jobsNs, 'get', kind, '-o', 'name']).split('\n').filter(Boolean);
    for (const n of names) {
      kubectl('hub', ['-n', jobsNs, 'patch', n, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
  }
  for (const c of members) {
    kubectl(c, ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
    await deleteNamespace(loadKubeConfig(c), tenant);
  }
  await deleteNamespace(hub, jobsNs);
  await deleteNamespace(hub, opNs);
});

test.serial('an operator killed mid-placement of 200 jobs: after restart each is placed exactly once', async (t) => {
  const sel = nodes('gpu-b', 'many', 30, 'L4'); // 30 × 8 = 240 GPUs
  apply('hub', [pool(`${run}-many`, 'gpu-b', sel, '1.00')]);
  await poolReady(`${run}-many`);
  t.timeout(300_000);
  // a slow operator (40 requests/s to each cluster), so the kill lands mid-placement, not after it
  await op.stop();
  op = startOp(2, [
    '--kube-api-qps',
    '40',
    '--kube-api-burst',
    '20',
    '--lease-duration',
    '15s',
    '--renew-deadline',
    '10s',
  ]);
  const jobs = Array.from({ length: 200 }, (_, i) => inferenceJob(`k-${i}`, 'kill', { product: 'NVIDIA-L4' }));
  apply('hub', jobs);
  await eventually(
    'some of the 200 placed',
    async () => listJobs('nvdax.io/test-group=kill').filter((j) => j.status?.placement).length >= 20,
    60_000,
    100,
  );
  await op.kill();
  const placedAtKill = listJobs('nvdax.io/test-group=kill').filter((j) => j.status?.placement).length;
  t.log(`${placedAtKill} of 200 placed when the operator was killed`);
  t.true(placedAtKill < 200, 'killed mid-placement');
  op = startOp(3);
  const restarted = op;
  t.teardown(() => {
    // on failure, what the restarted operator said
    const errors = restarted.proc.lines.filter((l) => /warn|error|fatal|^[456]0$/.test(String(l['level']))).slice(-10);
    if (restarted.proc.child.exitCode !== null || errors.length) {
      t.log(`operator exit ${restarted.proc.child.exitCode}: ${restarted.proc.stderr.slice(-2000)}`);
      for (const l of errors) t.log(JSON.stringify(l).slice(0, 500));
    }
  });
  const all = await eventually(
    'all 200 Running',
    async () => {
      const js = listJobs('nvdax.io/test-group=kill');
      return js.length === 200 && js.every((j) => j.status?.phase === 'Running') ? js : undefined;
    },
    180_000,
    1000,
  );
  t.true(
    all.every((j) => j.status?.attempts === 1),
    'no job placed twice',
  );
  const deps = memberDeployments('gpu-b').filter((d) => d.metadata.name.startsWith('k-'));
  t.is(deps.length, 200, 'one Deployment per job');
  t.is(new Set(deps.map((d) => d.metadata.name)).size, 200);
  t.true(deps.every((d) => d.metadata.name.endsWith('-a1')));
});

test.serial(
  '500 one-GPU jobs on 240 GPUs: exactly the capacity is placed and Running, no node over-committed',
  async (t) => {
    t.timeout(420_000);
    kubectl('hub', ['-n', jobsNs, 'delete', 'ij', '-l', 'nvdax.io/test-group=kill', '--wait=false']);
    await eventually('the 200 gone', async () => listJobs('nvdax.io/test-group=kill').length === 0, 120_000, 1000);
    await eventually(
      'their pods gone',
      async () => kubectl('gpu-b', ['-n', tenant, 'get', 'pods', '-o', 'name']).trim() === '',
      120_000,
      1000,
    );
    const jobs = Array.from({ length: 500 }, (_, i) => inferenceJob(`m-${i}`, 'many', { product: 'NVIDIA-L4' }));
    apply('hub', jobs);
    const settled = await eventually(
      '240 Running and 260 waiting',
      async () => {
        const js = listJobs('nvdax.io/test-group=many');
        const running = js.filter((j) => j.status?.phase === 'Running').length;
        const waiting = js.filter((j) => cond(j, 'Scheduled')?.status === 'False').length;
        return running === 240 && waiting === 260 ? js : undefined;
      },
      360_000,
      2000,
    );
    t.is(settled.filter((j) => j.status?.placement).length, 240, 'no placement beyond the GPUs that exist');
    const pods = getJson<{
      items: Array<{
        spec: { nodeName?: string; containers: Array<{ resources: { limits?: Record<string, string> } }> };
      }>;
    }>('gpu-b', ['-n', tenant, 'get', 'pods']).items;
    const perNode = new Map<string, number>();
    for (const p of pods) {
      const n = p.spec.nodeName ?? 'unbound';
      perNode.set(n, (perNode.get(n) ?? 0) + Number(p.spec.containers[0]?.resources.limits?.['nvidia.com/gpu'] ?? 0));
    }
    t.false(perNode.has('unbound'), 'every placed pod was bound: none waits for GPUs the ledger promised twice');
    t.true(
      [...perNode.values()].every((g) => g <= 8),
      `GPUs per node: ${[...perNode.values()].join(',')}`,
    );
    t.is(
      [...perNode.values()].reduce((a, b) => a + b, 0),
      240,
    );
    const msg = cond(settled.find((j) => cond(j, 'Scheduled')?.status === 'False') as Job, 'Scheduled')?.message ?? '';
    t.regex(msg, /InsufficientGpus|free/);
  },
);
