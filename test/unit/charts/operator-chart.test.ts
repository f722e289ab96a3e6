// The hub chart rendered by the pinned helm (no cluster): lint, what default and example values
// render, the operator flags it passes (parsed by the operator itself), least-privilege RBAC,
// pod hardening, and alerts that name only metrics the operator exports.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartsDir, helm, one, projectRoot, render, type Obj } from '../../../hack/charts/helm.ts';
import { crdDirs, crdDrift } from '../../../hack/charts/sync-crds.ts';

const chart = 'nvdax-operator';
const production = { valuesFiles: ['examples/production.yaml'] };

type Container = {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }>;
  ports: Array<{ name: string; containerPort: number }>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  startupProbe: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
};
type PodSpec = {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: Array<Record<string, unknown> & { name: string }>;
};
type Deployment = Obj & { spec: { replicas: number; template: { spec: PodSpec } } };
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
type RoleObj = Obj & { rules: Rule[] };

const deployment = (objs: Obj[]) => one(objs, 'Deployment') as Deployment;
const container = (objs: Obj[]) => deployment(objs).spec.template.spec.containers[0] as Container;

test('helm lint passes with default and with example values', (t) => {
  for (const extra of [
    [],
    ['-f', join(chartsDir, chart, 'examples', 'production.yaml')],
    ['-f', join(projectRoot, 'hack', 'kind', 'values', 'hub.yaml')],
  ]) {
    const r = helm(['lint', '--strict', join(chartsDir, chart), ...extra]);
    t.is(r.code, 0, r.stdout + r.stderr);
    t.regex(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('default values: the objects of a hub install, and nothing optional', (t) => {
  const objs = render(chart);
  const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  t.deepEqual(kinds, [
    'ClusterRole/nvdax-system-nvdax-operator',
    'ClusterRoleBinding/nvdax-system-nvdax-operator',
    'CustomResourceDefinition/inferencejobs.nvdax.io',
    'CustomResourceDefinition/providerpools.nvdax.io',
    'CustomResourceDefinition/trainingjobs.nvdax.io',
    'CustomResourceDefinition/works.nvdax.io',
    'Deployment/nvdax-operator',
    'PodDisruptionBudget/nvdax-operator',
    'Role/nvdax-operator',
    'RoleBinding/nvdax-operator',
    'Service/nvdax-operator-metrics',
    'ServiceAccount/nvdax-operator',
  ]);
  for (const o of objs.filter((x) => x.kind !== 'CustomResourceDefinition' && !x.kind.startsWith('Cluster'))) {
    t.is(o.metadata.namespace, 'nvdax-system', `${o.kind} in the release namespace`);
  }
});

test("the chart's CRDs are crds/ byte for byte (sync-crds --check)", (t) => {
  const { source, copy } = crdDirs(projectRoot);
  t.deepEqual(crdDrift(source, copy), []);
  t.deepEqual(readdirSync(copy).sort(), readdirSync(source).sort());
});

test('the Deployment: two replicas with leader election, probes on the ops port, hardened pod', (t) => {
  const objs = render(chart);
  const d = deployment(objs);
  const c = container(objs);
  const pod = d.spec.template.spec;
  t.is(d.spec.replicas, 2);
  t.is(c.image, 'ghcr.io/nvdax/nvdax:0.1.0');
  // V8's generations sized by the chart (values.yaml says why); none when nodeOptions is empty
  t.deepEqual(c.command, ['node', '--max-semi-space-size=16', '--max-old-space-size=640', 'operator/main.ts']);
  // the old generation leaves a third of the container's memory limit to what is not V8 heap
  const limitMiB = quantityMiB(c.resources.limits?.memory ?? '');
  const heapMiB = Number(c.command.find((f: string) => f.startsWith('--max-old-space-size='))?.split('=')[1]);
  t.true(heapMiB > 0 && heapMiB <= (limitMiB * 2) / 3, `old space ${heapMiB} MiB against a ${limitMiB} MiB limit`);
  t.deepEqual(container(render(chart, { setJson: { nodeOptions: [] } })).command, ['node', 'operator/main.ts']);
  t.true(c.args.includes('--leader-elect'));
  t.true(c.args.includes('--leader-election-id=nvdax-operator'));
  t.true(c.args.includes('--ops-bind-address=:8080'));
  // the Lease namespace and identity come from the pod itself
  const env = Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom?.['fieldRef']?.['fieldPath']]));
  t.is(env['POD_NAMESPACE'], 'metadata.namespace');
  t.is(env['POD_NAME'], 'metadata.name');
  t.deepEqual(c.ports, [{ name: 'ops', containerPort: 8080, protocol: 'TCP' }] as unknown as Container['ports']);
  t.is(c.livenessProbe.httpGet.path, '/healthz');
  t.is(c.readinessProbe.httpGet.path, '/readyz');
  t.is(c.startupProbe.httpGet.path, '/healthz');
  t.is(c.readinessProbe.httpGet.port, 'ops');
  t.truthy(c.resources.requests['cpu']);
  t.truthy(c.resources.requests['memory']);
  t.truthy(c.resources.limits?.['memory']);
  t.is(pod.serviceAccountName, 'nvdax-operator');
  t.is(pod.securityContext['runAsNonRoot'], true);
  t.not(pod.securityContext['runAsUser'], 0);
  t.deepEqual(pod.securityContext['seccompProfile'], { type: 'RuntimeDefault' });
  t.is(c.securityContext['readOnlyRootFilesystem'], true);
  t.is(c.securityContext['allowPrivilegeEscalation'], false);
  t.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  // a read-only root still has a scratch /tmp
  t.true(c.volumeMounts.some((m) => m.mountPath === '/tmp'));
  const svc = one(objs, 'Service') as Obj & { spec: { ports: Array<{ targetPort: string; name: string }> } };
  t.deepEqual(
    svc.spec.ports.map((p) => [p.name, p.targetPort]),
    [['metrics', 'ops']],
  );
});

/** Runs the operator with the chart's args and a kubeconfig that does not exist: flags are parsed first. */
function operatorWithArgs(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []) {
  return spawnSync(
    process.execPath,
    [...nodeFlags, join(projectRoot, 'operator', 'main.ts'), ...args, '--kubeconfig', '/nonexistent/kubeconfig'],
    { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 },
  );
}

test('the operator accepts every flag the chart passes (it fails only on the missing kubeconfig)', (t) => {
  for (const opts of [{}, { set: { 'leaderElection.enabled': 'false', 'operator.poolSelector': 'team=a' } }]) {
    const c = container(render(chart, opts));
    // the command's Node flags too (between "node" and the script)
    const r = operatorWithArgs(
      c.args,
      { POD_NAMESPACE: 'nvdax-system', POD_NAME: 'nvdax-operator-0' },
      c.command.slice(1, -1),
    );
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, /--kubeconfig \/nonexistent\/kubeconfig/);
  }
  // and the check can fail: a flag the operator does not know is refused by name
  const bad = operatorWithArgs(['--no-such-flag']);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /no-such-flag/);
});

