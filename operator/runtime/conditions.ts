// metav1.Condition handling (apimachinery's meta.SetStatusCondition): pure functions
// over a conditions array. lastTransitionTime moves only when status changes;
// observedGeneration says which spec the condition describes; reasons are
// PascalCase tokens a human (and a dashboard) can act on.

/** metav1.ConditionStatus. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition as stored in status.conditions. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** What a reconciler states about one condition; the time is filled in by {@link setCondition}. */
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

const reasonPattern = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const typePattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const maxMessage = 32_768;

/** A metav1.Time string (RFC 3339, seconds precision). */
export function metaTime(t: number | Date): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The condition of `type`, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of `type` is present with status True. */
export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * Returns a new conditions array with `input` set. The lastTransitionTime is `now`
 * for a new condition or a status change and is kept otherwise; reason, message and
 * observedGeneration are always updated. Throws on a malformed type or reason.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: number | Date,
): Condition[] {
  if (!typePattern.test(input.type) || input.type.length > 316)
    throw new TypeError(`invalid condition type "${input.type}"`);
  if (!reasonPattern.test(input.reason) || input.reason.length > 1024) {
    throw new TypeError(`invalid condition reason "${input.reason}" (use a PascalCase token)`);
  }
  const list = conditions ?? [];
  const existing = findCondition(list, input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: (input.message ?? '').slice(0, maxMessage),
    lastTransitionTime:
      existing !== undefined && existing.status === input.status ? existing.lastTransitionTime : metaTime(now),
    ...(input.observedGeneration !== undefined ? { observedGeneration: input.observedGeneration } : {}),
  };
  return existing === undefined ? [...list, next] : list.map((c) => (c === existing ? next : c));
}

/** Returns a new conditions array without `type`. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** True when both arrays hold the same conditions (order-insensitive), so a status write can be skipped. */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const d = findCondition(y, c.type);
    return (
      d !== undefined &&
      d.status === c.status &&
      d.reason === c.reason &&
      d.message === c.message &&
      d.lastTransitionTime === c.lastTransitionTime &&
      d.observedGeneration === c.observedGeneration
    );
  });
}
