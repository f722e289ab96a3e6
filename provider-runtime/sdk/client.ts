// The requester SDK: attest → check → encrypt → infer → decrypt → verify the receipt.
//
//   const gw = await ConfidentialClient.connect({ address, requester: wallet, policy, provider, modelHash });
//   const { response, receipt } = await gw.infer(fp32Request('x', data, [1, 256]));   // receipt: a promise
//   const { json } = await gw.openai('/v1/chat/completions', { messages });   // a vLLM or TGI job
//   gw.close();
//
// connect() sends a fresh nonce to GetCapability and checks, in order: the echoed nonce, the provider's
// EIP-712 signature over the statement (the nonce, the gateway and receipt keys, the evidence hash, the model
// hash, the price), what the caller expects (provider, job, model, price cap, expiry), then the TEE evidence
// with operator/verification/attestation.ts (the nonce and the gateway key bound in the report data). Only
// then does it agree a session key (OpenSession, signed by the requester's key). Every refusal names what
// failed: CapabilityError(field), AttestationError(claim), EnvelopeError(reason), ReceiptError(field), or
// GatewayCallError(code) for what the gateway refused.
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type AbstractSigner, getAddress } from 'ethers';
import {
  type AttestationPolicy,
  type AttestationResult,
  type EvidenceBundle,
  type ExpectedEvidence,
  evidenceHash,
  verifyEvidence,
} from '../../operator/verification/attestation.ts';
import { gatewayKeyHash, ReceiptError, receiptDomain } from '../../operator/verification/receipt.ts';
import { hubJobId } from '../../operator/settlement/task.ts';
import {
  Direction,
  EnvelopeError,
  type SessionKeys,
  deriveSessionKeys,
  ed25519Public,
  open,
  openChunk,
  opener,
  sealer,
  x25519Jwk,
  x25519KeyPair,
} from '../gateway/envelope.ts';
import { protos } from '../gateway/proto.ts';
import type {
  Capability__Output,
  ConfidentialGatewayClient,
  Limits__Output,
  ModelInferRequest,
  ModelInferResponse__Output,
  SealedChunk__Output,
  SealedResponse__Output,
  SignedReceipt__Output,
} from '../gateway/proto.ts';
import { RETRY_PUSHBACK_KEY, SEALED_ERROR_KEY, newNonce } from '../gateway/service.ts';
import {
  CapabilityError,
  type CapabilityStatement,
  type GatewaySignedReceipt,
  type Receipt,
  type ReceiptAuthority,
  capabilityDomain,
  contentHashOf,
  requestIdOf,
  sessionMessage,
  streamHash,
  verifyCapability,
  verifyGatewayReceipt,
} from '../gateway/signing.ts';

export { CapabilityError } from '../gateway/signing.ts';
export { EnvelopeError } from '../gateway/envelope.ts';
export { AttestationError } from '../../operator/verification/attestation.ts';
export { ReceiptError } from '../../operator/verification/receipt.ts';

export interface ConnectOptions {
  /** host:port of the gateway. */
  address: string;
  /** The requester's key: signs OpenSession; receipts name its address. */
  requester: AbstractSigner;
  /** Who and what the gateway must prove it runs. */
  policy: AttestationPolicy;
  /** Further expectations of the evidence: init-data digest (from the job's status), TEE type, GPU count. */
  expected?: Omit<ExpectedEvidence, 'nonce' | 'teePubKey'>;
  /** The provider the job was placed with (its address); any signer is refused otherwise. */
  provider?: string;
  /** The job (namespace/name, or its hubJobId). */
  job?: { namespace: string; name: string } | string;
  /** The model hash the job pins (0x + SHA-256). */
  modelHash?: string;
  /** Refuse a capability that asks more than this per request (wei). */
  maxPricePerRequest?: bigint | string;
  /** The settlement deployment (chain id and contract) the capability must be signed for. */
  chainId?: bigint | number | string;
  settlement?: string;
  /** Per-call deadline, ms (default 30 s); OpenAI-protocol calls take theirs per call (default 10 minutes). */
  timeoutMs?: number;
  /** Largest answer accepted, bytes (default 64 MiB). */
  maxResponseBytes?: number;
  /**
   * `background` (default): infer() resolves once the answer decrypted — AES-GCM under a key only the attested
   * gateway holds already proves the answer is the gateway's — without waiting for the receipt, which the
   * gateway signs and sends after the answer. The receipt (billing evidence, ~0.1 ms of Ed25519 to verify) is
   * checked off the request's latency: once the next infer()'s request is on its way (while the gateway works
   * on it), or 1 ms after it came when none follows. The result's `receipt` resolves then; a receipt that fails
   * or never comes rejects it, is kept in receiptFailures and is thrown by the next call and by settled().
   * `verify`: infer() resolves only after the receipt came and verified.
   */
  receipts?: 'verify' | 'background';
}

