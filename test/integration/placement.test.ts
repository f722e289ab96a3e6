// Placement end to end: the real operator process places InferenceJobs and TrainingJobs
// from the hub onto two member clusters (real API servers, schedulers, controller
// managers, kwok nodes). The nodes and pools are this run's own (labelled), and the
// operator only places jobs labelled for this run, so other tests cannot move the numbers.
import test from 'ava';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { InferenceJob, ProviderPool, TrainingJob } from '../../operator/api/types.gen.ts';
import { kubeconfigPath, loadKubeConfig, uniqueName } from '../helpers/sim.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { startOperator, type OperatorProc } from '../helpers/operator.ts';
import { metricValue } from '../helpers/runtime-kit.ts';
import { isAlreadyExists, isNotFound } from '../../operator/kube/errors.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { type KubeObject, resources } from '../../operator/kube/types.ts';

const run = uniqueName('pl');
const label = { 'nvdax.io/test-run': run };
const hub = loadKubeConfig('hub');
const opNs = `${run}-system`;
const jobsNs = `${run}-jobs`;
const tenant = `nvdax-${jobsNs}`;

type Job = (InferenceJob | TrainingJob) & { metadata: { name: string; generation?: number } };
const getJob = (kind: 'ij' | 'tj', name: string) => getJson<Job>('hub', ['-n', jobsNs, 'get', kind, name]);
/** A member object the operator writes just after the placement (status first, then the member). */
const memberObject = <T>(cluster: string, args: string[]) =>
  eventually(
    `${args.join(' ')} on ${cluster}`,
    async () => {
      try {
        return getJson<T>(cluster, args);
      } catch {
        return undefined;
      }
    },
    60_000,
    250,
  );
const cond = (j: Job, type: string) => j.status?.conditions?.find((c) => c.type === type);
const jobWhen = (kind: 'ij' | 'tj', name: string, what: string, pred: (j: Job) => boolean, timeoutMs = 120_000) =>
  eventually(
    what,
    async () => {
      const j = getJob(kind, name);
      return pred(j) ? j : undefined;
    },
    timeoutMs,
    250,
  );

function pool(name: string, secret: string, extra: Partial<ProviderPool['spec']> = {}): object {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name, labels: label },
    spec: {
      provider: { address: '0x2222222222222222222222222222222222222222' },
      region: 'eu-west',
      jurisdiction: 'IE',
      cluster: { mode: 'KubeconfigSecret', secretRef: { name: secret, namespace: opNs } },
      nodeSelector: label,
      baseRates: [
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' },
        { gpuProduct: 'NVIDIA-L4', pricePerGpuHour: '0.40' },
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Confidential', pricePerGpuHour: '2.90' },
        { gpuProduct: 'NVIDIA-H200', mode: 'Confidential', pricePerGpuHour: '3.80' },
      ],
      confidentialRuntimes: [
        { runtimeClassName: 'kata-qemu-nvidia-gpu-snp', teeType: 'snp' },
        { runtimeClassName: 'kata-qemu-nvidia-gpu-tdx', teeType: 'tdx' },
      ],
      ...extra,
    },
  };
}

const image = 'ghcr.io/nvdax/test-model@sha256:' + 'ab'.repeat(32);
function inferenceJob(name: string, spec: Record<string, unknown> = {}, sla: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name, namespace: jobsNs, labels: label },
    spec: {
      model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
      runtime: { engine: 'Custom', image },
      resources: { gpus: 1, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
      sla: { priceCap: '10', ...sla },
      payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: '0x' + '11'.repeat(32) },
      ...spec,
    },
  };
}

let op: OperatorProc;

