// Both charts installed with the pinned helm into the simulated clusters (real API servers,
// scheduler and controller manager, kwok nodes): every object is accepted, the Deployments and
// the device-plugin DaemonSet are scheduled onto kwok nodes. Then the real operator runs here as
// a process with the hub chart's own flags, impersonating the chart's ServiceAccount, and connects
// to the provider cluster with the provider chart's member-access token: it registers the pool
// the provider chart renders and runs a job on it — and every broader request is refused.
// Namespaces, releases, nodes and pools are this run's own; the operator acts only on them.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { chartsDir, helm, parseObjects, type Obj } from '../../hack/charts/helm.ts';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { InferenceJob, ProviderPool } from '../../operator/api/types.gen.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { JsonProc } from '../helpers/runtime-kit.ts';
import { binDir, kubeconfigPath, uniqueName } from '../helpers/sim.ts';

const run = uniqueName('ch');
const label = { 'nvdax.io/test-run': run };
const selector = `nvdax.io/test-run=${run}`;
const opNs = `${run}-system`;
const provNs = `${run}-provider`;
const jobsNs = `${run}-jobs`;
const tenant = `nvdax-${jobsNs}`;
const opRelease = `${run}-hub`;
const provRelease = `${run}-gpu`;
const opSa = `${opRelease}-nvdax-operator`;
const poolName = `${run}-a`;
const memberSecret = `${run}-gpu-a`;
const tmp = mkdtempSync(join(tmpdir(), 'nvdax-charts-'));
const provider = '0x2222222222222222222222222222222222222222';

/** helm against one simulated cluster as its admin; throws with helm's message on failure. */
function helmOn(cluster: string, args: string[]): string {
  const r = helm([...args, '--kubeconfig', kubeconfigPath(cluster)]);
  if (r.code !== 0) throw new Error(`helm ${args.slice(0, 2).join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** kubectl with an explicit kubeconfig; returns the exit code and output instead of throwing. */
function kubectlAs(kubeconfig: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(join(binDir(), 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The hub's admin kubeconfig, impersonating the chart's ServiceAccount (`as:` in the user). */
function impersonatedKubeconfig(): string {
  const doc = YAML.parse(readFileSync(kubeconfigPath('hub'), 'utf8')) as {
    users: Array<{ user: Record<string, unknown> }>;
  };
  for (const u of doc.users) u.user['as'] = `system:serviceaccount:${opNs}:${opSa}`;
  const path = join(tmp, 'hub-as-operator.kubeconfig');
  writeFileSync(path, YAML.stringify(doc), { mode: 0o600 });
  return path;
}

type Workload = Obj & {
  spec: { template: { spec: { containers: Array<{ args?: string[]; command?: string[] }> } } };
  status?: {
    readyReplicas?: number;
    availableReplicas?: number;
    desiredNumberScheduled?: number;
    numberReady?: number;
  };
};
type PodList = { items: Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { phase: string } }> };
const cond = (
  p: { status?: { conditions?: Array<{ type: string; status: string; reason?: string }> } },
  type: string,
) => p.status?.conditions?.find((c) => c.type === type);

let op: JsonProc | undefined;
let asOperator = '';
const timings: Record<string, number> = {};

test.before(async () => {
  // this run's GPU node on the provider cluster: the pool's and the device plugin's only node
  apply('gpu-a', [
    ...buildNodes(
      `${run}-a`,
      { template: 'gpu-container', gpu: 'H100', count: 1, labels: label },
      'eu-west',
      'eu-west-a',
    ),
  ]);
  kubectl('hub', ['create', 'namespace', jobsNs]);
  kubectl('gpu-a', ['create', 'namespace', provNs]);
  // what the provider brings: the hub kubeconfig and its key (contents are the agent's business)
  kubectl('gpu-a', [
    '-n',
    provNs,
    'create',
    'secret',
    'generic',
    'nvdax-hub',
    '--from-literal=kubeconfig=apiVersion: v1',
  ]);
  kubectl('gpu-a', [
    '-n',
    provNs,
    'create',
    'secret',
    'generic',
    'nvdax-provider-key',
    `--from-literal=key=0x${'11'.repeat(32)}`,
  ]);
});

test.after.always(async () => {
  if (op) {
    op.child.kill('SIGTERM');
    await op.exited;
  }
  const quiet = (cluster: string, args: string[]) => {
    try {
      kubectl(cluster, args);
    } catch {
      // cleanup goes on
    }
  };
  quiet('hub', ['-n', jobsNs, 'delete', 'ij', '--all', '--wait=false']);
  quiet('hub', ['delete', 'providerpools', '-l', selector, '--wait=false']);
  // the finalizer needs the operator, which has stopped: take it off
  try {
    for (const n of kubectl('hub', ['-n', jobsNs, 'get', 'ij', '-o', 'name']).split('\n').filter(Boolean))
      quiet('hub', ['-n', jobsNs, 'patch', n, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  } catch {
    // namespace already gone
  }
  helm(['uninstall', opRelease, '-n', opNs, '--kubeconfig', kubeconfigPath('hub')]);
  helm(['uninstall', provRelease, '-n', provNs, '--kubeconfig', kubeconfigPath('gpu-a')]);
  for (const ns of [jobsNs, opNs]) quiet('hub', ['delete', 'namespace', ns, '--wait=false']);
  for (const ns of [provNs, tenant]) quiet('gpu-a', ['delete', 'namespace', ns, '--wait=false']);
  quiet('gpu-a', ['delete', 'nodes', '-l', selector, '--wait=false']);
  rmSync(tmp, { recursive: true, force: true });
});

/** Objects of a release's manifest that exist in the cluster, by kind/name; the missing ones listed. */
function missingObjects(cluster: string, release: string, ns: string): string[] {
  const objs = parseObjects(helmOn(cluster, ['get', 'manifest', release, '-n', ns]));
  const missing: string[] = [];
  for (const o of objs) {
    const r = kubectlAs(kubeconfigPath(cluster), [
      ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
      'get',
      `${o.kind}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''),
      o.metadata.name,
      '-o',
      'name',
    ]);
    if (r.code !== 0) missing.push(`${o.kind}/${o.metadata.name}: ${r.out.trim()}`);
  }
  return objs.length ? missing : ['the release has no objects'];
}

