// The pull-mode agent (provider-runtime/agent) on the simulated clusters: a real operator process on
// a hub, a real agent process in a provider cluster (gpu-a), each under the identity it has in
// production — the agent with the hub credential of hack/agent/hub-rbac.yaml and, in its own
// cluster, the nvdax-provider chart's ServiceAccount (both by impersonation). The chart is installed
// with helm; the agent registers and heartbeats its pool with signed heartbeats, a job is placed on it
// and runs there, what it may not do is refused, the hub's API server is stopped for a minute while the
// job keeps running, the pool's loss fails a job over to a connected pool, and a forged heartbeat is
// refused.
//
// The hub here is its own cluster ($NVDAX_AGENT_TEST_HUB, default gpu-f): this test stops its API
// server, which no other test may share. gpu-a is the provider cluster (only this run's nodes).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Wallet } from 'ethers';
import YAML from 'yaml';
import { hubRbac } from '../../hack/agent/hub-rbac.ts';
import { helm } from '../../hack/charts/helm.ts';
import { startComponent, stopComponent } from '../../hack/sim/cluster.ts';
import { buildNodes } from '../../hack/sim/nodes.ts';
import { readState } from '../../hack/sim/state.ts';
import type { AgentStatus, ProviderPool, Work } from '../../operator/api/types.gen.ts';
import { poolNamespace } from '../../operator/fleet/agent-work.ts';
import { signHeartbeat, verifyHeartbeat } from '../../operator/verification/heartbeat.ts';
import { telemetryDomain } from '../../operator/verification/telemetry.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { JsonProc } from '../helpers/runtime-kit.ts';
import { kubeconfigPath, loadKubeConfig, projectRoot, simDir, uniqueName } from '../helpers/sim.ts';

const hubName = process.env['NVDAX_AGENT_TEST_HUB'] ?? 'gpu-f';
const member = 'gpu-a';
const run = uniqueName('agent');
const label = { 'nvdax.io/test-run': run };
const pool = `${run}-pool`;
const workNs = poolNamespace(pool);
const other = `${run}-other`;
const otherNs = poolNamespace(other);
const opNs = `${run}-system`;
const jobsNs = `${run}-jobs`;
const tenant = `nvdax-${jobsNs}`;
const agentNs = `${run}-agent`;
const tmp = mkdtempSync(join(tmpdir(), 'nvdax-agent-'));
const H100 = 'NVIDIA-H100-80GB-HBM3';
// the provider's key: the pool names its address, the agent signs heartbeats with it under the hub's
// settlement domain (no chain is needed to check a signature: the hub is given the domain by flags)
const providerKey = Wallet.createRandom();
const chainId = '31337';
const settlement = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const domain = telemetryDomain(BigInt(chainId), settlement);
// a connected pool (KubeconfigSecret) on another cluster, dearer, for the failover test
const backupCluster = 'gpu-b';
const backup = `${run}-backup`;
let installStart = 0;

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };
type Pod = Obj & {
  metadata: { deletionTimestamp?: string };
  status?: { phase?: string };
  spec?: { nodeName?: string };
};
type Job = {
  metadata: { name: string };
  status?: {
    phase?: string;
    attempts?: number;
    placement?: { pool?: string };
    usage?: { gpuSeconds?: number };
    conditions?: Array<{ type: string; status: string; reason: string }>;
  };
};

/** A cluster's admin kubeconfig impersonating `user` (`as:` in the user entry). */
function impersonating(cluster: string, user: string, file: string): string {
  const doc = YAML.parse(readFileSync(kubeconfigPath(cluster), 'utf8')) as {
    users: Array<{ user: Record<string, unknown> }>;
  };
  for (const u of doc.users) u.user['as'] = user;
  const path = join(tmp, file);
  writeFileSync(path, YAML.stringify(doc), { mode: 0o600 });
  return path;
}

