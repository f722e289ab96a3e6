// The ProviderPool controller end to end: the real operator process, the real hub and
// member API servers. Pools select nodes labelled for this test run, so other tests'
// pods in the same clusters do not change the numbers asserted here.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod, type V1Toleration } from '@kubernetes/client-node';
import YAML from 'yaml';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { ProviderPool } from '../../operator/api/types.gen.ts';
import { binDir, kubeconfigPath, loadKubeConfig, simDir, uniqueName } from '../helpers/sim.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { startOperator, type OperatorProc } from '../helpers/operator.ts';
import { metricValue } from '../helpers/runtime-kit.ts';
import { readState } from '../../hack/sim/state.ts';
import { startComponent, stopComponent } from '../../hack/sim/cluster.ts';
import { gpuTolerations } from '../../operator/hardware/labels.ts';

const run = uniqueName('pp');
const label = { 'nvdax.io/test-run': run };
const hub = loadKubeConfig('hub');
const secretsNs = `${run}-secrets`;
const kubectl = (cluster: string, args: string[], input?: string) =>
  execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', kubeconfigPath(cluster), ...args], {
    encoding: 'utf8',
    ...(input ? { input } : {}),
  });

type Pool = ProviderPool & { metadata: { name: string } };
const getPool = (name: string): Pool => JSON.parse(kubectl('hub', ['get', 'providerpool', name, '-o', 'json'])) as Pool;
const cond = (p: Pool, type: string) => p.status?.conditions?.find((c) => c.type === type);
/** Polls pool `name` until `pred` holds; returns it. */
const poolWhen = (name: string, what: string, pred: (p: Pool) => boolean, timeoutMs = 30_000, everyMs = 200) =>
  eventually(
    what,
    async () => {
      const p = getPool(name);
      return pred(p) ? p : undefined;
    },
    timeoutMs,
    everyMs,
  );