/** A capability that passed every check. */
export interface VerifiedCapability {
  statement: CapabilityStatement;
  modelName: string;
  /** What requests carry: OpenInference (infer()) or OpenAI (openai()). As the gateway says it: not signed. */
  protocol: 'OpenInference' | 'OpenAI';
  jobName: string;
  limits: Limits__Output | null;
  attestation: AttestationResult;
  evidence: EvidenceBundle;
  receiptDomain: ReturnType<typeof receiptDomain>;
}

/** The gateway refused a call; `code` is the gRPC status, `retryAfterMs` its hint, `detail` a sealed reason. */
export class GatewayCallError extends Error {
  override name = 'GatewayCallError';
  readonly code: status;
  readonly retryAfterMs: number | undefined;
  readonly detail: string | undefined;
  constructor(code: status, message: string, retryAfterMs?: number, detail?: string) {
    super(detail ? `${message}: ${detail}` : message);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.detail = detail;
  }
}

export interface InferResult {
  response: ModelInferResponse__Output;
  /** The decrypted answer as sent (what outputHash covers). */
  raw: Buffer;
  /** The answer's receipt once it came and verified (settled already in `verify` mode). */
  receipt: Promise<GatewaySignedReceipt>;
}

/** An OpenAI-protocol answer: the model server's JSON, the bytes it sent (what outputHash covers), the receipt. */
export interface OpenAIResult<T = unknown> {
  json: T;
  raw: Buffer;
  /** As InferResult's. */
  receipt: Promise<GatewaySignedReceipt>;
}

/** The OpenAI endpoints a gateway forwards (provider-runtime/gateway/backends/openai.ts). */
export type OpenAIPath = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings';

/** A streamed OpenAI answer: its chunks as they come (`for await`), then `done`. */
export interface OpenAIStream<T> extends AsyncIterable<T> {
  /**
   * Resolves when the last chunk came and the receipt over all of them verified (the chunks' bytes and the
   * receipt); rejects with what failed, as the iteration does. Iterate first: nothing is read until then.
   */
  readonly done: Promise<{ raw: Buffer[]; receipt: GatewaySignedReceipt }>;
}

type Call<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: { deadline: number },
  cb: (e: ServiceError | null, r?: Res) => void,
) => unknown;

function unary<Req, Res>(fn: Call<Req, Res>, req: Req, timeoutMs: number, signal?: AbortSignal): Promise<Res> {
  return new Promise((resolve, reject) => {
    // the caller gave up: the gateway sees the cancel and stops its backend
    const cancel = () => call.cancel();
    const call = fn(req, new Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => {
      signal?.removeEventListener('abort', cancel);
      e || r === undefined ? reject(e) : resolve(r);
    }) as { cancel(): void };
    if (signal?.aborted) call.cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
  });
}

/**
 * An Infer call's two messages: `answer`, the first (the sealed answer), as soon as it comes, and `receipt`,
 * the second. A call that fails before its answer rejects both; one that ends without its receipt, `receipt`
 * alone (which has a handler here: a caller may never look at it). `signal` cancels the call until the answer
 * came, or, with `untilReceipt` (the caller waits for the receipt too), until the receipt came.
 */
