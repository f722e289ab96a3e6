// Status fields both job kinds report: where the job runs and at what price, what the
// attestation showed, what was used and what was settled on chain.
import { GpuMode, InitDataAlgorithm, JobConditionType, JobPhase, SettlementTxType, TeeType } from './constants.ts';
import { conditions } from './conditions.ts';
import { patterns } from './patterns.ts';
import { bool, int, list, obj, oneOf, str, time } from './schema.ts';
import type { CelRule, Schema } from './schema.ts';

const quote = obj(
  'Quote',
  'How the price was made: P = baseRate x latencyFactor x loadFactor + verifierFee, in NVDAx per GPU-hour.',
  {
    baseRate: str("The pool's base rate for the GPU product and mode.", { pattern: patterns.price }),
    latencyFactor: str('From the pool observed latency against sla.maxLatencyMs; 1 without history.', {
      pattern: patterns.price,
    }),
    loadFactor: str("From the pool's GPU utilization when quoted (see docs/operator.md for the curve).", {
      pattern: patterns.price,
    }),
    verifierFee: str('The network verifier fee per GPU-hour.', { pattern: patterns.price }),
    quotedTime: time('When the quote was made.'),
  },
);

/** A checkpoint a new attempt starts from (TrainingJobs). */
export const resumePoint = (description: string) =>
  obj('ResumePoint', description, {
    step: int('Step (round) of the checkpoint.', { minimum: 0, format: 'int64' }),
    uri: str('Where it is.', { maxLength: 2048 }),
    sha256: str('sha256:<hex> of its bytes.', { maxLength: 80 }),
    parent: str("Its record's hash: the parent the attempt's first checkpoint names.", { maxLength: 80 }),
  });

const placement = obj('Placement', 'Where the job was placed and the price quoted for it.', {
  pool: str('Name of the ProviderPool chosen.', { pattern: patterns.dnsSubdomain }),
  cluster: str('Member cluster of that pool the workload runs in.', { maxLength: 253 }),
  namespace: str('Namespace of the workload in the member cluster.', { pattern: patterns.dnsLabel }),
  // Any name capacity reports ("unknown", "unknown (nvidia.com/pgpu)"), as ProviderPool status keeps it.
  gpuProduct: str('GPU product the job got, as the pool status capacity names it (e.g. NVIDIA-H100-80GB-HBM3).', {
    maxLength: 128,
  }),
  gpus: int('GPUs allocated in total (all replicas or workers).', { minimum: 0 }),
  mode: oneOf('GpuMode', 'Container or Confidential GPUs.', Object.values(GpuMode)),
  resourceName: str('Extended resource the pods request (nvidia.com/gpu, nvidia.com/pgpu, or a model name).', {
    maxLength: 253,
  }),
  price: str('Price quoted at placement, NVDAx per GPU-hour; charges use it.', { pattern: patterns.price }),
  teeType: oneOf('TeeType', 'TEE type of the nodes, for confidential jobs.', Object.values(TeeType)),
  runtimeClass: str('RuntimeClass the pods run with (e.g. kata-qemu-nvidia-gpu-snp).', {
    pattern: patterns.dnsSubdomain,
  }),
  scheduledTime: time('When the job was placed.'),
  attempt: int('The attempt (status.attempts) this placement belongs to; member objects carry it.', { minimum: 1 }),
  quote,
  initDataDigest: str(
    'Confidential jobs: hex digest of the init-data the pods carry (algorithm initDataAlgorithm); the TEE evidence ' +
      'binds it (SNP HOST_DATA, TDX MRCONFIGID), and verifiers compare it.',
    { pattern: patterns.hexDigest },
  ),
  initDataAlgorithm: oneOf('InitDataAlgorithm', 'Digest algorithm of the init-data.', Object.values(InitDataAlgorithm)),
  resumeFrom: resumePoint(
    'Distributed TrainingJobs, attempt 2 on: the checkpoint this attempt starts from, chosen once at placement (the ' +
      'newest verified record of status.checkpoints), so the pods keep the same NVDAX_RESUME_* env however many ' +
      'checkpoints the attempt then writes.',
  ),
});

const rejection = obj(
  'PoolRejection',
  'Why one pool was not chosen.',
  {
    pool: str('ProviderPool name.', { pattern: patterns.dnsSubdomain }),
    reason: str('CamelCase reason, e.g. InsufficientGpus, PriceCapExceeded, TeeMismatch.', {
      pattern: patterns.reason,
    }),
    message: str('What the pool lacks, in words.', { maxLength: 512 }),
  },
  { required: ['pool', 'reason'] },
);

const attemptUsage = obj(
  'AttemptUsage',
  'GPU time of one attempt: from each member pod start to its end (or now while it runs).',
  {
    attempt: int('The attempt number.', { minimum: 1 }),
    pool: str('Pool it ran on.', { pattern: patterns.dnsSubdomain }),
    price: str('Price per GPU-hour quoted for the attempt.', { pattern: patterns.price }),
    gpuSeconds: int('GPU-seconds of the attempt (sum over pods of GPUs x seconds running).', {
      minimum: 0,
      format: 'int64',
    }),
    startTime: time('First pod start of the attempt.'),
    endTime: time('When the attempt ended (all pods gone or finished); unset while it runs.'),
    endReason: str('Why it ended: Completed, Failed, PoolLost, Preempted or Deleted.', { pattern: patterns.reason }),
    meteredTime: time(
      'The time gpuSeconds was measured at (the end time once the attempt ended): settlement bills a period only ' +
        'once this is past its end.',
    ),
  },
  { required: ['attempt'] },
);

