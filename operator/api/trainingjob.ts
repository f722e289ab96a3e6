// TrainingJob: train or fine-tune across the network, either Distributed (workers of
// one pool train one model together) or Federated (participants on different pools
// train on their own data; only model updates, optionally securely aggregated, move).
import { Aggregation, FederationState, TeeType, TrainingEngine, TrainingMode } from './constants.ts';
import type { KindDef } from './crd.ts';
import { confidential } from './confidential.ts';
import {
  attemptsOnlyGrow,
  immutableOncePlaced,
  jobStatusProperties,
  resumePoint,
  slaFrozenOncePlaced,
} from './jobstatus.ts';
import { patterns } from './patterns.ts';
import { payment } from './payment.ts';
import { bool, int, list, obj, oneOf, str, time } from './schema.ts';
import { positiveDuration, sla } from './sla.ts';
import { model, resources, runtime } from './workload.ts';

const federated = obj(
  'Federated',
  'Federated learning: rounds of local training on each participant, then aggregation of the updates.',
  {
    rounds: int('Aggregation rounds to run.', { minimum: 1, maximum: 10000 }),
    minParticipants: int('Participants (workers) that must report in a round for it to count; at least 2.', {
      minimum: 2,
      maximum: 1024,
      default: 2,
    }),
    aggregation: oneOf(
      'Aggregation',
      'How updates are combined. FedAvg: weighted average. SecureAggregation: the aggregator sees only the sum of ' +
        "masked updates, never one participant's update (needs minParticipants >= 3).",
      Object.values(Aggregation),
      Aggregation.FedAvg,
    ),
    roundTimeout: positiveDuration(
      'Longest a round waits for participants before it is closed with those that reported.',
      '30m',
    ),
  },
  {
    required: ['rounds'],
    rules: [
      {
        rule: "self.aggregation != 'SecureAggregation' || self.minParticipants >= 3",
        message:
          'SecureAggregation needs minParticipants >= 3: with two, each participant can subtract its own update from the sum',
        fieldPath: '.minParticipants',
      },
    ],
  },
);

const checkpoint = obj(
  'Checkpoint',
  'Periodic checkpoints, so a retry resumes instead of starting over.',
  {
    uri: str('Where checkpoints are written (s3://bucket/prefix, gs://..., pvc://claim/path).', {
      pattern: patterns.uri,
    }),
    interval: positiveDuration('Time between checkpoints, e.g. 15m.', '30m'),
    keep: int('Most recent checkpoints kept.', { minimum: 1, maximum: 100, default: 3 }),
  },
  { required: ['uri'] },
);

const dataset = obj(
  'Dataset',
  'Training data, pinned by content hash.',
  {
    uri: str('Where the data is read from (s3://, gs://, hf://datasets/...).', { pattern: patterns.uri }),
    hash: str('Content hash of the data: sha256:<64 hex> or 0x + 64 hex.', { pattern: patterns.contentHash }),
  },
  { required: ['uri'] },
);

const participant = obj(
  'Participant',
  'Federated: where one participant (worker) runs; participants may be on different pools.',
  {
    index: int('Worker index, 0-based.', { minimum: 0, maximum: 1023 }),
    pool: str('ProviderPool it runs on.', { pattern: patterns.dnsSubdomain }),
    price: str('Price quoted for it, NVDAx per GPU-hour.', { pattern: patterns.price }),
    gpuProduct: str('GPU product it got.', { maxLength: 128 }),
    resourceName: str('Extended resource its pod requests.', { maxLength: 253 }),
    teeType: oneOf('TeeType', 'TEE type of its node, for confidential jobs.', Object.values(TeeType)),
    runtimeClass: str('RuntimeClass its pod runs with.', { pattern: patterns.dnsSubdomain }),
    ready: bool('Running and reporting updates.'),
    roundsCompleted: int('Rounds it contributed an update to.', { minimum: 0 }),
  },
  { required: ['index'] },
);

const lastCheckpoint = obj('CheckpointStatus', 'The newest checkpoint written.', {
  uri: str('Where it is.', { maxLength: 2048 }),
  step: int('Training step (or federated round) it holds.', { minimum: 0, format: 'int64' }),
  time: time('When it was written.'),
  sha256: str("sha256:<hex> of the checkpoint's bytes, as the workload signed it.", { maxLength: 80 }),
  parent: str("The parent record's hash ('' for the first).", { maxLength: 80 }),
  signer: str("The attested workload's Ed25519 key that signed it (base64url).", { maxLength: 64 }),
});