test.serial(
  'the hub chart installs: every object accepted, both operator replicas scheduled on kwok nodes',
  async (t) => {
    const t0 = Date.now();
    const out = helmOn('hub', [
      'install',
      opRelease,
      join(chartsDir, 'nvdax-operator'),
      '--namespace',
      opNs,
      '--create-namespace',
      '--set',
      `operator.poolSelector=${selector}`,
      '--set',
      `operator.jobSelector=${selector}`,
    ]);
    timings['hub install accepted'] = Date.now() - t0;
    t.regex(out, /STATUS: deployed/);
    t.deepEqual(missingObjects('hub', opRelease, opNs), []);
    const d = await eventually(
      'operator Deployment available',
      () => {
        const x = getJson<Workload>('hub', ['-n', opNs, 'get', 'deployment', opSa]);
        return x.status?.availableReplicas === 2 ? x : undefined;
      },
      90_000,
      250,
    );
    timings['hub install → replicas Running'] = Date.now() - t0;
    t.is(d.status?.readyReplicas, 2);
    const pods = getJson<PodList>('hub', ['-n', opNs, 'get', 'pods', '-l', `app.kubernetes.io/instance=${opRelease}`]);
    t.is(pods.items.length, 2);
    for (const p of pods.items) {
      t.truthy(p.spec.nodeName, `${p.metadata.name} bound by the scheduler`);
      t.is(p.status.phase, 'Running');
    }
    // the CRDs are served (installed by this chart, or already there and left alone)
    for (const crd of ['providerpools.nvdax.io', 'inferencejobs.nvdax.io', 'trainingjobs.nvdax.io', 'works.nvdax.io']) {
      t.is(kubectlAs(kubeconfigPath('hub'), ['get', 'crd', crd, '-o', 'name']).code, 0, crd);
    }
  },
);

