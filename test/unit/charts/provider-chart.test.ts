// The provider chart rendered by the pinned helm (no cluster): lint, the agent's command and
// Secrets, the ProviderPool it offers (valid for the hub's schema), NVIDIA's device plugin as
// NVIDIA's manifest has it, the Confidential Containers RuntimeClasses as the notes and the
// simulated clusters have them, member access, NetworkPolicies and NOTES.txt.
import test from 'ava';
import { join } from 'node:path';
import YAML from 'yaml';
import { chartsDir, helm, one, render, renderNotes, type Obj } from '../../../hack/charts/helm.ts';
import { runtimeClasses } from '../../../hack/sim/nodes.ts';
import { validateManifest } from '../../../operator/api/validate.ts';

const chart = 'nvdax-provider';
const minimal = { valuesFiles: ['examples/minimal.yaml'], namespace: 'nvdax-provider' };
const dev = { valuesFiles: ['examples/confidential-dev.yaml'], namespace: 'nvdax-provider', release: 'frankfurt' };

type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
};
type PodSpec = {
  serviceAccountName?: string;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Array<Record<string, string>>;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes: Array<Record<string, unknown> & { name: string }>;
};
type Workload = Obj & { spec: { template: { spec: PodSpec } } };
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

const poolOf = (objs: Obj[]) => {
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-pool')) as Obj & {
    data: Record<string, string>;
  };
  return YAML.parse(cm.data['providerpool.yaml'] ?? '') as Obj & { spec: Record<string, unknown> };
};

test('helm lint passes with each example; the defaults alone are refused, naming every value to set', (t) => {
  const kind = join(chartsDir, '..', 'hack', 'kind', 'values');
  for (const f of [
    join(chartsDir, chart, 'examples', 'minimal.yaml'),
    join(chartsDir, chart, 'examples', 'confidential-dev.yaml'),
    // the kind path's providers (hack/kind/up.sh)
    join(kind, 'gpu-a.yaml'),
    join(kind, 'gpu-b.yaml'),
  ]) {
    const r = helm(['lint', '--strict', join(chartsDir, chart), '-f', f, '--set', 'memberAccess.enabled=true']);
    t.is(r.code, 0, `${f}: ${r.stdout}${r.stderr}`);
  }
  const r = helm(['template', 'x', join(chartsDir, chart)]);
  t.not(r.code, 0);
  for (const path of [
    '/pool/name',
    '/pool/providerAddress',
    '/pool/region',
    '/pool/jurisdiction',
    '/pool/baseRates',
    '/hub/existingSecret',
    '/providerKey/existingSecret',
  ]) {
    t.true(r.stderr.includes(`at '${path}'`), `${path} named in: ${r.stderr}`);
  }
});

test('minimal values: the agent, its RBAC, the pool ConfigMap and a NetworkPolicy; nothing optional', (t) => {
  const objs = render(chart, minimal);
  t.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
    'ClusterRole/nvdax-provider-nvdax-provider-workloads',
    'ClusterRoleBinding/nvdax-provider-nvdax-provider-agent',
    'ConfigMap/nvdax-provider-pool',
    'Deployment/nvdax-provider-agent',
    'NetworkPolicy/nvdax-provider-agent',
    'Role/nvdax-provider-agent',
    'RoleBinding/nvdax-provider-agent',
    'ServiceAccount/nvdax-provider-agent',
  ]);
});

