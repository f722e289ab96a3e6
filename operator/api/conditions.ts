// metav1.Condition, field for field, so `kubectl wait --for=condition=Ready` and every
// condition-aware tool work on our kinds.
import { ConditionStatus } from './constants.ts';
import { patterns } from './patterns.ts';
import { int, list, obj, oneOf, str, time } from './schema.ts';
import type { Schema } from './schema.ts';

export const condition: Schema = obj(
  'Condition',
  'One aspect of the current state of this object, as in metav1.Condition.',
  {
    type: str('Condition type in CamelCase, e.g. Ready.', { pattern: patterns.conditionType }),
    status: oneOf(
      'ConditionStatus',
      'Whether the condition holds: True, False or Unknown.',
      Object.values(ConditionStatus),
    ),
    observedGeneration: int(
      'metadata.generation the condition was computed from; older than metadata.generation means stale.',
      {
        minimum: 0,
        format: 'int64',
      },
    ),
    lastTransitionTime: time('When the condition last changed status.'),
    reason: str('Machine-readable CamelCase reason for the last transition, e.g. NoMatchingPool.', {
      pattern: patterns.reason,
      minLength: 1,
    }),
    message: str('Human-readable details about the transition; may be empty.', { maxLength: 32768 }),
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
);

export function conditions(typesDoc: string): Schema {
  return list(`Current state as standard conditions, one per type. ${typesDoc}`, condition, {
    maxItems: 16,
    listType: 'map',
    keys: ['type'],
  });
}
