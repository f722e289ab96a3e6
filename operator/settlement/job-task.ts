// A job's requester-signed task: the TaskFields of an InferenceJob or TrainingJob (what the requester signs with
// `nvdax submit` and the operator checks before placing it under --require-signed-tasks), and the check itself.
// Pure: no chain access and no clock of its own, so the operator, the CLI and tests use it alike.
//
// The manifest a requester signs has not met the API server's defaults yet, so every default the schema applies
// to a signed field is applied here too (retries 3, tier BestEffort, workers 1): the CLI and the operator then
// build the same task from the same job, before and after defaulting.
import type { AbstractSigner, TypedDataDomain } from 'ethers';
import { getAddress } from 'ethers';
import type { InferenceJobSpec, TrainingJobSpec } from '../api/types.gen.ts';
import { parseDuration } from '../runtime/config.ts';
import {
  buildTask,
  recoverTaskSigner,
  signTask,
  type TaskFields,
  TaskFieldError,
  type TaskValue,
  taskDigest,
} from './task.ts';

/** The parts of a job object the task is built from (a parsed manifest or the hub's object). */
export interface TaskJob {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec: InferenceJobSpec | TrainingJobSpec;
}

export type TaskCheckReason = 'TaskSignatureMissing' | 'TaskSignatureInvalid' | 'TaskSignatureExpired' | 'TaskInvalid';

export type TaskCheck =
  | { ok: true; digest: string; deadline: number }
  | { ok: false; reason: TaskCheckReason; message: string };

/** Where each TaskFields field comes from in the job, for messages. */
const fieldPaths: Record<string, string> = {
  requester: 'spec.payment.requester',
  'hubJob.namespace': 'metadata.namespace',
  'hubJob.name': 'metadata.name',
  model: 'spec.model.hash',
  'sla.tier': 'spec.sla.tier',
  'sla.maxLatencyMs': 'spec.sla.maxLatencyMs',
  'sla.maxDurationSeconds': 'spec.sla.maxDuration',
  'sla.priceCap': 'spec.sla.priceCap',
  'sla.regions': 'spec.sla.regions',
  'sla.dataResidency': 'spec.sla.dataResidency',
  confidential: 'spec.confidential',
  'confidential.teeTypes': 'spec.confidential.teeTypes',
  retries: 'spec.retries',
  gpus: 'spec.resources.gpus',
  maxTotal: 'spec.payment.maxTotal',
  nonce: 'spec.payment.nonce',
  deadline: 'spec.payment.deadline',
};

/** The job's path of a TaskFields field (`maxTotal` → `spec.payment.maxTotal`). */
export function jobFieldPath(field: string): string {
  return fieldPaths[field] ?? field;
}

/** A job-level input error: the message names the job's field (spec.payment.nonce, …). */
export class JobTaskError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'JobTaskError';
    this.field = field;
  }
}

/** The model a task names: the model's content hash; a TrainingJob from scratch names its dataset instead. */
function modelOf(job: TaskJob): string {
  const m = job.spec.model;
  if (m?.hash) return m.hash;
  if (job.kind === 'TrainingJob') {
    const d = (job.spec as TrainingJobSpec).dataset;
    if (d) return `dataset:${d.hash ?? d.uri}`;
  }
  throw new JobTaskError('spec.model.hash', 'the signed task names the model by its hash; set it');
}

/** Total GPUs of the job: per pod times pods (InferenceJob: replicas, else autoscaling's maximum; TrainingJob: workers). */
export function totalGpus(job: TaskJob): number {
  const per = job.spec.resources?.gpus ?? 0;
  if (job.kind === 'TrainingJob') return per * ((job.spec as TrainingJobSpec).workers ?? 1);
  const s = job.spec as InferenceJobSpec;
  return per * Math.max(1, s.replicas ?? s.autoscaling?.maxReplicas ?? 1);
}