function inferCall(
  client: ConfidentialGatewayClient,
  sealed: { sessionId: Buffer; seq: number; ciphertext: Buffer },
  timeoutMs: number,
  unseal: (b: Buffer) => string | undefined,
  signal: AbortSignal | undefined,
  untilReceipt: boolean,
): { answer: Promise<SealedResponse__Output>; receipt: Promise<SignedReceipt__Output> } {
  const call = client.Infer(sealed, new Metadata(), { deadline: Date.now() + timeoutMs });
  const cancel = () => call.cancel();
  // (a promise settles once: what comes after the first outcome changes nothing)
  const answer = Promise.withResolvers<SealedResponse__Output>();
  const receipt = Promise.withResolvers<SignedReceipt__Output>();
  receipt.promise.catch(() => {});
  const fail = (e: unknown) => {
    signal?.removeEventListener('abort', cancel);
    answer.reject(e);
    receipt.reject(e);
  };
  let messages = 0;
  call.on('data', (m: SealedResponse__Output) => {
    messages++;
    if (messages === 1) {
      if (m.receipt || m.ciphertext.length === 0) {
        call.cancel();
        return fail(new EnvelopeError('malformed', "an answer's first message must be its ciphertext alone"));
      }
      if (!untilReceipt) signal?.removeEventListener('abort', cancel);
      answer.resolve(m);
    } else if (messages === 2) {
      signal?.removeEventListener('abort', cancel);
      if (m.receipt?.receipt && m.ciphertext.length === 0) receipt.resolve(m.receipt);
      else receipt.reject(new ReceiptError('receipt', "the answer's second message is not its receipt"));
    }
  });
  call.on('error', (e) => fail(callError(e, unseal)));
  call.on('end', () => fail(new ReceiptError('receipt', 'the call ended without the answer or its receipt')));
  if (signal?.aborted) call.cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  return { answer: answer.promise, receipt: receipt.promise };
}

/** How long an OpenAI-protocol call may take by default: a long answer is minutes (the gateway allows 10). */
export const OPENAI_TIMEOUT_MS = 600_000;

function callError(e: unknown, unseal?: (b: Buffer) => string | undefined): Error {
  const se = e as ServiceError;
  if (typeof se?.code !== 'number') return e instanceof Error ? e : new Error(String(e));
  const push = se.metadata?.get(RETRY_PUSHBACK_KEY)[0];
  const sealed = se.metadata?.get(SEALED_ERROR_KEY)[0];
  const detail = sealed && unseal ? unseal(Buffer.from(sealed)) : undefined;
  return new GatewayCallError(se.code, se.details || se.message, push === undefined ? undefined : Number(push), detail);
}

/** A session with one attested gateway. */
export class ConfidentialClient {
  readonly capability: VerifiedCapability;
  readonly requester: string;
  readonly #client: ConfidentialGatewayClient;
  readonly #keys: SessionKeys;
  readonly #authority: ReceiptAuthority;
  readonly #timeoutMs: number;
  readonly #background: boolean;
  #seq = 0;
  #queue: Array<() => void> = [];
  #failure: Error | undefined;
  /** Receipts that failed verification (background mode); the first is thrown by the next infer(). */
  readonly receiptFailures: Error[] = [];