/** kubectl with another kubeconfig; the exit code and output, never a throw. */
function kubectlAs(kubeconfig: string, args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: kubectl(hubName, ['--kubeconfig', kubeconfig, ...args]) };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const getPool = (name = pool) => getJson<ProviderPool>(hubName, ['get', 'providerpool', name]);
const getJob = (name: string) => getJson<Job>(hubName, ['-n', jobsNs, 'get', 'ij', name]);
const memberPods = (job: string) =>
  getJson<{ items: Pod[] }>(member, ['-n', tenant, 'get', 'pods', '-l', `nvdax.io/job-name=${job}`]).items;
const works = (ns = workNs) => getJson<{ items: Work[] }>(hubName, ['-n', ns, 'get', 'works']).items;

let operator: JsonProc | undefined;
let agent: JsonProc | undefined;
let hubAsAgent = '';
let poolFile = '';
const stopProc = async (p: JsonProc | undefined) => {
  if (!p || p.child.exitCode !== null) return;
  p.child.kill('SIGTERM');
  await p.exited;
};

function startOperator(failoverGrace = '10m'): JsonProc {
  return new JsonProc(join(projectRoot, 'operator', 'main.ts'), [
    '--kubeconfig',
    kubeconfigPath(hubName),
    '--identity',
    `${run}-op`,
    '--leader-election-namespace',
    opNs,
    '--leader-election-id',
    `${run}-op`,
    '--ops-bind-address',
    '127.0.0.1:0',
    '--heartbeat-interval',
    '3s',
    '--pool-selector',
    `nvdax.io/test-run=${run}`,
    '--job-selector',
    `nvdax.io/test-run=${run}`,
    // the hub's own outage must not fail the job over: this test is about the agent riding it out
    '--failover-grace',
    failoverGrace,
    // agent heartbeats must be signed by the pool's provider under this settlement's domain
    '--chain-id',
    chainId,
    '--settlement-address',
    settlement,
    '--usage-meter-interval',
    '5s',
    '--log-level',
    'debug',
  ]);
}

function startAgent(): JsonProc {
  const sa = `system:serviceaccount:${agentNs}:${run}-nvdax-provider-agent`;
  return new JsonProc(join(projectRoot, 'provider-runtime', 'agent', 'main.ts'), [
    '--hub-kubeconfig',
    hubAsAgent,
    '--kubeconfig',
    impersonating(member, sa, 'local-as-agent.kubeconfig'),
    '--pool',
    pool,
    '--pool-file',
    poolFile,
    '--provider-key-file',
    join(tmp, 'provider.key'),
    '--chain-id',
    chainId,
    '--settlement-address',
    settlement,
    '--heartbeat-interval',
    '2s',
    '--leader-election-namespace',
    agentNs,
    '--identity',
    `${run}-agent-0`,
    '--lease-duration',
    '15s',
    '--renew-deadline',
    '10s',
    '--ops-bind-address',
    '127.0.0.1:0',
    '--log-level',
    'debug',
  ]);
}

