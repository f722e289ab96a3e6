// The gateway service: GetCapability, OpenSession, Infer, InferStream and ReleaseSecret over the envelope (envelope.ts),
// the limits (limits.ts), a backend (backends/) and the signing rules (signing.ts). main.ts wires it; tests
// and the benchmark start it on loopback with startGateway.
//
// Order of work in Infer, cheapest refusal first: envelope shape and size → session lookup → replay window →
// limits (RESOURCE_EXHAUSTED with a retry hint) → AES-GCM open → backend → AES-GCM seal → the answer sent →
// receipt signed and sent after it (its ~40 µs Ed25519 signature, several times that on a cold cache, is not
// between the requester and its answer; the receipt is reported to the hub whether or not it is read). Nothing
// from a request body is logged, counted or put in an error a third party can read: backend errors are
// answered with the code and a fixed text, their message sealed to the requester in trailing metadata.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { type AbstractSigner, getAddress, verifyMessage } from 'ethers';
import type { Logger } from '../../operator/runtime/log.ts';
import { silentLogger } from '../../operator/runtime/log.ts';
import { hubJobId } from '../../operator/settlement/task.ts';
import { type EvidenceBundle, type TeePubKey, evidenceHash } from '../../operator/verification/attestation.ts';
import { gatewayKeyHash, receiptDomain, signReceipt } from '../../operator/verification/receipt.ts';
import { type Backend, BackendError, type TokenCount } from './backends/backend.ts';
import {
  Direction,
  EnvelopeError,
  MAX_CHUNKS,
  PUBLIC_KEY_BYTES,
  ReplayWindow,
  SESSION_ID_BYTES,
  type SessionKeys,
  TAG_BYTES,
  deriveSessionKeys,
  newSessionId,
  open,
  rawPublicKey,
  seal,
  sealChunk,
  sealer,
  x25519Jwk,
  x25519KeyPair,
} from './envelope.ts';
import { DEFAULT_LIMITS, type LimitConfig, Limiter, TokenBucket, checkLimits } from './limits.ts';
import { type GatewayMetrics, createGatewayMetrics } from './metrics.ts';
import { protos } from './proto.ts';
import type {
  Capability,
  CapabilityRequest__Output,
  ConfidentialGatewayHandlers,
  OpenSessionRequest__Output,
  OpenSessionResponse,
  SealedChunk,
  SealedRequest__Output,
  SealedResponse,
  SecretReleased,
} from './proto.ts';
import {
  type CapabilityStatement,
  type GatewaySignedReceipt,
  type Receipt,
  capabilityDomain,
  contentHashOf,
  requestIdOf,
  streamHash,
  sessionMessage,
  signCapability,
  signReceiptEd25519,
} from './signing.ts';

/** Evidence for a nonce and the gateway's key: the attestation agent in a TEE, the development attester here. */
export type EvidenceSource = (nonce: string, teePubKey: TeePubKey) => Promise<EvidenceBundle>;

export interface GatewayOptions {
  job: { namespace: string; name: string };
  backend: Backend;
  /** The provider's key: signs capability statements (and receipts with the eip712 scheme). */
  provider: AbstractSigner;
  evidence: EvidenceSource;
  /** The TEE type the evidence comes from, as a label in the capability (default sample). */
  tee?: string;
  /** wei per request, decimal text. */
  pricePerRequest: string;
  /** The settlement deployment receipts are paid through (the EIP-712 domains). */
  chainId: bigint | number | string;
  settlement: string;
  limits?: Partial<LimitConfig>;
  /**
   * Handshakes (GetCapability and OpenSession together) per second (default 50): each costs an attestation
   * and a signature, or a signature recovery and an X25519, so they have a bucket of their own.
   */
  capabilityRps?: number;
  receiptScheme?: 'ed25519' | 'eip712';
  /** Addresses that may open sessions (default: anyone whose signature verifies). */
  requesters?: readonly string[];
  /** Addresses that may release secrets to the workload (default: none). */
  secretOwners?: readonly string[];
  /** Also write released secrets here (a memory-backed volume inside the TEE the model server mounts). */
  secretsDir?: string;
  sessionTtlMs?: number;
  capabilityTtlMs?: number;
  /** Tolerated difference between a requester's issued-at and our clock (default 5 minutes). */
  clockSkewMs?: number;
  /** Longest a request may take when its deadline is later or unset (default 30 s). */
  maxRequestMs?: number;
  /** Wall clock, Unix ms (default Date.now); monotonic ms (default performance.now). */
  now?: () => number;
  monotonic?: () => number;
  log?: Logger;
  metrics?: GatewayMetrics;
  /**
   * Called once per issued receipt, synchronously, after it is signed and before it is sent (the hub
   * reporter's enqueue: it must not throw or block).
   */
  onReceipt?: (r: GatewaySignedReceipt) => void;
}