test.before(async () => {
  kubectl('hub', ['apply', '--server-side', '--force-conflicts', '-f', join(import.meta.dirname, '..', '..', 'crds')]);
  kubectl('hub', ['wait', '--for=condition=Established', 'crd/inferencejobs.nvdax.io', '--timeout=30s']);
  await createNamespace(hub, opNs);
  await createNamespace(hub, jobsNs);
  for (const c of ['gpu-a', 'gpu-b']) {
    kubectl('hub', ['-n', opNs, 'create', 'secret', 'generic', c, `--from-file=kubeconfig=${kubeconfigPath(c)}`]);
  }
  // gpu-a: two 8-GPU H100 container nodes (one with the GKE-style GPU taint the operator tolerates),
  // one CC-ready SNP H100 node; gpu-b: a 4-GPU L4 node with a team taint nobody here tolerates, one TDX H200
  const a = [
    ...buildNodes(
      `${run}-a`,
      { template: 'gpu-container', gpu: 'H100', count: 1, labels: label },
      'eu-west',
      'eu-west-a',
    ),
    ...buildNodes(
      `${run}-at`,
      {
        template: 'gpu-container',
        gpu: 'H100',
        count: 1,
        labels: label,
        tainted: 1,
        taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
      },
      'eu-west',
      'eu-west-a',
    ),
    ...buildNodes(
      `${run}-acc`,
      { template: 'gpu-confidential', gpu: 'H100', tee: 'snp', count: 1, labels: label },
      'eu-west',
      'eu-west-a',
    ),
  ];
  const b = [
    ...buildNodes(
      `${run}-b`,
      {
        template: 'gpu-container',
        gpu: 'L4',
        gpusPerNode: 4,
        count: 1,
        labels: label,
        tainted: 1,
        taints: [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }],
      },
      'us-east',
      'us-east-a',
    ),
    ...buildNodes(
      `${run}-btdx`,
      { template: 'gpu-confidential', gpu: 'H200', tee: 'tdx', resourceName: 'model', count: 1, labels: label },
      'us-east',
      'us-east-a',
    ),
  ];
  apply('gpu-a', a);
  apply('gpu-b', b);
  apply('hub', [pool(`${run}-a`, 'gpu-a'), pool(`${run}-b`, 'gpu-b', { region: 'us-east', jurisdiction: 'US' })]);
  op = startOperator({
    identity: `${run}-op-1`,
    poolSelector: `nvdax.io/test-run=${run}`,
    leaseNamespace: opNs,
    // a lease that survives a CI machine saturated by the other tests (leader election is tested elsewhere)
    extra: [
      '--job-selector',
      `nvdax.io/test-run=${run}`,
      '--failover-grace',
      '5s',
      // running jobs are metered each second, within a budget of one metering write every 5 s for all of them
      '--usage-meter-interval',
      '1s',
      '--usage-meter-qps',
      '0.2',
      '--lease-duration',
      '20s',
      '--renew-deadline',
      '15s',
      // the settlement domain confidential jobs' gateways sign under (no chain needed to place)
      '--chain-id',
      '31337',
      '--settlement-address',
      '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    ],
  });
  for (const p of [`${run}-a`, `${run}-b`]) {
    await eventually(
      `pool ${p} Ready`,
      async () => getJson<ProviderPool>('hub', ['get', 'providerpool', p]).status?.phase === 'Ready',
      60_000,
    );
  }
});