test.before(async () => {
  const hub = loadKubeConfig(hubName);
  kubectl(hubName, ['apply', '--server-side', '--force-conflicts', '-f', join(projectRoot, 'crds')]);
  kubectl(hubName, ['wait', '--for=condition=Established', 'crd/works.nvdax.io', '--timeout=30s']);
  await createNamespace(hub, opNs);
  await createNamespace(hub, jobsNs);
  // the agent's hub identity for this pool, and another pool's namespace with work in it
  apply(hubName, hubRbac(pool, { namespace: opNs, serviceAccount: 'default' }));
  apply(hubName, hubRbac(other, { namespace: opNs, serviceAccount: 'default' }));
  hubAsAgent = impersonating(hubName, `system:serviceaccount:${workNs}:nvdax-agent`, 'hub-as-agent.kubeconfig');

  // the provider cluster: this run's GPU nodes, then the chart installed with helm (its agent Deployment lands
  // on a kwok node, where nothing runs: the agent runs here as a process under the chart's ServiceAccount)
  await createNamespace(loadKubeConfig(member), agentNs);
  apply(
    member,
    buildNodes(`${run}-n`, { template: 'gpu-container', gpu: 'H100', count: 2, labels: label }, 'eu-west', 'eu-west-a'),
  );
  writeFileSync(join(tmp, 'provider.key'), providerKey.privateKey, { mode: 0o600 });
  installStart = Date.now();
  const installed = helm([
    'install',
    run,
    join(projectRoot, 'charts', 'nvdax-provider'),
    '--namespace',
    agentNs,
    '--kubeconfig',
    kubeconfigPath(member),
    '--set',
    `pool.name=${pool}`,
    '--set',
    `pool.providerAddress=${providerKey.address}`,
    '--set',
    'pool.region=eu-west',
    '--set',
    'pool.jurisdiction=DE',
    '--set',
    'pool.heartbeatTimeout=15s',
    '--set-json',
    `pool.baseRates=${JSON.stringify([{ gpuProduct: H100, pricePerGpuHour: '2.10' }])}`,
    '--set-json',
    `pool.nodeSelector=${JSON.stringify(label)}`,
    '--set',
    'hub.existingSecret=nvdax-hub',
    '--set',
    `hub.chainId=${chainId}`,
    '--set',
    `hub.settlementAddress=${settlement}`,
    '--set',
    'providerKey.existingSecret=nvdax-provider-key',
    '--set-json',
    `agent.nodeSelector=${JSON.stringify(label)}`,
  ]);
  if (installed.code !== 0) throw new Error(`helm install: ${installed.stderr}`);
  // the pool exactly as the chart holds it for the agent, labelled for this run's operator
  const cm = getJson<{ data: Record<string, string> }>(member, [
    '-n',
    agentNs,
    'get',
    'configmap',
    `${run}-nvdax-provider-pool`,
  ]);
  const manifest = YAML.parse(cm.data['providerpool.yaml'] ?? '') as { metadata: { labels?: Record<string, string> } };
  manifest.metadata.labels = { ...manifest.metadata.labels, ...label };
  poolFile = join(tmp, 'providerpool.yaml');
  writeFileSync(poolFile, YAML.stringify(manifest));

  operator = startOperator();
  agent = startAgent();
});