test.serial('the provider chart installs: agent, member access, device plugin on the GPU node, NOTES', async (t) => {
  const t0 = Date.now();
  const out = helmOn('gpu-a', [
    'install',
    provRelease,
    join(chartsDir, 'nvdax-provider'),
    '--namespace',
    provNs,
    '--set',
    `pool.name=${poolName}`,
    '--set',
    `pool.providerAddress=${provider}`,
    '--set',
    'pool.region=eu-west',
    '--set',
    'pool.jurisdiction=IE',
    '--set-json',
    `pool.baseRates=${JSON.stringify([{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' }])}`,
    '--set-json',
    `pool.nodeSelector=${JSON.stringify(label)}`,
    '--set',
    'pool.cluster.mode=KubeconfigSecret',
    '--set',
    `pool.cluster.secretName=${memberSecret}`,
    '--set',
    'hub.existingSecret=nvdax-hub',
    '--set',
    'providerKey.existingSecret=nvdax-provider-key',
    '--set',
    'memberAccess.enabled=true',
    // the agent on this run's node too: nothing of this test lands on other tests' nodes
    '--set-json',
    `agent.nodeSelector=${JSON.stringify(label)}`,
    '--set',
    'devicePlugin.enabled=true',
    '--set-json',
    `devicePlugin.nodeSelector=${JSON.stringify({ ...label, 'nvidia.com/gpu.present': 'true' })}`,
  ]);
  timings['provider install accepted'] = Date.now() - t0;
  t.regex(out, /STATUS: deployed/);
  t.regex(out, new RegExp(`Pool "${poolName}" — region eu-west, jurisdiction IE, 1 base rate`));
  t.regex(out, new RegExp(`kubectl get providerpool ${poolName}`));
  t.deepEqual(missingObjects('gpu-a', provRelease, provNs), []);
  const agent = await eventually(
    'agent Deployment available',
    () => {
      const x = getJson<Workload>('gpu-a', ['-n', provNs, 'get', 'deployment', `${provRelease}-nvdax-provider-agent`]);
      return x.status?.availableReplicas === 1 ? x : undefined;
    },
    90_000,
    250,
  );
  t.deepEqual(agent.spec.template.spec.containers[0]?.command, ['node', 'provider-runtime/agent/main.ts']);
  const agentPods = getJson<PodList>('gpu-a', ['-n', provNs, 'get', 'pods', '-l', 'app.kubernetes.io/component=agent']);
  t.deepEqual(
    agentPods.items.map((p) => [p.spec.nodeName, p.status.phase]),
    [[`${run}-a-gpu-h100-0`, 'Running']],
  );
  const ds = await eventually(
    'device plugin on the GPU node',
    () => {
      const x = getJson<Workload>('gpu-a', [
        '-n',
        provNs,
        'get',
        'daemonset',
        `${provRelease}-nvdax-provider-nvidia-device-plugin`,
      ]);
      return x.status?.numberReady === 1 ? x : undefined;
    },
    90_000,
    250,
  );
  timings['provider install → agent and device plugin Running'] = Date.now() - t0;
  t.is(ds.status?.desiredNumberScheduled, 1, 'exactly the GPU nodes the selector names');
  const dsPods = getJson<PodList>('gpu-a', [
    '-n',
    provNs,
    'get',
    'pods',
    '-l',
    'app.kubernetes.io/component=nvidia-device-plugin',
  ]);
  t.deepEqual(
    dsPods.items.map((p) => p.spec.nodeName),
    [`${run}-a-gpu-h100-0`],
  );
  // the token controller filled the member-access token
  await eventually('member-access token', () => {
    const s = getJson<{ data?: Record<string, string> }>('gpu-a', [
      '-n',
      provNs,
      'get',
      'secret',
      `${provRelease}-nvdax-provider-hub-token`,
    ]);
    return s.data?.['token'] ? s : undefined;
  });
  t.log(timings);
});