/** RFC 3339 → Unix seconds, or a JobTaskError naming spec.payment.deadline. */
export function deadlineSeconds(text: string | undefined): number {
  if (!text) throw new JobTaskError('spec.payment.deadline', 'must be set (RFC 3339 time) to sign the task');
  const ms = Date.parse(text);
  if (!/^\d{4}-\d\d-\d\dT/.test(text) || Number.isNaN(ms)) {
    throw new JobTaskError('spec.payment.deadline', `${JSON.stringify(text)} is not an RFC 3339 time`);
  }
  return Math.floor(ms / 1000);
}

/** The plain task fields of a job (throws JobTaskError naming the job's field). */
export function jobTaskFields(job: TaskJob): TaskFields {
  const { spec } = job;
  const p = spec.payment;
  if (!p?.maxTotal) throw new JobTaskError('spec.payment.maxTotal', 'must be set: the signed task bounds the total');
  if (p.nonce === undefined || !/^(0|[1-9][0-9]{0,77})$/.test(p.nonce)) {
    throw new JobTaskError('spec.payment.nonce', 'must be set (a decimal uint256) to sign the task');
  }
  const nonce = BigInt(p.nonce);
  if (nonce >= 2n ** 256n) throw new JobTaskError('spec.payment.nonce', 'must be below 2^256');
  let maxDurationSeconds: number | undefined;
  if (spec.sla.maxDuration !== undefined) {
    const ms = parseDuration(spec.sla.maxDuration);
    if (ms === undefined) throw new JobTaskError('spec.sla.maxDuration', `"${spec.sla.maxDuration}" is not a duration`);
    maxDurationSeconds = Math.ceil(ms / 1000);
  }
  const c = spec.confidential;
  return {
    requester: p.requester,
    // No provider: the requester signs before the hub places the job, so the task allows any provider the
    // coordinator opens it on (the trust assumption docs/settlement.md states).
    hubJob: { namespace: job.metadata?.namespace ?? '', name: job.metadata?.name ?? '' },
    model: modelOf(job),
    sla: {
      tier: spec.sla.tier ?? 'BestEffort',
      ...('maxLatencyMs' in spec.sla && spec.sla.maxLatencyMs !== undefined
        ? { maxLatencyMs: spec.sla.maxLatencyMs }
        : {}),
      ...(maxDurationSeconds !== undefined ? { maxDurationSeconds } : {}),
      priceCap: spec.sla.priceCap,
      regions: spec.sla.regions ?? [],
      dataResidency: spec.sla.dataResidency ?? [],
    },
    confidential: {
      required: c?.required === true,
      ...(c?.teeTypes ? { teeTypes: c.teeTypes } : {}),
      ...(c?.gpuAttestation !== undefined ? { gpuAttestation: c.gpuAttestation } : {}),
    },
    // the schema's default, which the API server applies after the requester signed
    retries: spec.retries ?? 3,
    gpus: totalGpus(job),
    maxTotal: p.maxTotal,
    nonce,
    deadline: deadlineSeconds(p.deadline),
  };
}

/** The typed-data value of a job's task (throws JobTaskError naming the job's field). */
export function jobTaskValue(job: TaskJob): TaskValue {
  const fields = jobTaskFields(job);
  try {
    return buildTask(fields);
  } catch (e) {
    if (e instanceof TaskFieldError) {
      throw new JobTaskError(jobFieldPath(e.field), e.message.replace(/^task [^:]+: /, ''));
    }
    throw e;
  }
}

/** Signs the job's task with `signer`; the requester must be the signer's address. */
export async function signJobTask(job: TaskJob, signer: AbstractSigner, domain: TypedDataDomain): Promise<string> {
  const value = jobTaskValue(job);
  const address = getAddress(await signer.getAddress());
  if (value.requester !== address) {
    throw new JobTaskError(
      'spec.payment.requester',
      `${value.requester} is not the signing key's address ${address}: sign with the requester's key`,
    );
  }
  return signTask(signer, domain, value);
}