test("the agent: the image's agent entrypoint with its flags, hub kubeconfig and provider key from Secrets", (t) => {
  const d = one(render(chart, minimal), 'Deployment') as Workload;
  const pod = d.spec.template.spec;
  const c = pod.containers[0] as Container;
  t.deepEqual(c.command, ['node', 'provider-runtime/agent/main.ts']);
  t.deepEqual(c.args?.slice(0, 5), [
    '--hub-kubeconfig=/etc/nvdax/hub/kubeconfig',
    '--pool=dublin-l4',
    // heartbeats signed under the hub's settlement domain
    '--provider-key-file=/etc/nvdax/provider/key',
    '--chain-id=31337',
    '--settlement-address=0x5FbDB2315678afecb367f032d93F642f64180aa3',
  ]);
  // without the hub's settlement the agent runs unsigned (and NOTES.txt says a settling hub refuses it)
  const unsigned = one(
    render(chart, { ...minimal, set: { 'hub.chainId': '', 'hub.settlementAddress': '' } }),
    'Deployment',
  ) as Workload;
  const uargs = (unsigned.spec.template.spec.containers[0] as Container).args ?? [];
  t.false(uargs.some((a) => a.startsWith('--provider-key-file') || a.startsWith('--chain-id')));
  const vol = (name: string) =>
    pod.volumes.find((v) => v.name === name) as unknown as { secret: Record<string, unknown> };
  t.is(vol('hub').secret['secretName'], 'nvdax-hub');
  t.deepEqual(vol('hub').secret['items'], [{ key: 'kubeconfig', path: 'kubeconfig' }]);
  t.is(vol('provider-key').secret['secretName'], 'nvdax-provider-key');
  t.deepEqual(vol('provider-key').secret['items'], [{ key: 'key', path: 'key' }]);
  const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, m]));
  t.is(mounts['/etc/nvdax/hub']?.readOnly, true);
  t.is(mounts['/etc/nvdax/provider']?.readOnly, true);
  t.is(pod.serviceAccountName, 'nvdax-provider-agent');
  t.is(pod.securityContext?.['runAsNonRoot'], true);
  t.is(c.securityContext['readOnlyRootFilesystem'], true);
  t.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
});

test('the pool the chart offers is a valid ProviderPool for the hub (the API schema and its CEL rules)', (t) => {
  const minimalPool = poolOf(render(chart, minimal));
  t.deepEqual(validateManifest(minimalPool), []);
  t.deepEqual(minimalPool.spec['cluster'], { mode: 'Agent' });
  t.deepEqual(minimalPool.spec['baseRates'], [{ gpuProduct: 'NVIDIA-L4', mode: 'Container', pricePerGpuHour: '0.40' }]);
  const devPool = poolOf(render(chart, dev));
  t.deepEqual(validateManifest(devPool), []);
  t.deepEqual(devPool.spec['cluster'], {
    mode: 'KubeconfigSecret',
    secretRef: { name: 'frankfurt-h100', key: 'kubeconfig' },
  });
  t.is(devPool.spec['region'], 'eu-central');
  t.is(devPool.spec['jurisdiction'], 'DE');
  t.is(devPool.spec['development'], true);
  // the check can fail: a pool the hub would refuse is reported
  t.not(validateManifest({ ...devPool, spec: { ...devPool.spec, baseRates: [] } }).length, 0);
});