test.serial(
  "the operator, under the chart's ServiceAccount and flags, runs the provider's pool and a job on it",
  async (t) => {
    asOperator = impersonatedKubeconfig();
    // the member kubeconfig as NOTES.txt builds it: the provider chart's token, inline
    const tok = getJson<{ data: Record<string, string> }>('gpu-a', [
      '-n',
      provNs,
      'get',
      'secret',
      `${provRelease}-nvdax-provider-hub-token`,
    ]);
    const server = (
      YAML.parse(readFileSync(kubeconfigPath('gpu-a'), 'utf8')) as { clusters: Array<{ cluster: { server: string } }> }
    ).clusters[0]?.cluster.server;
    const member = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'member', cluster: { server, 'certificate-authority-data': tok.data['ca.crt'] } }],
      users: [{ name: 'hub', user: { token: Buffer.from(tok.data['token'] ?? '', 'base64').toString() } }],
      contexts: [{ name: 'member', context: { cluster: 'member', user: 'hub' } }],
      'current-context': 'member',
    };
    kubectl('hub', [
      '-n',
      opNs,
      'create',
      'secret',
      'generic',
      memberSecret,
      '--from-literal',
      `kubeconfig=${YAML.stringify(member)}`,
    ]);
    // the pool exactly as the provider chart rendered it, labelled for this run's operator
    const cm = getJson<{ data: Record<string, string> }>('gpu-a', [
      '-n',
      provNs,
      'get',
      'configmap',
      `${provRelease}-nvdax-provider-pool`,
    ]);
    const pool = YAML.parse(cm.data['providerpool.yaml'] ?? '') as ProviderPool & {
      metadata: { labels: Record<string, string> };
    };
    pool.metadata.labels = { ...pool.metadata.labels, ...label };
    apply('hub', [pool]);

    // the chart's own container args, from the Deployment the API server holds
    const d = getJson<Workload>('hub', ['-n', opNs, 'get', 'deployment', opSa]);
    // ["node", …Node flags (nodeOptions), the script]
    const [node, ...rest] = d.spec.template.spec.containers[0]?.command ?? [];
    const entry = rest.at(-1);
    t.is(node, 'node');
    const args = d.spec.template.spec.containers[0]?.args ?? [];
    t.true(args.includes(`--pool-selector=${selector}`));
    // as the pod would: namespace and identity from the downward API variables the chart sets
    process.env['POD_NAMESPACE'] = opNs;
    process.env['POD_NAME'] = `${opSa}-local`;
    op = new JsonProc(
      join(import.meta.dirname, '..', '..', entry ?? ''),
      [...args, '--kubeconfig', asOperator, '--ops-bind-address', '127.0.0.1:0'],
      rest.slice(0, -1),
    );
    await op.waitFor('Started leading', (l) => l.msg === 'Started leading', 60_000);
    const lease = getJson<{ spec: { holderIdentity: string } }>('hub', ['-n', opNs, 'get', 'lease', 'nvdax-operator']);
    t.is(lease.spec.holderIdentity, `${opSa}-local`);

    const ready = await eventually(
      `pool ${poolName} Ready`,
      () => {
        const p = getJson<ProviderPool>('hub', ['get', 'providerpool', poolName]);
        return p.status?.phase === 'Ready' ? p : undefined;
      },
      90_000,
      250,
    );
    t.is(cond(ready, 'Connected')?.status, 'True');
    const h100 = ready.status?.capacity?.find(
      (c) => c.gpuProduct === 'NVIDIA-H100-80GB-HBM3' && c.mode === 'Container',
    );
    t.is(h100?.total, 8, 'only this run’s node, read with the member-access token');

    apply('hub', [
      {
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'InferenceJob',
        metadata: { name: 'chat', namespace: jobsNs, labels: label },
        spec: {
          model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
          runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
          resources: { gpus: 1, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
          sla: { priceCap: '10' },
          payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
        },
      },
    ]);
    const job = await eventually(
      'chat Running and Ready',
      () => {
        const j = getJson<InferenceJob>('hub', ['-n', jobsNs, 'get', 'ij', 'chat']);
        return j.status?.phase === 'Running' && cond(j, 'Ready')?.status === 'True' ? j : undefined;
      },
      120_000,
      250,
    );
    t.is(job.status?.placement?.pool, poolName);
    const pods = getJson<PodList>('gpu-a', ['-n', tenant, 'get', 'pods']);
    t.true(pods.items.length >= 1);
    for (const p of pods.items) t.is(p.spec.nodeName, `${run}-a-gpu-h100-0`);
    // nothing the operator needed was refused: no Event lost, no forbidden request logged
    t.deepEqual(op.find('Event not recorded'), []);
    t.deepEqual(
      op.lines.filter((l) => /forbidden/i.test(JSON.stringify(l))).map((l) => l.msg),
      [],
    );
  },
);

