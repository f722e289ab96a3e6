// Remote-attestation checks shared by the operator, the gateway, the verifier, the SDK and federated training.
//
// A confidential instance proves itself with an evidence bundle: Trustee's EAR token (its verdict on the CPU
// TEE and on each GPU) and, when it has GPUs, NVIDIA's NRAS answer (one EAT per GPU under an overall token).
// `verifyEvidence` checks both against the caller's expectation (the nonce it sent, the instance's TEE public
// key, the init-data digest it placed into the pod) and a policy (trusted keys, allow-lists). Every refusal is
// an `AttestationError` whose `claim` names the claim that failed. Token signatures, expiry, issuer and
// audience are checked by `jose`.
import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { createLocalJWKSet, decodeJwt, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import { parse as parseToml } from 'smol-toml';
import type { InitDataAlgorithm, TeeType } from '../api/constants.ts';
import type { AttestationResult as StatusAttestation } from '../api/types.gen.ts';
import { hostDataOf, hostDataSize } from '../materialize/initdata.ts';
import { canonical } from '../runtime/canonical.ts';

// ------------------------------------------------------------------------------------------------ shapes

/** Trustee's EAR profile (`eat_profile`), the default expected. */
export const TRUSTEE_EAR_PROFILE = 'tag:github.com,2024:confidential-containers/Trustee';
/** NRAS's issuer (`iss`), the default expected. */
export const NRAS_ISSUER = 'https://nras.attestation.nvidia.com';

/** EAR appraisal status (`ear.status`). Only `affirming` passes. */
export type EarStatus = 'affirming' | 'warning' | 'contraindicated' | 'none';

/** A CPU TEE type as the evidence names it; `sample` is Trustee's no-hardware development type. */
export type EvidenceTeeType = TeeType | 'sample';

/**
 * The TEE public key the instance bound into its evidence (Trustee's `tee-pubkey`): a public JWK as the
 * attestation agent sends it, or any JSON value the two sides agree on (a string, say).
 */
export type TeePubKey = Record<string, unknown> | string;

/** NRAS answer: `[["JWT", <overall token>], {"GPU-0": <per-GPU token>, …}]`. */
export type NrasAnswer = [['JWT', string], Record<string, string>];

/** What an instance hands a verifier. */
export interface EvidenceBundle {
  /** Trustee's EAR: a JWT signed ES256 (P-256). */
  ear: string;
  /** NVIDIA's NRAS answer; present when the instance has GPUs. */
  nras?: NrasAnswer;
  /**
   * Which instance it claims to be (pod, replica, participant). A label only: it is not signed, so it is
   * reported back, never trusted; the binding is the nonce and TEE key in the hardware report data.
   */
  instance?: string;
}

/** What the verifier asked for and knows independently of the instance. */
export interface ExpectedEvidence {
  /** The nonce the verifier sent (Trustee's challenge nonce, a string). */
  nonce: string;
  /** The TEE public key the instance presented (its encryption key for this session). */
  teePubKey: TeePubKey;
  /**
   * Init-data digest the operator placed into the pod: hex, full length (`InitData.digest`), or already cut or
   * padded to the TEE field. Required unless `initData` is given or the policy sets `initDataOptional`.
   */
  initDataDigest?: string;
  /** The init-data TOML (or the pod annotation, base64 of gzip), digested with the algorithm it names. */
  initData?: string;
  /** The TEE type the instance must run in; otherwise any the policy allows. */
  teeType?: EvidenceTeeType;
  /** The number of GPUs the instance must prove; otherwise as many as the evidence shows (the policy may require one). */
  gpus?: number;
}

/** The allow-lists a GPU's NRAS claims are checked against. */
export interface GpuPolicy {
  /** Allowed `x-nvidia-gpu-driver-version` values (exact strings). */
  driverVersions: readonly string[];
  /** Allowed `x-nvidia-gpu-vbios-version` values (exact strings, compared case-insensitively). */
  vbiosVersions: readonly string[];
  /** Allowed `hwmodel` values; when absent any non-empty model passes. */
  hwmodels?: readonly string[];
}

/** What a verifier trusts and allows. */
export interface AttestationPolicy {
  /** Keys Trustee signs EARs with (ES256, P-256), as a JWKS. */
  earJwks: JSONWebKeySet;
  /** When set, the EAR's `iss` must equal it (Trustee's EAR carries no `iss` unless configured to). */
  earIssuer?: string;
  /** When set, the EAR's `aud` must contain it. */
  earAudience?: string;
  /** Expected `eat_profile`; default {@link TRUSTEE_EAR_PROFILE}. */
  earProfile?: string;
  /** NRAS's keys (ES384, P-384), as a JWKS. Needed whenever the evidence has GPUs. */
  nrasJwks?: JSONWebKeySet;
  /** Expected NRAS `iss`; default {@link NRAS_ISSUER}. */
  nrasIssuer?: string;
  /** GPU allow-lists. Needed whenever the evidence has GPUs. */
  gpu?: GpuPolicy;
  /** CPU TEE types allowed; default snp and tdx. `sample` is controlled by `allowDevelopment` alone. */
  teeTypes?: readonly TeeType[];
  /** Accept Trustee's `sample` (no hardware) evidence. Only for development and simulated clusters. */
  allowDevelopment?: boolean;
  /** Refuse evidence without at least one attested GPU. */
  requireGpu?: boolean;
  /** Accept an expectation without an init-data digest (the init-data check is then skipped). */
  initDataOptional?: boolean;
  /** Clock skew tolerated on `exp`/`nbf`/`iat`, seconds; default 0. */
  clockToleranceSeconds?: number;
  /** The clock; default the system clock. */
  now?: () => Date;
}

/** One attested GPU, from its NRAS token. */
export interface AttestedGpu {
  /** NRAS's key, `GPU-0`…; the EAR's submod is `gpu<index>`. */
  index: number;
  hwmodel: string;
  ueid: string;
  driverVersion: string;
  vbiosVersion: string;
}

/**
 * A verified instance. The first six fields are the job status `AttestationResult`; `statusAttestation`
 * turns a result into exactly that shape.
 */
export interface AttestationResult {
  verified: true;
  teeType: EvidenceTeeType;
  /** True when GPUs were attested (at least one, all of them passing). */
  gpuAttested: boolean;
  /** `0x` + SHA-256 (hex) of the bundle's canonical JSON: see {@link evidenceHash}. */
  evidenceHash: string;
  /** RFC 3339, from the policy's clock. */
  verifiedTime: string;
  message: string;
  /** The bundle's `instance` label, when it had one. */
  instance?: string;
  /** True for `sample` evidence (accepted only with `allowDevelopment`). */
  development: boolean;
  /** Whether an init-data digest was compared (false only with `initDataOptional` and no expectation). */
  initDataChecked: boolean;
  gpus: AttestedGpu[];
  /** The earliest expiry of the tokens checked: re-attest before then. */
  expiresAt: Date;
}

// ------------------------------------------------------------------------------------------------ errors

/** A refused attestation. `claim` names the claim (or token part) that failed, e.g. `exp`, `measres`. */
export class AttestationError extends Error {
  override name = 'AttestationError';
  /** The claim that failed: a JWT claim (`exp`, `iss`), an EAR field (`ear.status`, `report_data`), an NRAS one. */
  readonly claim: string;
  /** Where: `ear`, `ear/cpu0`, `ear/gpu1`, `nras`, `nras/GPU-0`, `bundle`, `expected`, `policy`. */
  readonly where: string;
  constructor(claim: string, where: string, message: string, options?: { cause?: unknown }) {
    super(`${where}: ${claim}: ${message}`, options);
    this.claim = claim;
    this.where = where;
  }
}

export function isAttestationError(e: unknown): e is AttestationError {
  return e instanceof AttestationError;
}

// ------------------------------------------------------------------------------------------------ helpers

/**
 * The hash a bundle is known by (the status `evidenceHash`): `0x` + SHA-256 hex of its canonical JSON
 * (object keys sorted, no whitespace; see operator/runtime/canonical.ts).
 */
export function evidenceHash(bundle: EvidenceBundle): string {
  return `0x${createHash('sha256').update(canonical(bundle), 'utf8').digest('hex')}`;
}

/** A fresh verifier nonce: 32 random bytes, base64url. Never reuse one: a nonce is what makes evidence fresh. */
export function newNonce(): string {
  return randomBytes(32).toString('base64url');
}

/** Trustee's runtime data: sorted-key JSON of `{"nonce": …, "tee-pubkey": …}`. */
export function runtimeData(nonce: string, teePubKey: TeePubKey): string {
  return canonical({ nonce, 'tee-pubkey': teePubKey });
}

/** The 48 bytes the hardware report data must start with: SHA-384 of {@link runtimeData}. */
export function expectedReportData(nonce: string, teePubKey: TeePubKey): Buffer {
  return createHash('sha384').update(runtimeData(nonce, teePubKey), 'utf8').digest();
}

/** The GPU nonce (NRAS `eat_nonce`): the first 32 bytes of the report data, lowercase hex. */
export function gpuNonceOf(reportData: Uint8Array): string {
  return Buffer.from(reportData).subarray(0, 32).toString('hex');
}

/** The init-data TOML text from the TOML itself or the pod annotation (base64 of gzip). */
export function initDataToml(tomlOrAnnotation: string): string {
  const t = tomlOrAnnotation.trim();
  if (/^[A-Za-z0-9+/]+=*$/.test(t) && t.startsWith('H4sI'))
    return gunzipSync(Buffer.from(t, 'base64')).toString('utf8');
  return tomlOrAnnotation;
}

/**
 * The init-data digest: the algorithm the TOML names (sha256, sha384 or sha512) over the whole decompressed
 * TOML text, lowercase hex (as `InitData.digest`).
 */
export function initDataDigestOf(tomlOrAnnotation: string): { algorithm: InitDataAlgorithm; digest: string } {
  const toml = initDataToml(tomlOrAnnotation);
  let algorithm: unknown;
  try {
    algorithm = parseToml(toml)['algorithm'];
  } catch (e) {
    throw new AttestationError('init_data', 'expected', 'the init-data is not valid TOML', { cause: e });
  }
  if (algorithm !== 'sha256' && algorithm !== 'sha384' && algorithm !== 'sha512')
    throw new AttestationError('init_data', 'expected', `init-data algorithm must be sha256, sha384 or sha512`);
  return { algorithm, digest: createHash(algorithm).update(toml, 'utf8').digest('hex') };
}

/**
 * The init-data value the evidence binds (hex): SNP HOST_DATA 32 bytes, TDX MRCONFIGID 48 bytes; `sample`
 * has no such field, and the development attester binds 48 bytes as TDX does.
 */
export function boundInitData(digest: string, tee: EvidenceTeeType): string {
  return hostDataOf(digest, tee === 'snp' ? 'snp' : 'tdx');
}

/**
 * The job status `AttestationResult` of a verified instance (status.attestations is keyed by `instance`; the
 * CRD's TeeType knows only snp and tdx, so development evidence says so in `development` instead).
 */
export function statusAttestation(r: AttestationResult, instance: string): StatusAttestation {
  return {
    instance,
    verified: true,
    ...(r.teeType === 'sample' ? {} : { teeType: r.teeType }),
    development: r.development,
    gpuAttested: r.gpuAttested,
    evidenceHash: r.evidenceHash,
    verifiedTime: r.verifiedTime,
    expiryTime: r.expiresAt.toISOString(),
    message: r.message,
  };
}

/** The job status `AttestationResult` for a refused bundle: not verified, with the error's message. */
export function refusedAttestation(
  bundle: EvidenceBundle,
  error: unknown,
  instance: string,
  now: Date = new Date(),
): StatusAttestation {
  const message = error instanceof Error ? error.message : String(error);
  return {
    instance,
    verified: false,
    gpuAttested: false,
    evidenceHash: evidenceHash(bundle),
    verifiedTime: now.toISOString(),
    message: message.slice(0, 4096),
  };
}

// ------------------------------------------------------------------------------------------------ the check

const CPU_TEES = new Set<string>(['snp', 'tdx', 'sample']);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Verifies an instance's evidence bundle; resolves to the result or throws an {@link AttestationError}.
 *
 * EAR (Trustee): signature (ES256, `policy.earJwks`), `exp` (required) and `nbf`, `iss`/`aud` when the policy
 * names them, `eat_profile`; `submods` must hold one CPU appraisal (`cpu0`, or legacy `cpu`) and `gpu0…gpuN-1`
 * for N GPUs; every submod's `ear.status` must be `affirming`. The CPU's annotated evidence must name an allowed
 * TEE (`sample` only with `allowDevelopment`), its `report_data` must start with SHA-384 of the sorted JSON
 * `{"nonce", "tee-pubkey"}` (rest zero), `runtime_data_claims` must be that same object, and `init_data` must
 * equal the expected init-data digest cut or padded to the TEE's field.
 *
 * NRAS (when GPUs): overall and per-GPU tokens signed ES384 by `policy.nrasJwks`, unexpired, issuer
 * `policy.nrasIssuer`; `x-nvidia-overall-att-result` true; the overall `submods` hold, for each GPU, the
 * SHA-256 of its token; per GPU `eat_nonce` = first 32 bytes of the report data, `measres` success, report
 * signature verified, arch check true, `secboot` true, `dbgstat` disabled, driver and VBIOS on the allow-lists,
 * `hwmodel` allowed, `ueid` present and distinct.
 */
export async function verifyEvidence(
  bundle: EvidenceBundle,
  expected: ExpectedEvidence,
  policy: AttestationPolicy,
): Promise<AttestationResult> {
  const now = policy.now?.() ?? new Date();
  if (!isObj(bundle) || typeof bundle.ear !== 'string' || bundle.ear === '')
    throw new AttestationError('ear', 'bundle', 'the bundle has no EAR token');
  if (typeof expected.nonce !== 'string' || expected.nonce === '')
    throw new AttestationError('nonce', 'expected', 'no expected nonce given');

  // 1. The EAR: signature, time, issuer, profile.
  const ear = await verifyJwt(bundle.ear, 'ear', policy.earJwks, {
    algorithms: ['ES256'],
    ...(policy.earIssuer === undefined ? {} : { issuer: policy.earIssuer }),
    ...(policy.earAudience === undefined ? {} : { audience: policy.earAudience }),
    requiredClaims: ['exp', 'iat'],
    currentDate: now,
    clockTolerance: policy.clockToleranceSeconds ?? 0,
  });
  const profile = policy.earProfile ?? TRUSTEE_EAR_PROFILE;
  if (ear['eat_profile'] !== profile)
    throw new AttestationError('eat_profile', 'ear', `expected ${profile}, got ${JSON.stringify(ear['eat_profile'])}`);
  const submods = ear['submods'];
  if (!isObj(submods)) throw new AttestationError('submods', 'ear', 'the EAR has no submods');

  // 2. Every appraisal affirming; exactly one CPU; GPUs numbered from 0.
  for (const [name, appraisal] of Object.entries(submods)) {
    const status = isObj(appraisal) ? appraisal['ear.status'] : undefined;
    if (status !== 'affirming')
      throw new AttestationError('ear.status', `ear/${name}`, `status is ${JSON.stringify(status)}, not affirming`);
  }
  const cpuKeys = Object.keys(submods).filter((k) => k === 'cpu' || /^cpu\d+$/.test(k));
  if (cpuKeys.length !== 1)
    throw new AttestationError('submods', 'ear', `expected one CPU appraisal (cpu0 or cpu), found ${cpuKeys.length}`);
  const cpuKey = cpuKeys[0] as string;
  const gpuKeys = Object.keys(submods).filter((k) => /^gpu\d+$/.test(k));
  const gpuCount = gpuKeys.length;
  for (let i = 0; i < gpuCount; i++)
    if (!(`gpu${i}` in submods))
      throw new AttestationError(
        'submods',
        'ear',
        `GPU appraisals must be gpu0…gpu${gpuCount - 1}; gpu${i} is missing`,
      );

  // 3. The CPU evidence: TEE type, report data binding, runtime data, init-data.
  const cpu = annotated(submods[cpuKey], `ear/${cpuKey}`);
  const teeType = cpuTeeOf(cpu, `ear/${cpuKey}`);
  checkTeeAllowed(teeType, expected, policy, `ear/${cpuKey}`);
  const reportData = checkReportData(cpu, teeType, expected, `ear/${cpuKey}`);
  const initDataChecked = checkInitData(cpu, teeType, expected, policy, `ear/${cpuKey}`);

  // 4. GPUs: the count, then NRAS.
  if (expected.gpus !== undefined && gpuCount !== expected.gpus)
    throw new AttestationError('submods', 'ear', `expected ${expected.gpus} GPU appraisals, found ${gpuCount}`);
  if (policy.requireGpu && gpuCount === 0)
    throw new AttestationError('submods', 'ear', 'the policy requires GPU attestation and the EAR has no GPU');
  for (const k of gpuKeys) checkGpuAppraisal(annotated(submods[k], `ear/${k}`), policy, `ear/${k}`);
  let expiresAt = new Date((ear['exp'] as number) * 1000);
  let gpus: AttestedGpu[] = [];
  if (gpuCount > 0) {
    const nras = await verifyNras(bundle.nras, gpuCount, gpuNonceOf(reportData), policy, now);
    gpus = nras.gpus;
    if (nras.expiresAt < expiresAt) expiresAt = nras.expiresAt;
  } else if (bundle.nras !== undefined) {
    throw new AttestationError('submods', 'ear', 'the bundle has an NRAS answer but the EAR appraised no GPU');
  }

  const development = teeType === 'sample';
  return {
    verified: true,
    teeType,
    gpuAttested: gpus.length > 0,
    evidenceHash: evidenceHash(bundle),
    verifiedTime: now.toISOString(),
    message:
      `${teeType} TEE verified` +
      (gpus.length ? ` with ${gpus.length} GPU${gpus.length > 1 ? 's' : ''}` : '') +
      (development ? ' (development evidence, no hardware)' : ''),
    ...(bundle.instance === undefined ? {} : { instance: bundle.instance }),
    development,
    initDataChecked,
    gpus,
    expiresAt,
  };
}

async function verifyJwt(
  token: string,
  where: string,
  jwks: JSONWebKeySet | undefined,
  options: Parameters<typeof jwtVerify>[2],
): Promise<JWTPayload> {
  if (!jwks) throw new AttestationError('jwks', 'policy', `no keys configured to verify the ${where} token`);
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), options);
    return payload;
  } catch (e) {
    throw fromJose(e, where);
  }
}