/** What the gateway presents to the hub's Reports.Attest for a hub nonce (hub-reporter.ts). */
export interface HubAttestation {
  /** The gateway's X25519 key as the JWK bound with the nonce into the evidence (tee_pub_key_json). */
  teePubKey: { crv: 'X25519'; kty: 'OKP'; x: string };
  evidence: EvidenceBundle;
  /** The capability statement naming the Ed25519 receipt key, and the provider's EIP-712 signature over it. */
  capability: CapabilityStatement;
  capabilitySignature: string;
}

interface Session {
  id: Buffer;
  requester: string;
  keys: SessionKeys;
  window: ReplayWindow;
  expiresAt: number;
}

/** A refusal with its gRPC code; `reason` is the metric label. */
class Refused extends Error {
  readonly code: status;
  readonly reason: string;
  readonly metadata: Metadata | undefined;
  constructor(code: status, reason: string, message: string, metadata?: Metadata) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.metadata = metadata;
  }
}

const codeName = (c: status): string => status[c] ?? String(c);
const SECRET_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Trailing metadata that carries a backend error's message sealed to the requester. */
export const SEALED_ERROR_KEY = 'nvdax-sealed-error-bin';
/** Standard gRPC retry pushback (milliseconds), honoured by grpc clients with retries; also in the message. */
export const RETRY_PUSHBACK_KEY = 'grpc-retry-pushback-ms';

