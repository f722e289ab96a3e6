// The OpenAI-protocol backend: vLLM, TGI or any model server with OpenAI's HTTP API, beside the gateway in the
// job's pod (its loopback: plaintext never leaves the TEE). A request's plaintext is the JSON
// `{"path": "/v1/chat/completions", "body": {…}}` (or /v1/completions, /v1/embeddings); the answer's plaintext is
// the model server's JSON body as it sent it, so the receipt's output hash is of exactly what the server said.
// Infer seals one answer (`stream` other than false refused, an answer not application/json refused);
// InferStream (inferStream) seals each server-sent event as it comes, to `data: [DONE]`.
import { status } from '@grpc/grpc-js';
import { StringDecoder } from 'node:string_decoder';
import { type Dispatcher, Pool } from 'undici';
import type { ModelMetadataResponse } from '../proto.ts';
import { type Backend, BackendError, type InferOptions, type InferResult, type TokenCount } from './backend.ts';

/** The OpenAI endpoints the gateway forwards (POST, JSON). */
export const OPENAI_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;
export type OpenAIPath = (typeof OPENAI_PATHS)[number];

/** The plaintext of one OpenAI-protocol request through the gateway. */
export interface OpenAIRequest {
  path: OpenAIPath;
  body: Record<string, unknown>;
}

export interface OpenAIBackendOptions {
  /** The model server's base URL in the pod, e.g. http://127.0.0.1:8000 (vLLM's and TGI's OpenAI server). */
  url: string;
  /** The name requests use (the body's `model`): vLLM's --served-model-name. */
  modelName: string;
  /** 0x + SHA-256 of the artefact the model server loads (the job pins it). */
  modelHash: string;
  /** Largest answer accepted from the model server, bytes (default 4 MiB). */
  maxResponseBytes?: number;
  /** Connections kept to the model server (default 256, vLLM's default batch; queueing here counts as device time). */
  connections?: number;
  /** A bearer token for the model server, read per call (e.g. a secret released to the gateway). */
  token?: () => string | undefined;
}

/** google.rpc.Code for an HTTP status, as Google's API design guide maps them. */
export function grpcCodeOfHttp(code: number): status {
  if (code === 400) return status.INVALID_ARGUMENT;
  if (code === 401) return status.UNAUTHENTICATED;
  if (code === 403) return status.PERMISSION_DENIED;
  if (code === 404) return status.NOT_FOUND;
  if (code === 409) return status.ABORTED;
  if (code === 413 || code === 422) return status.INVALID_ARGUMENT;
  if (code === 429) return status.RESOURCE_EXHAUSTED;
  if (code === 499) return status.CANCELLED;
  if (code === 501) return status.UNIMPLEMENTED;
  if (code === 503) return status.UNAVAILABLE;
  if (code === 408 || code === 504) return status.DEADLINE_EXCEEDED;
  return code >= 500 ? status.INTERNAL : status.UNKNOWN;
}

/** Closes an answer's body we will not read on (undici reports a destroyed body as an error: nobody listens). */
function discard(body: Dispatcher.ResponseData['body']): void {
  if (body.destroyed) return;
  body.on('error', () => {});
  body.destroy();
}

const invalid = (message: string) => new BackendError(status.INVALID_ARGUMENT, message);

/**
 * JSON.parse's reviver for a request body: a number whose text a double does not give back (a seed past 2^53,
 * 1e400, 0.10000000000000000555, 1.0) stays its text (JSON.rawJSON), so the body the gateway re-encodes with the
 * model filled in says to the model server exactly what the requester sealed, not a rounded value.
 */
