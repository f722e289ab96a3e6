// Who pays: the requester's address and the escrow deposit on the settlement contract
// that funds the job. Both are fixed at creation: changing them would redirect charges.
import { patterns } from './patterns.ts';
import { obj, str } from './schema.ts';
import type { CelRule, Schema } from './schema.ts';
import { positivePrice } from './sla.ts';

const immutable = (field: string): CelRule[] => [{ rule: 'self == oldSelf', message: `${field} is immutable` }];

export const payment: Schema = obj(
  'Payment',
  'Who pays for the job, and from which escrow deposit on the settlement contract.',
  {
    requester: str('Ethereum address of the requester; usage is charged to it. Immutable.', {
      pattern: patterns.address,
      rules: immutable('requester'),
    }),
    escrowId: str(
      'Id (bytes32, 0x + 64 hex) of the escrow deposit on the settlement contract that funds this job. The job waits ' +
        'in Pending (condition Escrowed=False) until the deposit covers the quoted price. Immutable.',
      { pattern: patterns.bytes32, rules: immutable('escrowId') },
    ),
    maxTotal: positivePrice(
      'Most the job may cost in total, in NVDAx (decimal string). It is stopped and settled when usage reaches it. ' +
        'Unset: bounded by the escrow deposit only.',
    ),
  },
  { required: ['requester', 'escrowId'] },
);
