// The report intake (leader only): the hub's gRPC endpoint where confidential workloads report (1) their
// attestation evidence, one instance at a time, bound to a nonce the hub issued, and (2) the signed receipts
// of the requests their gateway served. Everything is checked with operator/verification before it reaches
// the job's status: status.attestations (one result per instance), the Attested condition, and
// status.usage.requests / deviceTimeMs / inputTokens / outputTokens (field manager nvdax-reports; the job controller
// writes GPU time).
//
// Nothing here needs the reporter to be trusted: evidence is signed by Trustee and NVIDIA, receipts by the
// pool's provider and tied to an attested gateway key, and each receipt is counted once (a watermark per
// instance, in status, so a restart or a retried report does not count it again).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS } from '../../runtime/proto.ts';
import type { TypedDataDomain } from 'ethers';
import { Counter, type Registry } from 'prom-client';
import { IncidentKind, JobConditionType, JobReason, Tier } from '../../api/constants.ts';
import type { ProviderPoolObject } from '../../api/resources.ts';
import type {
  PoolIncident,
  PoolTelemetry,
  ProviderPoolStatus,
  AttestationResult as StatusAttestation,
  AttestedKey,
} from '../../api/types.gen.ts';
import type { KubeClient } from '../../kube/client.ts';
import type { KubeObject } from '../../kube/types.ts';
import { participantName, workloadName } from '../../materialize/names.ts';
import type { Clock } from '../../runtime/clock.ts';
import { type Condition, setCondition } from '../../runtime/conditions.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/log.ts';
import { hubJobId } from '../../settlement/task.ts';
import {
  type AttestationPolicy,
  type EvidenceBundle,
  isAttestationError,
  type NrasAnswer,
  refusedAttestation,
  statusAttestation,
  verifyEvidence,
} from '../../verification/attestation.ts';
import type { ProtoGrpcType } from '../../verification/gen/reports.gen.ts';
import type { AttestRequest__Output } from '../../verification/gen/nvdax/hub/v1/AttestRequest.gen.ts';
import type { AttestResponse } from '../../verification/gen/nvdax/hub/v1/AttestResponse.gen.ts';
import type { ChallengeRequest__Output } from '../../verification/gen/nvdax/hub/v1/ChallengeRequest.gen.ts';
import type { ChallengeResponse } from '../../verification/gen/nvdax/hub/v1/ChallengeResponse.gen.ts';
import type { JobRef__Output } from '../../verification/gen/nvdax/hub/v1/JobRef.gen.ts';
import type { ReceiptsRequest__Output } from '../../verification/gen/nvdax/hub/v1/ReceiptsRequest.gen.ts';
import type { ReceiptsResponse } from '../../verification/gen/nvdax/hub/v1/ReceiptsResponse.gen.ts';
import type { TelemetryRequest__Output } from '../../verification/gen/nvdax/hub/v1/TelemetryRequest.gen.ts';
import type { ProgressRequest__Output } from '../../verification/gen/nvdax/hub/v1/ProgressRequest.gen.ts';
import type { ProgressResponse } from '../../verification/gen/nvdax/hub/v1/ProgressResponse.gen.ts';
import type { ReplayRequest__Output } from '../../verification/gen/nvdax/hub/v1/ReplayRequest.gen.ts';
import type { ReplayResponse } from '../../verification/gen/nvdax/hub/v1/ReplayResponse.gen.ts';
import type { SignedReceipt__Output } from '../../verification/gen/nvdax/hub/v1/SignedReceipt.gen.ts';
import { modelHashOf } from '../../verification/model-hash.ts';
import { type Infer, type SlashEvidence, submitSlash, Verifier } from '../../verification/verifier.ts';
import { contentModelHash } from '../../verification/model-hash.ts';
import { KServeBackend } from '../../../provider-runtime/gateway/backends/kserve.ts';
import { parseNvdax } from '../../settlement/contracts.ts';
import type { Contract } from 'ethers';
import { type CheckpointRecord, Lineage, LineageError, type LineageSnapshot } from '../../training/lineage.ts';
import { verifySignature } from '../../training/keys.ts';
import type { TelemetryResponse } from '../../verification/gen/nvdax/hub/v1/TelemetryResponse.gen.ts';
import { type TelemetryReport, TelemetryError, verifyTelemetry } from '../../verification/telemetry.ts';
import { DEFAULT_REPUTATION, type ReputationParams, reputation } from '../../scheduling/reputation.ts';
import { providerPools } from '../../api/resources.ts';
import { gatewayKeyHash, ReceiptError, type SignedReceipt, verifyReceipt } from '../../verification/receipt.ts';
// the gateway's capability and Ed25519 receipts: one implementation, the gateway's (provider-runtime/gateway)
import {
  type CapabilityStatement,
  CapabilityError,
  capabilityDomain,
  verifyCapability,
  verifyGatewayReceipt,
} from '../../../provider-runtime/gateway/signing.ts';
import {
  attemptsOf,
  isFederated,
  isFinished,
  isPlaced,
  type JobKind,
  kindOf,
  type JobObject,
  partsOf,
  podsPerPart,
  resourceOf,
} from '../jobs/model.ts';

export const reportsManager = 'nvdax-reports';
/**
 * TrainingJob progress and checkpoints are applied under their own manager: server-side apply drops a field its
 * manager leaves out, and these writes do not carry the attestations and usage the other reports own.
 */
export const progressManager = 'nvdax-reports-progress';
const NONCE_TTL_MS = 5 * 60_000;
const MAX_RECEIPTS = 1_000;
/** Earlier keys an instance keeps (status.attestations[].previousKeys; the CRD allows 4). */
const MAX_PREVIOUS_KEYS = 4;
const MAX_REPLAYS = 100;