test.after.always(async () => {
  await op?.stop();
  kubectl('hub', ['-n', jobsNs, 'delete', 'ij,tj', '--all', '--wait=false']);
  kubectl('hub', ['delete', 'providerpools', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
  for (const c of ['gpu-a', 'gpu-b']) {
    kubectl(c, ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
    await deleteNamespace(loadKubeConfig(c), tenant);
  }
  // the finalizer needs the operator; it has stopped, so take it off
  for (const kind of ['ij', 'tj']) {
    const names = kubectl('hub', ['-n', jobsNs, 'get', kind, '-o', 'name']).split('\n').filter(Boolean);
    for (const n of names)
      kubectl('hub', ['-n', jobsNs, 'patch', n, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  }
  await deleteNamespace(hub, jobsNs);
  await deleteNamespace(hub, opNs);
});

type Deployment = {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    replicas: number;
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: {
        runtimeClassName?: string;
        tolerations?: Array<{ key?: string }>;
        securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
        containers: Array<{
          name: string;
          image: string;
          args?: string[];
          env?: Array<{ name: string; value?: string }>;
          resources: { limits: Record<string, string> };
        }>;
        affinity?: unknown;
      };
    };
  };
};

test.serial(
  'an InferenceJob is priced, placed on the cheapest fitting pool and runs in its member cluster',
  async (t) => {
    apply('hub', [inferenceJob('chat', { replicas: 2 })]);
    const j = await jobWhen(
      'ij',
      'chat',
      'chat Running and Ready',
      (x) => x.status?.phase === 'Running' && cond(x, 'Ready')?.status === 'True',
    );
    const p = j.status?.placement;
    t.is(p?.pool, `${run}-a`);
    t.is(p?.gpuProduct, 'NVIDIA-H100-80GB-HBM3');
    t.is(p?.resourceName, 'nvidia.com/gpu');
    t.is(p?.attempt, 1);
    t.is(j.status?.attempts, 1);
    // the quote is data: base rate, both factors and the fee, and the price is what they make
    t.is(p?.quote?.baseRate, '2.10');
    t.truthy(p?.quote?.latencyFactor);
    t.truthy(p?.quote?.loadFactor);
    t.truthy(p?.quote?.verifierFee);
    t.regex(p?.price ?? '', /^\d+\.\d+$/);
    t.is(cond(j, 'Scheduled')?.reason, 'Placed');
    const dep = getJson<Deployment>('gpu-a', ['-n', tenant, 'get', 'deployment', 'chat-a1']);
    t.is(dep.spec.replicas, 2);
    const pod = dep.spec.template.spec;
    t.is(pod.containers[0]?.resources.limits['nvidia.com/gpu'], '1');
    t.is(pod.containers[0]?.image, image);
    t.is(pod.runtimeClassName, undefined);
    t.true(pod.tolerations?.some((x) => x.key === 'nvidia.com/gpu'));
    t.is(pod.securityContext?.runAsNonRoot, true);
    t.is(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    t.is((j.status as { readyReplicas?: number }).readyReplicas, 2);
    // a headless Service: the endpoint names the pods' own port, no cluster IP is spent on the job
    const svc = getJson<Service>('gpu-a', ['-n', tenant, 'get', 'service', 'chat-a1']);
    t.is(svc.spec.clusterIP, 'None');
    t.deepEqual(
      svc.spec.ports.map((x) => x.port),
      [8000],
    );
    t.is((j.status as { endpoints?: Array<{ url: string }> }).endpoints?.[0]?.url, `http://chat-a1.${tenant}.svc:8000`);
    // the tenant namespace is labelled back to the hub and fenced by a default-deny policy
    const ns = getJson<{ metadata: { labels: Record<string, string> } }>('gpu-a', ['get', 'namespace', tenant]);
    t.is(ns.metadata.labels['nvdax.io/hub-namespace'], jobsNs);
    const np = getJson<{
      spec: { policyTypes: string[]; egress: Array<{ to?: Array<{ ipBlock?: { except?: string[] } }> }> };
    }>('gpu-a', ['-n', tenant, 'get', 'networkpolicy', 'nvdax-default']);
    t.deepEqual([...np.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    t.true(JSON.stringify(np.spec.egress).includes('169.254.0.0/16'));
    // and the policy of pods behind the gateway, which lets in its port alone
    const gw = getJson<{ spec: { ingress: Array<{ ports?: Array<{ port: number }> }> } }>('gpu-a', [
      '-n',
      tenant,
      'get',
      'networkpolicy',
      'nvdax-gateway',
    ]);
    t.deepEqual(
      gw.spec.ingress.map((r) => r.ports?.map((p) => p.port)),
      [[8443], [8443]],
    );
  },
);

type Service = {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string };
  spec: { clusterIP?: string; ports: Array<{ port: number }> };
};

test.serial('a Service with a cluster IP, as older operators made, is replaced by the headless one', async (t) => {
  apply('hub', [inferenceJob('legacy')]);
  await jobWhen('ij', 'legacy', 'legacy Running', (x) => x.status?.phase === 'Running');
  const now = getJson<Service>('gpu-a', ['-n', tenant, 'get', 'service', 'legacy-a1']);
  // what an older operator applied: a ClusterIP Service on port 80, with its own spec hash. Put in place of
  // the operator's (which re-applies its own at once when a Service is gone: taken again until ours stands)
  const older = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'legacy-a1',
      namespace: tenant,
      labels: now.metadata.labels,
      annotations: { ...now.metadata.annotations, 'nvdax.io/spec-hash': 'older' },
    },
    spec: { type: 'ClusterIP', selector: { 'nvdax.io/slot-group': 'legacy-a1' }, ports: [{ name: 'http', port: 80 }] },
  };
  const member = new KubeClient(loadKubeConfig('gpu-a'), { name: 'test' });
  let old: Service | undefined;
  for (let i = 0; i < 20 && !old; i++) {
    try {
      await member.delete(resources.services, 'legacy-a1', tenant);
      const made = (await member.create(resources.services, older as KubeObject)) as unknown as Service;
      if (made.spec.clusterIP !== 'None') old = made;
    } catch (e) {
      // the operator's came first (or was gone already): take it again
      if (!isAlreadyExists(e) && !isNotFound(e)) throw e;
    }
  }
  if (!old) return t.fail('an older ClusterIP Service could not be put in place');
  const replaced = await eventually(
    'the Service replaced by a headless one',
    async () => {
      const x = getJson<Service>('gpu-a', ['-n', tenant, 'get', 'service', 'legacy-a1']);
      return x.spec.clusterIP === 'None' ? x : undefined;
    },
    60_000,
    250,
  );
  t.not(replaced.metadata.uid, old.metadata.uid);
  t.deepEqual(
    replaced.spec.ports.map((x) => x.port),
    [8000],
  );
  kubectl('hub', ['-n', jobsNs, 'delete', 'ij', 'legacy', '--wait=false']);
});

test.serial('a spec change rolls out to the member Deployment; usage is metered per attempt', async (t) => {
  // the two replicas have run 30 s each before one goes: its 30 GPU-seconds must stay counted after it has left
  // the member, or usage stands still for 30 s while the other catches up (the metering test below sees that)
  await jobWhen('ij', 'chat', 'chat at 60 GPU-seconds', (x) => (x.status?.usage?.gpuSeconds ?? 0) >= 60, 90_000);
  apply('hub', [inferenceJob('chat', { replicas: 1 })]);
  await eventually(
    'deployment scaled to 1',
    async () => getJson<Deployment>('gpu-a', ['-n', tenant, 'get', 'deployment', 'chat-a1']).spec.replicas === 1,
    30_000,
  );
  const j = await jobWhen(
    'ij',
    'chat',
    'one ready replica and usage',
    (x) =>
      (x.status as { readyReplicas?: number }).readyReplicas === 1 &&
      (x.status?.usage?.attempts?.[0]?.gpuSeconds ?? 0) >= 0,
  );
  const a = j.status?.usage?.attempts?.[0];
  t.is(a?.attempt, 1);
  t.is(a?.pool, `${run}-a`);
  t.truthy(a?.startTime, 'the attempt has started: its pods ran');
});

test.serial('running jobs are metered within the hub budget (--usage-meter-qps), not once a second each', async (t) => {
  // chat (the test before) runs; each running job's usage is due every second (--usage-meter-interval 1s)
  const port = await op.opsPort();
  const writes = async (cause: string) =>
    metricValue(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), 'nvdax_job_status_writes_total', {
      cause,
    }) ?? 0;
  const meteredTime = () =>
    getJson<InferenceJob>('hub', ['-n', jobsNs, 'get', 'ij', 'chat']).status?.usage?.attempts?.at(-1)?.meteredTime;
  t.is(getJson<InferenceJob>('hub', ['-n', jobsNs, 'get', 'ij', 'chat']).status?.phase, 'Running');
  const before = await writes('metering');
  const first = meteredTime();
  await new Promise((r) => setTimeout(r, 25_000));
  const written = (await writes('metering')) - before;
  t.log(`${written} metering-only writes in 25 s; chat metered at ${first}, then ${meteredTime()}`);
  // 0.2 a second for 25 s and the bucket's one token of burst (unbudgeted: about 25 a running job)
  t.true(written <= 0.2 * 25 + 1 + 1, `${written} metering writes in 25 s`);
  // and usage still moves: chat's usage was written again (by its own metering or with another change), also
  // right after its scale-down to one replica (the replica that went keeps its GPU time)
  t.true(Date.parse(meteredTime() ?? '') > Date.parse(first ?? ''), 'the running job was metered again');
});

test.serial(
  'no fit: every pool says why, in kube-scheduler style; raising the price cap places the same job',
  async (t) => {
    apply('hub', [
      inferenceJob('big', { resources: { gpus: 4, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] } }, { priceCap: '1.00' }),
    ]);
    const j = await jobWhen('ij', 'big', 'big unschedulable', (x) => cond(x, 'Scheduled')?.status === 'False');
    const msg = cond(j, 'Scheduled')?.message ?? '';
    t.regex(msg, /^0\/2 pools: /);
    t.regex(msg, /price [\d.]+ above cap 1\.00/);
    const reasons = Object.fromEntries((j.status?.rejections ?? []).map((r) => [r.pool, r.reason]));
    t.is(reasons[`${run}-a`], 'PriceCapExceeded');
    t.truthy(reasons[`${run}-b`]);
    t.is(j.status?.attempts ?? 0, 0);
    t.is(j.status?.phase, 'Pending');
    const uid = (j.metadata as { uid?: string }).uid;
    apply('hub', [
      inferenceJob('big', { resources: { gpus: 4, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] } }, { priceCap: '50' }),
    ]);
    const placed = await jobWhen(
      'ij',
      'big',
      'big placed after the cap was raised',
      (x) => x.status?.placement?.pool !== undefined,
    );
    t.is((placed.metadata as { uid?: string }).uid, uid, 'the same job, not a new one');
    t.is(placed.status?.placement?.pool, `${run}-a`);
    t.is(placed.status?.rejections, undefined);
  },
);