test('RBAC: cluster-wide only reads, status and finalizer patches and Events; Secrets only in its namespace', (t) => {
  const objs = render(chart);
  const cr = one(objs, 'ClusterRole') as RoleObj;
  const role = one(objs, 'Role') as RoleObj;
  const all = [...cr.rules, ...role.rules];
  t.false(
    all.some((r) => [...r.apiGroups, ...r.resources, ...r.verbs].includes('*')),
    'no wildcards',
  );
  // nothing cluster-wide touches Secrets, ConfigMaps, workloads or RBAC
  const clusterResources = cr.rules.flatMap((r) => r.resources);
  for (const res of ['secrets', 'configmaps', 'deployments', 'pods', 'nodes', 'namespaces', 'roles', 'clusterroles']) {
    t.false(clusterResources.includes(res), `ClusterRole must not name ${res}`);
  }
  const writes = cr.rules.filter((r) =>
    r.verbs.some((v) => ['create', 'update', 'delete', 'deletecollection'].includes(v)),
  );
  t.deepEqual(
    writes.flatMap((r) => r.resources),
    ['events'],
    'the only cluster-wide create is Events',
  );
  const pools = cr.rules.find((r) => r.resources.includes('providerpools'));
  t.deepEqual(pools?.verbs, ['get', 'list', 'watch'], 'pools are only read (their spec is the provider’s)');
  const crds = cr.rules.find((r) => r.resources.includes('customresourcedefinitions'));
  t.deepEqual(crds?.verbs, ['get']);
  t.deepEqual(crds?.resourceNames?.sort(), [
    'inferencejobs.nvdax.io',
    'providerpools.nvdax.io',
    'trainingjobs.nvdax.io',
    'works.nvdax.io',
  ]);
  const works = cr.rules.find((r) => r.resources.includes('works'));
  t.deepEqual(works?.verbs, ['get', 'list', 'watch'], 'Works are written only per pool namespace');
  const secrets = role.rules.find((r) => r.resources.includes('secrets'));
  t.deepEqual(secrets?.verbs, ['get', 'list', 'watch']);
  t.is(role.metadata.namespace, 'nvdax-system');
  const lease = role.rules.find((r) => r.resources.includes('leases') && r.verbs.includes('update'));
  t.deepEqual(lease?.resourceNames, ['nvdax-operator']);
  // Local pools widen it, and only when asked
  const local = render(chart, { set: { 'rbac.localPools': 'true' } }).filter((o) => o.kind === 'ClusterRole');
  t.is(local.length, 2);
  t.true(
    (local.find((o) => o.metadata.name.endsWith('-local-pools')) as RoleObj).rules.some((r) =>
      r.resources.includes('nodes'),
    ),
  );
});

