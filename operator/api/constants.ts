// Names the operator and the schema share. Each enum of the API is written here once,
// as an `as const` object (value) plus a type of the same name (union of its values):
// the schema builds its `enum` from `Object.values(X)`, and the generated types.gen.ts
// imports the union, so a value added here reaches the CRD, the types and the docs.

export const GROUP = 'nvdax.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = 'nvdax.io/v1alpha1';
export const CATEGORY = 'nvdax';

/** Kind → REST names. */
export const resources = {
  InferenceJob: { plural: 'inferencejobs', singular: 'inferencejob', shortName: 'ij', scope: 'Namespaced' },
  TrainingJob: { plural: 'trainingjobs', singular: 'trainingjob', shortName: 'tj', scope: 'Namespaced' },
  ProviderPool: { plural: 'providerpools', singular: 'providerpool', shortName: 'pp', scope: 'Cluster' },
  Work: { plural: 'works', singular: 'work', shortName: 'nwork', scope: 'Namespaced' },
} as const;
export type Kind = keyof typeof resources;
export const PLURALS = {
  InferenceJob: resources.InferenceJob.plural,
  TrainingJob: resources.TrainingJob.plural,
  ProviderPool: resources.ProviderPool.plural,
  Work: resources.Work.plural,
} as const;

type Values<T> = T[keyof T];

export const Tier = { BestEffort: 'BestEffort', Reserved: 'Reserved', Premium: 'Premium' } as const;
export type Tier = Values<typeof Tier>;

export const TeeType = { SNP: 'snp', TDX: 'tdx' } as const;
export type TeeType = Values<typeof TeeType>;

export const InferenceEngine = {
  VLLM: 'vLLM',
  Triton: 'Triton',
  ONNXRuntime: 'ONNXRuntime',
  TGI: 'TGI',
  Custom: 'Custom',
} as const;
export type InferenceEngine = Values<typeof InferenceEngine>;

export const TrainingEngine = {
  PyTorch: 'PyTorch',
  DeepSpeed: 'DeepSpeed',
  JAX: 'JAX',
  Flower: 'Flower',
  Custom: 'Custom',
} as const;
export type TrainingEngine = Values<typeof TrainingEngine>;

export const EndpointProtocol = { OpenAI: 'OpenAI', OpenInference: 'OpenInference' } as const;
export type EndpointProtocol = Values<typeof EndpointProtocol>;

export const Transport = { HTTP: 'HTTP', GRPC: 'GRPC' } as const;
export type Transport = Values<typeof Transport>;

export const TrainingMode = { Distributed: 'Distributed', Federated: 'Federated' } as const;
export type TrainingMode = Values<typeof TrainingMode>;

export const Aggregation = { FedAvg: 'FedAvg', SecureAggregation: 'SecureAggregation' } as const;
export type Aggregation = Values<typeof Aggregation>;

export const ClusterMode = { Local: 'Local', KubeconfigSecret: 'KubeconfigSecret', Agent: 'Agent' } as const;
export type ClusterMode = Values<typeof ClusterMode>;

/** How a pool's GPUs are exposed: container mode (`nvidia.com/gpu`) or vm-passthrough for Confidential Containers. */
export const GpuMode = { Container: 'Container', Confidential: 'Confidential' } as const;
export type GpuMode = Values<typeof GpuMode>;

