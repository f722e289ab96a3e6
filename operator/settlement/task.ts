// The requester-signed task: EIP-712 domain, types, the typed-data value built from plain job fields,
// hashing, signing and verifying (ethers v6). Pure: no chain access, so the operator, the CLI and tests use it
// alike. The Settlement contract computes the same hash (hashTask/taskDigest) and spends a requester's escrow
// only for tasks whose digest the requester signed.
import {
  type AbstractSigner,
  concat,
  getAddress,
  id,
  keccak256,
  parseUnits,
  type TypedDataDomain,
  TypedDataEncoder,
  toUtf8Bytes,
  verifyTypedData,
  ZeroAddress,
} from 'ethers';
import { modelHashOf } from '../verification/model-hash.ts';

export const TASK_DOMAIN_NAME = 'NVDAx Settlement';
export const TASK_DOMAIN_VERSION = '1';

/** EIP-712 types; `Task` is the primary type. Must match Settlement.sol's TASK_TYPEHASH. */
export const TASK_TYPES = {
  Task: [
    { name: 'requester', type: 'address' },
    { name: 'provider', type: 'address' },
    { name: 'hubJob', type: 'bytes32' },
    { name: 'modelHash', type: 'bytes32' },
    { name: 'sla', type: 'SLA' },
    { name: 'confidential', type: 'Confidential' },
    { name: 'retries', type: 'uint16' },
    { name: 'gpus', type: 'uint32' },
    { name: 'maxTotal', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint64' },
  ],
  SLA: [
    { name: 'tier', type: 'uint8' },
    { name: 'maxLatencyMs', type: 'uint32' },
    { name: 'maxDurationSeconds', type: 'uint64' },
    { name: 'priceCap', type: 'uint256' },
    { name: 'regions', type: 'string[]' },
    { name: 'dataResidency', type: 'string[]' },
  ],
  Confidential: [
    { name: 'required', type: 'bool' },
    { name: 'teeTypes', type: 'string[]' },
    { name: 'gpuAttestation', type: 'bool' },
  ],
};

/** Tier names as in the job SLA, and their on-chain numbers. */
export const TIERS = { BestEffort: 0, Reserved: 1, Premium: 2 } as const;
export type TierName = keyof typeof TIERS;
const TEE_TYPES = ['snp', 'tdx'];

/** Plain fields of a job's task, as the operator knows them. Amounts are decimal NVDAx strings. */
export interface TaskFields {
  requester: string;
  /**
   * The only provider the task may be opened on; absent (or the zero address): any provider the hub's
   * coordinator picks. A hub job is signed before it is placed, so it names none (see docs/settlement.md).
   */
  provider?: string;
  /**
   * The job on the hub; hashed as keccak256("namespace/name"). Not its uid: the requester signs before
   * the API server assigns one, and the nonce keeps a re-created job of the same name from reusing a task.
   */
  hubJob: { namespace: string; name: string };
  /** The model reference: its content hash (sha256:… or 0x…) signed as that bytes32, anything else as its keccak256 (model-hash.ts). */
  model: string;
  sla: {
    tier?: TierName;
    maxLatencyMs?: number;
    maxDurationSeconds?: number;
    /** NVDAx per GPU-hour, e.g. "2.5". */
    priceCap: string;
    regions?: string[];
    dataResidency?: string[];
  };
  confidential?: { required: boolean; teeTypes?: string[]; gpuAttestation?: boolean };
  retries?: number;
  gpus: number;
  /** Most the task may cost in total, NVDAx. */
  maxTotal: string;
  nonce: bigint;
  /** Unix seconds after which the signature is refused. */
  deadline: number;
}

/** The EIP-712 message value. */
export interface TaskValue {
  requester: string;
  /** The zero address: any provider. */
  provider: string;
  hubJob: string;
  modelHash: string;
  sla: {
    tier: number;
    maxLatencyMs: number;
    maxDurationSeconds: bigint;
    priceCap: bigint;
    regions: string[];
    dataResidency: string[];
  };
  confidential: { required: boolean; teeTypes: string[]; gpuAttestation: boolean };
  retries: number;
  gpus: number;
  maxTotal: bigint;
  nonce: bigint;
  deadline: bigint;
}

/** The tuple Settlement.openTasks takes: string lists arrive as their EIP-712 encoding. */
export interface ContractTask {
  requester: string;
  provider: string;
  hubJob: string;
  modelHash: string;
  sla: {
    tier: number;
    maxLatencyMs: number;
    maxDurationSeconds: bigint;
    priceCap: bigint;
    regionsHash: string;
    dataResidencyHash: string;
  };
  confidential: { required: boolean; teeTypesHash: string; gpuAttestation: boolean };
  retries: number;
  gpus: number;
  maxTotal: bigint;
  nonce: bigint;
  deadline: bigint;
}

/** An input error naming the field and what is allowed. */
export class TaskFieldError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`task ${field}: ${message}`);
    this.name = 'TaskFieldError';
    this.field = field;
  }
}