const checkpointRecord = obj(
  'CheckpointRecord',
  'One signed checkpoint of the lineage.',
  {
    step: int('Step (or round) it holds.', { minimum: 0, format: 'int64' }),
    uri: str('Where it is.', { maxLength: 2048 }),
    sha256: str('sha256:<hex> of its bytes.', { maxLength: 80 }),
    parent: str("recordHash of the parent record; '' for the first.", { maxLength: 80 }),
    signer: str('Ed25519 public key of the workload that signed it (base64url).', { maxLength: 64 }),
    signature: str('Ed25519 over the record (base64url).', { maxLength: 128 }),
    evidenceHash: str('Hash of the attestation that admitted the signer.', { maxLength: 80 }),
    time: time('When it was recorded.'),
  },
  { required: ['step', 'uri', 'sha256', 'parent', 'signer', 'signature'] },
);

const checkpoints = obj(
  'CheckpointLineage',
  'Checkpoint provenance: the newest signed records, older ones folded into a running hash, so anyone can check ' +
    'each link and signature here, and rebuild the folded part from the full history (docs/training.md).',
  {
    job: str('namespace/name the records are signed for.', { maxLength: 317 }),
    keep: int('Records kept before folding.', { minimum: 1, maximum: 64 }),
    folded: obj('FoldedCheckpoints', 'The records folded away.', {
      count: int('How many.', { minimum: 0, format: 'int64' }),
      accumulator: str('Running sha256 over their record hashes.', { maxLength: 80 }),
      head: str('Hash of the newest folded record.', { maxLength: 80 }),
    }),
    entries: list('The newest records, oldest first.', checkpointRecord, { maxItems: 64 }),
  },
);

const roundStatus = obj(
  'RoundStatus',
  'Federated: one completed aggregation round.',
  {
    round: int('The round, 1-based.', { minimum: 1 }),
    participants: int('Participants selected for it.', { minimum: 0 }),
    contributors: int('Participants whose updates are in the aggregate.', { minimum: 0 }),
    dropped: list(
      'Selected but not in the aggregate (left, timed out, or dropped and recovered from).',
      str('Participant id.', { maxLength: 253 }),
      { maxItems: 64 },
    ),
    aggregateHash: str('sha256:<hex> of the new global model.', { maxLength: 80 }),
    examples: int('Training examples behind the aggregate.', { minimum: 0, format: 'int64' }),
    loss: str('Example-weighted mean training loss.', { maxLength: 32 }),
    accuracy: str('Example-weighted training accuracy.', { maxLength: 32 }),
    startTime: time('When the round started.'),
    durationMs: int('How long it took.', { minimum: 0, format: 'int64' }),
  },
  { required: ['round'] },
);

const federation = obj('FederationStatus', "Federated: the hub's coordinator for the current attempt.", {
  coordinator: str('Where participants connect (host:port).', { maxLength: 261 }),
  attempt: int('The attempt (status.attempts) this coordinator runs.', { minimum: 1 }),
  state: oneOf(
    'FederationState',
    'Waiting (for participants), Running, Succeeded or Failed.',
    Object.values(FederationState),
  ),
  admitted: int('Participants admitted (attested).', { minimum: 0 }),
  resumedFrom: resumePoint(
    'The checkpoint this attempt resumed from: the newest of status.checkpoints whose bytes the coordinator read ' +
      'back and found to hash to its signed record; participants are told the same (NVDAX_RESUME_*).',
  ),
  reason: str('Why it failed (InsufficientParticipants, ProtocolError…).', { pattern: patterns.reason }),
  message: str('What happened last, in words.', { maxLength: 1024 }),
});