/** Digest algorithms kata accepts for init-data (exactly these spellings). */
export const InitDataAlgorithm = { SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' } as const;
export type InitDataAlgorithm = Values<typeof InitDataAlgorithm>;

export const ConditionStatus = { True: 'True', False: 'False', Unknown: 'Unknown' } as const;
export type ConditionStatus = Values<typeof ConditionStatus>;

/** Job lifecycle. Pending: waiting for escrow or a pool; Scheduled: placed, pods starting. */
export const JobPhase = {
  Pending: 'Pending',
  Scheduled: 'Scheduled',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Suspended: 'Suspended',
} as const;
export type JobPhase = Values<typeof JobPhase>;

export const PoolPhase = {
  Pending: 'Pending',
  Ready: 'Ready',
  Degraded: 'Degraded',
  Disconnected: 'Disconnected',
} as const;
export type PoolPhase = Values<typeof PoolPhase>;

/** Where a federated job's coordinator is. */
export const FederationState = {
  Waiting: 'Waiting',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;
export type FederationState = Values<typeof FederationState>;

/** What verification found against a pool (its reputation counts them). */
export const IncidentKind = {
  AttestationFailed: 'AttestationFailed',
  ReplayMismatch: 'ReplayMismatch',
} as const;
export type IncidentKind = Values<typeof IncidentKind>;

export const SettlementTxType = {
  Open: 'Open',
  Close: 'Close',
  Deposit: 'Deposit',
  Charge: 'Charge',
  Refund: 'Refund',
  VerifierFee: 'VerifierFee',
  Slash: 'Slash',
} as const;
export type SettlementTxType = Values<typeof SettlementTxType>;

export const JobConditionType = {
  /** The requester's escrow covers the job at the quoted price. */
  Escrowed: 'Escrowed',
  /** A pool was chosen and the workload materialized there. */
  Scheduled: 'Scheduled',
  /** TEE and GPU attestation evidence verified (confidential jobs only). */
  Attested: 'Attested',
  /** Serving (InferenceJob) or all workers running (TrainingJob). */
  Ready: 'Ready',
  Complete: 'Complete',
  Failed: 'Failed',
  /** Every period of the job's task is settled on chain and the task is closed (set once the job ended). */
  Settled: 'Settled',
  /** The job was evicted for a higher tier job (named in the message) and waits to be placed again. */
  Preempted: 'Preempted',
} as const;
export type JobConditionType = Values<typeof JobConditionType>;

export const PoolConditionType = {
  /** The hub reaches the member cluster (or its agent heartbeats). */
  Connected: 'Connected',
  /** Connected, healthy and offering at least one GPU. */
  Ready: 'Ready',
  /** A confidential runtime class and CC-ready GPU nodes are present. */
  ConfidentialReady: 'ConfidentialReady',
} as const;
export type PoolConditionType = Values<typeof PoolConditionType>;

/** Condition reasons (CamelCase, as Kubernetes conventions ask) a human can act on. */
export const JobReason = {
  EscrowVerified: 'EscrowVerified',
  EscrowMissing: 'EscrowMissing',
  EscrowInsufficient: 'EscrowInsufficient',
  Placed: 'Placed',
  NoMatchingPool: 'NoMatchingPool',
  PriceCapExceeded: 'PriceCapExceeded',
  InsufficientCapacity: 'InsufficientCapacity',
  NoConfidentialPool: 'NoConfidentialPool',
  /** --require-signed-tasks: spec.payment.signature is not set. */
  TaskSignatureMissing: 'TaskSignatureMissing',
  /** --require-signed-tasks: the signature does not recover to spec.payment.requester. */
  TaskSignatureInvalid: 'TaskSignatureInvalid',
  /** --require-signed-tasks: spec.payment.deadline has passed. */
  TaskSignatureExpired: 'TaskSignatureExpired',
  /** --require-signed-tasks: the job's task cannot be built (e.g. no maxTotal or nonce); the message names the field. */
  TaskInvalid: 'TaskInvalid',
  /** --settlement: the task is being opened on chain (escrow and stake locked) before the workload starts. */
  EscrowPending: 'EscrowPending',
  /** --settlement: the chain cannot be reached; the message says what failed. */
  ChainUnavailable: 'ChainUnavailable',
  /** --settlement: periods are being settled. */
  Settling: 'Settling',
  /** --settlement: every period settled and the task closed. */
  SettlementComplete: 'SettlementComplete',
  PoolLost: 'PoolLost',
  Preempted: 'Preempted',
  Preempting: 'Preempting',
  Materializing: 'Materializing',
  MemberUnavailable: 'MemberUnavailable',
  AttestationVerified: 'AttestationVerified',
  AttestationFailed: 'AttestationFailed',
  WorkloadReady: 'WorkloadReady',
  WorkloadNotReady: 'WorkloadNotReady',
  Completed: 'Completed',
  RetriesExhausted: 'RetriesExhausted',
  DeadlineExceeded: 'DeadlineExceeded',
  Suspended: 'Suspended',
} as const;
export type JobReason = Values<typeof JobReason>;

/** The hub job kinds a Work carries objects of. */
export const WorkJobKind = { InferenceJob: 'InferenceJob', TrainingJob: 'TrainingJob' } as const;
export type WorkJobKind = Values<typeof WorkJobKind>;

/** Condition types of a Work, written by the agent. */
export const WorkConditionType = { Applied: 'Applied', Available: 'Available' } as const;
export type WorkConditionType = Values<typeof WorkConditionType>;

export const PoolReason = {
  Connecting: 'Connecting',
  Connected: 'Connected',
  AccessDenied: 'AccessDenied',
  KubeconfigInvalid: 'KubeconfigInvalid',
  ConnectionFailed: 'ConnectionFailed',
  KubeconfigSecretMissing: 'KubeconfigSecretMissing',
  HeartbeatTimeout: 'HeartbeatTimeout',
  HeartbeatRefused: 'HeartbeatRefused',
  GpusAvailable: 'GpusAvailable',
  NoGpuNodes: 'NoGpuNodes',
  Unschedulable: 'Unschedulable',
  ConfidentialRuntimeAvailable: 'ConfidentialRuntimeAvailable',
  NoConfidentialRuntime: 'NoConfidentialRuntime',
} as const;
export type PoolReason = Values<typeof PoolReason>;

/** Every enum above by name, so the type generator can check it imports the right union. */
export const enums = {
  Tier,
  TeeType,
  InferenceEngine,
  TrainingEngine,
  EndpointProtocol,
  Transport,
  TrainingMode,
  Aggregation,
  ClusterMode,
  GpuMode,
  InitDataAlgorithm,
  ConditionStatus,
  JobPhase,
  PoolPhase,
  SettlementTxType,
  WorkJobKind,
  IncidentKind,
  FederationState,
} as const;