export function taskDomain(chainId: bigint | number, verifyingContract: string): TypedDataDomain {
  return {
    name: TASK_DOMAIN_NAME,
    version: TASK_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: getAddress(verifyingContract),
  };
}

/** keccak256("namespace/name"): the job's identity on the hub, as signed. */
export function hubJobId(job: { namespace: string; name: string }): string {
  for (const k of ['namespace', 'name'] as const) {
    if (!job[k] || job[k].includes('/')) throw new TaskFieldError(`hubJob.${k}`, 'must be non-empty without "/"');
  }
  return id(`${job.namespace}/${job.name}`);
}

/** EIP-712 encoding of a string[]: keccak256 of the concatenated keccak256 of each string. */
export function stringListHash(list: readonly string[]): string {
  return keccak256(concat(list.map((s) => keccak256(toUtf8Bytes(s)))));
}

function int(field: string, v: number | undefined, max: number, dflt: number, min = 0): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < min || x > max) {
    throw new TaskFieldError(field, `${String(v)} is not an integer in ${min}..${max}`);
  }
  return x;
}

function amount(field: string, v: string): bigint {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]*)(\.[0-9]{1,18})?$/.test(v)) {
    throw new TaskFieldError(
      field,
      `${JSON.stringify(v)} is not a decimal NVDAx amount (e.g. "2.5", at most 18 decimals)`,
    );
  }
  const wei = parseUnits(v, 18);
  if (wei === 0n) throw new TaskFieldError(field, 'must be greater than 0');
  return wei;
}

/** Lists are sets: sorted so the same job always signs the same hash; duplicates are refused. */
function set(field: string, v: string[] | undefined, allowed?: (s: string) => boolean, hint = ''): string[] {
  const list = [...(v ?? [])].sort();
  for (const [i, s] of list.entries()) {
    if (typeof s !== 'string' || s === '' || (allowed && !allowed(s))) {
      throw new TaskFieldError(field, `${JSON.stringify(s)} is not allowed${hint}`);
    }
    if (i > 0 && list[i - 1] === s) throw new TaskFieldError(field, `${JSON.stringify(s)} is listed twice`);
  }
  return list;
}