function pool(name: string, secret: string, extra: Partial<ProviderPool['spec']> = {}): object {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name, labels: label },
    spec: {
      provider: { address: '0x1111111111111111111111111111111111111111' },
      region: 'eu-west',
      jurisdiction: 'IE',
      cluster: { mode: 'KubeconfigSecret', secretRef: { name: secret, namespace: secretsNs } },
      baseRates: [
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' },
        { gpuProduct: 'NVIDIA-H200', pricePerGpuHour: '3.05' },
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

const apply = (cluster: string, objs: object[]) =>
  kubectl(
    cluster,
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    objs.map((o) => YAML.stringify(o, { version: '1.1' })).join('---\n'),
  );

function gpuPod(
  ns: string,
  name: string,
  node: string,
  resource: string,
  n: number,
  extra: Partial<V1Pod['spec']> = {},
  annotations: Record<string, string> = {},
): V1Pod {
  return {
    metadata: { name, namespace: ns, annotations },
    spec: {
      restartPolicy: 'Never',
      nodeSelector: { 'kubernetes.io/hostname': node },
      containers: [{ name: 'm', image: 'x', resources: { limits: { [resource]: String(n) } } }],
      ...extra,
    },
  };
}

let op: OperatorProc;
const memberNs = `${run}-work`;

test.before(async () => {
  kubectl('hub', ['apply', '--server-side', '--force-conflicts', '-f', join(import.meta.dirname, '..', '..', 'crds')]);
  kubectl('hub', ['wait', '--for=condition=Established', 'crd/providerpools.nvdax.io', '--timeout=30s']);
  await createNamespace(hub, secretsNs);
  for (const c of ['gpu-a', 'gpu-b', 'gpu-c']) {
    kubectl('hub', ['-n', secretsNs, 'create', 'secret', 'generic', c, `--from-file=kubeconfig=${kubeconfigPath(c)}`]);
  }
  for (const c of ['gpu-a', 'gpu-b']) await createNamespace(loadKubeConfig(c), memberNs);
  op = startOperator({ identity: `${run}-op-1`, poolSelector: `nvdax.io/test-run=${run}`, leaseNamespace: secretsNs });
});

test.after.always(async () => {
  await op?.stop();
  kubectl('hub', ['delete', 'providerpools', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
  for (const c of ['gpu-a', 'gpu-b']) {
    kubectl(c, ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
    await deleteNamespace(loadKubeConfig(c), memberNs);
  }
  await deleteNamespace(hub, secretsNs);
});

test.serial('pool capacity matches the nodes and running GPU pods of two member clusters', async (t) => {
  const a = [
    ...buildNodes(
      `${run}-a`,
      { template: 'gpu-container', gpu: 'H100', count: 2, labels: label },
      'eu-west',
      'eu-west-a',
    ),
    ...buildNodes(
      `${run}-a`,
      { template: 'gpu-confidential', gpu: 'H100', tee: 'snp', count: 1, labels: label },
      'eu-west',
      'eu-west-a',
    ),
  ];
  const b = [
    ...buildNodes(
      `${run}-b`,
      { template: 'gpu-container', gpu: 'L4', gpusPerNode: 4, count: 1, labels: label },
      'us-east',
      'us-east-a',
    ),
    ...buildNodes(
      `${run}-b`,
      { template: 'gpu-confidential', gpu: 'H200', tee: 'tdx', resourceName: 'model', count: 1, labels: label },
      'us-east',
      'us-east-a',
    ),
  ];
  kubectl('gpu-a', ['create', '-f', '-'], a.map((n) => YAML.stringify(n, { version: '1.1' })).join('---\n'));
  kubectl('gpu-b', ['create', '-f', '-'], b.map((n) => YAML.stringify(n, { version: '1.1' })).join('---\n'));
  const coreA = loadKubeConfig('gpu-a').makeApiClient(CoreV1Api);
  const coreB = loadKubeConfig('gpu-b').makeApiClient(CoreV1Api);
  const [h0, h1, cc] = a.map((n) => n.metadata.name) as [string, string, string];
  const [l4, tdx] = b.map((n) => n.metadata.name) as [string, string];
  await eventually(
    'test nodes Ready',
    async () => {
      const nodes = [
        ...(await coreA.listNode({ labelSelector: `nvdax.io/test-run=${run}` })).items,
        ...(await coreB.listNode({ labelSelector: `nvdax.io/test-run=${run}` })).items,
      ];
      return (
        nodes.length === 5 &&
        nodes.every(
          (n) =>
            !n.spec?.taints?.length && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        )
      );
    },
    60_000,
  );
  const pods: Array<[CoreV1Api, V1Pod]> = [
    [coreA, gpuPod(memberNs, 'h3', h0, 'nvidia.com/gpu', 3)],
    [coreA, gpuPod(memberNs, 'h2', h1, 'nvidia.com/gpu', 2)],
    [coreA, gpuPod(memberNs, 'done', h1, 'nvidia.com/gpu', 4, {}, { 'pod-complete.stage.kwok.x-k8s.io/delay': '1s' })],
    [coreA, gpuPod(memberNs, 'cc', cc, 'nvidia.com/pgpu', 1, { runtimeClassName: 'kata-qemu-nvidia-gpu-snp' })],
    [coreB, gpuPod(memberNs, 'l4', l4, 'nvidia.com/gpu', 3)],
    [
      coreB,
      gpuPod(memberNs, 'tdx', tdx, 'nvidia.com/GH100_H200_SXM_141GB', 2, {
        runtimeClassName: 'kata-qemu-nvidia-gpu-tdx',
      }),
    ],
  ];
  for (const [api, p] of pods) await api.createNamespacedPod({ namespace: memberNs, body: p });
  apply('hub', [
    pool(`${run}-a`, 'gpu-a', { nodeSelector: label }),
    pool(`${run}-b`, 'gpu-b', { nodeSelector: label, region: 'us-east', jurisdiction: 'US' }),
  ]);
  const summary = (p: Pool) =>
    (p.status?.capacity ?? []).map(
      (c) =>
        `${c.gpuProduct}/${c.mode}/${c.resourceName}: nodes=${c.nodes} total=${c.total} alloc=${c.allocatable} inUse=${c.inUse} avail=${c.available} block=${c.largestFreeBlock}`,
    );
  const wantA = [
    'NVIDIA-H100-80GB-HBM3/Confidential/nvidia.com/pgpu: nodes=1 total=8 alloc=8 inUse=1 avail=7 block=7',
    'NVIDIA-H100-80GB-HBM3/Container/nvidia.com/gpu: nodes=2 total=16 alloc=16 inUse=5 avail=11 block=6',
  ];
  const wantB = [
    'NVIDIA-H200/Confidential/nvidia.com/GH100_H200_SXM_141GB: nodes=1 total=8 alloc=8 inUse=2 avail=6 block=6',
    'NVIDIA-L4/Container/nvidia.com/gpu: nodes=1 total=4 alloc=4 inUse=3 avail=1 block=1',
  ];
  // the 'done' pod holds 4 GPUs until kwok completes it; only then do the numbers settle
  const pa = await poolWhen(
    `${run}-a`,
    'pool A capacity',
    (p) => JSON.stringify(summary(p)) === JSON.stringify(wantA),
    60_000,
  );
  const pb = await poolWhen(
    `${run}-b`,
    'pool B capacity',
    (p) => JSON.stringify(summary(p)) === JSON.stringify(wantB),
    60_000,
  );
  t.deepEqual(summary(pa), wantA);
  t.deepEqual(summary(pb), wantB);
  t.is(pa.status?.phase, 'Ready');
  t.is(pa.status?.totalGpus, 24);
  t.is(pa.status?.availableGpus, 18);
  t.like(cond(pa, 'ConfidentialReady'), { status: 'True', reason: 'ConfidentialRuntimeAvailable' });
  t.deepEqual(pa.status?.capacity?.find((c) => c.mode === 'Confidential')?.teeTypes, ['snp']);
  t.like(cond(pb, 'ConfidentialReady'), { status: 'True' });
  t.is(cond(pa, 'Ready')?.observedGeneration, pa.metadata.generation);
  // the printer columns show it
  t.regex(kubectl('hub', ['get', 'pp', `${run}-a`]), new RegExp(`${run}-a\\s+eu-west\\s+Ready\\s+24\\s+18`));
});

test.serial('three pools on one member cluster share one connection; each sees its own nodes', async (t) => {
  apply('hub', [
    pool(`${run}-b-l4`, 'gpu-b', {
      nodeSelector: { ...label, 'nvidia.com/gpu.product': 'NVIDIA-L4' },
      region: 'us-east',
      jurisdiction: 'US',
    }),
    pool(`${run}-b-cc`, 'gpu-b', {
      nodeSelector: { ...label, 'nvidia.com/gpu.workload.config': 'vm-passthrough' },
      region: 'us-east',
      jurisdiction: 'US',
    }),
  ]);
  t.teardown(() => void kubectl('hub', ['delete', 'providerpool', `${run}-b-l4`, `${run}-b-cc`, '--wait=false']));
  const products = (name: string) => (getPool(name).status?.capacity ?? []).map((c) => `${c.gpuProduct}/${c.mode}`);
  await eventually(
    'L4 pool sees only the L4 node',
    async () => JSON.stringify(products(`${run}-b-l4`)) === '["NVIDIA-L4/Container"]',
    30_000,
  );
  await eventually(
    'CC pool sees only the CC node',
    async () => JSON.stringify(products(`${run}-b-cc`)) === '["NVIDIA-H200/Confidential"]',
    30_000,
  );
  t.deepEqual(products(`${run}-b`), ['NVIDIA-H200/Confidential', 'NVIDIA-L4/Container']);
  const gpuB = new URL(loadKubeConfig('gpu-b').getCurrentCluster()?.server ?? '').host;
  const metrics = await (await fetch(`http://127.0.0.1:${await op.opsPort()}/metrics`)).text();
  t.is(metricValue(metrics, 'nvdax_member_users', { member: gpuB }), 3, 'one member for the three pools');
  const sockets = metricValue(metrics, 'nvdax_member_connections_opened', { member: gpuB }) ?? Number.NaN;
  t.log(`sockets opened for the member cluster gpu-b with three pools on it: ${sockets}`);
  // one long-lived watch per cache (3 for capacity, 4 the job controller attaches: deployments, jobs, services,
  // pods) plus the sockets the probe and the first, concurrent lists share; three members would hold 21 watches
  t.true(sockets >= 7 && sockets <= 16, `sockets: ${sockets}`);
  t.is(metricValue(metrics, 'nvdax_member_ready', { member: gpuB }), 1);
  t.is(
    (metrics.match(/^nvdax_informer_objects\{cluster="member\/[^"]*",resource="nodes"\}/gm) ?? []).length,
    (metrics.match(/^nvdax_member_ready\{/gm) ?? []).length,
    'one node cache per member, not per pool',
  );
});

test.serial(
  'a missing kubeconfig Secret is reported; the pool connects once it exists, follows a rotated Secret, and its connection goes with it',
  async (t) => {
    apply('hub', [pool(`${run}-nosecret`, 'not-yet')]);
    const p = await poolWhen(
      `${run}-nosecret`,
      'KubeconfigSecretMissing',
      (x) => cond(x, 'Connected')?.reason === 'KubeconfigSecretMissing',
    );
    t.regex(cond(p, 'Connected')?.message ?? '', new RegExp(`Secret ${secretsNs}/not-yet not found`));
    t.is(cond(p, 'Ready')?.status, 'False');
    kubectl('hub', [
      '-n',
      secretsNs,
      'create',
      'secret',
      'generic',
      'not-yet',
      `--from-file=kubeconfig=${kubeconfigPath('gpu-b')}`,
    ]);
    await eventually(
      'Connected after the Secret appears',
      async () => cond(getPool(`${run}-nosecret`), 'Connected')?.status === 'True',
      20_000,
    );
    // Rotating the Secret to another cluster's kubeconfig replaces the connection.
    const rotated = kubectl('hub', [
      '-n',
      secretsNs,
      'create',
      'secret',
      'generic',
      'not-yet',
      `--from-file=kubeconfig=${kubeconfigPath('gpu-c')}`,
      '--dry-run=client',
      '-o',
      'json',
    ]);
    kubectl('hub', ['apply', '--server-side', '--force-conflicts', '-f', '-'], rotated);
    const p2 = await poolWhen(
      `${run}-nosecret`,
      'capacity of gpu-c after rotation',
      (x) => x.status?.capacity?.length === 1 && x.status.capacity[0]?.gpuProduct === 'NVIDIA-H200',
      30_000,
    );
    t.like(p2.status?.capacity?.[0], { mode: 'Container', total: 8 });
    // Deleting the pool (the member's last user) tears its member connection down: its informers leave /metrics.
    const port = await op.opsPort();
    const gpuC = new URL(loadKubeConfig('gpu-c').getCurrentCluster()?.server ?? '').host;
    const series = async () =>
      (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).includes(
        `nvdax_informer_objects{cluster="member/${gpuC}"`,
      );
    t.true(await series(), 'the member informers are reported while the pool exists');
    kubectl('hub', ['delete', 'providerpool', `${run}-nosecret`]);
    await eventually('member informers stopped', async () => !(await series()), 20_000);
  },
);

test.serial(
  'a lost member API server turns its pool Ready=False within 10 s; it recovers when the server returns',
  async (t) => {
    const state = readState(simDir());
    const gpuC = state?.clusters.find((c) => c.name === 'gpu-c');
    if (!gpuC) throw new Error('the test sim has no gpu-c cluster (make sim-test-up starts it)');
    apply('hub', [pool(`${run}-c`, 'gpu-c')]);
    const before = await poolWhen(`${run}-c`, 'pool C Ready', (p) => cond(p, 'Ready')?.status === 'True', 30_000);
    await stopComponent(gpuC, 'kube-apiserver');
    const stoppedAt = Date.now();
    try {
      const lost = await poolWhen(`${run}-c`, 'Ready=False', (p) => cond(p, 'Ready')?.status === 'False', 10_000, 100);
      const detectMs = Date.now() - stoppedAt;
      t.log(`Ready=False ${detectMs} ms after the member API server exited`);
      t.is(cond(lost, 'Connected')?.reason, 'ConnectionFailed');
      t.regex(
        cond(lost, 'Ready')?.message ?? '',
        /member cluster unreachable: .*(ECONNREFUSED|connect|refused|socket|fetch failed)/i,
      );
      t.is(lost.status?.phase, 'Degraded');
      t.deepEqual(lost.status?.capacity, before.status?.capacity, 'last known capacity is kept, not wiped');
      const events = await eventually(
        'a Warning Event on the pool',
        async () => {
          const list = JSON.parse(kubectl('hub', ['get', 'events.events.k8s.io', '-n', 'default', '-o', 'json'])) as {
            items: Array<{ regarding?: { name?: string }; reason?: string; type?: string; note?: string }>;
          };
          const mine = list.items.filter(
            (e) =>
              e.regarding?.name === `${run}-c` &&
              e.reason === 'ConnectionFailed' &&
              /^Ready=False \(ConnectionFailed\)/.test(e.note ?? ''),
          );
          return mine.length > 0 ? mine : undefined;
        },
        10_000,
      );
      t.is(events[0]?.type, 'Warning');
      t.regex(events[0]?.note ?? '', /member cluster unreachable/);
    } finally {
      await startComponent(gpuC, 'kube-apiserver');
    }
    const restartedAt = Date.now();
    const back = await poolWhen(
      `${run}-c`,
      'Ready=True again',
      (p) => cond(p, 'Ready')?.status === 'True',
      30_000,
      100,
    );
    t.log(`Ready=True ${Date.now() - restartedAt} ms after the member API server was ready again`);
    t.is(cond(back, 'Connected')?.reason, 'Connected');
    t.deepEqual(back.status?.capacity, before.status?.capacity);
  },
);

test.serial(
  'an operator killed mid-flight loses nothing: the restarted one picks up what changed meanwhile',
  async (t) => {
    const name = `${run}-a`;
    const before = getPool(name);
    const connectedSince = cond(before, 'Connected')?.lastTransitionTime;
    const port = await op.opsPort();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    t.true(
      (metricValue(metrics, 'controller_runtime_reconcile_total', {
        controller: 'providerpool',
        result: 'requeue_after',
      }) ?? 0) > 0,
      'reconciles are counted in /metrics',
    );
    await op.kill();
    const coreA = loadKubeConfig('gpu-a').makeApiClient(CoreV1Api);
    const h0 = `${run}-a-gpu-h100-0`;
    await coreA.createNamespacedPod({
      namespace: memberNs,
      body: gpuPod(memberNs, 'while-down', h0, 'nvidia.com/gpu', 4),
    });
    op = startOperator({
      identity: `${run}-op-2`,
      poolSelector: `nvdax.io/test-run=${run}`,
      leaseNamespace: secretsNs,
    });
    const after = await poolWhen(
      name,
      'inUse includes the pod created while the operator was down',
      (p) => p.status?.capacity?.find((c) => c.mode === 'Container')?.inUse === 9,
      40_000,
    );
    t.is(cond(after, 'Connected')?.lastTransitionTime, connectedSince, 'conditions were carried over, not reset');
    t.is(after.status?.phase, 'Ready');
  },
);

test.serial(
  'two operator processes: one leads and reconciles, the standby takes over when the leader is killed',
  async (t) => {
    const ha = { 'nvdax.io/test-ha': run };
    const name = `${run}-ha`;
    apply('hub', [{ ...pool(name, 'gpu-b'), metadata: { name, labels: ha } }]);
    const selector = `nvdax.io/test-ha=${run}`;
    const a = startOperator({ identity: `${run}-ha-1`, poolSelector: selector, leaseNamespace: secretsNs });
    const b = startOperator({ identity: `${run}-ha-2`, poolSelector: selector, leaseNamespace: secretsNs });
    t.teardown(async () => {
      await a.stop();
      await b.stop();
      kubectl('hub', ['delete', 'providerpool', name, '--wait=false']);
    });
    await eventually(
      'pool Ready under one leader',
      async () => cond(getPool(name), 'Ready')?.status === 'True',
      30_000,
    );
    const started = (o: OperatorProc) => o.proc.find('Controllers started').length > 0;
    const reconciles = (o: OperatorProc) =>
      o.proc.lines.filter((l) => l.msg === 'Reconciling' && l['controller'] === 'providerpool');
    await eventually('exactly one leader', async () => started(a) !== started(b));
    const [leader, standby] = started(a) ? [a, b] : [b, a];
    t.true(reconciles(leader).length > 0);
    t.is(reconciles(standby).length, 0, 'the standby reconciles nothing');
    await leader.kill();
    const killedAt = Date.now();
    kubectl('hub', ['patch', 'providerpool', name, '--type=merge', '-p', '{"spec":{"unschedulable":true}}']);
    const p = await poolWhen(
      name,
      'the standby reconciles the change',
      (x) => cond(x, 'Ready')?.reason === 'Unschedulable',
      20_000,
      100,
    );
    t.log(`change made after kill -9 reconciled by the standby ${Date.now() - killedAt} ms later (lease 4 s)`);
    t.is(cond(p, 'Ready')?.observedGeneration, p.metadata.generation);
    // its log lines travel through a pipe and may arrive after the pool write they led to
    await standby.proc.waitFor('the standby started its controllers', (l) => l.msg === 'Controllers started', 5_000);
    t.true(
      reconciles(standby).every((l) => Number(l['receivedAt']) >= killedAt),
      'no reconcile by the standby before the leader died',
    );
  },
);

test.serial(
  'kubeconfigs that would act inside the operator, and Secrets outside its namespace, are refused with the reason',
  async (t) => {
    const evil = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [
        {
          name: 'u',
          user: {
            exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', 'touch /tmp/pwned'] },
          },
        },
      ],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    });
    kubectl('hub', ['-n', secretsNs, 'create', 'secret', 'generic', 'evil', '--from-literal=kubeconfig=' + evil]);
    apply('hub', [
      pool(`${run}-evil`, 'evil'),
      {
        ...pool(`${run}-elsewhere`, 'gpu-a'),
        spec: {
          ...(pool(`${run}-elsewhere`, 'gpu-a') as { spec: object }).spec,
          cluster: { mode: 'KubeconfigSecret', secretRef: { name: 'gpu-a', namespace: 'default' } },
        },
      },
    ]);
    const evilPool = await poolWhen(
      `${run}-evil`,
      'exec kubeconfig refused',
      (p) => cond(p, 'Connected')?.reason === 'KubeconfigInvalid',
    );
    t.regex(cond(evilPool, 'Connected')?.message ?? '', /users\[\]\.user\.exec is not allowed in a member kubeconfig/);
    const elsewhere = await poolWhen(
      `${run}-elsewhere`,
      'foreign namespace refused',
      (p) => cond(p, 'Connected')?.reason === 'KubeconfigInvalid',
    );
    t.regex(
      cond(elsewhere, 'Connected')?.message ?? '',
      new RegExp(
        `secretRef.namespace "default": the operator reads kubeconfig Secrets only from its own namespace "${secretsNs}"`,
      ),
    );
  },
);

test.serial(
  'a tainted GPU node counts only when the placed pods tolerate its taints, as the real scheduler decides',
  async (t) => {
    const taintLabel = { 'nvdax.io/test-taint': run };
    const tolerated = buildNodes(
      `${run}-t`,
      {
        template: 'gpu-container',
        gpu: 'H100',
        count: 1,
        labels: taintLabel,
        taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
      },
      'eu-west',
      'eu-west-a',
    );
    const foreign = buildNodes(
      `${run}-u`,
      {
        template: 'gpu-container',
        gpu: 'H100',
        count: 1,
        labels: taintLabel,
        taints: [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }],
      },
      'eu-west',
      'eu-west-a',
    );
    kubectl(
      'gpu-a',
      ['create', '-f', '-'],
      [...tolerated, ...foreign].map((n) => YAML.stringify(n, { version: '1.1' })).join('---\n'),
    );
    t.teardown(() => void kubectl('gpu-a', ['delete', 'nodes', '-l', `nvdax.io/test-taint=${run}`, '--wait=false']));
    const name = `${run}-taint`;
    apply('hub', [pool(name, 'gpu-a', { nodeSelector: taintLabel })]);
    const p = await eventually(
      'capacity of the tainted nodes',
      async () => {
        const x = getPool(name);
        const c = x.status?.capacity?.find((e) => e.mode === 'Container');
        return c?.nodes === 2 && c.allocatable === 8 ? x : undefined;
      },
      60_000,
    );
    t.like(
      p.status?.capacity?.find((e) => e.mode === 'Container'),
      { nodes: 2, total: 16, allocatable: 8, available: 8 },
    );
    // the real scheduler agrees: without the toleration a GPU pod never lands on either node,
    // with the operator's tolerations it lands on the nvidia.com/gpu-tainted one only
    const core = loadKubeConfig('gpu-a').makeApiClient(CoreV1Api);
    const sel = { 'nvdax.io/test-taint': run };
    const mk = (podName: string, tolerations?: V1Toleration[]): V1Pod => ({
      metadata: { name: podName, namespace: memberNs },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: sel,
        ...(tolerations ? { tolerations } : {}),
        containers: [{ name: 'm', image: 'x', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
      },
    });
    await core.createNamespacedPod({ namespace: memberNs, body: mk('tolerating', [...gpuTolerations]) });
    await core.createNamespacedPod({ namespace: memberNs, body: mk('plain', undefined) });
    const placed = await eventually(
      'the tolerating pod bound',
      async () => {
        const x = await core.readNamespacedPod({ name: 'tolerating', namespace: memberNs });
        return x.spec?.nodeName ? x : undefined;
      },
      30_000,
    );
    t.is(placed.spec?.nodeName, tolerated[0]?.metadata.name);
    const plain = await eventually(
      'the plain pod reported unschedulable',
      async () => {
        const x = await core.readNamespacedPod({ name: 'plain', namespace: memberNs });
        return x.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable')
          ? x
          : undefined;
      },
      30_000,
    );
    t.regex(plain.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '', /untolerated taint/);
  },
);

test.serial("two controllers write one pool status without taking each other's fields", async (t) => {
  const name = `${run}-a`;
  const stakeStatus = (amount: string) => ({
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name },
    status: {
      stake: { amount, slashed: '0' },
      conditions: [
        {
          type: 'Staked',
          status: 'True',
          reason: 'StakeVerified',
          message: `${amount} staked`,
          lastTransitionTime: '2026-11-28T00:00:00Z',
        },
      ],
    },
  });
  // another controller (settlement's, later) owns stake and its own condition type
  const applyStake = (amount: string) =>
    kubectl(
      'hub',
      ['apply', '--server-side', '--field-manager=nvdax-stake-test', '--subresource=status', '-f', '-'],
      YAML.stringify(stakeStatus(amount)),
    );
  applyStake('100');
  // the pool controller writes after it: a spec change makes it reconcile and write
  kubectl('hub', ['patch', 'providerpool', name, '--type=merge', '-p', '{"spec":{"unschedulable":true}}']);
  const p = await poolWhen(
    name,
    'pool reconciled after the stake write',
    (x) => cond(x, 'Ready')?.reason === 'Unschedulable',
    20_000,
  );
  t.deepEqual(p.status?.stake, { amount: '100', slashed: '0' }, 'the pool controller left stake alone');
  t.like(cond(p, 'Staked'), { status: 'True', reason: 'StakeVerified' });
  // and the other way round
  applyStake('250');
  const q = getPool(name);
  t.is(q.status?.stake?.amount, '250');
  t.like(cond(q, 'Ready'), { status: 'False', reason: 'Unschedulable' });
  t.like(cond(q, 'Connected'), { status: 'True' });
  t.truthy(q.status?.capacity?.length, 'the stake writer left capacity alone');
  const managers = (
    JSON.parse(kubectl('hub', ['get', 'providerpool', name, '-o', 'json', '--show-managed-fields'])) as {
      metadata: { managedFields: Array<{ manager: string; subresource?: string; fieldsV1: Record<string, unknown> }> };
    }
  ).metadata.managedFields.filter((f) => f.subresource === 'status');
  const owned = (m: string) => JSON.stringify(managers.find((f) => f.manager === m)?.fieldsV1 ?? {});
  t.notRegex(
    owned('nvdax-providerpool-controller'),
    /f:stake|"k:\{\\"type\\":\\"Staked\\"\}"/,
    'the pool controller owns no stake field',
  );
  t.regex(owned('nvdax-stake-test'), /f:stake/);
  t.notRegex(owned('nvdax-stake-test'), /f:capacity/);
  kubectl('hub', ['patch', 'providerpool', name, '--type=merge', '-p', '{"spec":{"unschedulable":false}}']);
});

test.serial('a Local pool reads the hub itself and says why it is not Ready', async (t) => {
  // hub-cpu-0 is the hub's own simulated node (hack/sim/shapes.yaml), a name no member cluster has; the selector
  // keeps the count to it while other test files add nodes of their own to the hub (reports-leader does)
  apply('hub', [
    {
      ...pool(`${run}-local`, 'unused'),
      spec: {
        ...(pool(`${run}-local`, 'unused') as { spec: object }).spec,
        cluster: { mode: 'Local' },
        nodeSelector: { 'kubernetes.io/hostname': 'hub-cpu-0' },
      },
    },
  ]);
  const p = await poolWhen(`${run}-local`, 'Local pool observed', (x) => cond(x, 'Ready')?.reason === 'NoGpuNodes');
  t.like(cond(p, 'Connected'), { status: 'True', message: '1/1 node(s) Ready' });
  t.is(cond(p, 'Ready')?.message, 'no Ready, schedulable GPU node matches spec.nodeSelector');
  t.like(cond(p, 'ConfidentialReady'), { status: 'False', reason: 'NoConfidentialRuntime' });
  t.regex(cond(p, 'ConfidentialReady')?.message ?? '', /no node has CC-ready GPUs/);
  t.is(p.status?.phase, 'Degraded');
  t.deepEqual(p.status?.capacity, []);
});