test.serial(
  'a confidential job lands on the TEE it asks for, with the runtime class, sandbox GPUs and init-data',
  async (t) => {
    apply('hub', [
      inferenceJob(
        'secret',
        { resources: { gpus: 1 }, confidential: { required: true, teeTypes: ['tdx'] } },
        { priceCap: '50' },
      ),
    ]);
    const j = await jobWhen('ij', 'secret', 'secret placed', (x) => x.status?.placement?.pool !== undefined);
    const p = j.status?.placement;
    t.is(p?.pool, `${run}-b`);
    t.is(p?.teeType, 'tdx');
    t.is(p?.runtimeClass, 'kata-qemu-nvidia-gpu-tdx');
    t.is(p?.mode, 'Confidential');
    t.regex(p?.initDataDigest ?? '', /^[0-9a-f]{96}$/);
    const dep = await memberObject<Deployment>('gpu-b', ['-n', tenant, 'get', 'deployment', 'secret-a1']);
    const pod = dep.spec.template;
    t.is(pod.spec.runtimeClassName, 'kata-qemu-nvidia-gpu-tdx');
    t.is(pod.spec.containers[0]?.resources.limits[p?.resourceName ?? ''], '1');
    t.regex(p?.resourceName ?? '', /^nvidia\.com\/GH100_H200/);
    const ann = pod.metadata.annotations?.['io.katacontainers.config.hypervisor.cc_init_data'] ?? '';
    const toml = gunzipSync(Buffer.from(ann, 'base64')).toString('utf8');
    t.regex(toml, /version = "0\.1\.0"/);
    t.regex(toml, /algorithm = "sha384"/);
    t.false(Object.keys(pod.metadata.annotations ?? {}).some((k) => k.startsWith('cdi.k8s.io/')));
    const aff = JSON.stringify(pod.spec.affinity);
    t.true(aff.includes('nvidia.com/cc.ready.state'));
    t.true(aff.includes('intel.feature.node.kubernetes.io/tdx'));
    // the attested gateway beside the model server, told the pool's provider and the hub's settlement domain
    const gw = pod.spec.containers.find((c) => c.name === 'gateway');
    const env = Object.fromEntries((gw?.env ?? []).map((e) => [e.name, e.value]));
    t.is(env['NVDAX_PROVIDER_ADDRESS'], '0x2222222222222222222222222222222222222222');
    t.is(env['NVDAX_CHAIN_ID'], '31337');
    t.is(env['NVDAX_SETTLEMENT_ADDRESS'], '0x5FbDB2315678afecb367f032d93F642f64180aa3');
    t.is(env['NVDAX_MODEL_HASH'], `0x${'cd'.repeat(32)}`);
    const running = await jobWhen('ij', 'secret', 'secret Running', (x) => x.status?.phase === 'Running');
    // requesters are pointed at the gateway's port, the only one its Service exposes
    const ep = (running.status as { endpoints?: Array<{ url: string; protocol?: string }> })?.endpoints?.[0];
    t.is(ep?.url, `grpc://secret-a1.${tenant}.svc:8443`);
    const svc = getJson<{ spec: { ports: Array<{ port: number }> } }>('gpu-b', [
      '-n',
      tenant,
      'get',
      'service',
      'secret-a1',
    ]);
    t.deepEqual(
      svc.spec.ports.map((x) => x.port),
      [8443],
    );
  },
);

