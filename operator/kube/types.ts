// The few object shapes and resource coordinates the adapter needs. Objects travel
// as plain JSON (timestamps are RFC 3339 strings), never through client-node's
// model classes, so the cache holds exactly what the API server sent.

import type { ObjectMeta } from '../api/meta.ts';
export type { ObjectMeta, OwnerReference } from '../api/meta.ts';

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** A list response. */
export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** Where a kind lives in the REST API. */
export interface ResourceType {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** Lower-case plural resource name, e.g. 'configmaps'. */
  plural: string;
  kind: string;
  namespaced: boolean;
}

/** Builds a {@link ResourceType} from an apiVersion ('v1', 'apps/v1') and the rest. */
export function resourceType(apiVersion: string, kind: string, plural: string, namespaced: boolean): ResourceType {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion, plural, kind, namespaced }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1), plural, kind, namespaced };
}

/** The `apiVersion` string of a resource type. */
export function apiVersionOf(res: ResourceType): string {
  return res.group === '' ? res.version : `${res.group}/${res.version}`;
}

/** Well-known resource types used by the runtime and the controllers. */
export const resources = {
  configMaps: resourceType('v1', 'ConfigMap', 'configmaps', true),
  secrets: resourceType('v1', 'Secret', 'secrets', true),
  namespaces: resourceType('v1', 'Namespace', 'namespaces', false),
  nodes: resourceType('v1', 'Node', 'nodes', false),
  pods: resourceType('v1', 'Pod', 'pods', true),
  coreEvents: resourceType('v1', 'Event', 'events', true),
  events: resourceType('events.k8s.io/v1', 'Event', 'events', true),
  leases: resourceType('coordination.k8s.io/v1', 'Lease', 'leases', true),
  runtimeClasses: resourceType('node.k8s.io/v1', 'RuntimeClass', 'runtimeclasses', false),
  services: resourceType('v1', 'Service', 'services', true),
  deployments: resourceType('apps/v1', 'Deployment', 'deployments', true),
  jobs: resourceType('batch/v1', 'Job', 'jobs', true),
  networkPolicies: resourceType('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true),
  customResourceDefinitions: resourceType(
    'apiextensions.k8s.io/v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
} as const;

/** REST path of a collection or (with `name`) one object, optionally a subresource. */
export function resourcePath(res: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = res.group === '' ? `/api/${res.version}` : `/apis/${res.group}/${res.version}`;
  if (res.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${res.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}

/** The cache key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/** Splits a cache key into namespace ('' for cluster-scoped) and name. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