test.after.always(async () => {
  await stopProc(agent);
  await stopProc(operator);
  // NVDAX_TEST_LOGS=DIR keeps both processes' logs for a look after a failure
  const logs = process.env['NVDAX_TEST_LOGS'];
  if (logs) {
    for (const [name, p] of [
      ['operator', operator],
      ['agent', agent],
    ] as const) {
      writeFileSync(
        join(logs, `${run}-${name}.log`),
        `${p?.lines.map((l) => JSON.stringify(l)).join('\n')}\n${p?.stderr}`,
      );
    }
  }
  try {
    kubectl(hubName, ['-n', jobsNs, 'delete', 'ij', '--all', '--wait=false']);
    for (const n of kubectl(hubName, ['-n', jobsNs, 'get', 'ij', '-o', 'name']).split('\n').filter(Boolean)) {
      kubectl(hubName, ['-n', jobsNs, 'patch', n, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
    kubectl(hubName, ['delete', 'providerpools', pool, other, backup, '--ignore-not-found', '--wait=false']);
    kubectl(backupCluster, ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
    kubectl(hubName, [
      'delete',
      'clusterrole,clusterrolebinding',
      `nvdax-agent-${pool}`,
      `nvdax-agent-${other}`,
      '--ignore-not-found',
    ]);
    kubectl(member, ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
    kubectl(member, ['delete', 'clusterrole', `${agentNs}-${run}-nvdax-provider-workloads`, '--ignore-not-found']);
    kubectl(member, ['delete', 'clusterrolebinding', `${agentNs}-${run}-nvdax-provider-agent`, '--ignore-not-found']);
  } catch {
    // best effort: the namespaces below go regardless
  }
  const hub = loadKubeConfig(hubName);
  for (const ns of [jobsNs, opNs, workNs, otherNs]) await deleteNamespace(hub, ns);
  for (const ns of [tenant, agentNs]) await deleteNamespace(loadKubeConfig(member), ns);
  await deleteNamespace(loadKubeConfig(backupCluster), tenant);
  rmSync(tmp, { recursive: true, force: true });
});

test.serial(
  'the agent registers its pool and heartbeats: the pool is Ready with the capacity of its cluster',
  async (t) => {
    const p = await eventually(
      `pool ${pool} Ready`,
      () => {
        const p = getPool();
        return p.status?.phase === 'Ready' ? p : undefined;
      },
      90_000,
    );
    t.is(p.spec.cluster.mode, 'Agent');
    // created by the agent from the chart's manifest (server-side apply under its own field manager)
    t.is(p.spec.heartbeatTimeout, '15s');
    const agentStatus = p.status?.agent;
    t.is(agentStatus?.nodes?.length, 2, 'only the nodes the pool selects');
    t.true(Date.now() - Date.parse(agentStatus?.heartbeatTime ?? '') < 20_000);
    const h100 = p.status?.capacity?.find((c) => c.gpuProduct === H100);
    t.like(h100, { mode: 'Container', total: 16, allocatable: 16, nodes: 2 });
    t.is(p.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'GpusAvailable');
    // signed by the provider, and the signature still holds over the status as the API server gives it back
    t.regex(agentStatus?.signature ?? '', /^0x[0-9a-f]{130}$/);
    t.notThrows(() => verifyHeartbeat(domain, pool, providerKey.address, agentStatus ?? {}));
    t.log(`helm install of the provider chart → pool Ready on the hub: ${Date.now() - installStart} ms`);
  },
);

test.serial('an InferenceJob is placed on the agent pool and runs in its cluster through a Work', async (t) => {
  apply(hubName, [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'InferenceJob',
      metadata: { name: 'chat', namespace: jobsNs, labels: label },
      spec: {
        model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
        runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
        resources: { gpus: 2, gpuProducts: [H100] },
        sla: { priceCap: '50' },
        payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
      },
    },
  ]);
  const job = await eventually(
    'chat Running',
    () => (getJob('chat').status?.phase === 'Running' ? getJob('chat') : undefined),
    120_000,
  );
  t.is(job.status?.placement?.pool, pool);
  t.is(job.status?.attempts, 1);
  const [work] = works();
  t.is(work?.metadata.name, `ij.${jobsNs}.chat.a1.p0`);
  t.is(work?.spec.pool, pool);
  // the tenant's two policies (pods behind the confidential gateway, and the rest), then the workload
  t.deepEqual(
    work?.spec.manifests.map((m) => `${m['kind']}/${(m['metadata'] as { name?: string } | undefined)?.name ?? ''}`),
    [
      `Namespace/${tenant}`,
      'NetworkPolicy/nvdax-default',
      'NetworkPolicy/nvdax-gateway',
      'Deployment/chat-a1',
      'Service/chat-a1',
    ],
  );
  t.is(work?.status?.conditions?.find((c) => c.type === 'Applied')?.status, 'True');
  // applied by the agent, under its own field manager, labelled with its Work
  const dep = getJson<Obj & { metadata: { managedFields?: Array<{ manager: string }> } }>(member, [
    '-n',
    tenant,
    'get',
    'deployment',
    'chat-a1',
    '--show-managed-fields',
  ]);
  t.is(dep.metadata.labels?.['nvdax.io/work'], work?.metadata.name);
  t.true(dep.metadata.managedFields?.some((f) => f.manager === 'nvdax-agent'));
  const pods = memberPods('chat');
  t.is(pods.length, 1);
  t.is(pods[0]?.status?.phase, 'Running');
  t.true(pods[0]?.spec?.nodeName?.startsWith(`${run}-n`), 'on a node of the pool');
  // the pod's GPUs are in the pool's inventory and capacity (as the agent reports them)
  await eventually(
    'the pool shows 2 GPUs in use',
    () => getPool().status?.capacity?.find((c) => c.gpuProduct === H100)?.inUse === 2,
    30_000,
  );
});

test.serial("the agent's identities are refused anything broader than its pool and its work", async (t) => {
  // work in its own namespace that names another pool is never acted on
  apply(hubName, [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'Work',
      metadata: { name: 'stray', namespace: workNs, labels: label },
      spec: {
        pool: other,
        job: { kind: 'InferenceJob', namespace: jobsNs, name: 'stray' },
        attempt: 1,
        manifests: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'stray', namespace: tenant },
            spec: { ports: [{ port: 80 }] },
          },
        ],
      },
    },
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'Work',
      metadata: { name: 'elsewhere', namespace: otherNs, labels: label },
      spec: {
        pool: other,
        job: { kind: 'InferenceJob', namespace: jobsNs, name: 'elsewhere' },
        attempt: 1,
        manifests: [],
      },
    },
  ]);
  const as = (args: string[]) => kubectlAs(hubAsAgent, args);
  const refused = (what: string, args: string[]) => {
    const r = as(args);
    t.not(r.code, 0, `${what} must be refused`);
    t.regex(r.out, /forbidden/i, what);
  };
  refused("another pool's Work", ['-n', otherNs, 'get', 'works']);
  refused("another pool's Work status", [
    '-n',
    otherNs,
    'patch',
    'work',
    'elsewhere',
    '--subresource=status',
    '--type=merge',
    '-p',
    '{"status":{"observedGeneration":1}}',
  ]);
  refused('Secrets in its own work namespace', ['-n', workNs, 'get', 'secrets']);
  refused("Secrets in the operator's namespace", ['-n', opNs, 'get', 'secrets']);
  refused('deleting Work (only the operator publishes and removes it)', [
    '-n',
    workNs,
    'delete',
    'works',
    '--all',
    '--dry-run=server',
  ]);
  refused('ConfigMaps in its own work namespace', ['-n', workNs, 'get', 'configmaps']);
  refused('another ProviderPool', [
    'patch',
    'providerpool',
    other,
    '--type=merge',
    '-p',
    '{"metadata":{"labels":{"x":"y"}}}',
  ]);
  refused('listing ProviderPools', ['get', 'providerpools']);
  refused('creating a namespace (a cluster-wide write)', ['create', 'namespace', `${run}-x`]);
  refused('jobs on the hub', ['-n', jobsNs, 'get', 'inferencejobs']);
  // what it needs is allowed
  t.is(as(['-n', workNs, 'get', 'works']).code, 0);
  t.is(as(['get', 'providerpool', pool]).code, 0);
  // the stray Work is left alone: no status, nothing applied
  await new Promise((r) => setTimeout(r, 3000));
  const stray = works().find((w) => w.metadata.name === 'stray');
  t.is(stray?.status, undefined);
  t.is(kubectlAs(kubeconfigPath(member), ['-n', tenant, 'get', 'service', 'stray']).code === 0, false);
  t.true(agent?.lines.some((l) => l.msg === 'Work names another pool; ignored'));
  kubectl(hubName, ['-n', workNs, 'delete', 'work', 'stray']);
  // in its own cluster the chart's ServiceAccount is refused what it does not need too
  const local = impersonating(
    member,
    `system:serviceaccount:${agentNs}:${run}-nvdax-provider-agent`,
    'local-check.kubeconfig',
  );
  const l = kubectlAs(local, ['-n', agentNs, 'get', 'secrets']);
  t.not(l.code, 0, 'Secrets in its own cluster');
});