test.serial('data residency and TEE type are respected: no pool qualifies, and each says why', async (t) => {
  apply('hub', [
    inferenceJob('us-only', {}, { dataResidency: ['US'] }),
    inferenceJob('snp-h200', {
      resources: { gpus: 1, gpuProducts: ['NVIDIA-H200'] },
      confidential: { required: true, teeTypes: ['snp'] },
    }),
  ]);
  const us = await jobWhen('ij', 'us-only', 'us-only unschedulable', (x) => cond(x, 'Scheduled')?.status === 'False');
  const r = Object.fromEntries((us.status?.rejections ?? []).map((x) => [x.pool, x]));
  t.is(r[`${run}-a`]?.reason, 'ResidencyMismatch');
  t.is(r[`${run}-b`]?.reason, 'ProductMismatch');
  const snp = await jobWhen(
    'ij',
    'snp-h200',
    'snp-h200 unschedulable',
    (x) => cond(x, 'Scheduled')?.status === 'False',
  );
  const s = Object.fromEntries((snp.status?.rejections ?? []).map((x) => [x.pool, x]));
  t.is(s[`${run}-b`]?.reason, 'TeeMismatch');
  t.regex(s[`${run}-b`]?.message ?? '', /tdx/);
});

test.serial('a node tainted against our pods is never used: an L4 job waits instead', async (t) => {
  apply('hub', [inferenceJob('l4', { resources: { gpus: 1, gpuProducts: ['NVIDIA-L4'] } })]);
  const j = await jobWhen('ij', 'l4', 'l4 unschedulable', (x) => cond(x, 'Scheduled')?.status === 'False');
  const b = j.status?.rejections?.find((x) => x.pool === `${run}-b`);
  t.is(b?.reason, 'InsufficientGpus');
  t.is(j.status?.placement, undefined);
});

