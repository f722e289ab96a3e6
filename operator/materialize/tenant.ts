// The tenant namespace of a hub namespace in a member cluster, and its two NetworkPolicies.
import type { Built } from './common.ts';
import { GATEWAY_PORT } from './inference.ts';
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
interface PodSelector {
  matchExpressions: Array<{ key: string; operator: 'Exists' | 'DoesNotExist' }>;
}
export type NetworkPolicy = Built<
  'NetworkPolicy',
  {
    podSelector: PodSelector;
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
/** The policy of pods behind the in-pod gateway (label `nvdax.io/gateway`): in through the gateway's port only. */
export const GATEWAY_POLICY_NAME = 'nvdax-gateway';
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
 * The tenant namespace and its two NetworkPolicies (pods behind the gateway, and the rest), for the hub
 * namespace `hubNamespace`.
 *
 * Pod Security: `restricted` is enforced. Every pod the operator builds is restricted-compliant
 * (non-root uid, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, only
 * emptyDir volumes), and the profile does not look at `runtimeClassName`, so Kata pods pass too;
 * nothing else is meant to run in this namespace, so anything that fails the profile is a bug
 * (or someone else's pod) and is better refused than run.
 */
export function tenantObjects(
  hubNamespace: string,
  opts: TenantOptions = {},
): [Namespace, NetworkPolicy, NetworkPolicy] {
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
  // in: the gateway or ingress, wherever it runs, and the namespace's own pods (training ranks talk to each other)
  const from: PolicyPeer[][] = [
    [{ namespaceSelector: {}, podSelector: { matchLabels: { ...(gateway ?? defaultGatewaySelector) } } }],
    [{ podSelector: {} }],
  ];
  const egress: PolicyRule[] = [
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
  ];
  // Two policies, each pod selected by exactly one (the gateway label present or not), so every pod is isolated
  // both ways and allowed only what its policy says; NetworkPolicies only add allowances, so a pod behind the
  // gateway must not be selected by the broader one. Its model server (a Triton or Custom image listens where
  // its own arguments say, often every address) is then out of reach on the pod IP: only the gateway's port is.
  const policy = (policyName: string, operator: 'Exists' | 'DoesNotExist', ports?: PolicyRule['ports']) =>
    ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: policyName, namespace: name, labels },
      spec: {
        podSelector: { matchExpressions: [{ key: labelKeys.gateway, operator }] },
        policyTypes: ['Ingress', 'Egress'],
        ingress: from.map((peers) => ({ from: peers, ...(ports ? { ports } : {}) })),
        egress,
      },
    }) satisfies NetworkPolicy;
  return [
    namespace,
    policy(NETWORK_POLICY_NAME, 'DoesNotExist'),
    policy(GATEWAY_POLICY_NAME, 'Exists', [{ protocol: 'TCP', port: GATEWAY_PORT }]),
  ];
}