export class Gateway {
  readonly jobId: string;
  readonly jobName: string;
  readonly gatewayPublicKey: Buffer;
  readonly receiptPublicKey: Buffer;
  readonly gatewayKey: string;
  readonly limits: LimitConfig;
  readonly metrics: GatewayMetrics;
  /** Label children of the hot path's metrics. */
  readonly #m: {
    bytesIn: (n: number) => void;
    bytesOut: (n: number) => void;
    backendDuration: (seconds: number) => void;
  };
  readonly secrets = new Map<string, Buffer>();
  readonly #o: GatewayOptions;
  readonly #x25519 = x25519KeyPair();
  readonly #receiptKey = generateKeyPairSync('ed25519');
  readonly #sessions = new Map<string, Session>();
  readonly #perRequester = new Map<string, number>();
  readonly #limiter: Limiter;
  readonly #capabilities: TokenBucket;
  readonly #now: () => number;
  readonly #mono: () => number;
  readonly #log: Logger;
  readonly #requesters: Set<string> | undefined;
  readonly #secretOwners: Set<string>;
  #provider = '';

  constructor(o: GatewayOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#mono = o.monotonic ?? (() => performance.now());
    this.#log = o.log ?? silentLogger();
    this.metrics = o.metrics ?? createGatewayMetrics();
    this.#m = {
      bytesIn: this.metrics.adder('bytes', { direction: 'in' }),
      bytesOut: this.metrics.adder('bytes', { direction: 'out' }),
      backendDuration: this.metrics.observer('backendDuration', { backend: o.backend.kind }),
    };
    this.limits = checkLimits({ ...DEFAULT_LIMITS, ...o.limits });
    this.#limiter = new Limiter(this.limits, this.#mono());
    this.#capabilities = new TokenBucket(o.capabilityRps ?? 50, Math.max(1, 2 * (o.capabilityRps ?? 50)), this.#mono());
    this.jobId = hubJobId(o.job);
    this.jobName = `${o.job.namespace}/${o.job.name}`;
    this.gatewayPublicKey = this.#x25519.publicKey;
    this.receiptPublicKey = rawPublicKey(this.#receiptKey.publicKey);
    this.gatewayKey = gatewayKeyHash(x25519Jwk(this.gatewayPublicKey));
    this.#requesters = o.requesters ? new Set(o.requesters.map((a) => getAddress(a))) : undefined;
    this.#secretOwners = new Set((o.secretOwners ?? []).map((a) => getAddress(a)));
    if (!/^(0|[1-9][0-9]{0,77})$/.test(o.pricePerRequest)) throw new RangeError('pricePerRequest must be decimal wei');
  }

  async #providerAddress(): Promise<string> {
    this.#provider ||= getAddress(await this.#o.provider.getAddress());
    return this.#provider;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Drops expired sessions and idle requesters' limit state. */
  sweep(): void {
    const now = this.#now();
    for (const [k, s] of this.#sessions) if (s.expiresAt <= now) this.#dropSession(k, s);
    this.#limiter.sweep(this.#mono());
  }

  #dropSession(key: string, s: Session): void {
    this.#sessions.delete(key);
    const n = (this.#perRequester.get(s.requester) ?? 1) - 1;
    if (n <= 0) this.#perRequester.delete(s.requester);
    else this.#perRequester.set(s.requester, n);
    this.metrics.sessions.set(this.#sessions.size);
  }

  // -------------------------------------------------------------------------------------------- GetCapability

  async getCapability(req: CapabilityRequest__Output): Promise<Capability> {
    if (req.nonce.length !== 32)
      throw new Refused(status.INVALID_ARGUMENT, 'malformed', 'capability request: the nonce must be 32 bytes');
    const wait = this.#capabilities.wait(this.#mono());
    if (wait > 0) throw this.#exhausted('handshake-rate', wait, `over ${this.#capabilities.rate} handshakes/s`);
    this.#capabilities.take();
    const nonce = req.nonce.toString('base64');
    const bundle = await this.#o.evidence(nonce, x25519Jwk(this.gatewayPublicKey));
    const { statement, signature } = await this.#signedStatement(req.nonce.toString('hex'), bundle);
    const provider = statement.provider;
    const l = this.limits;
    return {
      job: this.jobId,
      jobName: this.jobName,
      modelName: this.#o.backend.modelName,
      protocol: this.#o.backend.protocol,
      modelHash: statement.modelHash,
      pricePerRequest: statement.pricePerRequest,
      provider,
      gatewayPublicKey: this.gatewayPublicKey,
      receiptPublicKey: this.receiptPublicKey,
      nonce: req.nonce,
      evidence: {
        tee: this.#o.tee ?? 'sample',
        earToken: bundle.ear,
        nrasAnswer: bundle.nras ? JSON.stringify(bundle.nras) : '',
        instance: bundle.instance ?? '',
      },
      issuedAtMs: statement.issuedAt,
      expiresAtMs: statement.expiresAt,
      limits: {
        maxPayloadBytes: l.maxPayloadBytes,
        requesterRps: l.requesterRps,
        requesterBurst: l.requesterBurst,
        jobRps: l.jobRps,
        jobBurst: l.jobBurst,
        maxConcurrentPerRequester: l.maxConcurrentPerRequester,
      },
      chainId: String(this.#o.chainId),
      verifyingContract: getAddress(this.#o.settlement),
      signature,
    };
  }

  /**
   * The Attest material for a nonce the hub issued (Reports.Challenge): evidence over the nonce and the
   * gateway's X25519 key, and a capability statement signed by the provider that names the receipt key. The
   * statement's `nonce` is the hub nonce's 32 bytes (base64url) as hex, or the SHA-256 of its text otherwise.
   */
  async attestationFor(nonce: string): Promise<HubAttestation> {
    const teePubKey = x25519Jwk(this.gatewayPublicKey);
    const evidence = await this.#o.evidence(nonce, teePubKey);
    const raw = Buffer.from(nonce, 'base64url');
    const nonceHex =
      raw.length === 32 && raw.toString('base64url') === nonce
        ? raw.toString('hex')
        : createHash('sha256').update(nonce, 'utf8').digest('hex');
    const { statement: capability, signature: capabilitySignature } = await this.#signedStatement(nonceHex, evidence);
    return { teePubKey, evidence, capability, capabilitySignature };
  }

  /** The capability statement over a nonce (hex, no 0x) and its evidence, signed by the provider's key. */
  async #signedStatement(
    nonceHex: string,
    evidence: EvidenceBundle,
  ): Promise<{ statement: CapabilityStatement; signature: string }> {
    const issuedAt = this.#now();
    const statement: CapabilityStatement = {
      provider: await this.#providerAddress(),
      job: this.jobId,
      modelHash: this.#o.backend.modelHash,
      pricePerRequest: this.#o.pricePerRequest,
      gatewayKey: this.gatewayKey,
      receiptKey: `0x${this.receiptPublicKey.toString('hex')}`,
      nonce: `0x${nonceHex}`,
      evidenceHash: evidenceHash(evidence),
      issuedAt,
      expiresAt: issuedAt + (this.#o.capabilityTtlMs ?? 10 * 60_000),
    };
    const signature = await signCapability(
      this.#o.provider,
      capabilityDomain(this.#o.chainId, this.#o.settlement),
      statement,
    );
    return { statement, signature };
  }

  // -------------------------------------------------------------------------------------------- OpenSession

  openSession(req: OpenSessionRequest__Output): OpenSessionResponse {
    if (req.requesterPublicKey.length !== PUBLIC_KEY_BYTES)
      throw new Refused(
        status.INVALID_ARGUMENT,
        'malformed',
        'open session: requester_public_key must be 32 bytes (X25519)',
      );
    if (req.capabilityNonce.length !== 32)
      throw new Refused(status.INVALID_ARGUMENT, 'malformed', 'open session: capability_nonce must be 32 bytes');
    let requester: string;
    try {
      requester = getAddress(req.requester);
    } catch {
      throw new Refused(status.INVALID_ARGUMENT, 'malformed', 'open session: requester is not an address');
    }
    const wait = this.#capabilities.wait(this.#mono());
    if (wait > 0) throw this.#exhausted('handshake-rate', wait, `over ${this.#capabilities.rate} handshakes/s`);
    this.#capabilities.take();
    const now = this.#now();
    const skew = this.#o.clockSkewMs ?? 5 * 60_000;
    if (!Number.isSafeInteger(req.issuedAtMs) || Math.abs(now - req.issuedAtMs) > skew)
      throw new Refused(
        status.UNAUTHENTICATED,
        'stale',
        `open session: issued_at_ms is more than ${skew} ms from the gateway's clock`,
      );
    if (this.#requesters && !this.#requesters.has(requester))
      throw new Refused(status.PERMISSION_DENIED, 'requester', `open session: ${requester} may not use this job`);
    if (this.#sessions.size >= this.limits.maxSessions) this.sweep();
    if (this.#sessions.size >= this.limits.maxSessions)
      throw this.#exhausted('sessions', 1000, `the gateway holds ${this.limits.maxSessions} sessions`);
    if ((this.#perRequester.get(requester) ?? 0) >= this.limits.maxSessionsPerRequester)
      throw this.#exhausted('sessions', 1000, `${requester} holds ${this.limits.maxSessionsPerRequester} sessions`);
    let signer: string;
    try {
      signer = verifyMessage(
        sessionMessage({
          job: this.jobId,
          gatewayPublicKey: this.gatewayPublicKey,
          requesterPublicKey: req.requesterPublicKey,
          capabilityNonce: req.capabilityNonce,
          requester,
          issuedAtMs: req.issuedAtMs,
        }),
        req.signature,
      );
    } catch {
      throw new Refused(status.UNAUTHENTICATED, 'signature', 'open session: the signature is malformed');
    }
    if (signer !== requester)
      throw new Refused(
        status.UNAUTHENTICATED,
        'signature',
        `open session: the signature is ${signer}'s, not the requester's`,
      );
    const id = newSessionId();
    let keys: SessionKeys;
    try {
      keys = deriveSessionKeys(
        this.#x25519.privateKey,
        req.requesterPublicKey,
        this.gatewayPublicKey,
        req.requesterPublicKey,
        id,
      );
    } catch (e) {
      throw new Refused(
        status.INVALID_ARGUMENT,
        'public-key',
        `open session: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const expiresAt = now + (this.#o.sessionTtlMs ?? 60 * 60_000);
    this.#sessions.set(id.toString('latin1'), { id, requester, keys, window: new ReplayWindow(), expiresAt });
    this.#perRequester.set(requester, (this.#perRequester.get(requester) ?? 0) + 1);
    this.metrics.sessions.set(this.#sessions.size);
    this.#log.info({ requester, session: id.toString('hex').slice(0, 8) }, 'session opened');
    return { sessionId: id, expiresAtMs: expiresAt };
  }

  // -------------------------------------------------------------------------------------------- sealed calls

  #exhausted(reason: string, retryAfterMs: number, message: string): Refused {
    const md = new Metadata();
    md.set(RETRY_PUSHBACK_KEY, String(retryAfterMs));
    return new Refused(status.RESOURCE_EXHAUSTED, reason, `${message}: retry after ${retryAfterMs} ms`, md);
  }

  /** Everything before the backend: shape, size, session, replay, limits, decryption. */
  #admitAndOpen(r: SealedRequest__Output, what: string): { session: Session; plaintext: Buffer; release: () => void } {
    if (r.sessionId.length !== SESSION_ID_BYTES)
      throw new Refused(status.INVALID_ARGUMENT, 'malformed', `${what}: session_id must be ${SESSION_ID_BYTES} bytes`);
    if (!Number.isSafeInteger(r.seq) || r.seq < 1)
      throw new Refused(status.INVALID_ARGUMENT, 'malformed', `${what}: seq must be a positive integer`);
    if (r.ciphertext.length < TAG_BYTES)
      throw new Refused(
        status.INVALID_ARGUMENT,
        'malformed',
        `${what}: ciphertext shorter than its ${TAG_BYTES}-byte tag`,
      );
    if (r.ciphertext.length - TAG_BYTES > this.limits.maxPayloadBytes)
      throw new Refused(
        status.RESOURCE_EXHAUSTED,
        'payload-size',
        `${what}: payload of ${r.ciphertext.length - TAG_BYTES} bytes is over the limit of ${this.limits.maxPayloadBytes}`,
      );
    const key = r.sessionId.toString('latin1');
    const session = this.#sessions.get(key);
    if (!session) throw new Refused(status.UNAUTHENTICATED, 'unknown-session', `${what}: unknown or closed session`);
    if (session.expiresAt <= this.#now()) {
      this.#dropSession(key, session);
      throw new Refused(status.UNAUTHENTICATED, 'expired-session', `${what}: the session expired; open a new one`);
    }
    try {
      session.window.check(r.seq);
    } catch (e) {
      const reason = e instanceof EnvelopeError ? e.reason : 'replay';
      throw new Refused(status.ALREADY_EXISTS, reason, `${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const admission = this.#limiter.admit(session.requester, this.#mono());
    if (!admission.ok) throw this.#exhausted(admission.reason, admission.retryAfterMs, `${what}: ${admission.message}`);
    let plaintext: Buffer;
    try {
      plaintext = open(session.keys.toGateway, Direction.request, session.id, r.seq, r.ciphertext);
      session.window.accept(r.seq);
    } catch (e) {
      admission.release();
      const reason = e instanceof EnvelopeError ? e.reason : 'authentication';
      throw new Refused(status.UNAUTHENTICATED, reason, `${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { session, plaintext, release: admission.release };
  }

  /**
   * One request: its sealed answer, and `receipt`, which signs the answer's receipt and hands it to the hub
   * reporter. The Infer handler sends the answer, then calls `receipt` (once, whatever became of the call: the
   * work was done) and sends what it returns.
   */
  async infer(
    r: SealedRequest__Output,
    callDeadline?: number,
    cancelled?: () => boolean,
    signal?: AbortSignal,
  ): Promise<{ answer: SealedResponse; receipt: () => Promise<GatewaySignedReceipt> }> {
    const t0 = this.#mono();
    this.#m.bytesIn(r.ciphertext.length);
    const { session, plaintext, release } = this.#admitAndOpen(r, 'infer');
    this.metrics.inflightNow.inc();
    try {
      const { deadline } = this.#deadline(callDeadline, 'infer');
      let result: Awaited<ReturnType<Backend['infer']>>;
      const tb = this.#mono();
      // start the backend, then, before it runs (ONNX Runtime in a later turn of the loop) or while it does (the
      // kserve call), hash the input and make the answer's cipher ready: right after the open the crypto code is
      // warm, after the backend it is not (a cipher made then costs several times more)
      // the requester's cancel reaches a backend that can stop (the OpenAI server's request is aborted)
      const running = this.#o.backend.infer(plaintext, signal ? { deadline, signal } : { deadline });
      const inputHash = contentHashOf(plaintext);
      const requestId = requestIdOf(session.id, r.seq);
      const sealAnswer = sealer(session.keys.toRequester, Direction.answer, session.id, r.seq);
      try {
        result = await running;
      } catch (e) {
        if (signal?.aborted) throw new Refused(status.CANCELLED, 'cancelled', 'infer: cancelled by the client');
        throw this.#backendRefusal(e, session, r.seq);
      } finally {
        this.#m.backendDuration((this.#mono() - tb) / 1000);
      }
      if (cancelled?.()) throw new Refused(status.CANCELLED, 'cancelled', 'infer: cancelled by the client');
      const ciphertext = sealAnswer(result.response);
      const fields = {
        inputHash,
        outputHash: contentHashOf(result.response),
        latencyUs: Math.round((this.#mono() - t0) * 1000),
        deviceTimeUs: result.deviceTimeUs,
        requestId,
        tokens: result.tokens,
      };
      this.#m.bytesOut(ciphertext.length);
      return { answer: { seq: r.seq, ciphertext }, receipt: () => this.#receipt(fields) };
    } finally {
      this.metrics.inflightNow.dec();
      release();
    }
  }

  /** A request's deadline: the call's, at most --max-request-ms from now; refused when it has passed already. */
  #deadline(callDeadline: number | undefined, what: string): { now: number; deadline: number } {
    const now = this.#now();
    const deadline = Math.min(callDeadline ?? Number.POSITIVE_INFINITY, now + (this.#o.maxRequestMs ?? 30_000));
    if (deadline <= now)
      throw new Refused(status.DEADLINE_EXCEEDED, 'deadline', `${what}: the deadline passed before the backend`);
    return { now, deadline };
  }

  /** A backend's failure as the requester gets it: its code, a fixed text, the reason sealed in the trailers. */
  #backendRefusal(e: unknown, session: { id: Buffer; keys: SessionKeys }, seq: number): Refused {
    const code = e instanceof BackendError ? e.code : status.INTERNAL;
    const md = new Metadata();
    const detail = e instanceof Error ? e.message : String(e);
    md.set(
      SEALED_ERROR_KEY,
      seal(session.keys.toRequester, Direction.error, session.id, seq, Buffer.from(detail, 'utf8')),
    );
    return new Refused(
      code,
      'backend',
      `infer: the backend answered ${codeName(code)}; the reason is sealed to the requester`,
      md,
    );
  }

  /** Signs one served request's receipt (Ed25519 by default) and hands it to the hub reporter. */
  async #receipt(
    r: Pick<Receipt, 'inputHash' | 'outputHash' | 'latencyUs' | 'deviceTimeUs' | 'requestId'> & {
      tokens?: TokenCount | undefined;
    },
  ): Promise<GatewaySignedReceipt> {
    const receipt: Receipt = {
      provider: this.#provider || (await this.#providerAddress()),
      job: this.jobId,
      modelHash: this.#o.backend.modelHash,
      inputHash: r.inputHash,
      outputHash: r.outputHash,
      latencyUs: r.latencyUs,
      deviceTimeUs: r.deviceTimeUs,
      price: this.#o.pricePerRequest,
      requestId: r.requestId,
      gatewayKey: this.gatewayKey,
      time: this.#now(),
      inputTokens: r.tokens?.input ?? 0,
      outputTokens: r.tokens?.output ?? 0,
    };
    let signed: GatewaySignedReceipt;
    if (this.#o.receiptScheme === 'eip712') {
      const s = await signReceipt(
        this.#o.provider,
        receiptDomain(BigInt(this.#o.chainId), this.#o.settlement),
        receipt,
      );
      signed = { ...s, scheme: 'eip712' };
    } else signed = signReceiptEd25519(this.#receiptKey.privateKey, receipt);
    this.#o.onReceipt?.(signed);
    return signed;
  }

  /**
   * One request answered in chunks (InferStream): each piece the backend yields is sealed under its index and
   * sent as it comes; the last message carries the receipt, whose output hash is over the pieces, each after
   * its length (streamHash). Same admission, limits and deadline as Infer; the request's slot is held until the end. A
   * requester that goes away aborts the backend (the model server stops generating).
   */
  async inferStream(
    r: SealedRequest__Output,
    send: (chunk: SealedChunk, signal: AbortSignal) => Promise<void>,
    callDeadline?: number,
    callSignal?: AbortSignal,
  ): Promise<void> {
    const t0 = this.#mono();
    this.#m.bytesIn(r.ciphertext.length);
    const { session, plaintext, release } = this.#admitAndOpen(r, 'infer stream');
    this.metrics.inflightNow.inc();
    try {
      const backend = this.#o.backend;
      if (!backend.inferStream)
        throw new Refused(
          status.UNIMPLEMENTED,
          'no-stream',
          `infer stream: the ${backend.kind} backend does not stream`,
        );
      const { now, deadline } = this.#deadline(callDeadline, 'infer stream');
      const inputHash = contentHashOf(plaintext);
      const requestId = requestIdOf(session.id, r.seq);
      // the requester gone, or the deadline: the backend's request and a wait to send both end
      const signal = AbortSignal.any([
        ...(callSignal ? [callSignal] : []),
        AbortSignal.timeout(Math.max(1, deadline - now)),
      ]);
      const output = streamHash();
      const tb = this.#mono();
      let index = 0;
      let tokens: TokenCount | undefined;
      const onTokens = (t: TokenCount) => {
        tokens = t;
      };
      try {
        for await (const piece of backend.inferStream(plaintext, { deadline, signal, onTokens })) {
          if (index >= MAX_CHUNKS) throw new BackendError(status.RESOURCE_EXHAUSTED, 'the answer has too many chunks');
          output.add(piece);
          const ciphertext = sealChunk(session.keys.toRequester, session.id, r.seq, index, piece);
          this.#m.bytesOut(ciphertext.length);
          await send({ seq: r.seq, index, ciphertext }, signal);
          index++;
        }
      } catch (e) {
        if (e instanceof Refused) throw e;
        // the requester left: nothing to seal for it, counted as a cancel
        if (callSignal?.aborted) throw new Refused(status.CANCELLED, 'cancelled', 'infer stream: cancelled');
        throw this.#backendRefusal(e, session, r.seq);
      } finally {
        this.#m.backendDuration((this.#mono() - tb) / 1000);
      }
      const receipt = await this.#receipt({
        inputHash,
        outputHash: output.digest(),
        latencyUs: Math.round((this.#mono() - t0) * 1000),
        deviceTimeUs: Math.round((this.#mono() - tb) * 1000),
        requestId,
        tokens,
      });
      await send({ seq: r.seq, index, receipt }, signal);
    } finally {
      this.metrics.inflightNow.dec();
      release();
    }
  }

  releaseSecret(r: SealedRequest__Output): SecretReleased {
    const { session, plaintext, release } = this.#admitAndOpen(r, 'release secret');
    try {
      if (!this.#secretOwners.has(session.requester))
        throw new Refused(
          status.PERMISSION_DENIED,
          'secret-owner',
          `release secret: ${session.requester} may not release secrets to this job`,
        );
      let payload: { name: string; value: Buffer };
      try {
        payload = protos().gateway.nvdax.gateway.v1.SecretPayload.deserialize(plaintext);
      } catch {
        throw new Refused(status.INVALID_ARGUMENT, 'malformed', 'release secret: the plaintext is not a SecretPayload');
      }
      if (!SECRET_NAME.test(payload.name))
        throw new Refused(
          status.INVALID_ARGUMENT,
          'malformed',
          'release secret: name must be [a-z0-9-], 1 to 63 characters',
        );
      this.secrets.set(payload.name, payload.value);
      if (this.#o.secretsDir) {
        mkdirSync(this.#o.secretsDir, { recursive: true, mode: 0o700 });
        writeFileSync(join(this.#o.secretsDir, payload.name), payload.value, { mode: 0o600 });
      }
      this.metrics.secrets.set(this.secrets.size);
      this.#log.info({ requester: session.requester, secret: payload.name }, 'secret released');
      return { name: payload.name, valueHash: createHash('sha256').update(payload.value).digest() };
    } finally {
      release();
    }
  }

  /** A call's failure as the requester gets it, counted and logged: a refusal's code, or INTERNAL. */
  #failure(method: string, e: unknown): ServiceError {
    if (e instanceof Refused) {
      this.metrics.refused.inc({ reason: e.reason });
      this.#log.debug({ method, code: codeName(e.code), reason: e.reason }, 'refused');
      return { code: e.code, details: e.message, metadata: e.metadata ?? new Metadata() } as ServiceError;
    }
    this.#log.error({ method, err: e }, 'request failed');
    return { code: status.INTERNAL, details: `${method}: internal error`, metadata: new Metadata() } as ServiceError;
  }

  /** The grpc-js handlers, each counted and timed. */
  handlers(): ConfidentialGatewayHandlers {
    /** Counts a method's calls by their end's code and times them from `t0` (label children looked up once). */
    const counted = (method: string) => {
      const okCount = this.metrics.adder('requests', { method, code: 'OK' });
      const timer = this.metrics.observer('duration', { method });
      return (code: status, t0: number) => {
        if (code === status.OK) okCount();
        else this.metrics.requests.inc({ method, code: codeName(code) });
        timer((this.#mono() - t0) / 1000);
      };
    };
    const deadlineOf = (call: { getDeadline(): Date | number }): number | undefined => {
      const d = call.getDeadline();
      const ms = d instanceof Date ? d.getTime() : Number(d);
      return Number.isFinite(ms) ? ms : undefined;
    };
    const wrap = <Req, Res>(method: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>) => {
      const count = counted(method);
      return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
        const t0 = this.#mono();
        const done = (code: status) => count(code, t0);
        const fail = (e: unknown) => {
          const err = this.#failure(method, e);
          done(err.code);
          cb(err);
        };
        try {
          const out = fn(call.request, call);
          if (out instanceof Promise)
            out.then((res) => {
              done(status.OK);
              cb(null, res);
            }, fail);
          else {
            done(status.OK);
            cb(null, out);
          }
        } catch (e) {
          fail(e);
        }
      };
    };
    const inferCount = counted('Infer');
    const streamCount = counted('InferStream');
    return {
      GetCapability: wrap('GetCapability', (req: CapabilityRequest__Output) => this.getCapability(req)),
      OpenSession: wrap('OpenSession', (req: OpenSessionRequest__Output) => this.openSession(req)),
      Infer: (call: ServerWritableStream<SealedRequest__Output, SealedResponse>) => {
        const t0 = this.#mono();
        const stop = new AbortController();
        const cancel = () => stop.abort();
        // grpc-js emits 'cancelled' for every call once its stream closes, answered or not: an abort then would
        // build a DOMException (a stack trace) per request for nothing, so the listener goes when the work is done
        call.once('cancelled', cancel);
        const done = (code: status) => inferCount(code, t0);
        const fail = (e: unknown) => {
          call.off('cancelled', cancel);
          const err = this.#failure('Infer', e);
          done(err.code);
          if (!call.cancelled) call.emit('error', err);
        };
        this.infer(call.request, deadlineOf(call), () => call.cancelled, stop.signal)
          .then(async (served) => {
            call.off('cancelled', cancel);
            // (a write to a call the requester left is dropped; the receipt is signed and reported all the same)
            call.write(served.answer);
            // HTTP/2 sends what was written from a native immediate, which runs before this one: the answer is
            // on the wire before its receipt's signature starts
            await new Promise<void>((resolve) => setImmediate(resolve));
            let receipt: GatewaySignedReceipt;
            try {
              receipt = await served.receipt();
            } catch (e) {
              // the answer went out unreceipted: never billed (a signer the provider runs that failed)
              this.#log.error({ err: e, seq: served.answer.seq }, 'the receipt of an answer sent could not be signed');
              throw e;
            }
            done(status.OK);
            call.write({ seq: served.answer.seq, receipt });
            call.end();
          })
          .catch(fail);
      },
      InferStream: (call: ServerWritableStream<SealedRequest__Output, SealedChunk>) => {
        const t0 = this.#mono();
        const stop = new AbortController();
        const cancel = () => stop.abort();
        const events = ['cancelled', 'close', 'error'] as const;
        for (const ev of events) call.on(ev, cancel);
        // HTTP/2 flow control: a slow reader holds the next chunk back, and with it the backend. A wait for room
        // ends when the call does or the deadline passes (`signal`): grpc-js drops writes to a cancelled call
        // without a drain, and a wait for that drain would hold the request's slot for good.
        const send = (chunk: SealedChunk, signal: AbortSignal) =>
          new Promise<void>((resolve, reject) => {
            const gone = () =>
              new Refused(status.CANCELLED, 'cancelled', 'infer stream: cancelled or past its deadline');
            if (call.cancelled || signal.aborted) return reject(gone());
            if (call.write(chunk)) return resolve();
            const done = () => {
              call.off('drain', done);
              signal.removeEventListener('abort', done);
              if (signal.aborted) reject(gone());
              else resolve();
            };
            call.on('drain', done);
            signal.addEventListener('abort', done);
          });
        const finish = (code: status) => {
          for (const ev of events) call.off(ev, cancel); // the work is over: its end is no cancel
          streamCount(code, t0);
        };
        this.inferStream(call.request, send, deadlineOf(call), stop.signal).then(
          () => {
            finish(status.OK);
            call.end();
          },
          (e: unknown) => {
            const err = this.#failure('InferStream', e);
            finish(err.code);
            if (!call.cancelled) call.emit('error', err);
          },
        );
      },
      ReleaseSecret: wrap('ReleaseSecret', (req: SealedRequest__Output) => this.releaseSecret(req)),
    };
  }
}

export interface StartOptions {
  host?: string;
  /** 0: a free port. */
  port?: number;
  /** HTTP/2 streams one connection may have open (default 256). */
  maxConcurrentStreams?: number;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves a gateway over gRPC (plaintext HTTP/2 to the pod's port: the envelope carries the confidentiality). */
export async function startGateway(gateway: Gateway, o: StartOptions = {}): Promise<RunningGateway> {
  const server = new Server({
    // the hard cap on what is read at all: the largest envelope plus its framing
    'grpc.max_receive_message_length': gateway.limits.maxPayloadBytes + TAG_BYTES + 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.max_concurrent_streams': o.maxConcurrentStreams ?? 256,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
  });
  server.addService(protos().gateway.nvdax.gateway.v1.ConfidentialGateway.service, gateway.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${o.host ?? '127.0.0.1'}:${o.port ?? 0}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const sweeper = setInterval(() => gateway.sweep(), 30_000);
  sweeper.unref();
  return {
    gateway,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweeper);
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}

/** A fresh random nonce for GetCapability (32 bytes). */
export const newNonce = (): Buffer => randomBytes(32);
