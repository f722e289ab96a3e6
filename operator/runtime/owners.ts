// Owner references (garbage collection inside one cluster) and the event mapper that
// sends a child's changes to its controlling owner's key. Cross-cluster ownership is
// not expressible with ownerReferences: map member objects to hub keys with labels.
import type { KubeObject, OwnerReference } from '../kube/types.ts';
import type { KeyMapper } from './controller.ts';

/** An owner reference to `owner` (which must carry apiVersion, kind, name and uid). */
export function ownerReference(
  owner: KubeObject,
  opts: { controller?: boolean; blockOwnerDeletion?: boolean } = {},
): OwnerReference {
  const { apiVersion, kind } = owner;
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  if (!apiVersion || !kind || !name || !uid) {
    throw new TypeError('owner needs apiVersion, kind, metadata.name and metadata.uid');
  }
  return {
    apiVersion,
    kind,
    name,
    uid,
    controller: opts.controller ?? true,
    blockOwnerDeletion: opts.blockOwnerDeletion ?? true,
  };
}

/** The owner reference with controller: true, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** True when `owner` (by uid) is the controller of `obj`. */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && controllerOf(obj)?.uid === uid;
}

/**
 * `obj`'s owner references with `ref` added or replaced (matched by uid). Throws when
 * `ref` is a controller reference and another controller already owns the object.
 */
export function withOwnerReference(obj: KubeObject, ref: OwnerReference): OwnerReference[] {
  const refs = obj.metadata?.ownerReferences ?? [];
  const other = ref.controller ? refs.find((r) => r.controller === true && r.uid !== ref.uid) : undefined;
  if (other) throw new Error(`object is already controlled by ${other.kind}/${other.name}`);
  return [...refs.filter((r) => r.uid !== ref.uid), ref];
}

/** A KeyMapper sending an object to its controller owner's key when that owner is of `kind` (same namespace). */
export function mapToController<T extends KubeObject>(kind: string, apiGroup?: string): KeyMapper<T> {
  return (obj) => {
    const ref = controllerOf(obj);
    if (!ref || ref.kind !== kind) return undefined;
    if (apiGroup !== undefined && ref.apiVersion.split('/').slice(0, -1).join('/') !== apiGroup) return undefined;
    const ns = obj.metadata?.namespace;
    return ns ? `${ns}/${ref.name}` : ref.name;
  };
}