export const trainingJob: KindDef = {
  kind: 'TrainingJob',
  description:
    'TrainingJob trains or fine-tunes a model on GPUs of the NVDAx network, as one Distributed job on a pool or as ' +
    'Federated rounds across pools. Placement, pricing, confidential execution and settlement work as for InferenceJob.',
  spec: obj(
    'TrainingJobSpec',
    'What to train, how, on what hardware, at which service level and price.',
    {
      suspend: bool(
        'Stop the workers (after a checkpoint, when configured) and release the GPUs; set false to resume.',
        false,
      ),
      mode: oneOf(
        'TrainingMode',
        'Distributed: all workers on one pool train one model together (data or model parallel). Federated: workers ' +
          'on different pools train on local data in rounds, and only updates are aggregated. Immutable.',
        Object.values(TrainingMode),
      ),
      model: model('to start from (fine-tuning); unset trains from scratch'),
      dataset,
      runtime: runtime(
        'TrainingRuntime',
        'TrainingEngine',
        Object.values(TrainingEngine),
        'PyTorch, DeepSpeed, JAX, Flower',
      ),
      workers: int('Workers (Distributed: ranks; Federated: participants).', { minimum: 1, maximum: 1024, default: 1 }),
      resources: resources('worker'),
      federated,
      checkpoint,
      sla,
      confidential,
      retries: int(
        'Times to restart the job (from the last checkpoint) after a failure or a lost pool before it fails.',
        {
          minimum: 0,
          maximum: 10,
          default: 3,
        },
      ),
      payment,
    },
    {
      required: ['mode', 'runtime', 'resources', 'sla', 'payment'],
      rules: [
        {
          rule: "self.mode != 'Federated' || has(self.federated)",
          message: 'Federated mode needs spec.federated (rounds, minParticipants, aggregation)',
          fieldPath: '.federated',
          reason: 'FieldValueRequired',
        },
        {
          rule: "self.mode == 'Federated' || !has(self.federated)",
          message: 'federated applies only when mode is Federated',
          fieldPath: '.federated',
          reason: 'FieldValueForbidden',
        },
        {
          rule: '!has(self.federated) || self.federated.minParticipants <= self.workers',
          message: 'must be <= workers: a round cannot wait for more participants than there are',
          fieldPath: '.federated.minParticipants',
        },
        {
          rule: '!has(self.sla.maxLatencyMs)',
          message: 'maxLatencyMs applies only to InferenceJob; bound a TrainingJob with sla.maxDuration',
          fieldPath: '.sla.maxLatencyMs',
          reason: 'FieldValueForbidden',
        },
        { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable', fieldPath: '.mode' },
      ],
    },
  ),
  status: obj('TrainingJobStatus', 'Observed state, written by the operator.', {
    ...jobStatusProperties(),
    readyWorkers: int('Workers running.', { minimum: 0 }),
    progress: str('Progress as a percentage of steps or rounds, e.g. 42%.', { pattern: patterns.percent }),
    currentRound: int('Federated: the round in progress (1-based).', { minimum: 0 }),
    step: int('Distributed: the training step the workload last reported (signed, from an attested instance).', {
      minimum: 0,
      format: 'int64',
    }),
    checkpoints,
    federation,
    rounds: list('Federated: the completed rounds, the most recent 64.', roundStatus, {
      maxItems: 64,
      listType: 'map',
      keys: ['round'],
    }),
    lastCheckpoint,
    participants: list('Federated: one entry per participant. placement then names the aggregator.', participant, {
      maxItems: 1024,
      listType: 'map',
      keys: ['index'],
    }),
  }),
  rootRules: [
    ...immutableOncePlaced([
      'model',
      'dataset',
      'runtime',
      'workers',
      'resources',
      'federated',
      'checkpoint',
      'confidential',
    ]),
    ...slaFrozenOncePlaced(),
    attemptsOnlyGrow,
  ],
  selectableFields: ['.spec.mode', '.status.phase', '.status.placement.pool', '.spec.sla.tier'],
  printerColumns: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Distributed or Federated.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
    {
      name: 'Pool',
      type: 'string',
      jsonPath: '.status.placement.pool',
      description: 'ProviderPool the job runs on (Federated: the aggregator).',
    },
    { name: 'Price', type: 'string', jsonPath: '.status.placement.price', description: 'Quoted NVDAx per GPU-hour.' },
    { name: 'Workers', type: 'integer', jsonPath: '.spec.workers', description: 'Workers requested.' },
    { name: 'Ready', type: 'integer', jsonPath: '.status.readyWorkers', description: 'Workers running.' },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Scheduled")].reason',
      description: 'Reason of the Scheduled condition: Placed, or why no pool fits yet (e.g. PriceCapExceeded).',
    },
    { name: 'GPUs', type: 'integer', jsonPath: '.spec.resources.gpus', description: 'GPUs per worker.', priority: 1 },
    {
      name: 'Progress',
      type: 'string',
      jsonPath: '.status.progress',
      description: 'Steps or rounds done.',
      priority: 1,
    },
    { name: 'Tier', type: 'string', jsonPath: '.spec.sla.tier', description: 'Service tier.', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