/**
 * The time-independent part of the check: the task builds and its signature recovers to the requester. The
 * operator caches this per job generation; checkJobTask adds the deadline.
 */
export function verifyJobTask(job: TaskJob, domain: TypedDataDomain): TaskCheck {
  const signature = job.spec.payment?.signature;
  if (!signature) {
    return {
      ok: false,
      reason: 'TaskSignatureMissing',
      message: "spec.payment.signature: not set; the requester signs the job's task (nvdax submit)",
    };
  }
  let value: TaskValue;
  try {
    value = jobTaskValue(job);
  } catch (e) {
    if (e instanceof JobTaskError) return { ok: false, reason: 'TaskInvalid', message: e.message };
    throw e;
  }
  let signer: string;
  try {
    signer = recoverTaskSigner(domain, value, signature);
  } catch (e) {
    const why = e instanceof Error ? e.message.split(' (')[0] : String(e);
    return {
      ok: false,
      reason: 'TaskSignatureInvalid',
      message: `spec.payment.signature: not a valid signature (${why})`,
    };
  }
  if (signer !== value.requester) {
    return {
      ok: false,
      reason: 'TaskSignatureInvalid',
      message:
        `spec.payment.signature: recovers to ${signer}, not spec.payment.requester ${value.requester} ` +
        '(signed by another key, for another chain or settlement contract, or a signed field changed since)',
    };
  }
  return { ok: true, digest: taskDigest(domain, value), deadline: Number(value.deadline) };
}

/** A verified task whose deadline (Unix seconds) has passed at `now` (ms) is refused. */
export function withDeadline(check: TaskCheck, now: number): TaskCheck {
  if (check.ok && now > check.deadline * 1000) {
    return {
      ok: false,
      reason: 'TaskSignatureExpired',
      message: `spec.payment.deadline: the signature expired at ${new Date(check.deadline * 1000).toISOString()}; re-create the job with a new signature`,
    };
  }
  return check;
}

/** Whether the job may be placed: its requester signed its task under `domain`, and the deadline has not passed. */
export function checkJobTask(job: TaskJob, domain: TypedDataDomain, now: number): TaskCheck {
  return withDeadline(verifyJobTask(job, domain), now);
}

/**
 * The operator's check of each job, verified once per job generation (uid + metadata.generation): a
 * signature is recovered once, and any change to the job (a new generation) is checked anew. The deadline
 * is compared at every call, as time passes.
 */
export class TaskCheckCache {
  readonly #domain: TypedDataDomain;
  readonly #verify: (job: TaskJob, domain: TypedDataDomain) => TaskCheck;
  readonly #checks = new Map<string, { generation: number; check: TaskCheck }>();

  constructor(domain: TypedDataDomain, verify = verifyJobTask) {
    this.#domain = domain;
    this.#verify = verify;
  }

  /**
   * The job's check at `now`. `deadline` false skips the deadline (a job placed before re-places a task
   * already opened). `live` (the uids still on the hub) lets entries of deleted jobs go.
   */
  check(
    job: TaskJob & { metadata?: { uid?: string; generation?: number } },
    now: number,
    o: { deadline?: boolean; live?: () => Set<string | undefined> } = {},
  ): TaskCheck {
    const uid = job.metadata?.uid ?? `${job.kind}/${job.metadata?.namespace}/${job.metadata?.name}`;
    const generation = job.metadata?.generation ?? 0;
    let cached = this.#checks.get(uid);
    if (cached?.generation !== generation) {
      if (o.live && this.#checks.size >= 64) {
        const live = o.live();
        if (this.#checks.size > live.size)
          for (const k of this.#checks.keys()) if (!live.has(k)) this.#checks.delete(k);
      }
      cached = { generation, check: this.#verify(job, this.#domain) };
      this.#checks.set(uid, cached);
    }
    return o.deadline === false ? cached.check : withDeadline(cached.check, now);
  }

  get size(): number {
    return this.#checks.size;
  }
}