test('two releases in two namespaces get distinct cluster-scoped names', (t) => {
  const a = render(chart, { release: 'nvdax', namespace: 'team-a' });
  const b = render(chart, { release: 'nvdax', namespace: 'team-b' });
  const names = (objs: Obj[]) => objs.filter((o) => o.kind.startsWith('Cluster')).map((o) => o.metadata.name);
  t.notDeepEqual(names(a), names(b));
  const crb = one(a, 'ClusterRoleBinding') as Obj & { subjects: Array<{ namespace: string; name: string }> };
  t.deepEqual(crb.subjects, [{ kind: 'ServiceAccount', name: 'nvdax-operator', namespace: 'team-a' }] as never);
});

/** Metric names the operator registers (operator/**: `name: '...'` and the runtime's metric helpers). */
function operatorMetricNames(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(
          /'((?:nvdax|rest_client|workqueue|controller_runtime|leader_election)_[a-z_]+)'/g,
        ))
          out.add(m[1] as string);
      }
    }
  };
  walk(join(projectRoot, 'operator'));
  return out;
}

test('example values: ServiceMonitor, PrometheusRule on real metric names, settlement from a Secret', (t) => {
  const objs = render(chart, production);
  const c = container(objs);
  t.is(c.image, `ghcr.io/nvdax/nvdax@sha256:${'0123456789abcdef'.repeat(4)}`);
  t.is(deployment(objs).spec.replicas, 3);
  const sm = one(objs, 'ServiceMonitor') as Obj & { spec: { endpoints: Array<{ port: string; path: string }> } };
  t.deepEqual(
    sm.spec.endpoints.map((e) => [e.port, e.path]),
    [['metrics', '/metrics']],
  );
  t.is(sm.metadata.labels?.['release'], 'prometheus');
  const rule = one(objs, 'PrometheusRule') as Obj & {
    spec: { groups: Array<{ rules: Array<{ alert: string; expr: string; labels: { severity: string } }> }> };
  };
  const rules = rule.spec.groups.flatMap((g) => g.rules);
  t.true(rules.length >= 8);
  const known = operatorMetricNames();
  t.true(known.has('nvdax_member_ready') && known.has('rest_client_requests_total'), 'the metric scan finds metrics');
  for (const r of rules) {
    t.regex(r.labels.severity, /^(critical|warning|info)$/);
    const used = [...r.expr.matchAll(/\b([a-z_]+)(?=\{)/g)].map((m) => m[1] as string);
    t.true(used.length > 0, `${r.alert} reads a metric`);
    used.splice(0, used.length, ...used.filter((n) => n !== 'up'));
    for (const n of used) t.true(known.has(n), `${r.alert}: ${n} is not a metric the operator exports`);
  }
  t.true(rules.some((r) => r.alert === 'NvdaxOperatorNoLeader' && r.expr.includes('leader_election_master_status')));
  // settlement: deployment file from a ConfigMap, key from a Secret file, RPC URL from a Secret env
  t.true(c.args.includes('--settlement-deployment=/etc/nvdax/settlement/deployment.json'));
  t.true(c.args.includes('--chain-key-file=/etc/nvdax/chain/key'));
  const rpc = c.env.find((e) => e.name === 'NVDAX_CHAIN_RPC_URL');
  t.deepEqual(rpc?.valueFrom, { secretKeyRef: { name: 'nvdax-chain', key: 'rpc-url' } });
  const cm = one(objs, 'ConfigMap') as Obj & { data: Record<string, string> };
  const dep = JSON.parse(cm.data['deployment.json'] ?? '') as { chainId: number; contracts: Record<string, string> };
  t.is(dep.chainId, 8453);
  t.regex(dep.contracts['settlement'] ?? '', /^0x[0-9a-f]{40}$/);
  const keyVol = deployment(objs).spec.template.spec.volumes.find((v) => v.name === 'chain-key') as unknown as {
    secret: { secretName: string; defaultMode: number };
  };
  t.is(keyVol.secret.secretName, 'nvdax-chain');
  t.is(keyVol.secret.defaultMode, 0o400);
  // the outbox lives in ConfigMaps of its own namespace: only then may it write them
  const role = one(objs, 'Role') as RoleObj;
  t.true(role.rules.some((r) => r.resources.includes('configmaps') && r.verbs.includes('create')));
  t.false((one(render(chart), 'Role') as RoleObj).rules.some((r) => r.resources.includes('configmaps')));
  const np = one(objs, 'NetworkPolicy') as Obj & { spec: { policyTypes: string[] } };
  t.deepEqual(np.spec.policyTypes, ['Ingress']);
});

test('reports: off by default; on, a leader-only Service, the container port, the flags, NetworkPolicy and RBAC', (t) => {
  const off = render(chart);
  t.false(off.some((o) => o.kind === 'Service' && o.metadata.name.endsWith('-reports')));
  t.false(container(off).args.some((a) => a.startsWith('--reports') || a === '--leader-pod-label'));
  t.false((one(off, 'Role') as RoleObj).rules.some((r) => r.resources.includes('pods')));

  const objs = render(chart, { set: { 'reports.enabled': 'true', 'networkPolicy.enabled': 'true' } });
  const c = container(objs);
  t.true(c.args.includes('--reports-bind-address=0.0.0.0:9443'));
  // default: the Service's in-cluster DNS name and port
  t.true(c.args.includes('--reports-advertise-address=nvdax-operator-reports.nvdax-system.svc:9443'));
  t.true(c.args.includes('--leader-pod-label'));
  t.deepEqual(
    c.ports.map((p) => [p.name, p.containerPort]),
    [
      ['ops', 8080],
      ['reports', 9443],
    ],
  );
  const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'nvdax-operator-reports') as Obj & {
    spec: { type: string; selector: Record<string, string>; ports: Array<Record<string, unknown>> };
  };
  t.truthy(svc);
  t.is(svc.metadata.namespace, 'nvdax-system');
  t.is(svc.spec.type, 'ClusterIP');
  // the leader's Pod alone: the Deployment's selector labels plus the label the leader writes
  t.deepEqual(svc.spec.selector, {
    'app.kubernetes.io/name': 'nvdax-operator',
    'app.kubernetes.io/instance': 'nvdax',
    'nvdax.io/leader': 'true',
  });
  t.deepEqual(svc.spec.ports, [
    { name: 'reports', port: 9443, targetPort: 'reports', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
  ]);
  const np = one(objs, 'NetworkPolicy') as Obj & { spec: { ingress: Array<{ ports: Array<{ port: string }> }> } };
  t.deepEqual(
    np.spec.ingress.map((i) => i.ports.map((p) => p.port)),
    [['ops'], ['reports']],
  );
  // the leader patches its own Pod: pods patch, in its namespace only, nothing more
  const role = one(objs, 'Role') as RoleObj;
  t.deepEqual(
    role.rules.filter((r) => r.resources.includes('pods')),
    [{ apiGroups: [''], resources: ['pods'], verbs: ['patch'] }],
  );
  t.false((one(objs, 'ClusterRole') as RoleObj).rules.some((r) => r.resources.includes('pods')));

  // an address of its own, a port of its own, a source allow-list
  const custom = render(chart, {
    set: {
      'reports.enabled': 'true',
      'reports.port': '7443',
      'reports.advertiseAddress': 'reports.hub.example.com:443',
      'reports.service.type': 'LoadBalancer',
      'networkPolicy.enabled': 'true',
    },
    setJson: { 'reports.from': [{ ipBlock: { cidr: '10.0.0.0/8' } }] },
  });
  const cc = container(custom);
  t.true(cc.args.includes('--reports-bind-address=0.0.0.0:7443'));
  t.true(cc.args.includes('--reports-advertise-address=reports.hub.example.com:443'));
  const svc2 = custom.find((o) => o.metadata.name === 'nvdax-operator-reports') as Obj & {
    spec: { type: string; ports: Array<{ port: number }> };
  };
  t.is(svc2.spec.type, 'LoadBalancer');
  t.is(svc2.spec.ports[0]?.port, 7443);
  const np2 = one(custom, 'NetworkPolicy') as Obj & { spec: { ingress: Array<{ from?: unknown[] }> } };
  t.deepEqual(np2.spec.ingress[1]?.from, [{ ipBlock: { cidr: '10.0.0.0/8' } }]);
  // what the schema cannot check: the intake's port is not the ops port
  const clash = helm([
    'template',
    'nvdax',
    join(chartsDir, chart),
    '--set',
    'reports.enabled=true',
    '--set',
    'reports.port=8080',
  ]);
  t.not(clash.code, 0);
  t.regex(clash.stderr, /reports\.port 8080 is ops\.port's: the report intake needs a port of its own/);
});

test('the operator accepts the reports flags the chart passes, and needs its Pod named for the leader label', (t) => {
  const args = container(render(chart, { set: { 'reports.enabled': 'true' } })).args;
  const r = operatorWithArgs(args, { POD_NAMESPACE: 'nvdax-system', POD_NAME: 'nvdax-operator-0' });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /--kubeconfig \/nonexistent\/kubeconfig/);
  const noPod = operatorWithArgs(args, { POD_NAMESPACE: '', POD_NAME: '' });
  t.is(noPod.status, 2);
  t.regex(noPod.stderr, /--leader-pod-label needs POD_NAMESPACE and POD_NAME/);
});

/** A memory quantity in MiB (the binary suffixes the chart's values use). */
function quantityMiB(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`memory quantity ${q}: expected <n>Mi or <n>Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}