export interface ReportIntakeOptions {
  hub: KubeClient;
  clock: Clock;
  log: Logger;
  pools: Informer<ProviderPoolObject>;
  jobs: Record<JobKind, Informer<JobObject>>;
  /** What the hub trusts (JWKS, GPU allow-lists); development evidence is allowed per pool (spec.development). */
  policy?: Omit<AttestationPolicy, 'allowDevelopment' | 'now'>;
  /** The settlement's EIP-712 domain receipts are signed under; without it receipts are refused. */
  receiptDomain?: TypedDataDomain;
  /** The domain providers sign telemetry under; without it telemetry is refused. */
  telemetryDomain?: TypedDataDomain;
  /** With a settlement chain: whether the address is registered in the provider registry. */
  isRegistered?: (provider: string) => Promise<boolean>;
  reputation?: ReputationParams;
  registry?: Registry;
  /**
   * --verifier-sample-rate: the Replay service. Records a requester offers are checked, a `share` of them (chosen
   * from `seed`, which providers must not know) replayed on the job's reference backend; a mismatch becomes a
   * ReplayMismatch incident on the pool (its reputation) and, with `slash`, a slash of the provider's stake.
   */
  replay?: ReplayOptions;
}

export interface ReplayOptions {
  /** Share of records replayed, 0..1. */
  share: number;
  seed: string;
  /** The reference backend for a job's model (the same model, run where the hub trusts it); undefined: none. */
  reference: (job: JobObject) => Infer | undefined;
  /** Submits the slash (verifier.ts submitSlash through the provider registry); the requesters are compensated. */
  slash?: (evidence: SlashEvidence, requesters: string[]) => Promise<{ txHash: string }>;
}

/**
 * The Replay service's options from the operator's flags: `--verifier-sample-rate` (0, the default: off),
 * `--verifier-backend HOST:PORT` (the reference model server, KServe v2 gRPC, serving each job's model under
 * the gateway's model name), `--verifier-seed-file` (default a random seed per process), and
 * `--verifier-slash-amount NVDAx` with the provider registry connected to a signer holding SLASHER_ROLE.
 * Throws an Error naming the flag at fault.
 */
export function replayOptions(f: {
  sampleRate: string;
  backend: string;
  seed?: string;
  slashAmount?: string;
  registry?: Contract;
}): ReplayOptions | undefined {
  const share = Number(f.sampleRate || '0');
  if (!/^(0|1|0?\.[0-9]+|1\.0+)$/.test(f.sampleRate || '0') || !(share >= 0 && share <= 1)) {
    throw new Error(`--verifier-sample-rate: "${f.sampleRate}" is not a share between 0 and 1`);
  }
  if (share === 0) return undefined;
  if (!f.backend) throw new Error('--verifier-sample-rate needs --verifier-backend (the reference model server)');
  let slash: ReplayOptions['slash'];
  if (f.slashAmount) {
    let amount: bigint;
    try {
      amount = parseNvdax(f.slashAmount);
    } catch {
      throw new Error(`--verifier-slash-amount: "${f.slashAmount}" is not an NVDAx amount`);
    }
    if (amount <= 0n) throw new Error('--verifier-slash-amount must be positive');
    const registry = f.registry;
    if (!registry) throw new Error('--verifier-slash-amount needs --settlement-deployment (the provider registry)');
    slash = (evidence, requesters) => submitSlash(registry, evidence, { amount, requesters });
  }
  return {
    share,
    seed: f.seed || randomBytes(32).toString('hex'),
    reference: kserveReference(f.backend),
    ...(slash ? { slash } : {}),
  };
}

/** Reference backends on one KServe v2 server, one client per job model (name and hash as the gateway's). */
export function kserveReference(target: string): (job: JobObject) => Infer | undefined {
  const clients = new Map<string, KServeBackend>();
  return (job) => {
    const spec = job.spec as { model?: { id?: string; hash?: string }; gateway?: { modelName?: string } };
    const modelHash = contentModelHash(spec.model?.hash ?? '');
    const modelName = spec.gateway?.modelName ?? spec.model?.id?.split('/').pop();
    if (!modelHash || !modelName) return undefined;
    const key = `${modelName}@${modelHash}`;
    let c = clients.get(key);
    if (!c) {
      c = new KServeBackend({ target, modelName, modelHash });
      clients.set(key, c);
    }
    const client = c;
    return async (input) => (await client.infer(Buffer.from(input))).response;
  };
}

/** A gRPC error with its code. */
class ReportError extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status, message: string) {
    super(message);
    this.code = code;
  }
}

const protoDir = join(import.meta.dirname, '..', '..', 'verification', 'proto');