test.serial('under the chart RBAC anything broader is refused', (t) => {
  t.truthy(asOperator, 'the previous test made the impersonated kubeconfig');
  const as = (args: string[]) => kubectlAs(asOperator, args);
  // what it needs is allowed (the checks below can pass)
  t.is(as(['-n', opNs, 'get', 'secrets', '-o', 'name']).code, 0);
  t.is(as(['get', 'providerpools', '-o', 'name']).code, 0);
  const refused: Array<[string, string[]]> = [
    ['Secrets of another namespace', ['-n', jobsNs, 'get', 'secrets']],
    ['Secrets of kube-system', ['-n', 'kube-system', 'get', 'secret', 'any', '-o', 'name']],
    ['Secrets cluster-wide', ['get', 'secrets', '-A']],
    ['ConfigMaps of its own namespace (settlement is off)', ['-n', opNs, 'get', 'configmaps']],
    ['a Deployment on the hub', ['-n', jobsNs, 'create', 'deployment', 'x', '--image=busybox']],
    ['a Namespace on the hub', ['create', 'namespace', `${run}-x`]],
    ['hub nodes (no Local pools)', ['get', 'nodes']],
    ['pods cluster-wide', ['get', 'pods', '-A']],
    ['deleting a ProviderPool', ['delete', 'providerpool', poolName, '--dry-run=server']],
    [
      'changing a pool spec',
      ['patch', 'providerpool', poolName, '--type=merge', '-p', '{"spec":{"region":"us-east"}}'],
    ],
    ['creating a job', ['-n', jobsNs, 'create', 'configmap', 'x']],
    ['deleting a CRD', ['delete', 'crd', 'providerpools.nvdax.io', '--dry-run=server']],
    ['reading other CRDs', ['get', 'crd', 'leases.coordination.k8s.io']],
    ['another Lease', ['-n', opNs, 'get', 'lease', 'someone-else']],
    ['RBAC', ['create', 'clusterrolebinding', `${run}-x`, '--clusterrole=cluster-admin', `--user=x`]],
  ];
  for (const [what, args] of refused) {
    const r = as(args);
    t.not(r.code, 0, `${what} was allowed`);
    t.regex(r.out, /forbidden/i, `${what}: ${r.out}`);
    t.true(r.out.includes(`system:serviceaccount:${opNs}:${opSa}`), `${what} refused to the chart's ServiceAccount`);
  }
});

test.serial('a Local pool (the hub as member) is AccessDenied unless the chart grants rbac.localPools', async (t) => {
  apply('hub', [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'ProviderPool',
      metadata: { name: `${run}-local`, labels: label },
      spec: {
        provider: { address: provider },
        region: 'eu-central',
        jurisdiction: 'DE',
        cluster: { mode: 'Local' },
        nodeSelector: label,
        baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' }],
      },
    },
  ]);
  const p = await eventually(
    'local pool AccessDenied',
    () => {
      const x = getJson<ProviderPool>('hub', ['get', 'providerpool', `${run}-local`]);
      return cond(x, 'Connected')?.reason === 'AccessDenied' ? x : undefined;
    },
    60_000,
    250,
  );
  t.is(cond(p, 'Connected')?.status, 'False');
  // granting it is one value: the same release, upgraded
  helmOn('hub', [
    'upgrade',
    opRelease,
    join(chartsDir, 'nvdax-operator'),
    '--namespace',
    opNs,
    '--reuse-values',
    '--set',
    'rbac.localPools=true',
  ]);
  const ok = await eventually(
    'local pool Connected once granted',
    () => {
      const x = getJson<ProviderPool>('hub', ['get', 'providerpool', `${run}-local`]);
      return cond(x, 'Connected')?.status === 'True' ? x : undefined;
    },
    90_000,
    250,
  );
  t.is(cond(ok, 'Connected')?.reason, 'Connected');
});
