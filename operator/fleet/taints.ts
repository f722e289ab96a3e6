// Taints and tolerations with the API server's semantics (core/v1 Toleration.ToleratesTaint).
// Real GPU nodes are commonly tainted (`nvidia.com/gpu=present:NoSchedule` on GKE, a
// user-chosen key on EKS and AKS) so that only GPU pods land there: a node counts as
// capacity only for pods that tolerate every NoSchedule/NoExecute taint it carries.

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  /** Exists or Equal (the default). */
  operator?: 'Exists' | 'Equal';
  value?: string;
  /** Empty: every effect. */
  effect?: string;
  tolerationSeconds?: number;
}

/** True when `t` tolerates `taint`, exactly as the scheduler decides it. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  // an empty key with Exists tolerates every taint; an empty key with Equal is invalid
  if (!t.key && t.operator !== 'Exists') return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/** Taints that keep a pod off a node (PreferNoSchedule only steers). */
export const blocksScheduling = (taint: Taint) => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute';

/** The first scheduling taint none of `tolerations` tolerates, or undefined when the pod may land on the node. */
export function untoleratedTaint(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[],
): Taint | undefined {
  return (taints ?? []).find((taint) => blocksScheduling(taint) && !tolerations.some((t) => toleratesTaint(t, taint)));
}

/** `key=value:Effect`, as kubectl prints a taint. */
export const formatTaint = (t: Taint) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