/** The loaded Reports service (types generated from the same .proto into operator/verification/gen). */
export function reportsProto(): ProtoGrpcType {
  return grpc.loadPackageDefinition(
    // the options hack/proto/generate.ts generates every proto's types with (one set for all)
    loadSync('reports.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] }),
  ) as unknown as ProtoGrpcType;
}

/** The instances the job's current attempt runs: each pod's name starts with its workload's or participant's. */
function instancePrefixes(job: JobObject): string[] {
  const name = job.metadata?.name ?? '';
  const attempt = attemptsOf(job);
  if (!attempt) return [];
  return isFederated(job)
    ? Array.from({ length: partsOf(job) }, (_, i) => participantName(name, attempt, i))
    : [workloadName(name, attempt)];
}

const watermark = (time: number, requestId: string) => `${String(time).padStart(15, '0')}:${requestId.toLowerCase()}`;

export class ReportIntake {
  readonly #o: ReportIntakeOptions;
  readonly #nonces = new Map<string, { key: string; expires: number }>();
  readonly #metrics:
    | { attestations: Counter<'result'>; receipts: Counter<'result'>; telemetry: Counter<'result'> }
    | undefined;

  constructor(o: ReportIntakeOptions) {
    this.#o = o;
    const registers = o.registry ? [o.registry] : undefined;
    if (registers) {
      this.#metrics = {
        attestations: new Counter({
          name: 'nvdax_reports_attestations_total',
          help: 'Attestation reports by result (verified, refused)',
          labelNames: ['result'],
          registers,
        }),
        receipts: new Counter({
          name: 'nvdax_reports_receipts_total',
          help: 'Receipts reported, by result (accepted, duplicate, refused)',
          labelNames: ['result'],
          registers,
        }),
        telemetry: new Counter({
          name: 'nvdax_reports_telemetry_total',
          help: 'Telemetry reports, by result (accepted, refused)',
          labelNames: ['result'],
          registers,
        }),
      };
    }
  }

  #job(ref: JobRef__Output | null): JobObject {
    const kind =
      ref?.kind === 'TrainingJob' ? 'TrainingJob' : ref?.kind === 'InferenceJob' ? 'InferenceJob' : undefined;
    if (!kind) throw new ReportError(grpc.status.INVALID_ARGUMENT, 'job.kind: must be InferenceJob or TrainingJob');
    const job = this.#o.jobs[kind].get(`${ref?.namespace ?? ''}/${ref?.name ?? ''}`);
    if (!job) throw new ReportError(grpc.status.NOT_FOUND, `${kind} ${ref?.namespace}/${ref?.name} not found`);
    if (!isPlaced(job) || isFinished(job)) {
      throw new ReportError(grpc.status.FAILED_PRECONDITION, `${kind} ${ref?.namespace}/${ref?.name} is not running`);
    }
    return job;
  }

  #instance(job: JobObject, instance: string): void {
    if (!instance || instance.length > 253) throw new ReportError(grpc.status.INVALID_ARGUMENT, 'instance: required');
    if (!instancePrefixes(job).some((p) => instance.startsWith(p))) {
      throw new ReportError(
        grpc.status.FAILED_PRECONDITION,
        `instance ${instance} is not of the job's attempt ${attemptsOf(job)} (${instancePrefixes(job).join(', ')}…)`,
      );
    }
  }

  /** A nonce for (job, instance), valid for 5 minutes and once. */
  challenge(req: ChallengeRequest__Output): ChallengeResponse {
    const job = this.#job(req.job);
    this.#instance(job, req.instance);
    const now = this.#o.clock.now();
    for (const [n, v] of this.#nonces) if (v.expires < now) this.#nonces.delete(n);
    const nonce = randomBytes(32).toString('base64url');
    this.#nonces.set(nonce, { key: `${job.metadata?.uid}/${req.instance}`, expires: now + NONCE_TTL_MS });
    return { nonce, expiresUnixMs: now + NONCE_TTL_MS };
  }

  /** Verifies one instance's evidence and records the result in status.attestations. */
  async attest(req: AttestRequest__Output): Promise<AttestResponse> {
    const o = this.#o;
    const job = this.#job(req.job);
    this.#instance(job, req.instance);
    const placement = job.status?.placement;
    if (placement?.mode !== 'Confidential' || !placement.initDataDigest) {
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the job is not confidential: nothing to attest');
    }
    if (!o.policy) throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the hub has no --attestation-policy');
    const issued = this.#nonces.get(req.nonce);
    if (!issued || issued.key !== `${job.metadata?.uid}/${req.instance}` || issued.expires < o.clock.now()) {
      throw new ReportError(
        grpc.status.PERMISSION_DENIED,
        'nonce: not one this hub issued for this instance, used already, or expired',
      );
    }
    this.#nonces.delete(req.nonce); // once
    let teePubKey: Record<string, unknown>;
    let nras: NrasAnswer | undefined;
    try {
      teePubKey = JSON.parse(req.teePubKeyJson) as Record<string, unknown>;
      nras = req.nrasJson ? (JSON.parse(req.nrasJson) as NrasAnswer) : undefined;
    } catch (e) {
      throw new ReportError(
        grpc.status.INVALID_ARGUMENT,
        `teePubKeyJson or nrasJson: not JSON (${(e as Error).message})`,
      );
    }
    const bundle: EvidenceBundle = { ear: req.ear, ...(nras ? { nras } : {}), instance: req.instance };
    const receiptKey = req.capabilityJson ? this.#capability(job, req, teePubKey) : undefined;
    const development = o.pools.get(placement.pool ?? '')?.spec.development === true;
    const gatewayKey = gatewayKeyHash(teePubKey);
    let entry: StatusAttestation;
    try {
      const r = await verifyEvidence(
        bundle,
        {
          nonce: req.nonce,
          teePubKey,
          initDataDigest: placement.initDataDigest,
          ...(development ? {} : placement.teeType ? { teeType: placement.teeType } : {}),
        },
        { ...o.policy, allowDevelopment: development, now: () => new Date(o.clock.now()) },
      );
      entry = { ...statusAttestation(r, req.instance), gatewayKey, ...(receiptKey ? { receiptKey } : {}) };
      this.#metrics?.attestations.inc({ result: 'verified' });
    } catch (e) {
      if (!isAttestationError(e)) throw e;
      entry = refusedAttestation(bundle, e, req.instance, new Date(o.clock.now()));
      this.#metrics?.attestations.inc({ result: 'refused' });
      o.log.warn({ job: job.metadata?.name, instance: req.instance, claim: e.claim }, 'Attestation refused');
      await this.#writePool(placement.pool ?? '', (st) => ({
        ...st,
        incidents: [
          ...(st.incidents ?? []),
          {
            time: new Date(o.clock.now()).toISOString(),
            kind: IncidentKind.AttestationFailed,
            job: `${job.metadata?.namespace}/${job.metadata?.name}`,
            message: e.message.slice(0, 512),
          },
        ].slice(-64),
      })).catch((err: unknown) => o.log.warn({ err }, 'Could not record the incident on the pool'));
    }
    await this.#write(job, (s) => ({ ...s, attestations: upsert(s.attestations, entry) }));
    return {
      verified: entry.verified === true,
      message: entry.message ?? '',
      evidenceHash: entry.evidenceHash ?? '',
      gatewayKey: entry.verified ? gatewayKey : '',
    };
  }

  /**
   * The gateway's capability statement: signed by the pool's provider for this job and this instance's TEE key,
   * not expired. Returns the Ed25519 receipt key it names; throws PERMISSION_DENIED naming what failed.
   */
  #capability(job: JobObject, req: AttestRequest__Output, teePubKey: Record<string, unknown>): string {
    const o = this.#o;
    if (!o.receiptDomain) {
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the hub settles nowhere (--settlement-deployment)');
    }
    const provider = o.pools.get(job.status?.placement?.pool ?? '')?.spec.provider?.address ?? '';
    const hubJob = hubJobId({ namespace: job.metadata?.namespace ?? '', name: job.metadata?.name ?? '' });
    try {
      const cap = JSON.parse(req.capabilityJson) as CapabilityStatement;
      verifyCapability(
        capabilityDomain(BigInt(String(o.receiptDomain.chainId)), String(o.receiptDomain.verifyingContract)),
        cap,
        req.capabilitySignature,
      );
      if (cap.provider.toLowerCase() !== provider.toLowerCase()) {
        throw new CapabilityError('provider', `is ${cap.provider}, the pool's provider is ${provider}`);
      }
      if (cap.job.toLowerCase() !== hubJob.toLowerCase()) throw new CapabilityError('job', 'names another job');
      if (cap.gatewayKey.toLowerCase() !== gatewayKeyHash(teePubKey).toLowerCase()) {
        throw new CapabilityError('gatewayKey', 'is not the key this instance attests');
      }
      if (cap.expiresAt <= o.clock.now()) throw new CapabilityError('expiresAt', 'the statement has expired');
      if (!/^0x[0-9a-fA-F]{64}$/.test(cap.receiptKey)) throw new CapabilityError('receiptKey', 'must be 0x + 64 hex');
      return cap.receiptKey.toLowerCase();
    } catch (e) {
      const message = e instanceof CapabilityError ? e.message : `capability_json: not JSON (${(e as Error).message})`;
      throw new ReportError(grpc.status.PERMISSION_DENIED, message);
    }
  }

  /** Counts verified receipts from attested gateways of the job, each once, into status.usage. */
  async receipts(req: ReceiptsRequest__Output): Promise<ReceiptsResponse> {
    const o = this.#o;
    const job = this.#job(req.job);
    if (!o.receiptDomain) {
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the hub settles nowhere (--settlement-deployment)');
    }
    if (req.receipts.length > MAX_RECEIPTS) {
      throw new ReportError(grpc.status.INVALID_ARGUMENT, `receipts: at most ${MAX_RECEIPTS} per report`);
    }
    const provider = o.pools.get(job.status?.placement?.pool ?? '')?.spec.provider?.address;
    const hubJob = hubJobId({ namespace: job.metadata?.namespace ?? '', name: job.metadata?.name ?? '' });
    const refused: string[] = [];
    const checked: Array<SignedReceipt> = [];
    // the receipt keys of instances attested a moment ago may not be in our cache yet: read the job itself
    const latest = req.receipts.some((m) => m.scheme === 'ed25519')
      ? await o.hub
          .get<JobObject>(resourceOf(kindOf(job)), job.metadata?.name ?? '', job.metadata?.namespace ?? '')
          .catch(() => job)
      : job;
    const attested = (latest.status?.attestations ?? []).filter((a) => a.verified);
    for (const [i, m] of req.receipts.entries()) {
      try {
        checked.push(this.#signed(m, { domain: o.receiptDomain, provider, hubJob, attested }));
      } catch (e) {
        const what = e instanceof ReceiptError ? `${e.field}: ${e.message}` : (e as Error).message;
        refused.push(`[${i}] ${what}`.slice(0, 300));
      }
    }
    const outcome = { accepted: 0, duplicates: 0, unattested: [] as string[] };
    await this.#write(job, (s) => {
      outcome.accepted = 0;
      outcome.duplicates = 0;
      outcome.unattested = [];
      const atts = (s.attestations ?? []).map((a) => ({ ...a }));
      let requests = 0;
      let deviceUs = 0;
      let inputTokens = 0;
      let outputTokens = 0;
      const sorted = [...checked].sort((a, b) =>
        watermark(a.receipt.time, a.receipt.requestId) < watermark(b.receipt.time, b.receipt.requestId) ? -1 : 1,
      );
      for (const r of sorted) {
        const inst = atts.find((a) => a.verified && keyOf(a, r.receipt.gatewayKey));
        if (!inst) {
          outcome.unattested.push(`${r.receipt.requestId}: gatewayKey: no attested instance of this job has it`);
          continue;
        }
        const mark = watermark(r.receipt.time, r.receipt.requestId);
        if (inst.receiptsThrough && mark <= inst.receiptsThrough) {
          outcome.duplicates++;
          continue;
        }
        inst.receiptsThrough = mark;
        requests++;
        deviceUs += r.receipt.deviceTimeUs;
        inputTokens += r.receipt.inputTokens;
        outputTokens += r.receipt.outputTokens;
        outcome.accepted++;
      }
      if (!requests) return undefined;
      return {
        ...s,
        attestations: atts,
        requests: (s.requests ?? 0) + requests,
        deviceTimeMs: (s.deviceTimeMs ?? 0) + Math.floor(deviceUs / 1000),
        // each receipt's count is at most 2^53 - 1: the sums stop there rather than leave int64 or lose precision
        inputTokens: Math.min(Number.MAX_SAFE_INTEGER, (s.inputTokens ?? 0) + inputTokens),
        outputTokens: Math.min(Number.MAX_SAFE_INTEGER, (s.outputTokens ?? 0) + outputTokens),
      };
    });
    refused.push(...outcome.unattested);
    this.#metrics?.receipts.inc({ result: 'accepted' }, outcome.accepted);
    this.#metrics?.receipts.inc({ result: 'duplicate' }, outcome.duplicates);
    this.#metrics?.receipts.inc({ result: 'refused' }, refused.length);
    return { accepted: outcome.accepted, duplicates: outcome.duplicates, refused };
  }

  /**
   * A reported receipt whose signature verifies: EIP-712 by the pool's provider, or Ed25519 under the receipt key
   * of the attested instance it names (from its signed capability). Throws a ReceiptError naming what failed.
   */
  #signed(
    m: SignedReceipt__Output,
    c: { domain: TypedDataDomain; provider: string | undefined; hubJob: string; attested: StatusAttestation[] },
  ): SignedReceipt {
    const s = { receipt: JSON.parse(m.receiptJson), signature: m.signature } as SignedReceipt;
    if (m.scheme === 'ed25519') {
      const key = c.attested.map((a) => keyOf(a, String(s.receipt.gatewayKey))).find((k) => k !== undefined);
      if (!key?.receiptKey) {
        throw new ReceiptError('gatewayKey', 'no attested instance of this job has it with a receipt key');
      }
      verifyGatewayReceipt(
        { ...s, scheme: 'ed25519' },
        { provider: c.provider ?? '', receiptKey: Buffer.from(key.receiptKey.slice(2), 'hex') },
        { job: c.hubJob },
      );
    } else if (m.scheme && m.scheme !== 'eip712') {
      throw new ReceiptError('signature', `scheme ${JSON.stringify(m.scheme)}: allowed eip712 or ed25519`);
    } else verifyReceipt(c.domain, s, { job: c.hubJob, ...(c.provider ? { provider: c.provider } : {}) });
    return s;
  }

  /**
   * Records a requester offers for audit (receipt + plaintext input): each receipt must verify as in Receipts and
   * name the model the job's signed task names; a share of them is replayed on the reference backend. A
   * mismatch is recorded once (by its evidence hash) as a ReplayMismatch incident on the pool, through the same
   * writer as attestation incidents, which lowers its reputation, and, with a slasher, slashes the provider.
   */
  async replay(req: ReplayRequest__Output): Promise<ReplayResponse> {
    const o = this.#o;
    const r = o.replay;
    if (!r) throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the hub replays nothing (--verifier-sample-rate)');
    if (!o.receiptDomain) {
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the hub settles nowhere (--settlement-deployment)');
    }
    const job = this.#job(req.job);
    if (job.kind !== 'InferenceJob')
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'replay is for InferenceJobs');
    if (req.records.length > MAX_REPLAYS) {
      throw new ReportError(grpc.status.INVALID_ARGUMENT, `records: at most ${MAX_REPLAYS} per report`);
    }
    const infer = r.reference(job);
    if (!infer)
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the hub has no reference backend for this model');
    const spec = job.spec as { model?: { hash?: string }; payment?: { requester?: string } };
    const pool = job.status?.placement?.pool ?? '';
    const provider = o.pools.get(pool)?.spec.provider?.address;
    const hubJob = hubJobId({ namespace: job.metadata?.namespace ?? '', name: job.metadata?.name ?? '' });
    const latest = req.records.some((x) => x.receipt?.scheme === 'ed25519')
      ? await o.hub
          .get<JobObject>(resourceOf('InferenceJob'), job.metadata?.name ?? '', job.metadata?.namespace ?? '')
          .catch(() => job)
      : job;
    const attested = (latest.status?.attestations ?? []).filter((a) => a.verified);
    // signatures are checked here first: a record whose signature fails proves nothing against the provider
    const verifier = new Verifier({
      domain: o.receiptDomain,
      share: r.share,
      seed: r.seed,
      infer,
      verifySignature: () => {},
    });
    const out: ReplayResponse = { checked: 0, replayed: 0, evidence: [], refused: [] };
    const key = `${job.metadata?.namespace}/${job.metadata?.name}`;
    for (const [i, rec] of req.records.entries()) {
      let signed: SignedReceipt;
      try {
        if (!rec.receipt) throw new ReceiptError('receipt', 'missing');
        signed = this.#signed(rec.receipt, { domain: o.receiptDomain, provider, hubJob, attested });
      } catch (e) {
        const what = e instanceof ReceiptError ? `${e.field}: ${e.message}` : (e as Error).message;
        out.refused?.push(`[${i}] ${what}`.slice(0, 300));
        continue;
      }
      const c = await verifier.check({
        receipt: signed,
        input: rec.input,
        ...(spec.model?.hash ? { modelHash: modelHashOf(spec.model.hash) } : {}),
      });
      if (c.status === 'skipped') {
        out.refused?.push(`[${i}] ${c.reason}`.slice(0, 300));
        continue;
      }
      out.checked = (out.checked ?? 0) + 1;
      if (c.sampled) out.replayed = (out.replayed ?? 0) + 1;
      if (c.status === 'ok') continue;
      const ev = c.evidence;
      let line = `${signed.receipt.requestId} ${ev.kind} evidence ${ev.evidenceHash}`;
      let fresh = false;
      await this.#writePool(pool, (st) => {
        fresh = !(st.incidents ?? []).some((x) => x.message?.includes(ev.evidenceHash));
        if (!fresh) return st;
        return {
          ...st,
          incidents: [
            ...(st.incidents ?? []),
            {
              time: new Date(o.clock.now()).toISOString(),
              kind: IncidentKind.ReplayMismatch,
              job: key,
              message: `${ev.kind}: request ${signed.receipt.requestId}, evidence ${ev.evidenceHash}`,
            },
          ].slice(-64),
        };
      }).catch((err: unknown) => o.log.warn({ err }, 'Could not record the incident on the pool'));
      o.log.warn({ job: key, pool, kind: ev.kind, evidence: ev.evidenceHash }, 'Replay found evidence');
      if (fresh && r.slash) {
        try {
          const sub = await r.slash(ev, spec.payment?.requester ? [spec.payment.requester] : []);
          line += `, slashed in ${sub.txHash}`;
        } catch (e) {
          o.log.error({ err: e, evidence: ev.evidenceHash }, 'Slash failed');
          line += `, slash failed: ${(e as Error).message}`.slice(0, 200);
        }
      } else if (!fresh) line += ' (recorded before)';
      out.evidence?.push(line);
    }
    return out;
  }

  /**
   * Applies this intake's fields (all of them each time, as server-side apply drops what a manager leaves out)
   * from a fresh read, with its resourceVersion as a precondition; retried on conflict.
   */
  async #write(cached: JobObject, change: (s: Owned) => Owned | undefined): Promise<void> {
    const kind = cached.kind === 'TrainingJob' ? 'TrainingJob' : 'InferenceJob';
    const r = await this.#o.hub.updateStatus<JobObject>(
      resourceOf(kind),
      {
        name: cached.metadata?.name ?? '',
        namespace: cached.metadata?.namespace ?? '',
        uid: cached.metadata?.uid ?? '',
      },
      (job) => {
        const now: Owned = {
          attestations: (job.status?.attestations ?? []).filter((a) =>
            instancePrefixes(job).some((p) => a.instance.startsWith(p)),
          ),
          ...receiptCounters(job.status?.usage),
        };
        const want = change(now);
        if (!want) return undefined;
        const expected = podsPerPart(job) * partsOf(job);
        const verified = (want.attestations ?? []).filter((a) => a.verified).length;
        const failed = (want.attestations ?? []).find((a) => a.verified === false);
        const conditions = setCondition(
          ((job.status?.conditions ?? []) as Condition[]).filter((c) => c.type === JobConditionType.Attested),
          verified >= expected
            ? {
                type: JobConditionType.Attested,
                status: 'True',
                reason: JobReason.AttestationVerified,
                message: `${verified} of ${expected} instances attested`,
              }
            : {
                type: JobConditionType.Attested,
                status: 'False',
                reason: failed ? JobReason.AttestationFailed : 'AttestationPending',
                message: failed
                  ? `${failed.instance}: ${failed.message ?? 'refused'}`.slice(0, 1000)
                  : `${verified} of ${expected} instances attested`,
              },
          this.#o.clock.now(),
        );
        const usage = receiptCounters(want);
        return {
          attestations: want.attestations ?? [],
          ...(Object.keys(usage).length > 0 ? { usage } : {}),
          conditions,
        };
      },
      { fieldManager: reportsManager },
    );
    if (r === 'gone') throw new ReportError(grpc.status.NOT_FOUND, 'the job is gone');
    if (r === 'conflicted') throw new ReportError(grpc.status.ABORTED, 'the job kept changing; report again');
  }

  /** A provider's signed telemetry for its pool: verified, kept for the window, and the reputation recomputed. */
  async telemetry(req: TelemetryRequest__Output): Promise<TelemetryResponse> {
    const o = this.#o;
    const pool = o.pools.get(req.pool);
    if (!pool) throw new ReportError(grpc.status.NOT_FOUND, `ProviderPool ${req.pool} not found`);
    if (!o.telemetryDomain) {
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'the hub settles nowhere (--settlement-deployment)');
    }
    const provider = pool.spec.provider?.address ?? '';
    let score: string;
    let r: TelemetryReport | undefined;
    try {
      const report = verifyTelemetry(
        o.telemetryDomain,
        { report: JSON.parse(req.reportJson) as TelemetryReport, signature: req.signature },
        { provider, pool: req.pool },
      );
      r = report;
      if (report.time > o.clock.now() + 5 * 60_000) throw new TelemetryError('time', 'in the future');
      if (o.isRegistered && !(await o.isRegistered(provider))) {
        throw new TelemetryError('provider', `${provider} is not registered in the provider registry`);
      }
      // the sequence is checked on the pool as written (a fresh read, under its resourceVersion), not the cache:
      // a report sent twice in a row is counted once
      score = await this.#writePool(req.pool, (st) => {
        const last = st.telemetry?.lastSequence;
        if (last !== undefined && report.sequence <= last) {
          throw new TelemetryError('sequence', `${report.sequence} is not after the last accepted ${last}`);
        }
        return {
          ...st,
          telemetry: {
            ...st.telemetry,
            lastSequence: report.sequence,
            lastReportTime: new Date(o.clock.now()).toISOString(),
            reports: [
              ...(st.telemetry?.reports ?? []),
              { sequence: report.sequence, time: new Date(report.time).toISOString(), tiers: report.tiers },
            ],
          },
        };
      });
    } catch (e) {
      if (!(e instanceof TelemetryError) && !(e instanceof SyntaxError)) throw e;
      const message = e instanceof TelemetryError ? e.message : `report_json: not JSON (${e.message})`;
      this.#metrics?.telemetry.inc({ result: 'refused' });
      await this.#writePool(req.pool, (st) => ({
        ...st,
        telemetry: { ...st.telemetry, refused: (st.telemetry?.refused ?? 0) + 1 },
      })).catch(() => {});
      throw new ReportError(grpc.status.PERMISSION_DENIED, message);
    }
    this.#metrics?.telemetry.inc({ result: 'accepted' });
    return { accepted: true, reputation: score, message: `sequence ${r.sequence} accepted` };
  }

  /**
   * Applies the intake's ProviderPool status fields (telemetry, incidents, and what they give: latency per
   * tier and the reputation score), all of them each time, from a fresh read; the window is trimmed here.
   */
  async #writePool(name: string, change: (s: PoolOwned) => PoolOwned): Promise<string> {
    const o = this.#o;
    const params = o.reputation ?? DEFAULT_REPUTATION;
    let score = '';
    const r = await o.hub.updateStatus<KubeObject & { status?: ProviderPoolStatus }>(
      providerPools,
      { name },
      (pool) => {
        const now = o.clock.now();
        const since = now - params.windowMs;
        const st = pool.status ?? {};
        const want = change({
          ...(st.telemetry ? { telemetry: st.telemetry } : {}),
          ...(st.incidents ? { incidents: st.incidents } : {}),
        });
        const reports = (want.telemetry?.reports ?? []).filter((x) => Date.parse(x.time) > since).slice(-120);
        const incidents = (want.incidents ?? []).filter((x) => Date.parse(x.time) > since).slice(-64);
        const rep = reputation(
          reports.map((x) => ({
            time: Date.parse(x.time),
            tiers: (x.tiers ?? []).map((t) => ({ requests: 0, slaViolations: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, ...t })),
          })),
          {
            failedAttestations: incidents.filter((x) => x.kind === IncidentKind.AttestationFailed).length,
            replayMismatches: incidents.filter((x) => x.kind === IncidentKind.ReplayMismatch).length,
          },
          now,
          params,
        );
        const tierName = [Tier.BestEffort, Tier.Reserved, Tier.Premium];
        score = rep.score;
        return {
          telemetry: { ...want.telemetry, reports },
          incidents,
          latency: rep.latency.map((l) => ({ ...l, tier: tierName[l.tier] ?? Tier.BestEffort })),
          reputation: rep.score,
        };
      },
      { fieldManager: reportsManager },
    );
    if (r === 'gone') throw new ReportError(grpc.status.NOT_FOUND, `ProviderPool ${name} not found`);
    if (r === 'conflicted') throw new ReportError(grpc.status.ABORTED, 'the pool kept changing; report again');
    return score;
  }

  /**
   * A Distributed TrainingJob's progress, and optionally a checkpoint, signed with the Ed25519 key one of its
   * verified instances attested: the step goes to status.step and progress, the checkpoint is appended to the
   * lineage in status.checkpoints (refused, naming why, when its signature, parent or step does not follow).
   */
  async progress(req: ProgressRequest__Output): Promise<ProgressResponse> {
    const o = this.#o;
    const job = this.#job(req.job);
    if (job.kind !== 'TrainingJob' || (job.spec as { mode?: string }).mode !== 'Distributed') {
      throw new ReportError(grpc.status.FAILED_PRECONDITION, 'progress is for Distributed TrainingJobs');
    }
    this.#instance(job, req.instance);
    const key = `${job.metadata?.namespace}/${job.metadata?.name}`;
    // the signer must be a key an instance of this attempt attested (its JWK's hash is the gatewayKey)
    const jwk = { crv: 'Ed25519', kty: 'OKP', x: req.signer };
    const find = (j: JobObject) =>
      (j.status?.attestations ?? []).find(
        (a) => a.verified && a.instance === req.instance && a.gatewayKey === gatewayKeyHash(jwk),
      );
    // an attestation just recorded may not be in our cache yet: look at the job itself before refusing
    const attested =
      find(job) ??
      find(
        await o.hub
          .get<JobObject>(resourceOf('TrainingJob'), job.metadata?.name ?? '', job.metadata?.namespace ?? '')
          .catch(() => job),
      );
    if (!attested) {
      throw new ReportError(grpc.status.PERMISSION_DENIED, `signer: not a key ${req.instance} attested for this job`);
    }
    const payload = `nvdax-progress/v1\n${key}\n${req.instance}\n${req.step}\n${req.totalSteps}\n${req.timeUnixMs}`;
    if (!verifySignature(Buffer.from(req.signer, 'base64url'), payload, Buffer.from(req.signature, 'base64url'))) {
      throw new ReportError(grpc.status.PERMISSION_DENIED, 'signature: does not verify under signer');
    }
    if (req.totalSteps <= 0 || req.step < 0 || req.step > req.totalSteps) {
      throw new ReportError(grpc.status.INVALID_ARGUMENT, 'step: must be within 0..total_steps, total_steps > 0');
    }
    let record: CheckpointRecord | undefined;
    if (req.checkpointJson) {
      try {
        record = JSON.parse(req.checkpointJson) as CheckpointRecord;
      } catch (e) {
        throw new ReportError(grpc.status.INVALID_ARGUMENT, `checkpoint_json: not JSON (${(e as Error).message})`);
      }
      if (record.signer !== req.signer) {
        throw new ReportError(grpc.status.PERMISSION_DENIED, 'checkpoint.signer: not the reporting key');
      }
    }
    let head = '';
    await this.#writeTraining(job, (st) => {
      const next: TrainingOwned = { ...st, step: Math.max(st.step ?? 0, Number(req.step)) };
      next.progress = `${Math.floor((100 * (next.step ?? 0)) / Number(req.totalSteps))}%`;
      if (record) {
        const lineage = new Lineage(key, 32, st.checkpoints);
        try {
          lineage.append({
            ...record,
            evidenceHash: attested.evidenceHash ?? '',
            time: new Date(o.clock.now()).toISOString(),
          });
        } catch (e) {
          if (e instanceof LineageError)
            throw new ReportError(grpc.status.FAILED_PRECONDITION, `${e.reason}: ${e.message}`);
          throw e;
        }
        next.checkpoints = lineage.snapshot();
        head = lineage.head;
        next.lastCheckpoint = {
          uri: record.uri,
          step: record.step,
          time: new Date(o.clock.now()).toISOString().replace(/\.\d+Z$/, 'Z'),
          sha256: record.sha256,
          parent: record.parent,
          signer: record.signer,
        };
      }
      return next;
    });
    return { accepted: true, head, message: `step ${req.step} of ${req.totalSteps}` };
  }

  /** Applies this intake's TrainingJob fields (step, progress, checkpoints, lastCheckpoint), all of them, fresh. */
  async #writeTraining(cached: JobObject, change: (s: TrainingOwned) => TrainingOwned): Promise<void> {
    const r = await this.#o.hub.updateStatus<JobObject>(
      resourceOf('TrainingJob'),
      {
        name: cached.metadata?.name ?? '',
        namespace: cached.metadata?.namespace ?? '',
        uid: cached.metadata?.uid ?? '',
      },
      (job) => {
        const st = (job.status ?? {}) as TrainingOwned;
        return change({
          ...(st.step !== undefined ? { step: st.step } : {}),
          ...(st.progress ? { progress: st.progress } : {}),
          ...(st.checkpoints ? { checkpoints: st.checkpoints } : {}),
          ...(st.lastCheckpoint ? { lastCheckpoint: st.lastCheckpoint } : {}),
        });
      },
      { fieldManager: progressManager },
    );
    if (r === 'gone') throw new ReportError(grpc.status.NOT_FOUND, 'the job is gone');
    if (r === 'conflicted') throw new ReportError(grpc.status.ABORTED, 'the job kept changing; report again');
  }

  /** Serves the Reports service on `address` (host:port; port 0 picks one) until `signal` aborts. */
  async serve(address: string, signal: AbortSignal, onPort?: (port: number) => void): Promise<void> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
      'grpc.max_send_message_length': 1024 * 1024,
    });
    const unary =
      <Req, Res>(f: (req: Req) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
      (call, cb) => {
        Promise.resolve()
          .then(() => f(call.request))
          .then(
            (res) => cb(null, res),
            (e: unknown) => {
              if (e instanceof ReportError) return cb({ code: e.code, details: e.message });
              this.#o.log.error({ err: e }, 'Report failed');
              cb({ code: grpc.status.INTERNAL, details: e instanceof Error ? e.message : String(e) });
            },
          );
      };
    server.addService(reportsProto().nvdax.hub.v1.Reports.service, {
      Challenge: unary((r: ChallengeRequest__Output) => this.challenge(r)),
      Attest: unary((r: AttestRequest__Output) => this.attest(r)),
      Receipts: unary((r: ReceiptsRequest__Output) => this.receipts(r)),
      Telemetry: unary((r: TelemetryRequest__Output) => this.telemetry(r)),
      Progress: unary((r: ProgressRequest__Output) => this.progress(r)),
      Replay: unary((r: ReplayRequest__Output) => this.replay(r)),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.#o.log.info({ port }, 'Serving reports');
    onPort?.(port);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
}

interface TrainingOwned {
  step?: number;
  progress?: string;
  checkpoints?: LineageSnapshot;
  lastCheckpoint?: { uri?: string; step?: number; time?: string; sha256?: string; parent?: string; signer?: string };
}

interface PoolOwned {
  telemetry?: PoolTelemetry;
  incidents?: PoolIncident[];
}

/** The usage counters this controller owns: what verified receipts add up to. */
const RECEIPT_COUNTERS = ['requests', 'deviceTimeMs', 'inputTokens', 'outputTokens'] as const;
type ReceiptCounters = Partial<Record<(typeof RECEIPT_COUNTERS)[number], number>>;

/** The receipt counters `u` has, and no other field (the job controller owns the rest of status.usage). */
function receiptCounters(u: ReceiptCounters | undefined): ReceiptCounters {
  const out: ReceiptCounters = {};
  for (const k of RECEIPT_COUNTERS) if (u?.[k] !== undefined) out[k] = u[k];
  return out;
}

interface Owned extends ReceiptCounters {
  attestations?: StatusAttestation[];
}

function upsert(list: StatusAttestation[] | undefined, entry: StatusAttestation): StatusAttestation[] {
  const prev = (list ?? []).find((a) => a.instance === entry.instance);
  const previousKeys = earlierKeys(prev, entry);
  const kept = {
    ...entry,
    ...(prev?.receiptsThrough ? { receiptsThrough: prev.receiptsThrough } : {}),
    ...(previousKeys.length > 0 ? { previousKeys } : {}),
  };
  return [...(list ?? []).filter((a) => a.instance !== entry.instance), kept].slice(-256);
}

/** Earlier keys an instance keeps: what it held before (the last verified key first), not the new one, at most 4. */
export function earlierKeys(prev: StatusAttestation | undefined, entry: StatusAttestation): AttestedKey[] {
  if (!prev) return [];
  const before: AttestedKey[] = [
    ...(prev.verified && prev.gatewayKey
      ? [{ gatewayKey: prev.gatewayKey, ...(prev.receiptKey ? { receiptKey: prev.receiptKey } : {}) }]
      : []),
    ...(prev.previousKeys ?? []),
  ];
  const seen = new Set([entry.gatewayKey?.toLowerCase()]);
  return before
    .filter((k) => {
      const id = k.gatewayKey.toLowerCase();
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    })
    .slice(0, MAX_PREVIOUS_KEYS);
}

/**
 * The key `gatewayKey` names on instance `a`: its current one, or one it attested before a restart (the receipts a
 * restarted gateway reloaded from its journal). Undefined when it is neither.
 */
export function keyOf(a: StatusAttestation, gatewayKey: string): AttestedKey | undefined {
  const k = gatewayKey.toLowerCase();
  if (a.gatewayKey?.toLowerCase() === k) {
    return { gatewayKey: a.gatewayKey, ...(a.receiptKey ? { receiptKey: a.receiptKey } : {}) };
  }
  return a.previousKeys?.find((p) => p.gatewayKey.toLowerCase() === k);
}
