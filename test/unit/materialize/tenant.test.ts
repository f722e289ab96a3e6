import test from 'ava';
import { BlockList } from 'node:net';
import { tenantObjects } from '../../../operator/materialize/index.ts';

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
  t.deepEqual(np.spec.podSelector, {});
  t.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
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
  const [, custom] = tenantObjects('team-a', { gatewaySelector: { app: 'gw' } });
  t.deepEqual(custom.spec.ingress[0]?.from?.[0]?.podSelector, { matchLabels: { app: 'gw' } });
});