const attestation = obj(
  'AttestationResult',
  'Outcome of the last remote attestation of one confidential instance (replica, worker or participant).',
  {
    instance: str('The instance: the pod (replica, worker) or participant it attested for.', { maxLength: 253 }),
    verified: bool('Evidence verified against the policy.'),
    teeType: oneOf('TeeType', 'TEE type that produced the evidence.', Object.values(TeeType)),
    development: bool('Development evidence (no hardware TEE), accepted only on a development pool.'),
    gpuAttested: bool('NVIDIA GPU attestation also verified.'),
    evidenceHash: str('Hash of the evidence bundle, as recorded with the receipts.', { pattern: patterns.bytes32 }),
    gatewayKey: str("Hash of the instance's attested TEE public key: receipts must name it.", {
      pattern: patterns.bytes32,
    }),
    receiptKey: str(
      "The gateway's Ed25519 receipt key (raw, 0x + 64 hex), from a capability the provider signed: its receipts verify under it.",
      { pattern: patterns.bytes32 },
    ),
    verifiedTime: time('When the evidence was verified.'),
    expiryTime: time('When the tokens it was verified from expire: attest again before.'),
    message: str('Why verification failed, when it did.', { maxLength: 4096 }),
    receiptsThrough: str(
      'The newest receipt counted from this instance (its time in Unix ms and request id): older ones are duplicates.',
      { maxLength: 96 },
    ),
    previousKeys: list(
      'Keys this instance attested before its current ones (a restarted gateway), newest first, at most 4: ' +
        'receipts they signed before the restart still count while the instance is verified.',
      obj(
        'AttestedKey',
        "An instance's earlier verified gateway key and receipt key.",
        {
          gatewayKey: str('Hash of the attested TEE public key.', { pattern: patterns.bytes32 }),
          receiptKey: str('The Ed25519 receipt key its capability named (raw, 0x + 64 hex).', {
            pattern: patterns.bytes32,
          }),
        },
        { required: ['gatewayKey'] },
      ),
      { maxItems: 4 },
    ),
  },
  { required: ['instance'] },
);

const usage = obj('Usage', 'Metered usage so far, as reported to settlement.', {
  gpuSeconds: int('GPU-seconds consumed (GPUs x seconds).', { minimum: 0, format: 'int64' }),
  requests: int('Requests served (InferenceJob), from verified receipts.', { minimum: 0, format: 'int64' }),
  deviceTimeMs: int('Accelerator time the served requests used, from verified receipts.', {
    minimum: 0,
    format: 'int64',
  }),
  inputTokens: int(
    'Tokens in the served requests as the model server counted them (OpenAI-protocol answers), from verified receipts.',
    { minimum: 0, format: 'int64' },
  ),
  outputTokens: int('Tokens the model server generated for them, from verified receipts.', {
    minimum: 0,
    format: 'int64',
  }),
  lastReportTime: time('When usage was last reported to settlement.'),
  attempts: list('Per attempt, the most recent 32; gpuSeconds is their sum.', attemptUsage, {
    maxItems: 32,
    listType: 'map',
    keys: ['attempt'],
  }),
});

const transaction = obj(
  'SettlementTransaction',
  'One on-chain settlement transaction for this job.',
  {
    txHash: str('Transaction hash.', { pattern: patterns.txHash }),
    type: oneOf('SettlementTxType', 'What the transaction did.', Object.values(SettlementTxType)),
    amount: str('Amount moved, in NVDAx.', { pattern: patterns.price }),
    blockNumber: int('Block it was included in.', { minimum: 0, format: 'int64' }),
    time: time('When it was observed.'),
  },
  { required: ['txHash', 'type'] },
);