/** Builds the typed-data value from plain fields, refusing bad input with the field named. */
export function buildTask(f: TaskFields): TaskValue {
  let requester: string;
  try {
    requester = getAddress(f.requester);
  } catch {
    throw new TaskFieldError('requester', `${JSON.stringify(f.requester)} is not an Ethereum address`);
  }
  let provider = ZeroAddress;
  if (f.provider !== undefined && f.provider !== '') {
    try {
      provider = getAddress(f.provider);
    } catch {
      throw new TaskFieldError(
        'provider',
        `${JSON.stringify(f.provider)} is not an Ethereum address (omit it for any)`,
      );
    }
  }
  if (!f.model) throw new TaskFieldError('model', 'must be a non-empty model reference');
  const tier = f.sla.tier ?? 'BestEffort';
  if (!(tier in TIERS))
    throw new TaskFieldError('sla.tier', `${String(tier)} is not one of ${Object.keys(TIERS).join(', ')}`);
  const confidential = f.confidential ?? { required: false };
  const teeTypes = set('confidential.teeTypes', confidential.teeTypes, (s) => TEE_TYPES.includes(s), ' (snp, tdx)');
  if (!confidential.required && (teeTypes.length || confidential.gpuAttestation)) {
    throw new TaskFieldError('confidential', 'teeTypes and gpuAttestation apply only when required is true');
  }
  if (typeof f.nonce !== 'bigint' || f.nonce < 0n || f.nonce >= 2n ** 256n) {
    throw new TaskFieldError('nonce', 'must be a bigint in 0..2^256-1');
  }
  return {
    requester,
    provider,
    hubJob: hubJobId(f.hubJob),
    modelHash: modelHashOf(f.model),
    sla: {
      tier: TIERS[tier],
      maxLatencyMs: int('sla.maxLatencyMs', f.sla.maxLatencyMs, 2 ** 32 - 1, 0),
      maxDurationSeconds: BigInt(int('sla.maxDurationSeconds', f.sla.maxDurationSeconds, Number.MAX_SAFE_INTEGER, 0)),
      priceCap: amount('sla.priceCap', f.sla.priceCap),
      regions: set('sla.regions', f.sla.regions),
      dataResidency: set(
        'sla.dataResidency',
        f.sla.dataResidency,
        (s) => /^[A-Z]{2}$/.test(s),
        ' (ISO 3166-1 alpha-2 or EU)',
      ),
    },
    confidential: {
      required: confidential.required,
      teeTypes,
      // Secure by default, as gpuAttestationRequired() in operator/api/confidential.ts.
      gpuAttestation: confidential.required && confidential.gpuAttestation !== false,
    },
    retries: int('retries', f.retries, 2 ** 16 - 1, 0),
    gpus: int('gpus', f.gpus, 2 ** 32 - 1, 1, 1),
    maxTotal: amount('maxTotal', f.maxTotal),
    nonce: f.nonce,
    deadline: BigInt(int('deadline', f.deadline, 2 ** 53 - 1, 0, 1)),
  };
}

/** The EIP-712 struct hash of the task (without the domain). */
export function taskStructHash(value: TaskValue): string {
  return TypedDataEncoder.from(TASK_TYPES).hash(value);
}

/** The digest the requester signs: the task under the settlement contract's domain. */
export function taskDigest(domain: TypedDataDomain, value: TaskValue): string {
  return TypedDataEncoder.hash(domain, TASK_TYPES, value);
}

export function signTask(signer: AbstractSigner, domain: TypedDataDomain, value: TaskValue): Promise<string> {
  return signer.signTypedData(domain, TASK_TYPES, value);
}

/** The address that signed `signature` over the task (any signature that recovers). */
export function recoverTaskSigner(domain: TypedDataDomain, value: TaskValue, signature: string): string {
  return verifyTypedData(domain, TASK_TYPES, value, signature);
}

/** Whether the task's requester signed it. Malformed signatures count as not signed. */
export function verifyTask(domain: TypedDataDomain, value: TaskValue, signature: string): boolean {
  try {
    return recoverTaskSigner(domain, value, signature) === getAddress(value.requester);
  } catch {
    return false;
  }
}

/** The tuple for Settlement.openTasks / hashTask. */
export function toContractTask(v: TaskValue): ContractTask {
  return {
    requester: v.requester,
    provider: v.provider,
    hubJob: v.hubJob,
    modelHash: v.modelHash,
    sla: {
      tier: v.sla.tier,
      maxLatencyMs: v.sla.maxLatencyMs,
      maxDurationSeconds: v.sla.maxDurationSeconds,
      priceCap: v.sla.priceCap,
      regionsHash: stringListHash(v.sla.regions),
      dataResidencyHash: stringListHash(v.sla.dataResidency),
    },
    confidential: {
      required: v.confidential.required,
      teeTypesHash: stringListHash(v.confidential.teeTypes),
      gpuAttestation: v.confidential.gpuAttestation,
    },
    retries: v.retries,
    gpus: v.gpus,
    maxTotal: v.maxTotal,
    nonce: v.nonce,
    deadline: v.deadline,
  };
}
