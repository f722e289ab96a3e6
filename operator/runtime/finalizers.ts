// Finalizer helpers: pure checks plus the two writes a reconciler needs. The writes
// are merge patches carrying metadata.resourceVersion, so a concurrent change to the
// finalizer list fails with Conflict (and the key is retried) instead of being lost.
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject, ResourceType } from '../kube/types.ts';

/** Options of the finalizer writes: pass the reconcile's signal and the controller's field manager. */
export interface FinalizerOptions {
  signal?: AbortSignal;
  /** fieldManager of the patch (default: the client's). */
  fieldManager?: string;
}

/** True when `obj` lists `finalizer`. */
export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** True once deletion was requested (deletionTimestamp set). */
export function isBeingDeleted(obj: KubeObject): boolean {
  return obj.metadata?.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null;
}

async function patchFinalizers<T extends KubeObject>(
  client: KubeClient,
  res: ResourceType,
  obj: T,
  finalizers: string[],
  opts: FinalizerOptions,
): Promise<T> {
  const name = obj.metadata?.name;
  if (!name) throw new TypeError('object has no metadata.name');
  const patch = { metadata: { finalizers, resourceVersion: obj.metadata?.resourceVersion } };
  return client.mergePatch<T>(res, name, obj.metadata?.namespace, patch, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.fieldManager ? { fieldManager: opts.fieldManager } : {}),
  });
}

/** Adds `finalizer` unless present (and unless the object is being deleted); returns the current object. */
export async function ensureFinalizer<T extends KubeObject>(
  client: KubeClient,
  res: ResourceType,
  obj: T,
  finalizer: string,
  opts: FinalizerOptions = {},
): Promise<T> {
  if (hasFinalizer(obj, finalizer) || isBeingDeleted(obj)) return obj;
  return patchFinalizers(client, res, obj, [...(obj.metadata?.finalizers ?? []), finalizer], opts);
}

/** Removes `finalizer` if present; returns the current object (the server may then delete it). */
export async function removeFinalizer<T extends KubeObject>(
  client: KubeClient,
  res: ResourceType,
  obj: T,
  finalizer: string,
  opts: FinalizerOptions = {},
): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  const rest = (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
  return patchFinalizers(client, res, obj, rest, opts);
}