const settlement = obj(
  'Settlement',
  "Money held, charged and returned for this job, in NVDAx; written by the operator's settlement client.",
  {
    task: int("Index of the job's task on the settlement contract, once opened.", { minimum: 0, format: 'int64' }),
    taskHash: str('EIP-712 digest of the task the requester signed (TaskOpened.taskHash).', {
      pattern: patterns.bytes32,
    }),
    provider: str('Provider the task was opened for: the only one paid from it.', { pattern: patterns.address }),
    startPeriod: int('First settlement period of the task.', { minimum: 0, format: 'int64' }),
    span: int('Periods the task covers (shrinks when the task is closed).', { minimum: 0 }),
    periodSeconds: int('Length of a settlement period.', { minimum: 1 }),
    capPerPeriod: str('Most one period may charge: priceCap x GPUs x period / 1 h.', { pattern: patterns.price }),
    settledPeriods: int('Periods settled on chain, counted from startPeriod (they are settled in order).', {
      minimum: 0,
    }),
    closed: bool('The task was closed after the job ended: its periods after that returned to the escrow.'),
    escrowed: str('Amount locked in escrow for the job.', { pattern: patterns.price }),
    charged: str('Amount charged so far (provider and verifier fees).', { pattern: patterns.price }),
    refunded: str('Amount returned to the requester.', { pattern: patterns.price }),
    message: str('What settlement waits for or why it failed, in words.', { maxLength: 1024 }),
    transactions: list('Settlement transactions, the most recent 64.', transaction, {
      maxItems: 64,
      listType: 'map',
      keys: ['txHash'],
    }),
    lineage: obj(
      'LineageAnchorStatus',
      'TrainingJobs with checkpoints: the lineage of status.checkpoints anchored on chain (Settlement.anchorLineages) ' +
        'when the job ended, before its task was closed; anyone recomputes `anchor` from status.checkpoints ' +
        '(docs/training.md).',
      {
        anchor: str('The 32 bytes stored for the task on chain (lineageOf).', { pattern: patterns.bytes32 }),
        head: str('recordHash of the newest checkpoint record.', { maxLength: 80 }),
        step: int('Step (or round) of the newest checkpoint.', { minimum: 0, format: 'int64' }),
        records: int('Checkpoint records in the lineage, folded and kept.', { minimum: 0, format: 'int64' }),
        txHash: str('The anchoring transaction.', { pattern: patterns.txHash }),
        blockNumber: int('Block it was included in.', { minimum: 0, format: 'int64' }),
        time: time('When it was observed.'),
        message: str('Why the lineage was not anchored, or that it was found on chain already, in words.', {
          maxLength: 1024,
        }),
      },
    ),
  },
);

/** Properties every job status has; kinds add their own. */
export function jobStatusProperties(): Record<string, Schema> {
  return {
    phase: oneOf(
      'JobPhase',
      'Summary of the lifecycle: Pending (waiting for escrow or a pool), Scheduled (placed, starting), Running, ' +
        'Succeeded, Failed, Suspended. Conditions carry the details.',
      Object.values(JobPhase),
    ),
    conditions: conditions(`Types: ${Object.values(JobConditionType).join(', ')}.`),
    observedGeneration: int('metadata.generation this status reflects.', { minimum: 0, format: 'int64' }),
    attempts: int(
      'Times the job was placed; a retry after a failure or lost pool adds one. It only grows (never reset between ' +
        'attempts, unlike placement), so the spec freezes once it is above 0.',
      { minimum: 0 },
    ),
    placement,
    rejections: list(
      'While the job waits: why each pool (at most 16, the rest counted in the Scheduled message) was not chosen.',
      rejection,
      { maxItems: 16, listType: 'map', keys: ['pool'] },
    ),
    attestations: list('One attestation result per confidential instance, the most recent 256.', attestation, {
      maxItems: 256,
      listType: 'map',
      keys: ['instance'],
    }),
    usage,
    settlement,
    startTime: time('When the workload first started running.'),
    completionTime: time('When the job reached Succeeded or Failed.'),
  };
}

// Placement is cleared by a retry or a lost pool; attempts never is, so the freeze keys on it.
const notPlaced = '!has(oldSelf.status) || !has(oldSelf.status.attempts) || oldSelf.status.attempts == 0';
const placedNote = 'once the job has been placed (status.attempts > 0)';

/**
 * Transition rules: what decides placement and price may not change once the job has been placed, even
 * between attempts on the same escrow. Not checked offline (no old object).
 */
export function immutableOncePlaced(fields: readonly string[]): CelRule[] {
  return fields.map((f) => ({
    rule:
      `${notPlaced} || ` +
      `(has(self.spec.${f}) == has(oldSelf.spec.${f}) && (!has(self.spec.${f}) || self.spec.${f} == oldSelf.spec.${f}))`,
    message: `spec.${f} cannot change ${placedNote}; create a new job to change it`,
    fieldPath: `.spec.${f}`,
  }));
}

/** The SLA frozen field by field: maxDuration may still grow (or be removed), as that only helps the requester. */
export function slaFrozenOncePlaced(): CelRule[] {
  const d = 'spec.sla.maxDuration';
  return [
    ...immutableOncePlaced(['sla.tier', 'sla.maxLatencyMs', 'sla.priceCap', 'sla.regions', 'sla.dataResidency']),
    {
      rule:
        `${notPlaced} || !has(self.${d}) || ` + `(has(oldSelf.${d}) && duration(self.${d}) >= duration(oldSelf.${d}))`,
      message: `${d} may only grow ${placedNote}: keep it, lengthen it or remove it`,
      fieldPath: `.${d}`,
    },
  ];
}

/** The freeze trusts attempts, so status writers cannot lower or drop it. */
export const attemptsOnlyGrow: CelRule = {
  rule:
    '!has(oldSelf.status) || !has(oldSelf.status.attempts) || ' +
    '(has(self.status) && has(self.status.attempts) && self.status.attempts >= oldSelf.status.attempts)',
  message: 'status.attempts counts placements and may only grow',
  fieldPath: '.status.attempts',
};