  private constructor(
    client: ConfidentialGatewayClient,
    capability: VerifiedCapability,
    keys: SessionKeys,
    requester: string,
    timeoutMs: number,
    background: boolean,
  ) {
    this.#background = background;
    this.#client = client;
    this.capability = capability;
    this.#keys = keys;
    this.requester = requester;
    this.#timeoutMs = timeoutMs;
    this.#authority = {
      provider: capability.statement.provider,
      receiptKey: ed25519Public(Buffer.from(capability.statement.receiptKey.slice(2), 'hex')),
      receiptDomain: capability.receiptDomain,
    };
  }

  /** Attests the gateway, checks its capability and opens a session. */
  static async connect(o: ConnectOptions): Promise<ConfidentialClient> {
    const Ctor = protos().gateway.nvdax.gateway.v1.ConfidentialGateway;
    const client = new Ctor(o.address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': o.maxResponseBytes ?? 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    const timeoutMs = o.timeoutMs ?? 30_000;
    try {
      const nonce = newNonce();
      let cap: Capability__Output;
      try {
        cap = await unary(client.getCapability.bind(client) as Call<unknown, Capability__Output>, { nonce }, timeoutMs);
      } catch (e) {
        throw callError(e);
      }
      const verified = await checkCapability(cap, nonce, o);
      const mine = x25519KeyPair();
      const requester = getAddress(await o.requester.getAddress());
      const issuedAtMs = Date.now();
      const signature = await o.requester.signMessage(
        sessionMessage({
          job: verified.statement.job,
          gatewayPublicKey: cap.gatewayPublicKey,
          requesterPublicKey: mine.publicKey,
          capabilityNonce: nonce,
          requester,
          issuedAtMs,
        }),
      );
      let opened: { sessionId: Buffer };
      try {
        opened = await unary(
          client.openSession.bind(client) as Call<unknown, { sessionId: Buffer }>,
          { requesterPublicKey: mine.publicKey, capabilityNonce: nonce, requester, issuedAtMs, signature },
          timeoutMs,
        );
      } catch (e) {
        throw callError(e);
      }
      const keys = deriveSessionKeys(
        mine.privateKey,
        cap.gatewayPublicKey,
        cap.gatewayPublicKey,
        mine.publicKey,
        opened.sessionId,
      );
      return new ConfidentialClient(client, verified, keys, requester, timeoutMs, o.receipts !== 'verify');
    } catch (e) {
      client.close();
      throw e;
    }
  }

  get sessionId(): Buffer {
    return this.#keys.sessionId;
  }

  /** Seals one request (next sequence number), for callers that send it themselves (tests, tools). */
  sealRequest(body: Buffer): { sessionId: Buffer; seq: number; ciphertext: Buffer } {
    const seq = ++this.#seq;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    const sealIt =
      ahead?.seq === seq ? ahead.seal : sealer(this.#keys.toGateway, Direction.request, this.#keys.sessionId, seq);
    return { sessionId: this.#keys.sessionId, seq, ciphertext: sealIt(body) };
  }

  /** The next request's sealer, made while this client waits (each seals one message, for its own seq). */
  #ahead: { seq: number; seal: (plaintext: Uint8Array) => Buffer } | undefined;

  #sealAhead(): void {
    const seq = this.#seq + 1;
    if (this.#ahead?.seq !== seq)
      this.#ahead = { seq, seal: sealer(this.#keys.toGateway, Direction.request, this.#keys.sessionId, seq) };
  }

  #send<Res>(
    method: 'releaseSecret',
    sealed: { sessionId: Buffer; seq: number; ciphertext: Buffer },
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<Res> {
    const fn = (this.#client[method] as Call<unknown, Res>).bind(this.#client);
    return unary(fn, sealed, timeoutMs ?? this.#timeoutMs, signal).catch((e) => {
      throw callError(e, this.#unsealError(sealed.seq));
    });
  }

  /** Opens a refusal's sealed reason (trailing metadata) for request `seq`; undefined when it does not open. */
  #unsealError(seq: number): (b: Buffer) => string | undefined {
    const keys = this.#keys;
    return (b) => {
      try {
        return open(keys.toRequester, Direction.error, keys.sessionId, seq, b).toString('utf8');
      } catch {
        return undefined;
      }
    };
  }

  /**
   * One inference: `request` is an inference.ModelInferRequest (model_name defaults to the capability's)
   * or its serialized bytes. Resolves once the answer decrypted; `receipt` once the receipt that follows it
   * came and verified (before this resolves, with receipts: "verify").
   */
  async infer(request: ModelInferRequest | Buffer, opts: { timeoutMs?: number } = {}): Promise<InferResult> {
    if (this.capability.protocol !== 'OpenInference')
      throw new CapabilityError('protocol', `the gateway fronts an ${this.capability.protocol} server: use openai()`);
    const v2 = protos().v2.inference;
    const body = Buffer.isBuffer(request)
      ? request
      : v2.ModelInferRequest.serialize({ ...request, modelName: request.modelName || this.capability.modelName });
    const { raw, receipt } = await this.#roundTrip(body, opts.timeoutMs);
    return { response: v2.ModelInferResponse.deserialize(raw), raw, receipt };
  }

  /**
   * One OpenAI-protocol request to a gateway in front of vLLM, TGI or another OpenAI server: `path` and the
   * JSON body as OpenAI's API takes it (`model` defaults to the capability's; `stream` must stay off: each
   * answer is one sealed message, its receipt the next). Resolves to the server's JSON answer, decrypted, as
   * infer() does (its `receipt` a promise, settled first with receipts: "verify"). An HTTP error of the server comes back as a
   * GatewayCallError with its gRPC code and the server's message, sealed to this client. `signal` cancels the
   * call (CANCELLED); the gateway then aborts the model server's request. `timeoutMs` defaults to 10 minutes
   * (OPENAI_TIMEOUT_MS), not the client's: a long answer takes minutes.
   */
  async openai<T = unknown>(
    path: OpenAIPath,
    body: Record<string, unknown>,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<OpenAIResult<T>> {
    if (this.capability.protocol !== 'OpenAI')
      throw new CapabilityError('protocol', `the gateway fronts an ${this.capability.protocol} server: use infer()`);
    const plaintext = Buffer.from(
      JSON.stringify({ path, body: { ...body, model: body['model'] || this.capability.modelName } }),
      'utf8',
    );
    const { raw, receipt } = await this.#roundTrip(plaintext, opts.timeoutMs ?? OPENAI_TIMEOUT_MS, opts.signal);
    return { json: JSON.parse(raw.toString('utf8')) as T, raw, receipt };
  }

  /**
   * One OpenAI-protocol request answered as the model server generates it (InferStream; `stream` is set): each
   * chunk (an OpenAI `chat.completion.chunk` or completion chunk) is decrypted as it arrives, in order (a chunk
   * out of place, altered or moved from another request is refused, naming why); the receipt at the end covers
   * every chunk and is verified before the iteration ends. Leaving the loop early cancels the call, and the
   * gateway stops the model server.
   */
  openaiStream<T = unknown>(
    path: '/v1/chat/completions' | '/v1/completions',
    body: Record<string, unknown>,
    opts: { timeoutMs?: number } = {},
  ): OpenAIStream<T> {
    if (this.#failure) throw this.#failure;
    if (this.capability.protocol !== 'OpenAI')
      throw new CapabilityError('protocol', `the gateway fronts an ${this.capability.protocol} server: use infer()`);
    const plaintext = Buffer.from(
      JSON.stringify({ path, body: { ...body, model: body['model'] || this.capability.modelName, stream: true } }),
      'utf8',
    );
    const sealed = this.sealRequest(plaintext);
    const keys = this.#keys;
    const s = this.capability.statement;
    const authority = this.#authority;
    const timeoutMs = opts.timeoutMs ?? OPENAI_TIMEOUT_MS;
    let settle: {
      resolve: (v: { raw: Buffer[]; receipt: GatewaySignedReceipt }) => void;
      reject: (e: unknown) => void;
    };
    const done = new Promise<{ raw: Buffer[]; receipt: GatewaySignedReceipt }>((resolve, reject) => {
      settle = { resolve, reject };
    });
    done.catch(() => {}); // the iteration throws it too; a caller that only iterates is not left with a rejection
    const unseal = this.#unsealError(sealed.seq);
    const client = this.#client;
    async function* chunks(): AsyncGenerator<T> {
      const call = client.InferStream(sealed, new Metadata(), { deadline: Date.now() + timeoutMs });
      const raw: Buffer[] = [];
      const output = streamHash();
      let receipt: GatewaySignedReceipt | undefined;
      let settled = false;
      try {
        try {
          for await (const m of call as AsyncIterable<SealedChunk__Output>) {
            if (Number(m.seq) !== sealed.seq)
              throw new EnvelopeError('sequence', `a chunk for request ${m.seq}, not ${sealed.seq}`);
            if (m.index !== raw.length)
              throw new EnvelopeError('sequence', `chunk ${m.index} came where ${raw.length} was due`);
            if (m.receipt?.receipt) {
              receipt = {
                receipt: m.receipt.receipt as Receipt,
                scheme: m.receipt.scheme as GatewaySignedReceipt['scheme'],
                signature: m.receipt.signature,
              };
              break;
            }
            const piece = openChunk(keys.toRequester, keys.sessionId, sealed.seq, m.index, m.ciphertext);
            raw.push(piece);
            output.add(piece);
            yield JSON.parse(piece.toString('utf8')) as T;
          }
        } catch (e) {
          if (e instanceof EnvelopeError || e instanceof SyntaxError) throw e;
          throw callError(e, unseal);
        } finally {
          call.cancel(); // no-op once ended; stops the gateway's work when the caller left the loop
        }
        if (!receipt) throw new ReceiptError('receipt', 'the stream ended without a receipt');
        verifyGatewayReceipt(receipt, authority, {
          job: s.job,
          modelHash: s.modelHash,
          inputHash: contentHashOf(plaintext),
          outputHash: output.digest(),
          price: s.pricePerRequest,
          requestId: requestIdOf(keys.sessionId, sealed.seq),
          gatewayKey: s.gatewayKey,
        });
        settled = true;
        settle.resolve({ raw, receipt });
      } catch (e) {
        settled = true;
        settle.reject(e);
        throw e;
      } finally {
        // the caller left the loop early: the call is cancelled above, and `done` says so
        if (!settled) settle.reject(new GatewayCallError(status.CANCELLED, 'the stream was left before its end'));
      }
    }
    const it = chunks();
    return { [Symbol.asyncIterator]: () => it, done };
  }

  /**
   * Seals `body`, sends it, and opens the answer; its receipt, which comes after it, is verified before this
   * returns (`verify`) or once it came and the next request is on its way (`background`).
   */
  async #roundTrip(
    body: Buffer,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<{ raw: Buffer; receipt: Promise<GatewaySignedReceipt> }> {
    if (this.#failure) throw this.#failure;
    const sealed = this.sealRequest(body);
    const seq = sealed.seq;
    const call = inferCall(
      this.#client,
      sealed,
      timeoutMs ?? this.#timeoutMs,
      this.#unsealError(seq),
      signal,
      !this.#background,
    );
    // while the request is on its way (an immediate runs after its HTTP/2 write went out) and the gateway works
    // on it: make the answer's decipher and the next request's cipher ready and check the receipts still
    // queued, instead of doing any of it when the answer arrives or the next request is made
    let ready: ((sealed: Uint8Array) => Buffer) | undefined;
    const opening = () => (ready ??= opener(this.#keys.toRequester, Direction.answer, this.#keys.sessionId, seq));
    this.#soon.push(opening);
    this.#schedule(true);
    const answer = await call.answer;
    if (answer.seq !== seq) throw new EnvelopeError('sequence', `the answer is for request ${answer.seq}, not ${seq}`);
    const raw = opening()(answer.ciphertext);
    const check = (r: SignedReceipt__Output) => this.#checkReceipt(seq, body, raw, r);
    if (!this.#background) return { raw, receipt: Promise.resolve(check(await call.receipt)) };
    const receipt = new Promise<GatewaySignedReceipt>((resolve, reject) => {
      const failed = (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        this.receiptFailures.push(err);
        // a receipt that is wrong, or a call the gateway ended without one, stops this client; a call the
        // network or the deadline broke after its answer does not (that receipt is lost to this client only:
        // the gateway reports it to the hub all the same)
        if (!(err instanceof GatewayCallError)) this.#failure ??= err;
        reject(err);
      };
      call.receipt.then((r) => {
        this.#queue.push(() => {
          try {
            resolve(check(r));
          } catch (e) {
            failed(e);
          }
        });
        // never ahead of the caller's next request: when one is on its way already, right after this turn
        // (while the gateway works on it); else the next infer() checks it once its request is written, or a
        // 1 ms timer does when none comes
        this.#schedule(this.#seq > seq);
      }, failed);
    });
    receipt.catch(() => {}); // kept in receiptFailures and thrown by the next call: a caller may never await it
    this.#pending.add(receipt);
    const forget = () => this.#pending.delete(receipt);
    receipt.then(forget, forget);
    return { raw, receipt };
  }

  /** Receipts still to come or to be checked (background mode): settled() waits for them. */
  readonly #pending = new Set<Promise<GatewaySignedReceipt>>();

  /**
   * Decrypts an answer and verifies its receipt against what this client sent, now (the two messages of an
   * Infer call joined: the ciphertext of the first, the receipt of the second).
   */
  openAnswer(
    seq: number,
    body: Buffer,
    res: SealedResponse__Output,
  ): Omit<InferResult, 'receipt'> & {
    receipt: GatewaySignedReceipt;
  } {
    if (res.seq !== seq) throw new EnvelopeError('sequence', `the answer is for request ${res.seq}, not ${seq}`);
    const raw = open(this.#keys.toRequester, Direction.answer, this.#keys.sessionId, seq, res.ciphertext);
    if (!res.receipt) throw new ReceiptError('receipt', 'the answer carries no receipt');
    const receipt = this.#checkReceipt(seq, body, raw, res.receipt);
    return { response: protos().v2.inference.ModelInferResponse.deserialize(raw), raw, receipt };
  }

  /** A receipt as this client checks it: for this request's input and answer, under the capability's terms. */
  #checkReceipt(seq: number, body: Buffer, raw: Buffer, r: SignedReceipt__Output): GatewaySignedReceipt {
    if (!r.receipt) throw new ReceiptError('receipt', 'the answer carries no receipt');
    const receipt: GatewaySignedReceipt = {
      receipt: r.receipt as Receipt,
      scheme: r.scheme as GatewaySignedReceipt['scheme'],
      signature: r.signature,
    };
    const s = this.capability.statement;
    verifyGatewayReceipt(receipt, this.#authority, {
      job: s.job,
      modelHash: s.modelHash,
      inputHash: contentHashOf(body),
      outputHash: contentHashOf(raw),
      price: s.pricePerRequest,
      requestId: requestIdOf(this.#keys.sessionId, seq),
      gatewayKey: s.gatewayKey,
    });
    return receipt;
  }

  #timer: ReturnType<typeof setTimeout> | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  /** Work for requests in flight (their answers' deciphers), done before the receipts. */
  #soon: Array<() => unknown> = [];

  /** Drains the queues soon: after the pending I/O (`now`) or on a 1 ms timer. */
  #schedule(now: boolean): void {
    if (now) this.#immediate ??= setImmediate(() => this.#drain());
    else this.#timer ??= setTimeout(() => this.#drain(), 1);
  }

  #drain(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = this.#immediate = undefined;
    const soon = this.#soon;
    this.#soon = [];
    for (const f of soon) f();
    if (soon.length > 0) this.#sealAhead();
    const q = this.#queue;
    this.#queue = [];
    for (const f of q) f();
  }

  /** Waits for the receipts still to come and verifies them (background mode); throws the first failure seen. */
  async settled(): Promise<void> {
    this.#drain();
    // each settles once its receipt came and was checked (a drain is scheduled when it comes) or failed
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    if (this.#failure) throw this.#failure;
  }

  /** Releases a secret (a gated model's token, a dataset key) to the attested workload, sealed to this session. */
  async releaseSecret(name: string, value: Uint8Array | string): Promise<void> {
    const body = protos().gateway.nvdax.gateway.v1.SecretPayload.serialize({
      name,
      value: typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value),
    });
    await this.#send('releaseSecret', this.sealRequest(body));
  }

  close(): void {
    this.#client.close();
  }
}

/** Checks a capability against the nonce sent and the caller's expectations; returns it verified. */
export async function checkCapability(
  cap: Capability__Output,
  nonce: Buffer,
  o: ConnectOptions,
): Promise<VerifiedCapability> {
  if (!cap.nonce.equals(nonce))
    throw new CapabilityError('nonce', 'the answer is for another nonce than the one sent (a replayed capability)');
  if (cap.gatewayPublicKey.length !== 32 || cap.receiptPublicKey.length !== 32)
    throw new CapabilityError('gatewayPublicKey', 'the gateway and receipt keys must be 32 bytes');
  if (!cap.evidence?.earToken) throw new CapabilityError('evidence', 'the capability carries no evidence');
  const evidence: EvidenceBundle = {
    ear: cap.evidence.earToken,
    ...(cap.evidence.nrasAnswer ? { nras: JSON.parse(cap.evidence.nrasAnswer) } : {}),
    ...(cap.evidence.instance ? { instance: cap.evidence.instance } : {}),
  };
  const teePubKey = x25519Jwk(cap.gatewayPublicKey);
  let provider: string;
  try {
    provider = getAddress(cap.provider);
  } catch {
    throw new CapabilityError('provider', `${JSON.stringify(cap.provider)} is not an address`);
  }
  const statement: CapabilityStatement = {
    provider,
    job: cap.job,
    modelHash: cap.modelHash,
    pricePerRequest: cap.pricePerRequest,
    gatewayKey: gatewayKeyHash(teePubKey),
    receiptKey: `0x${cap.receiptPublicKey.toString('hex')}`,
    nonce: `0x${nonce.toString('hex')}`,
    evidenceHash: evidenceHash(evidence),
    issuedAt: cap.issuedAtMs,
    expiresAt: cap.expiresAtMs,
  };
  const chainId = o.chainId ?? cap.chainId;
  const settlement = o.settlement ?? cap.verifyingContract;
  let domain: ReturnType<typeof capabilityDomain>;
  try {
    domain = capabilityDomain(chainId, settlement);
  } catch {
    throw new CapabilityError(
      'domain',
      `chain ${cap.chainId} / contract ${cap.verifyingContract} is not a valid domain`,
    );
  }
  verifyCapability(domain, statement, cap.signature);
  if (o.provider && getAddress(o.provider) !== provider)
    throw new CapabilityError('provider', `signed by ${provider}, expected ${getAddress(o.provider)}`);
  if (o.job !== undefined) {
    const want = typeof o.job === 'string' ? o.job : hubJobId(o.job);
    if (want.toLowerCase() !== statement.job.toLowerCase())
      throw new CapabilityError('job', `is ${statement.job}, expected ${want}`);
  }
  if (o.modelHash && o.modelHash.toLowerCase() !== statement.modelHash.toLowerCase())
    throw new CapabilityError('modelHash', `the gateway serves ${statement.modelHash}, expected ${o.modelHash}`);
  if (o.maxPricePerRequest !== undefined && BigInt(statement.pricePerRequest) > BigInt(o.maxPricePerRequest))
    throw new CapabilityError(
      'pricePerRequest',
      `${statement.pricePerRequest} wei is over the cap of ${o.maxPricePerRequest}`,
    );
  const now = o.policy.now?.().getTime() ?? Date.now();
  if (statement.expiresAt <= now) throw new CapabilityError('expiresAt', 'the capability has expired');
  const attestation = await verifyEvidence(
    evidence,
    { ...o.expected, nonce: nonce.toString('base64'), teePubKey },
    o.policy,
  );
  return {
    statement,
    modelName: cap.modelName,
    // an older gateway does not say: it spoke the Open Inference Protocol only
    protocol: cap.protocol === 'OpenAI' ? 'OpenAI' : 'OpenInference',
    jobName: cap.jobName,
    limits: cap.limits,
    attestation,
    evidence,
    receiptDomain: receiptDomain(BigInt(chainId), settlement),
  };
}

// ------------------------------------------------------------------------------------------------ tensors

/** A request with one FP32 input in raw_input_contents. */
export function fp32Request(input: string, data: Float32Array, shape: number[], modelName = ''): ModelInferRequest {
  return {
    modelName,
    inputs: [{ name: input, datatype: 'FP32', shape }],
    rawInputContents: [Buffer.from(data.buffer, data.byteOffset, data.byteLength)],
  };
}

/** The FP32 outputs of an answer by name (raw_output_contents or fp32_contents). */
export function fp32Outputs(res: ModelInferResponse__Output): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  res.outputs.forEach((o, i) => {
    const raw = res.rawOutputContents[i];
    let data: Float32Array;
    if (raw) {
      data = new Float32Array(raw.length / 4);
      new Uint8Array(data.buffer).set(raw);
    } else data = Float32Array.from(o.contents?.fp32Contents ?? []);
    out[o.name] = { shape: o.shape, data };
  });
  return out;
}