/** Maps a jose failure to the claim it concerns. */
function fromJose(e: unknown, where: string): AttestationError {
  if (e instanceof errors.JWTExpired)
    return new AttestationError(e.claim, where, 'the token has expired', { cause: e });
  if (e instanceof errors.JWTClaimValidationFailed)
    return new AttestationError(e.claim, where, e.message, { cause: e });
  if (e instanceof errors.JWSSignatureVerificationFailed)
    return new AttestationError('signature', where, 'the signature does not verify with the trusted key', {
      cause: e,
    });
  if (e instanceof errors.JWKSNoMatchingKey)
    return new AttestationError('kid', where, 'no trusted key matches the token header', { cause: e });
  if (e instanceof errors.JOSEAlgNotAllowed)
    return new AttestationError('alg', where, `signing algorithm not allowed: ${e.message}`, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new AttestationError('token', where, `not a valid signed JWT: ${msg}`, { cause: e });
}

function annotated(appraisal: unknown, where: string): Json {
  const ev = isObj(appraisal) ? appraisal['ear.veraison.annotated-evidence'] : undefined;
  if (!isObj(ev)) throw new AttestationError('ear.veraison.annotated-evidence', where, 'no annotated evidence');
  return ev;
}

function cpuTeeOf(ev: Json, where: string): EvidenceTeeType {
  const tees = Object.keys(ev).filter((k) => CPU_TEES.has(k));
  if (tees.length !== 1)
    throw new AttestationError(
      'tee',
      where,
      `the evidence must name one CPU TEE (snp, tdx or sample), found ${tees.length}`,
    );
  return tees[0] as EvidenceTeeType;
}

function checkTeeAllowed(tee: EvidenceTeeType, expected: ExpectedEvidence, policy: AttestationPolicy, where: string) {
  if (tee === 'sample') {
    if (!policy.allowDevelopment)
      throw new AttestationError(
        'tee',
        where,
        'development (sample) evidence has no hardware behind it; refused unless the policy allows development',
      );
  } else if (!(policy.teeTypes ?? ['snp', 'tdx']).includes(tee)) {
    throw new AttestationError('tee', where, `TEE type ${tee} is not allowed by the policy`);
  }
  if (expected.teeType !== undefined && expected.teeType !== tee)
    throw new AttestationError('tee', where, `expected TEE type ${expected.teeType}, the evidence is ${tee}`);
}

/** Decodes `report_data`: hex for snp/tdx (as Trustee's verifiers write it), base64 for sample. */
function reportDataBytes(v: unknown, tee: EvidenceTeeType, where: string): Buffer {
  if (typeof v !== 'string' || v === '') throw new AttestationError('report_data', where, 'no report_data');
  const hex = /^(?:[0-9a-fA-F]{2})+$/.test(v);
  if (tee !== 'sample' && !hex) throw new AttestationError('report_data', where, 'report_data is not hex');
  const b = tee === 'sample' && !(hex && v.length === 128) ? Buffer.from(v, 'base64') : Buffer.from(v, 'hex');
  if (b.length < 48)
    throw new AttestationError('report_data', where, `report_data has ${b.length} bytes, fewer than 48`);
  return b;
}

function checkReportData(ev: Json, tee: EvidenceTeeType, expected: ExpectedEvidence, where: string): Buffer {
  const got = reportDataBytes(ev['report_data'], tee, where);
  const want = expectedReportData(expected.nonce, expected.teePubKey);
  if (!got.subarray(0, 48).equals(want) || got.subarray(48).some((x) => x !== 0))
    throw new AttestationError(
      'report_data',
      where,
      'report_data is not SHA-384 of {nonce, tee-pubkey}: the evidence was made for another nonce or key (replayed or substituted)',
    );
  const rt = ev['runtime_data_claims'];
  if (!isObj(rt) || canonical(rt) !== runtimeData(expected.nonce, expected.teePubKey))
    throw new AttestationError(
      'runtime_data_claims',
      where,
      'runtime_data_claims are not {nonce, tee-pubkey} as expected',
    );
  return got;
}

function checkInitData(
  ev: Json,
  tee: EvidenceTeeType,
  expected: ExpectedEvidence,
  policy: AttestationPolicy,
  where: string,
): boolean {
  let digest = expected.initDataDigest;
  if (expected.initData !== undefined) {
    const of = initDataDigestOf(expected.initData).digest;
    if (digest !== undefined && digest.toLowerCase() !== of)
      throw new AttestationError('init_data', 'expected', 'initDataDigest and initData disagree');
    digest = of;
  }
  if (digest === undefined) {
    if (policy.initDataOptional) return false;
    throw new AttestationError('init_data', 'expected', 'no expected init-data digest given');
  }
  let want: string;
  try {
    want = boundInitData(digest, tee);
  } catch (e) {
    throw new AttestationError('init_data', 'expected', 'the expected init-data digest is not hex', { cause: e });
  }
  const got = ev['init_data'];
  if (typeof got !== 'string' || got.toLowerCase() !== want)
    throw new AttestationError(
      'init_data',
      where,
      `init_data ${JSON.stringify(got)} is not the expected init-data digest ${want} ` +
        `(${tee === 'snp' ? 'HOST_DATA' : 'MRCONFIGID'}, ${tee === 'snp' ? hostDataSize.snp : hostDataSize.tdx} bytes): wrong measurement`,
    );
  return true;
}

/** A GPU appraisal names its evidence `nvidia` (hardware) or `sampledevice` (development, policy permitting). */
function checkGpuAppraisal(ev: Json, policy: AttestationPolicy, where: string) {
  if (isObj(ev['nvidia'])) return;
  if (isObj(ev['sampledevice'])) {
    if (policy.allowDevelopment) return;
    throw new AttestationError(
      'tee',
      where,
      'development (sampledevice) GPU evidence refused unless the policy allows development',
    );
  }
  throw new AttestationError('tee', where, 'the GPU appraisal has no nvidia evidence');
}

async function verifyNras(
  answer: NrasAnswer | undefined,
  gpuCount: number,
  nonce: string,
  policy: AttestationPolicy,
  now: Date,
): Promise<{ gpus: AttestedGpu[]; expiresAt: Date }> {
  if (!Array.isArray(answer) || answer.length !== 2)
    throw new AttestationError('nras', 'bundle', 'the EAR appraised GPUs but the bundle has no NRAS answer');
  const [head, perGpu] = answer;
  if (!Array.isArray(head) || head[0] !== 'JWT' || typeof head[1] !== 'string' || !isObj(perGpu))
    throw new AttestationError('nras', 'bundle', 'the NRAS answer is not [["JWT", token], {"GPU-n": token}]');
  if (!policy.gpu) throw new AttestationError('gpu', 'policy', 'no GPU allow-lists configured');
  const gpuPolicy = policy.gpu;
  const opts = {
    algorithms: ['ES384'],
    issuer: policy.nrasIssuer ?? NRAS_ISSUER,
    requiredClaims: ['exp'],
    currentDate: now,
    clockTolerance: policy.clockToleranceSeconds ?? 0,
  };
  const overall = await verifyJwt(head[1], 'nras', policy.nrasJwks, opts);
  if (overall['x-nvidia-overall-att-result'] !== true)
    throw new AttestationError('x-nvidia-overall-att-result', 'nras', 'NRAS did not pass the platform');
  if (overall['eat_nonce'] !== undefined && overall['eat_nonce'] !== nonce)
    throw new AttestationError('eat_nonce', 'nras', 'the overall token is for another nonce');
  const digests = overall['submods'];
  if (!isObj(digests)) throw new AttestationError('submods', 'nras', 'the overall token has no submods');
  const names = Object.keys(perGpu);
  if (names.length !== gpuCount || Object.keys(digests).length !== gpuCount)
    throw new AttestationError(
      'submods',
      'nras',
      `the EAR appraised ${gpuCount} GPUs; NRAS has ${names.length} tokens and ${Object.keys(digests).length} digests`,
    );
  let expiresAt = new Date((overall['exp'] as number) * 1000);
  const gpus: AttestedGpu[] = [];
  const ueids = new Set<string>();
  for (let i = 0; i < gpuCount; i++) {
    const name = `GPU-${i}`;
    const where = `nras/${name}`;
    const token = perGpu[name];
    if (typeof token !== 'string') throw new AttestationError('submods', 'nras', `no token for ${name}`);
    const d = digests[name];
    const hex = createHash('sha256').update(token, 'utf8').digest('hex');
    if (
      !Array.isArray(d) ||
      d[0] !== 'DIGEST' ||
      !Array.isArray(d[1]) ||
      d[1][0] !== 'SHA-256' ||
      typeof d[1][1] !== 'string' ||
      d[1][1].toLowerCase() !== hex
    )
      throw new AttestationError('submods', 'nras', `the overall token's digest for ${name} does not match its token`);
    const c = await verifyJwt(token, where, policy.nrasJwks, opts);
    expiresAt = new Date(Math.min(expiresAt.getTime(), (c['exp'] as number) * 1000));
    gpus.push(checkGpuClaims(c, i, nonce, gpuPolicy, ueids, where));
  }
  return { gpus, expiresAt };
}

function checkGpuClaims(
  c: JWTPayload,
  index: number,
  nonce: string,
  policy: GpuPolicy,
  ueids: Set<string>,
  where: string,
): AttestedGpu {
  const must = (claim: string, ok: boolean, msg: string) => {
    if (!ok) throw new AttestationError(claim, where, `${msg} (got ${JSON.stringify(c[claim])})`);
  };
  must(
    'eat_nonce',
    c['eat_nonce'] === nonce,
    'the GPU evidence is for another nonce (not the first 32 bytes of report_data)',
  );
  must('measres', c['measres'] === 'success', 'GPU measurements do not match the reference values');
  must(
    'x-nvidia-gpu-attestation-report-signature-verified',
    c['x-nvidia-gpu-attestation-report-signature-verified'] === true,
    'the GPU attestation report signature was not verified',
  );
  must('x-nvidia-gpu-arch-check', c['x-nvidia-gpu-arch-check'] === true, 'the GPU architecture check failed');
  must('secboot', c['secboot'] === true, 'secure boot is not on');
  must('dbgstat', c['dbgstat'] === 'disabled', 'the GPU is in debug mode');
  const driver = c['x-nvidia-gpu-driver-version'];
  must(
    'x-nvidia-gpu-driver-version',
    typeof driver === 'string' && policy.driverVersions.includes(driver),
    'the driver version is not on the allow-list',
  );
  const vbios = c['x-nvidia-gpu-vbios-version'];
  must(
    'x-nvidia-gpu-vbios-version',
    typeof vbios === 'string' && policy.vbiosVersions.some((v) => v.toLowerCase() === vbios.toLowerCase()),
    'the VBIOS version is not on the allow-list',
  );
  const hwmodel = c['hwmodel'];
  must(
    'hwmodel',
    typeof hwmodel === 'string' && hwmodel !== '' && (!policy.hwmodels || policy.hwmodels.includes(hwmodel)),
    'the GPU model is not allowed',
  );
  const ueid = c['ueid'];
  must('ueid', typeof ueid === 'string' && ueid !== '', 'no GPU identity (ueid)');
  must('ueid', !ueids.has(ueid as string), 'two GPUs claim the same identity');
  ueids.add(ueid as string);
  return {
    index,
    hwmodel: hwmodel as string,
    ueid: ueid as string,
    driverVersion: driver as string,
    vbiosVersion: vbios as string,
  };
}

/** Reads a token's claims without verifying it (diagnostics only: never trust the result). */
export function unverifiedClaims(token: string): JWTPayload {
  return decodeJwt(token);
}
