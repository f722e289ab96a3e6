// One placement test run on the shared simulated clusters: its own operator namespace, jobs namespace,
// kwok nodes and pools (all labelled with the run), the builders the placement tests share, and the
// set-up and tear-down around them. placement-fleet and placement-scale each make one.
import { join } from 'node:path';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { InferenceJob, ProviderPool, TrainingJob } from '../../operator/api/types.gen.ts';
import { createNamespace, deleteNamespace, eventually } from './kube.ts';
import { apply, getJson, kubectl } from './kubectl.ts';
import { startOperator } from './operator.ts';
import { kubeconfigPath, loadKubeConfig, uniqueName } from './sim.ts';

export type Job = (InferenceJob | TrainingJob) & { metadata: { name: string; uid?: string } };
export const cond = (j: Job, type: string) => j.status?.conditions?.find((c) => c.type === type);

export function placementRun(prefix: string, members: readonly string[] = ['gpu-a', 'gpu-b', 'gpu-e']) {
  const run = uniqueName(prefix);
  const label = { 'nvdax.io/test-run': run };
  const hub = loadKubeConfig('hub');
  const opNs = `${run}-system`;
  const jobsNs = `${run}-jobs`;
  const tenant = `nvdax-${jobsNs}`;

  const jobWhen = (kind: 'ij' | 'tj', name: string, what: string, pred: (j: Job) => boolean, timeoutMs = 120_000) =>
    eventually(
      what,
      async () => {
        const j = getJson<Job>('hub', ['-n', jobsNs, 'get', kind, name]);
        return pred(j) ? j : undefined;
      },
      timeoutMs,
      250,
    );
  const listJobs = (selector: string) =>
    getJson<{ items: Job[] }>('hub', ['-n', jobsNs, 'get', 'ij', '-l', selector]).items;

  /** Nodes of this run on `cluster`, tagged `group` so each test's pool selects only its own. */
  function nodes(
    cluster: string,
    group: string,
    count: number,
    gpu: 'H100' | 'L4' = 'H100',
    confidential?: { tee: 'snp' | 'tdx' },
  ) {
    const labels = { ...label, 'nvdax.io/test-group': group };
    const template = confidential ? ('gpu-confidential' as const) : ('gpu-container' as const);
    apply(
      cluster,
      buildNodes(
        `${run}-${group}`,
        { template, gpu, count, labels, ...(confidential ? { tee: confidential.tee } : {}) },
        'eu-west',
        'eu-west-a',
      ),
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

  /** A development pool of confidential (SNP) H100s: the development attester's evidence is taken there. */
  const devConfidentialPool = (name: string, cluster: string, selector: Record<string, string>, provider: string) =>
    pool(name, cluster, selector, '2.90', {
      provider: { address: provider },
      development: true,
      baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Confidential', pricePerGpuHour: '2.90' }],
      confidentialRuntimes: [{ runtimeClassName: 'kata-qemu-nvidia-gpu-snp', teeType: 'snp' }],
    });

  const poolReady = (name: string) =>
    eventually(
      `pool ${name} Ready`,
      async () => getJson<ProviderPool>('hub', ['get', 'providerpool', name]).status?.phase === 'Ready',
      60_000,
    );

  const image = `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}`;
  const payment = { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` };
  function inferenceJob(
    name: string,
    group: string,
    o: { gpus?: number; tier?: string; product?: string } = {},
  ): object {
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

  const startOp = (n: number, extra: string[] = []) =>
    startOperator({
      identity: `${run}-op-${n}`,
      poolSelector: `nvdax.io/test-run=${run}`,
      leaseNamespace: opNs,
      // a lease that survives a CI machine saturated by the other tests (leader election is tested elsewhere)
      extra: ['--failover-grace', '4s', '--lease-duration', '15s', '--renew-deadline', '10s', ...extra],
    });

  /** CRDs, the run's namespaces, and a kubeconfig Secret per member (the operator is the test's). */
  async function setUp() {
    kubectl('hub', [
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      join(import.meta.dirname, '..', '..', 'crds'),
    ]);
    kubectl('hub', ['wait', '--for=condition=Established', 'crd/inferencejobs.nvdax.io', '--timeout=30s']);
    await createNamespace(hub, opNs);
    await createNamespace(hub, jobsNs);
    for (const c of members) {
      kubectl('hub', ['-n', opNs, 'create', 'secret', 'generic', c, `--from-file=kubeconfig=${kubeconfigPath(c)}`]);
    }
  }

  /** Deletes what the run made; jobs whose finalizer an operator no longer removes are let go. */
  async function tearDown() {
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
  }

  return {
    run,
    hub,
    opNs,
    image,
    payment,
    label,
    jobsNs,
    tenant,
    jobWhen,
    listJobs,
    nodes,
    pool,
    devConfidentialPool,
    poolReady,
    inferenceJob,
    memberDeployments,
    startOp,
    setUp,
    tearDown,
  };
}