test.serial('a Distributed TrainingJob is gang-placed as an Indexed Job with torchrun env and succeeds', async (t) => {
  apply('hub', [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: 'train', namespace: jobsNs, labels: label },
      spec: {
        mode: 'Distributed',
        workers: 2,
        runtime: { engine: 'Custom', image },
        resources: { gpus: 2, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
        sla: { priceCap: '50' },
        payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: '0x' + '11'.repeat(32) },
      },
    },
  ]);
  const placed = await jobWhen('tj', 'train', 'train placed', (x) => x.status?.placement?.pool !== undefined);
  t.is(placed.status?.placement?.gpus, 4);
  const bj = await memberObject<{
    spec: {
      completionMode: string;
      completions: number;
      parallelism: number;
      template: { spec: { subdomain?: string; containers: Array<{ env?: Array<{ name: string; value?: string }> }> } };
    };
  }>('gpu-a', ['-n', tenant, 'get', 'job', 'train-a1']);
  t.is(bj.spec.completionMode, 'Indexed');
  t.is(bj.spec.completions, 2);
  const env = Object.fromEntries((bj.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
  t.is(env['WORLD_SIZE'], '2');
  t.is(env['NPROC_PER_NODE'], '2');
  t.truthy(env['MASTER_ADDR']);
  t.true('NODE_RANK' in env);
  const done = await jobWhen('tj', 'train', 'train Succeeded', (x) => x.status?.phase === 'Succeeded', 90_000);
  t.is(cond(done, 'Complete')?.status, 'True');
  t.truthy(done.status?.completionTime);
  t.is(done.status?.usage?.attempts?.[0]?.endReason, 'Completed');
});

test.serial('deleting a job removes its member objects through the finalizer', async (t) => {
  const j = getJob('ij', 'chat');
  t.true((j.metadata as { finalizers?: string[] }).finalizers?.includes('nvdax.io/member-cleanup'));
  kubectl('hub', ['-n', jobsNs, 'delete', 'ij', 'chat', '--wait=false']);
  await eventually(
    'chat gone from the hub and the member',
    async () => {
      const hubLeft = kubectl('hub', ['-n', jobsNs, 'get', 'ij', 'chat', '--ignore-not-found', '-o', 'name']).trim();
      const member = kubectl('gpu-a', [
        '-n',
        tenant,
        'get',
        'deployment,service',
        '-l',
        'nvdax.io/job-name=chat',
        '-o',
        'name',
      ]).trim();
      return hubLeft === '' && member === '';
    },
    30_000,
  );
  t.pass();
});
