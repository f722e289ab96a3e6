// The tenant namespace of a hub namespace in a member cluster, and its default NetworkPolicy.
import type { Built } from './common.ts';
import { annotationKeys, labelKeys, MANAGED_BY, tenantNamespace } from './names.ts';

export type Namespace = Omit<Built<'Namespace', never>, 'spec'>;

interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string; except?: string[] };
}
interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: Array<{ protocol: 'TCP' | 'UDP'; port: number }>;
}
export type NetworkPolicy = Built<
  'NetworkPolicy',
  {
    podSelector: Record<string, never>;
    policyTypes: ['Ingress', 'Egress'];
    ingress: PolicyRule[];
    egress: PolicyRule[];
  }
>;

export interface TenantOptions {
  /** Name of the hub cluster, recorded on the namespace (annotation `nvdax.io/hub-cluster`). */
  hubCluster?: string;
  /** Labels of the gateway pods allowed in (any namespace). Default `app.kubernetes.io/component: nvdax-gateway`. */
  gatewaySelector?: Record<string, string>;
}

export const NETWORK_POLICY_NAME = 'nvdax-default';
export const defaultGatewaySelector: Readonly<Record<string, string>> = {
  'app.kubernetes.io/component': 'nvdax-gateway',
};

/**
 * Addresses a workload may not reach: the provider's private networks (nodes, other tenants'
 * pods behind the CNI, the control plane), link-local (cloud metadata at 169.254.169.254,
 * node-local DNS caches), carrier-grade NAT (also Alibaba's metadata at 100.100.100.200) and
 * Azure's WireServer (a public address that hands out VM secrets).
 */
export const deniedIPv4 = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '168.63.129.16/32',
] as const;
/** Unique-local (incl. AWS's IPv6 metadata at fd00:ec2::254) and link-local. */
export const deniedIPv6 = ['fc00::/7', 'fe80::/10'] as const;

/**
 * The tenant namespace and its NetworkPolicy, for the hub namespace `hubNamespace`.
 *
 * Pod Security: `restricted` is enforced. Every pod the operator builds is restricted-compliant
 * (non-root uid, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, only
 * emptyDir volumes), and the profile does not look at `runtimeClassName`, so Kata pods pass too;
 * nothing else is meant to run in this namespace, so anything that fails the profile is a bug
 * (or someone else's pod) and is better refused than run.
 */
export function tenantObjects(hubNamespace: string, opts: TenantOptions = {}): [Namespace, NetworkPolicy] {
  const name = tenantNamespace(hubNamespace);
  const labels = { [labelKeys.managedBy]: MANAGED_BY, [labelKeys.hubNamespace]: hubNamespace };
  const namespace: Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        ...labels,
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      },
      ...(opts.hubCluster ? { annotations: { [annotationKeys.hubCluster]: opts.hubCluster } } : {}),
    },
  };
  const gateway = opts.gatewaySelector && Object.keys(opts.gatewaySelector).length > 0 ? opts.gatewaySelector : null;
  const policy: NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: NETWORK_POLICY_NAME, namespace: name, labels },
    spec: {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        // the gateway, wherever it runs
        { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { ...(gateway ?? defaultGatewaySelector) } } }] },
        // the namespace's own pods (distributed training ranks talk to each other)
        { from: [{ podSelector: {} }] },
      ],
      egress: [
        { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [...deniedIPv4] } }] },
        { to: [{ ipBlock: { cidr: '::/0', except: [...deniedIPv6] } }] },
        { to: [{ podSelector: {} }] },
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    },
  };
  return [namespace, policy];
}