test.serial(
  'the hub API server stopped for a minute: the job keeps running, and status catches up after',
  async (t) => {
    const hubPlan = readState(simDir())?.clusters.find((c) => c.name === hubName);
    if (!hubPlan)
      throw new Error(`the test sim has no ${hubName} cluster (NVDAX_AGENT_TEST_HUB names the hub this test stops)`);
    const before = getJob('chat');
    const podsBefore = memberPods('chat');
    t.is(podsBefore.length, 1);
    const usedBefore = before.status?.usage?.gpuSeconds ?? 0;
    await stopComponent(hubPlan, 'kube-apiserver');
    const stoppedAt = Date.now();
    let restartedAt = 0;
    try {
      // meanwhile, in the provider cluster: its pod replaced (the Deployment makes a new one)
      kubectl(member, ['-n', tenant, 'delete', 'pod', podsBefore[0]?.metadata.name ?? '', '--wait=false']);
      while (Date.now() - stoppedAt < 60_000) {
        await new Promise((r) => setTimeout(r, 5_000));
        t.is(agent?.child.exitCode, null, 'the agent keeps running');
        const running = memberPods('chat').filter(
          (p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp,
        );
        if (Date.now() - stoppedAt > 15_000)
          t.is(running.length, 1, 'the workload keeps running in the provider cluster');
      }
    } finally {
      await startComponent(hubPlan, 'kube-apiserver');
      restartedAt = Date.now();
    }
    // the operator leads on a Lease in the hub: unable to renew it, it exits (its Deployment restarts it)
    await eventually('the operator exited, having lost its Lease', () => operator?.child.exitCode !== null, 60_000);
    operator = startOperator();
    t.true(agent?.lines.some((l) => l.msg === 'Heartbeat failed; the workloads keep running, retrying'));
    const pods = memberPods('chat').filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
    t.is(pods.length, 1);
    t.not(pods[0]?.metadata.name, podsBefore[0]?.metadata.name);
    // the heartbeat resumes and the Work status names the new pod
    await eventually(
      'a heartbeat after the restart',
      () =>
        Date.parse(getPool().status?.agent?.heartbeatTime ?? '') >= restartedAt - 1000 &&
        getPool().status?.phase === 'Ready',
      90_000,
    );
    await eventually(
      'the Work status shows the new pod',
      () => works()[0]?.status?.pods?.some((p) => p.name === pods[0]?.metadata.name && p.phase === 'Running'),
      60_000,
    );
    // no failover: the same attempt runs again as Running, and its usage covers the outage (the new pod ran
    // through it: 2 GPUs for more than 50 s)
    const after = await eventually(
      'the job Running with usage measured past the outage',
      () => {
        const j = getJob('chat');
        return j.status?.phase === 'Running' && (j.status?.usage?.gpuSeconds ?? 0) >= usedBefore + 2 * 50
          ? j
          : undefined;
      },
      60_000,
    );
    t.is(after.status?.attempts, 1);
    t.is(after.status?.placement?.pool, pool);
    t.is(after.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  },
);

test.serial('deleting the job deletes its Work, and the agent deletes what it applied', async (t) => {
  kubectl(hubName, ['-n', jobsNs, 'delete', 'ij', 'chat', '--wait=false']);
  await eventually('the Work gone from the hub', () => works().length === 0, 60_000);
  await eventually(
    'the Deployment and Service gone from the provider cluster',
    () =>
      getJson<{ items: Obj[] }>(member, ['-n', tenant, 'get', 'deployments,services', '-l', 'nvdax.io/job-name=chat'])
        .items.length === 0,
    60_000,
  );
  await eventually(
    'the job gone from the hub',
    () => kubectl(hubName, ['-n', jobsNs, 'get', 'ij', '-o', 'name']).trim() === '',
    60_000,
  );
  t.pass();
});

test.serial(
  'the agent pool lost: its job fails over to a connected pool, and the returning agent deletes the old attempt',
  async (t) => {
    // a connected pool on another cluster, dearer than the agent pool; an operator that fails over in seconds
    kubectl(hubName, [
      '-n',
      opNs,
      'create',
      'secret',
      'generic',
      backupCluster,
      `--from-file=kubeconfig=${kubeconfigPath(backupCluster)}`,
    ]);
    apply(
      backupCluster,
      buildNodes(
        `${run}-b`,
        { template: 'gpu-container', gpu: 'H100', count: 1, labels: label },
        'eu-west',
        'eu-west-a',
      ),
    );
    apply(hubName, [
      {
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'ProviderPool',
        metadata: { name: backup, labels: label },
        spec: {
          provider: { address: '0x4444444444444444444444444444444444444444' },
          region: 'eu-west',
          jurisdiction: 'DE',
          cluster: { mode: 'KubeconfigSecret', secretRef: { name: backupCluster, namespace: opNs } },
          nodeSelector: label,
          baseRates: [{ gpuProduct: H100, pricePerGpuHour: '3.00' }],
          heartbeatTimeout: '15s',
        },
      },
    ]);
    await stopProc(operator);
    operator = startOperator('5s');
    await eventually('backup pool Ready', () => getPool(backup).status?.phase === 'Ready', 90_000);
    apply(hubName, [
      {
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'InferenceJob',
        metadata: { name: 'moves', namespace: jobsNs, labels: label },
        spec: {
          model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
          runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
          resources: { gpus: 1, gpuProducts: [H100] },
          sla: { priceCap: '50' },
          retries: 2,
          payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
        },
      },
    ]);
    const first = await eventually(
      'moves Running on the agent pool (the cheaper one)',
      () => {
        const j = getJob('moves');
        return j.status?.phase === 'Running' ? j : undefined;
      },
      120_000,
    );
    t.is(first.status?.placement?.pool, pool);
    t.is(memberPods('moves').length, 1);
    // the agent goes away (its process stops; the pods it applied keep running, nobody there deletes them)
    await stopProc(agent);
    const moved = await eventually(
      'moves failed over to the connected pool and Running there',
      () => {
        const j = getJob('moves');
        return j.status?.placement?.pool === backup && j.status?.phase === 'Running' ? j : undefined;
      },
      120_000,
    );
    t.is(moved.status?.attempts, 2);
    t.is(getPool().status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'HeartbeatTimeout');
    // the first attempt's Work is gone from the hub at once; its objects wait for their agent
    t.deepEqual(
      works().map((w) => w.metadata.name),
      [],
    );
    t.is(memberPods('moves').length, 1, 'the lost pool still runs attempt 1 while its agent is away');
    agent = startAgent();
    await eventually(
      'the returning agent deleted attempt 1 from its cluster',
      () =>
        memberPods('moves').filter((p) => !p.metadata.deletionTimestamp).length === 0 &&
        getJson<{ items: Obj[] }>(member, ['-n', tenant, 'get', 'deployments', '-l', 'nvdax.io/job-name=moves']).items
          .length === 0,
      90_000,
    );
    await eventually('the agent pool Ready again', () => getPool().status?.phase === 'Ready', 60_000);
    // still one attempt running, on the connected pool: the job is not placed back nor run twice
    const after = getJob('moves');
    t.is(after.status?.attempts, 2);
    t.is(after.status?.placement?.pool, backup);
    const backupPods = getJson<{ items: Pod[] }>(backupCluster, [
      '-n',
      tenant,
      'get',
      'pods',
      '-l',
      'nvdax.io/job-name=moves',
    ]).items;
    t.is(backupPods.filter((p) => p.status?.phase === 'Running').length, 1);
    kubectl(hubName, ['-n', jobsNs, 'delete', 'ij', 'moves', '--wait=false']);
  },
);

test.serial('when the heartbeats stop the pool goes not Ready with HeartbeatTimeout', async (t) => {
  await stopProc(agent);
  const p = await eventually(
    'pool not Ready',
    () => {
      const p = getPool();
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'False' ? p : undefined;
    },
    60_000,
  );
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  t.is(ready?.reason, 'HeartbeatTimeout');
  t.is(p.status?.phase, 'Disconnected');
  // no earlier than heartbeatTimeout (15 s) after the last heartbeat
  t.true(Date.parse(ready?.lastTransitionTime ?? '') - Date.parse(p.status?.agent?.heartbeatTime ?? '') >= 14_000);
});

test.serial("a heartbeat not signed by the pool's provider is refused; the provider's own is taken", async (t) => {
  // the agent is stopped (above): heartbeats written here are the only ones
  const p = getPool();
  const inventory = { ...(p.status?.agent ?? {}) } as AgentStatus;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const write = (status: AgentStatus) =>
    kubectl(hubName, [
      'patch',
      'providerpool',
      pool,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { agent: status } }),
    ]);
  const forger = Wallet.createRandom();
  write(await signHeartbeat(forger, domain, pool, { ...inventory, heartbeatTime: now }));
  const refused = await eventually(
    'pool not Ready: HeartbeatRefused',
    () => {
      const ready = getPool().status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.reason === 'HeartbeatRefused' ? ready : undefined;
    },
    30_000,
  );
  t.is(refused.status, 'False');
  t.regex(refused.message ?? '', new RegExp(`signature: not the pool's provider ${providerKey.address}'s`));
  // the same inventory and time signed by the provider: taken, the pool Ready again
  write(await signHeartbeat(providerKey, domain, pool, { ...inventory, heartbeatTime: now }));
  await eventually('pool Ready with the provider-signed heartbeat', () => getPool().status?.phase === 'Ready', 30_000);
  t.pass();
});