function keepNumberText(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === 'number' && context?.source !== undefined && String(value) !== context.source
    ? (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(context.source)
    : value;
}

const count = (v: unknown): number | undefined =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined;

/**
 * The token counts of an OpenAI-protocol answer or streamed chunk: its `usage` object's `prompt_tokens` and
 * `completion_tokens` (an embeddings answer has no completion: 0). Undefined when it carries no usage, or one
 * whose counts are not non-negative integers: a receipt then says 0, never a guess.
 */
export function tokensOf(answer: unknown): TokenCount | undefined {
  const u = (answer as { usage?: unknown } | null)?.usage;
  if (typeof u !== 'object' || u === null) return undefined;
  const { prompt_tokens: p, completion_tokens: c } = u as Record<string, unknown>;
  const input = count(p);
  const output = c === undefined || c === null ? 0 : count(c);
  return input === undefined || output === undefined ? undefined : { input, output };
}

/**
 * Checks a request's plaintext: the path one of OPENAI_PATHS, the body an object, `stream` unset or false
 * (or, for `streaming`, unset or a boolean: the gateway sets it).
 */
export function parseOpenAIRequest(plaintext: Buffer, streaming = false): OpenAIRequest {
  let v: unknown;
  try {
    v = JSON.parse(plaintext.toString('utf8'), keepNumberText);
  } catch {
    throw invalid('the request is not JSON {"path", "body"} (an OpenAI-protocol request)');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('the request must be a JSON object');
  const { path, body } = v as { path?: unknown; body?: unknown };
  if (typeof path !== 'string' || !(OPENAI_PATHS as readonly string[]).includes(path))
    throw invalid(`path: must be one of ${OPENAI_PATHS.join(', ')}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('body: must be a JSON object');
  const b = body as Record<string, unknown>;
  // vLLM takes "true" or 1 for true too: anything but absent or false is refused
  if (!streaming && b['stream'] !== undefined && b['stream'] !== false)
    throw invalid('body.stream: must be false or unset here; InferStream answers in chunks');
  if (streaming && b['stream'] !== undefined && typeof b['stream'] !== 'boolean')
    throw invalid('body.stream: must be a boolean (InferStream sets it)');
  if (streaming && path === '/v1/embeddings') throw invalid('path: /v1/embeddings does not stream');
  if (b['model'] !== undefined && typeof b['model'] !== 'string') throw invalid('body.model: must be a string');
  return { path: path as OpenAIPath, body: b };
}

export class OpenAIBackend implements Backend {
  readonly kind = 'openai' as const;
  readonly protocol = 'OpenAI' as const;
  readonly modelName: string;
  readonly modelHash: string;
  readonly #pool: Pool;
  readonly #base: string;
  readonly #max: number;
  readonly #token: (() => string | undefined) | undefined;

  constructor(o: OpenAIBackendOptions) {
    if (!/^0x[0-9a-f]{64}$/.test(o.modelHash)) throw new RangeError('openai backend: modelHash must be 0x + 64 hex');
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new RangeError(`openai backend: url must be http://HOST:PORT[/PATH], not ${o.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new RangeError(`openai backend: url must be http(s), not ${url.protocol}`);
    this.modelName = o.modelName;
    this.modelHash = o.modelHash;
    this.#base = url.pathname.replace(/\/+$/, '');
    this.#max = o.maxResponseBytes ?? 4 * 1024 * 1024;
    this.#token = o.token;
    this.#pool = new Pool(url.origin, { connections: o.connections ?? 256 });
  }

  #headers(): Record<string, string> {
    const token = this.#token?.();
    return {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
  }

  /** The body to send: the request's, with the served model named (and `stream` set as this call needs). */
  #body(req: OpenAIRequest, stream: boolean): string {
    const model = req.body['model'];
    if (model !== undefined && model !== '' && model !== this.modelName)
      throw new BackendError(status.NOT_FOUND, `model "${model}" is not served here (this is "${this.modelName}")`);
    // re-encoded, with each number as the requester wrote it (parseOpenAIRequest keeps their text)
    return JSON.stringify({ ...req.body, model: this.modelName, ...(stream ? { stream: true } : {}) });
  }

  /** POSTs `body`; the deadline and the requester's going away abort it. */
  async #post(path: string, body: string, opts: InferOptions) {
    const left = opts.deadline === undefined ? undefined : opts.deadline - Date.now();
    if (left !== undefined && left <= 0) throw new BackendError(status.DEADLINE_EXCEEDED, 'the deadline passed');
    const signals = [...(left !== undefined ? [AbortSignal.timeout(left)] : []), ...(opts.signal ? [opts.signal] : [])];
    try {
      return await this.#pool.request({
        method: 'POST',
        path: this.#base + path,
        headers: this.#headers(),
        body,
        ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
      });
    } catch (e) {
      throw this.#failure(e, opts);
    }
  }

  /** What a failed exchange becomes: the deadline, the requester gone, or the server unreachable. */
  #failure(e: unknown, opts: InferOptions): BackendError {
    if (e instanceof BackendError) return e;
    if (opts.signal?.aborted) return new BackendError(status.CANCELLED, 'the requester went away', { cause: e });
    const name = (e as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError')
      return new BackendError(status.DEADLINE_EXCEEDED, 'model server: no answer before the deadline', { cause: e });
    return new BackendError(status.UNAVAILABLE, `model server: ${(e as Error).message}`, { cause: e });
  }

  /** The body of an answer, at most the limit. */
  async #read(res: Dispatcher.ResponseData, opts: InferOptions): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.#max) {
          discard(res.body);
          throw new BackendError(status.RESOURCE_EXHAUSTED, `model server: the answer is over ${this.#max} bytes`);
        }
        chunks.push(chunk);
      }
    } catch (e) {
      throw this.#failure(e, opts);
    }
    return Buffer.concat(chunks, size);
  }

  /** An HTTP error answer as a BackendError: OpenAI's {"error": {"message"}}, TGI's {"error": "…"}, else the status. */
  static #httpError(code: number, answer: Buffer): BackendError {
    let why = '';
    try {
      const e = JSON.parse(answer.toString('utf8')) as { error?: { message?: unknown } | string; message?: unknown };
      const m = typeof e.error === 'string' ? e.error : (e.error?.message ?? e.message);
      if (typeof m === 'string') why = `: ${m.slice(0, 512)}`;
    } catch {
      // not JSON: the status says enough
    }
    return new BackendError(grpcCodeOfHttp(code), `model server: HTTP ${code}${why}`);
  }

  async infer(request: Buffer, opts: InferOptions = {}): Promise<InferResult> {
    const req = parseOpenAIRequest(request);
    const body = this.#body(req, false);
    const t0 = performance.now();
    const res = await this.#post(req.path, body, opts);
    const answer = await this.#read(res, opts);
    const deviceTimeUs = Math.round((performance.now() - t0) * 1000);
    if (res.statusCode < 200 || res.statusCode > 299) throw OpenAIBackend.#httpError(res.statusCode, answer);
    // an event stream or anything else is not the one JSON answer a receipt is for
    const type = String(res.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(type))
      throw new BackendError(status.INTERNAL, `model server: the answer is ${type || 'untyped'}, not application/json`);
    let tokens: TokenCount | undefined;
    try {
      tokens = tokensOf(JSON.parse(answer.toString('utf8')));
    } catch {
      // not JSON after all: sealed and receipted as it came, with no token count
    }
    return tokens ? { response: answer, deviceTimeUs, tokens } : { response: answer, deviceTimeUs };
  }

  /**
   * The same request with `stream: true`: yields each server-sent event's data (one JSON chunk) as it comes, to
   * `data: [DONE]`. An answer that ends before it (the server died mid-answer) or an error event (vLLM's
   * `{"error": …}` after a 200) is refused, not receipted as a whole answer. At most the answer limit in all.
   */
  async *inferStream(request: Buffer, opts: InferOptions = {}): AsyncGenerator<Buffer> {
    const req = parseOpenAIRequest(request, true);
    const res = await this.#post(req.path, this.#body(req, true), opts);
    if (res.statusCode < 200 || res.statusCode > 299)
      throw OpenAIBackend.#httpError(res.statusCode, await this.#read(res, opts));
    const type = String(res.headers['content-type'] ?? '');
    if (!/^text\/event-stream\b/i.test(type)) {
      discard(res.body);
      throw new BackendError(
        status.INTERNAL,
        `model server: the answer is ${type || 'untyped'}, not text/event-stream`,
      );
    }
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let size = 0;
    try {
      for await (const piece of res.body as AsyncIterable<Buffer>) {
        size += piece.length;
        if (size > this.#max)
          throw new BackendError(status.RESOURCE_EXHAUSTED, `model server: the answer is over ${this.#max} bytes`);
        pending += decoder.write(piece);
        // events end with a blank line (LF or CRLF); `data:` lines joined by a newline are an event's data
        for (let end = pending.search(/\r?\n\r?\n/); end >= 0; end = pending.search(/\r?\n\r?\n/)) {
          const event = pending.slice(0, end);
          pending = pending.slice(end).replace(/^\r?\n\r?\n/, '');
          const data = event
            .split(/\r?\n/)
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(l.startsWith('data: ') ? 6 : 5))
            .join('\n');
          if (data === '[DONE]') return;
          if (data) yield OpenAIBackend.#event(data, opts.onTokens);
        }
      }
      throw new BackendError(status.UNAVAILABLE, "model server: the stream ended before its 'data: [DONE]'");
    } catch (e) {
      throw this.#failure(e, opts);
    } finally {
      discard(res.body); // the rest after [DONE], or a stream the requester left
    }
  }

  /**
   * One event's data, checked: JSON, and not an error the server sent after its 200. Its usage, where it has
   * one (the last chunk, when the request asked `stream_options.include_usage`), goes to `onTokens`.
   */
  static #event(data: string, onTokens?: (t: TokenCount) => void): Buffer {
    let v: unknown;
    try {
      v = JSON.parse(data);
    } catch {
      throw new BackendError(status.INTERNAL, 'model server: a streamed event is not JSON');
    }
    const err = (v as { error?: { message?: unknown } | string } | null)?.error;
    if (err !== undefined && err !== null) {
      const m = typeof err === 'string' ? err : err.message;
      throw new BackendError(status.INTERNAL, `model server: ${typeof m === 'string' ? m.slice(0, 512) : 'error'}`);
    }
    const tokens = onTokens && tokensOf(v);
    if (tokens) onTokens(tokens);
    return Buffer.from(data, 'utf8');
  }

  async metadata(): Promise<ModelMetadataResponse> {
    return { name: this.modelName, versions: [], platform: 'openai', inputs: [], outputs: [] };
  }

  /** Ready when the model server's /health answers 200 (vLLM and TGI both serve it once the model loaded). */
  async ready(): Promise<boolean> {
    try {
      const res = await this.#pool.request({
        method: 'GET',
        path: `${this.#base}/health`,
        headers: this.#headers(),
        signal: AbortSignal.timeout(2000),
      });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}
