// The informer's option, handler and state shapes (see informer.ts).
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject, ResourceType } from '../kube/types.ts';
import type { ExponentialBackoffOptions } from './backoff.ts';
import type { Clock } from './clock.ts';
import type { IndexFunc } from './store.ts';

/** Callbacks for cache changes; they run after the cache was updated. */
export interface EventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(old: T, obj: T): void;
  onDelete?(obj: T): void;
}

/** Transitions of an informer, for metrics, logs and tests. */
export type InformerState =
  | { type: 'listed'; count: number; resourceVersion: string }
  | { type: 'listError'; error: unknown; retryInMs: number }
  | { type: 'watching'; resourceVersion: string }
  | { type: 'watchClosed'; resourceVersion: string }
  | { type: 'watchError'; error: unknown; retryInMs: number }
  | { type: 'gone'; resourceVersion: string }
  | { type: 'resync'; count: number }
  | { type: 'handlerError'; error: unknown }
  | { type: 'stopped' };

/** Options of an {@link Informer}. */
export interface InformerOptions<T> {
  client: KubeClient;
  resource: ResourceType;
  /** Only this namespace (default: all). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Replays every cached object as an update this often, ms (0 = never; default 0). */
  resyncPeriodMs?: number;
  /** Server-side watch length, s (default random in [300, 600)). */
  watchTimeoutSeconds?: number;
  /** Reconnect backoff (default 800 ms doubling to 30 s, jitter 1.0). */
  backoff?: ExponentialBackoffOptions;
  /** Applied to each object before it is cached (default: drop metadata.managedFields). */
  transform?: (obj: T) => T;
  indexers?: Record<string, IndexFunc<T>>;
  /**
   * Deep-freeze cached objects (default true): every handler and reconciler shares one
   * copy, so a mutation would silently change what all of them see. Copy before editing.
   */
  freeze?: boolean;
  clock?: Clock;
  random?: () => number;
}

/** Drops metadata.managedFields, which is large and never needed by reconcilers. */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata?.managedFields !== undefined) delete obj.metadata.managedFields;
  return obj;
}