test("the device plugin DaemonSet is NVIDIA's static manifest: toleration, priority class, socket mount", (t) => {
  t.false(render(chart, minimal).some((o) => o.kind === 'DaemonSet'));
  const ds = one(render(chart, dev), 'DaemonSet') as Workload;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0] as Container;
  t.deepEqual(pod.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  t.is(pod.priorityClassName, 'system-node-critical');
  t.is(c.name, 'nvidia-device-plugin-ctr');
  t.is(c.image, 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1');
  t.deepEqual(c.env, [{ name: 'FAIL_ON_INIT_ERROR', value: 'false' }]);
  t.is(c.securityContext['allowPrivilegeEscalation'], false);
  t.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  t.deepEqual(c.volumeMounts, [{ name: 'kubelet-device-plugins-dir', mountPath: '/var/lib/kubelet/device-plugins' }]);
  t.deepEqual(pod.volumes, [
    { name: 'kubelet-device-plugins-dir', hostPath: { path: '/var/lib/kubelet/device-plugins', type: 'Directory' } },
  ]);
  t.deepEqual(pod.nodeSelector, { 'nvidia.com/gpu.present': 'true' });
});

test('the RuntimeClasses are those kata-deploy installs (names, handlers, overhead, node selectors)', (t) => {
  t.false(render(chart, minimal).some((o) => o.kind === 'RuntimeClass'));
  const all = render(chart, { ...dev, set: { 'runtimeClasses.tdx': 'true' } }).filter((o) => o.kind === 'RuntimeClass');
  const strip = (o: Record<string, unknown>) => {
    const { metadata, ...rest } = o as Obj;
    return { name: metadata.name, ...rest };
  };
  const want = runtimeClasses().map(strip);
  t.deepEqual(
    all.map(strip).sort((a, b) => a.name.localeCompare(b.name)),
    want.sort((a, b) => (a['name'] as string).localeCompare(b['name'] as string)) as never,
  );
  // overhead follows the kata release
  const older = render(chart, { ...dev, set: { 'runtimeClasses.gpuOverhead.memory': '20480Mi' } });
  const snp = one(older, 'RuntimeClass', 'kata-qemu-nvidia-gpu-snp') as Obj & {
    overhead: { podFixed: Record<string, string> };
  };
  t.is(snp.overhead.podFixed['memory'], '20480Mi');
});

test('member access: a ServiceAccount and token for the hub, bound to the workloads role only', (t) => {
  t.false(render(chart, minimal).some((o) => o.metadata.name.endsWith('-hub')));
  const objs = render(chart, dev);
  const token = one(objs, 'Secret') as Obj & { type: string };
  t.is(token.type, 'kubernetes.io/service-account-token');
  t.is(token.metadata.annotations?.['kubernetes.io/service-account.name'], 'frankfurt-nvdax-provider-hub');
  const crb = one(objs, 'ClusterRoleBinding', 'nvdax-provider-frankfurt-nvdax-provider-hub') as Obj & {
    roleRef: { name: string };
  };
  t.is(crb.roleRef.name, 'nvdax-provider-frankfurt-nvdax-provider-workloads');
  const role = one(objs, 'ClusterRole') as Obj & { rules: Rule[] };
  const res = role.rules.flatMap((r) => r.resources);
  t.false(res.includes('secrets'), 'never Secrets');
  t.false(res.includes('*'));
  t.false(role.rules.some((r) => r.verbs.includes('*') || r.apiGroups.includes('*')));
  t.false(
    role.rules.some(
      (r) =>
        r.resources.some((x) => ['nodes', 'pods', 'runtimeclasses'].includes(x)) &&
        r.verbs.some((v) => v !== 'get' && v !== 'list' && v !== 'watch'),
    ),
  );
});

test('NetworkPolicy: no ingress to the agent; egress limited to the named CIDRs and DNS when given', (t) => {
  type Np = Obj & {
    spec: { policyTypes: string[]; ingress?: unknown; egress?: Array<{ to?: Array<{ ipBlock: { cidr: string } }> }> };
  };
  const open = one(render(chart, minimal), 'NetworkPolicy') as Np;
  t.deepEqual(open.spec.policyTypes, ['Ingress']);
  t.is(open.spec.ingress, undefined);
  const shut = one(render(chart, dev), 'NetworkPolicy') as Np;
  t.deepEqual(shut.spec.policyTypes, ['Ingress', 'Egress']);
  t.deepEqual(
    shut.spec.egress?.flatMap((e) => e.to ?? []).map((x) => x.ipBlock.cidr),
    ['203.0.113.10/32', '10.96.0.1/32'],
  );
});

test('NOTES.txt tells the provider what was installed and how to check its pool', (t) => {
  const notes = renderNotes(chart, dev);
  t.regex(notes, /Pool "frankfurt-h100" — region eu-central, jurisdiction DE, 2 base rate/);
  t.regex(notes, /NVIDIA-H100-80GB-HBM3 \(Confidential\): 2\.60 NVDAx per GPU-hour/);
  t.regex(notes, /kubectl get providerpool frankfurt-h100/);
  t.regex(notes, /rollout status deployment\/frankfurt-nvdax-provider-agent/);
  t.regex(notes, /secret frankfurt-nvdax-provider-hub-token/);
  t.regex(notes, /create secret generic frankfurt-h100 --from-file=kubeconfig=member.kubeconfig/);
  t.regex(notes, /NVIDIA device plugin DaemonSet/);
  t.regex(notes, /kata-qemu-nvidia-gpu-snp kata-qemu-coco-dev/);
});
