// Who pays: the requester's address and the escrow deposit on the settlement contract
// that funds the job. Both are fixed at creation: changing them would redirect charges. The
// requester's EIP-712 signature over the job's task (operator/settlement/job-task.ts) travels here too.
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
        'Unset: bounded by the escrow deposit only. Required to sign the task (it is part of what is signed).',
    ),
    nonce: str(
      'Task nonce, a decimal uint256 chosen by the requester (nvdax submit picks a random one): the settlement ' +
        'contract accepts each nonce of a requester once, so a signed task cannot be replayed for a re-created job ' +
        'of the same name. Part of the signed task. Immutable once set.',
      { pattern: patterns.uint256, rules: immutable('nonce') },
    ),
    deadline: str(
      'RFC 3339 time after which the signature is refused (by the operator before placement, and by the ' +
        'settlement contract). Part of the signed task. Immutable once set.',
      { format: 'date-time', maxLength: 64, rules: immutable('deadline') },
    ),
    signature: str(
      "The requester's EIP-712 signature (65 bytes, 0x + 130 hex) over the job's task: requester, the job's " +
        'hub identity (namespace/name), model hash, SLA, confidential settings, retries, total GPUs, maxTotal, nonce ' +
        'and deadline, under the settlement contract\'s domain (docs/settlement.md, "Signed tasks"). The escrow is ' +
        'spent only for tasks its owner signed; an operator run with --require-signed-tasks does not place a job ' +
        "whose signature is missing, expired or not the requester's (condition Scheduled=False, reason " +
        'TaskSignatureMissing, TaskSignatureExpired, TaskSignatureInvalid or TaskInvalid). Immutable once set: a ' +
        'change to a signed field makes the signature invalid, and the job must be re-created with a new signature ' +
        '(nvdax submit). May be added to a job created without one.',
      { pattern: patterns.signature, rules: immutable('signature') },
    ),
  },
  { required: ['requester', 'escrowId'] },
);
