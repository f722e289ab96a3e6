import test from 'ava';
import { BlockList } from 'node:net';
import type { InferenceJobSpec } from '../../../operator/api/types.gen.ts';
import {
  inferenceObjects,
  initData,
  type JobRef,
  type PlacedOn,
  tenantObjects,
} from '../../../operator/materialize/index.ts';

const job: JobRef = { kind: 'InferenceJob', namespace: 'team-a', name: 'resnet', uid: 'uid-1' };
// Triton: its image listens on every address of the pod (the operator cannot bind it to the loopback)
const spec: InferenceJobSpec = {
  model: { id: 'vision/resnet50', hash: `sha256:${'ab'.repeat(32)}` },
  runtime: { engine: 'Triton' },
  resources: { gpus: 1 },
  sla: { priceCap: '2.5' },
  payment: { requester: `0x${'1'.repeat(40)}`, escrowId: `0x${'2'.repeat(64)}` },
};
const placed = (mode: 'confidential' | 'container'): PlacedOn =>
  mode === 'confidential'
    ? {
        pool: 'pool-cc',
        attempt: 1,
        mode,
        resourceName: 'nvidia.com/pgpu',
        product: 'H100',
        tee: 'snp',
        runtimeClassName: 'kata-qemu-nvidia-gpu-snp',
        initData: initData({ kbsUrl: 'https://kbs.example' }),
      }
    : { pool: 'pool-a', attempt: 1, mode, resourceName: 'nvidia.com/gpu', product: 'x' };

/** What the policy's ipBlock rules let a pod reach, as a node:net BlockList of allowed addresses. */
function allowedBy(policy: ReturnType<typeof tenantObjects>[1]) {
  const rules = policy.spec.egress.flatMap((r) => r.to ?? []).flatMap((p) => (p.ipBlock ? [p.ipBlock] : []));
  return (address: string): boolean => {
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    return rules.some((b) => {
      const [net, bits] = b.cidr.split('/');
      const bFamily = net!.includes(':') ? 'ipv6' : 'ipv4';
      if (bFamily !== family) return false;
      const inBlock = new BlockList();
      inBlock.addSubnet(net!, Number(bits), bFamily);
      if (!inBlock.check(address, family)) return false;
      const except = new BlockList();
      for (const e of b.except ?? []) {
        const [en, eb] = e.split('/');
        except.addSubnet(en!, Number(eb), bFamily);
      }
      return !except.check(address, family);
    });
  };
}

test('the tenant namespace is labelled for the hub namespace and enforces restricted', (t) => {
  const [ns] = tenantObjects('team-a', { hubCluster: 'hub-eu' });
  t.is(ns.apiVersion, 'v1');
  t.is(ns.kind, 'Namespace');
  t.is(ns.metadata.name, 'nvdax-team-a');
  t.is(ns.metadata.labels['nvdax.io/hub-namespace'], 'team-a');
  t.is(ns.metadata.labels['app.kubernetes.io/managed-by'], 'nvdax');
  t.is(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  t.is(ns.metadata.annotations?.['nvdax.io/hub-cluster'], 'hub-eu');
});

test('egress reaches the internet but not private ranges or cloud metadata', (t) => {
  const [, np] = tenantObjects('team-a', {});
  t.is(np.metadata.name, 'nvdax-default');
  t.is(np.metadata.namespace, 'nvdax-team-a');
  t.deepEqual(np.spec.podSelector, { matchExpressions: [{ key: 'nvdax.io/gateway', operator: 'DoesNotExist' }] });
  t.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
  // pods behind the gateway have the same way out
  const [, , gw] = tenantObjects('team-a', {});
  t.deepEqual(gw.spec.egress, np.spec.egress);
  const allowed = allowedBy(np);
  for (const ok of ['1.1.1.1', '8.8.8.8', '2606:4700:4700::1111']) t.true(allowed(ok), ok);
  for (const denied of [
    '169.254.169.254',
    '10.96.0.1',
    '172.20.1.1',
    '192.168.1.10',
    '100.100.100.200',
    '168.63.129.16',
    'fd00:ec2::254',
    'fe80::1',
  ]) {
    t.false(allowed(denied), denied);
  }
});

test('DNS to kube-dns and traffic within the namespace are allowed', (t) => {
  const [, np] = tenantObjects('team-a', {});
  const dns = np.spec.egress.find((r) => r.ports?.some((p) => p.port === 53));
  t.deepEqual(dns?.ports, [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ]);
  t.deepEqual(dns?.to, [
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
    },
  ]);
  t.true(np.spec.egress.some((r) => r.to?.length === 1 && r.to[0]!.podSelector && !r.to[0]!.namespaceSelector));
});

test('ingress only from the gateway (any namespace) and the namespace itself', (t) => {
  const [, np] = tenantObjects('team-a', {});
  t.deepEqual(np.spec.ingress, [
    {
      from: [
        { namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'nvdax-gateway' } } },
      ],
    },
    { from: [{ podSelector: {} }] },
  ]);
  const [, custom, customGw] = tenantObjects('team-a', { gatewaySelector: { app: 'gw' } });
  t.deepEqual(custom.spec.ingress[0]?.from?.[0]?.podSelector, { matchLabels: { app: 'gw' } });
  t.deepEqual(customGw.spec.ingress[0]?.from?.[0]?.podSelector, { matchLabels: { app: 'gw' } });
});

/** Whether a label selector of matchExpressions (Exists / DoesNotExist) selects a pod with `labels`. */
const selects = (
  sel: { matchExpressions: Array<{ key: string; operator: 'Exists' | 'DoesNotExist' }> },
  labels: Record<string, string>,
) => sel.matchExpressions.every((e) => (e.operator === 'Exists') === e.key in labels);

test("a pod behind the gateway is let in through the gateway's port only; every pod is under exactly one policy", (t) => {
  const [, np, gw] = tenantObjects('team-a', {});
  t.is(gw.metadata.name, 'nvdax-gateway');
  t.is(gw.metadata.namespace, 'nvdax-team-a');
  // the same peers as the other pods, each rule to port 8443 alone (not the model server's, e.g. Triton's 8000)
  t.deepEqual(
    gw.spec.ingress.map((r) => r.from),
    np.spec.ingress.map((r) => r.from),
  );
  for (const r of gw.spec.ingress) t.deepEqual(r.ports, [{ protocol: 'TCP', port: 8443 }]);
  for (const r of np.spec.ingress) t.is(r.ports, undefined);
  // NetworkPolicies only add allowances: a gateway pod under the broader policy too would be open on every port
  const confidential = inferenceObjects(job, spec, placed('confidential')).deployment.spec.template.metadata.labels;
  const plain = inferenceObjects(job, spec, placed('container')).deployment.spec.template.metadata.labels;
  t.is(confidential['nvdax.io/gateway'], 'true');
  t.false('nvdax.io/gateway' in plain);
  t.deepEqual(
    [confidential, plain].map((l) => [selects(np.spec.podSelector, l), selects(gw.spec.podSelector, l)]),
    [
      [false, true],
      [true, false],
    ],
  );
});
