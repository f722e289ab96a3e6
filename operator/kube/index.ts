// The Kubernetes adapter's public surface: one import for controllers and main.ts.
export { KubeClient } from './client.ts';
export type {
  ClientObserver,
  KubeClientOptions,
  ListOptions,
  RequestOptions,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './client.ts';
export { defaultBurst, defaultMaxRetries, defaultQps } from './options.ts';
export { TokenBucketLimiter } from './rate-limit.ts';
export { PooledKubeConfig } from './pooled-config.ts';
export type { PoolOptions, PreparedRequest } from './pooled-config.ts';
export {
  KubeError,
  TerminalError,
  closedError,
  toKubeError,
  isAlreadyExists,
  isClosed,
  isConflict,
  isForbidden,
  isGone,
  isNotFound,
  isTerminal,
  isUnauthorized,
  isUnavailable,
} from './errors.ts';
export type { KubeErrorReason, StatusBody } from './errors.ts';
export { apiVersionOf, objectKey, resourcePath, resourceType, resources, splitKey } from './types.ts';
export type { KubeList, KubeObject, ObjectMeta, OwnerReference, ResourceType } from './types.ts';
export { loadKubeConfig } from './load.ts';
