// The thin Kubernetes adapter the runtime and controllers use: raw JSON requests over
// the cluster's one shared keep-alive pool (see pooled-config.ts), typed errors, and
// the handful of verbs operators need (get, list, watch, create, replace, server-side
// apply, merge patch, status patch, delete). Raw requests instead of client-node's
// KubernetesObjectApi: no discovery round trip, no model (de)serialization, the same
// code for core kinds and CRDs, and objects cached exactly as the server sent them.
import type { KubeConfig } from '@kubernetes/client-node';
import { request as undiciRequest } from 'undici';
import type { Dispatcher } from 'undici';
import type { Clock } from '../runtime/clock.ts';
import { realClock, sleep, timeoutSignal } from '../runtime/clock.ts';
import { KubeError, closedError, isConflict, isNotFound, toKubeError } from './errors.ts';
import { defaultBurst, defaultMaxRetries, defaultQps } from './options.ts';
import { PooledKubeConfig } from './pooled-config.ts';
import { TokenBucketLimiter } from './rate-limit.ts';
import { parseWatchStream } from './watch.ts';
import type { WatchEvent } from './watch.ts';
import type {
  ClientObserver,
  KubeClientOptions,
  ListOptions,
  RequestOptions,
  WatchOptions,
  WriteOptions,
} from './options.ts';
import type { KubeList, KubeObject, ResourceType } from './types.ts';

export type { WatchEvent } from './watch.ts';
export type {
  ClientObserver,
  KubeClientOptions,
  ListOptions,
  RequestOptions,
  WatchOptions,
  WriteOptions,
} from './options.ts';
import { resourcePath } from './types.ts';

/**
 * A client for one cluster; every request shares the cluster's connection pool, takes a
 * token from the cluster's rate limit, and is retried after a 429's Retry-After. Timeouts
 * and waits run on the injected clock. Once closed it stays closed: every request throws
 * Closed (isClosed) without opening a connection.
 */
export class KubeClient {
  readonly name: string;
  readonly kubeConfig: PooledKubeConfig;
  readonly requestTimeoutMs: number;
  readonly fieldManager: string;
  readonly clock: Clock;
  /** Requests/s (0: no limit) and burst of the client-side rate limit. */
  readonly qps: number;
  readonly burst: number;
  readonly maxRetries: number;
  readonly #limiter: TokenBucketLimiter | undefined;
  /** Aborted by close()/destroy(): ends rate-limit and Retry-After waits at once. */
  readonly #closing = new AbortController();
  readonly #observers = new Set<ClientObserver>();

  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    const pool = opts.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs: opts.keepAliveTimeoutMs };
    this.kubeConfig = kc instanceof PooledKubeConfig ? kc : PooledKubeConfig.from(kc, pool);
    this.name = opts.name ?? kc.getCurrentCluster()?.name ?? 'default';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.fieldManager = opts.fieldManager ?? 'nvdax-operator';
    this.clock = opts.clock ?? realClock;
    this.qps = Math.max(0, opts.qps ?? defaultQps);
    this.burst = opts.burst ?? defaultBurst;
    this.maxRetries = Math.max(0, opts.maxRetries ?? defaultMaxRetries);
    this.#limiter = this.qps > 0 ? new TokenBucketLimiter(this.qps, this.burst, this.clock) : undefined;
  }

  /** TCP/TLS connections opened so far for this cluster. */
  get connectionsOpened(): number {
    return this.kubeConfig.connectionsOpened;
  }

  /** True once close() or destroy() was called (or the shared kubeconfig pool was closed). */
  get closed(): boolean {
    return this.#closing.signal.aborted || this.kubeConfig.closed;
  }

  /** Subscribes to rate-limit waits and 429 retries (for metrics). Returns an unsubscribe. */
  observe(o: ClientObserver): () => void {
    this.#observers.add(o);
    return () => this.#observers.delete(o);
  }

  /** Sends one request and returns the parsed JSON body; non-2xx answers throw KubeError. */
  async request<T>(method: Dispatcher.HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const context = `${method} ${path}`;
    if (this.closed) throw closedError(context);
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    // One limit over the whole request: rate-limit wait, 429 waits, retries and the body.
    const deadline = timeoutSignal(this.clock, Math.max(1, timeoutMs));
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
    try {
      const res = await this.#send(method, method, path, opts, signal, context, 0);
      const text = await res.body.text();
      return (text === '' ? undefined : JSON.parse(text)) as T;
    } catch (e) {
      if (opts.signal?.aborted) throw toKubeError(opts.signal.reason, context);
      throw this.#failure(e, context);
    } finally {
      deadline.cancel();
    }
  }

  /** Reads one object; a missing one throws (see isNotFound). */
  get<T extends KubeObject>(res: ResourceType, name: string, namespace?: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', resourcePath(res, namespace, name), signal ? { signal } : {});
  }

  /** Lists one page. */
  list<T extends KubeObject>(res: ResourceType, opts: ListOptions = {}): Promise<KubeList<T>> {
    const { namespace, signal, ...query } = opts;
    return this.request<KubeList<T>>('GET', resourcePath(res, namespace), { query, ...(signal ? { signal } : {}) });
  }

  /** Lists all pages (500 per page) of one consistent snapshot; returns the items and the snapshot's resourceVersion. */
  async listAll<T extends KubeObject>(
    res: ResourceType,
    opts: Omit<ListOptions, 'continue'> = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let rv = '';
    for await (const page of this.listPages<T>(res, opts)) {
      for (const it of page.items) items.push(it);
      rv = page.resourceVersion || rv;
    }
    return { items, resourceVersion: rv };
  }

  /**
   * The pages (500 items each) of one consistent snapshot, one at a time: a caller that keeps less than the
   * whole object (an informer's transform) holds one page of whole objects at once, not the full list.
   */
  async *listPages<T extends KubeObject>(
    res: ResourceType,
    opts: Omit<ListOptions, 'continue'> = {},
  ): AsyncGenerator<{ items: T[]; resourceVersion: string }> {
    let cont: string | undefined;
    do {
      const page = await this.list<T>(res, { limit: 500, ...opts, ...(cont ? { continue: cont } : {}) });
      yield { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? '' };
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }

  /** Streams watch events until the server ends the watch or `signal` aborts; ERROR events throw (410 → isGone). */
  async *watch<T extends KubeObject>(res: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const { namespace, signal, timeoutSeconds = 300, allowBookmarks = true, ...rest } = opts;
    const path = resourcePath(res, namespace);
    const context = `WATCH ${path}`;
    if (this.closed) throw closedError(context);
    const query = { ...rest, watch: true, timeoutSeconds, allowWatchBookmarks: allowBookmarks };
    // requestTimeoutMs bounds the start (rate limit, 429 waits, headers); the stream itself
    // is bounded by undici's idle body timeout and the server's timeoutSeconds.
    const start = timeoutSignal(this.clock, Math.max(1, this.requestTimeoutMs));
    const startSignal = signal ? AbortSignal.any([signal, start.signal]) : start.signal;
    let body: Dispatcher.ResponseData['body'] | undefined;
    try {
      const bodyTimeout = timeoutSeconds * 1000 + this.requestTimeoutMs;
      const resp = await this.#send('GET', 'WATCH', path, { query }, startSignal, context, bodyTimeout);
      start.cancel();
      body = resp.body;
      yield* parseWatchStream<T>(resp.body, path);
    } catch (e) {
      if (signal?.aborted) return;
      throw this.#failure(e, context);
    } finally {
      start.cancel();
      body?.destroy();
    }
  }

  /** Creates an object (POST). */
  create<T extends KubeObject>(res: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>('POST', resourcePath(res, obj.metadata?.namespace), this.#write(obj, opts));
  }

  /** Replaces an object (PUT); a stale metadata.resourceVersion throws Conflict. */
  replace<T extends KubeObject>(res: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    const { namespace, name } = nameOf(obj);
    return this.request<T>('PUT', resourcePath(res, namespace, name), this.#write(obj, opts));
  }

  /** Server-side apply of `obj` (which must carry apiVersion, kind and metadata.name); `force` defaults to true. */
  apply<T extends KubeObject>(
    res: ResourceType,
    obj: KubeObject,
    opts: WriteOptions & { force?: boolean } = {},
  ): Promise<T> {
    return this.#apply<T>(res, obj, undefined, opts);
  }

  /** Server-side apply to the status subresource. */
  applyStatus<T extends KubeObject>(
    res: ResourceType,
    obj: KubeObject,
    opts: WriteOptions & { force?: boolean } = {},
  ): Promise<T> {
    return this.#apply<T>(res, obj, 'status', opts);
  }

  /**
   * Read-modify-write of a status under server-side apply: GET the object, let `change` say the status
   * fields this field manager owns (all of them: apply drops what a manager leaves out), apply them with the
   * read's resourceVersion as a precondition, and start again from a fresh read on Conflict, after a wait that
   * grows as client-go's retry.DefaultBackoff does (10 ms, five times longer each time, 10% jitter; here up to
   * 5 attempts, so the last wait is about 1.25 s): a burst of writes to the object passes, and two writers that
   * raced do not race again in step. The wait ends on `signal` or close(). `change` returns undefined when
   * nothing is to be written. Says how it ended: `written`, `unchanged`, `gone` (not found, or another object under that
   * name when `uid` is given) or `conflicted` (every attempt lost).
   */
  async updateStatus<T extends KubeObject>(
    res: ResourceType,
    ref: { name: string; namespace?: string; uid?: string },
    change: (obj: T) => object | undefined | Promise<object | undefined>,
    opts: WriteOptions & { attempts?: number } = {},
  ): Promise<'written' | 'unchanged' | 'gone' | 'conflicted'> {
    const { attempts = 5, ...write } = opts;
    for (let i = 0; i < attempts; i++) {
      let obj: T;
      try {
        obj = await this.get<T>(res, ref.name, ref.namespace, opts.signal);
      } catch (e) {
        if (isNotFound(e)) return 'gone';
        throw e;
      }
      if (ref.uid && obj.metadata?.uid !== ref.uid) return 'gone';
      const status = await change(obj);
      if (status === undefined) return 'unchanged';
      try {
        await this.applyStatus(
          res,
          {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            metadata: {
              name: ref.name,
              ...(ref.namespace ? { namespace: ref.namespace } : {}),
              resourceVersion: obj.metadata?.resourceVersion ?? '',
            },
            status,
          } as KubeObject,
          { force: true, ...write },
        );
        return 'written';
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
      if (i + 1 < attempts) {
        const ends = opts.signal ? AbortSignal.any([opts.signal, this.#closing.signal]) : this.#closing.signal;
        try {
          // the caller awaits this write: its wait keeps the process alive, as the request's own waits do
          await sleep(this.clock, conflictBackoffMs(i), ends, { keepAlive: true });
        } catch (e) {
          throw toKubeError(e, `status of ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`);
        }
      }
    }
    return 'conflicted';
  }

  /** JSON merge patch (RFC 7386) of an object or a subresource. */
  mergePatch<T extends KubeObject>(
    res: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<T> {
    const w = this.#write(patch, opts);
    return this.request<T>('PATCH', resourcePath(res, namespace, name, opts.subresource), {
      ...w,
      contentType: 'application/merge-patch+json',
    });
  }

  /** Merge patch on the status subresource (spec and metadata changes are ignored by the server). */
  patchStatus<T extends KubeObject>(
    res: ResourceType,
    name: string,
    namespace: string | undefined,
    status: unknown,
    opts: WriteOptions = {},
  ): Promise<T> {
    return this.mergePatch<T>(res, name, namespace, { status }, { ...opts, subresource: 'status' });
  }

  /** Deletes an object; returns false when it did not exist. */
  async delete(
    res: ResourceType,
    name: string,
    namespace?: string,
    opts: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; uid?: string; signal?: AbortSignal } = {},
  ): Promise<boolean> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (opts.propagationPolicy) body['propagationPolicy'] = opts.propagationPolicy;
    if (opts.uid) body['preconditions'] = { uid: opts.uid };
    try {
      await this.request('DELETE', resourcePath(res, namespace, name), {
        body,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return true;
    } catch (e) {
      if (e instanceof KubeError && e.reason === 'NotFound') return false;
      throw e;
    }
  }

  /** Closes for good: in-flight requests finish, waiting and later ones throw Closed. */
  close(): Promise<void> {
    this.#closing.abort(closedError(this.name));
    return this.kubeConfig.close();
  }

  /** Closes for good at once: in-flight requests and watches are aborted with Closed. */
  destroy(): Promise<void> {
    this.#closing.abort(closedError(this.name));
    return this.kubeConfig.destroy();
  }

  #apply<T>(
    res: ResourceType,
    obj: KubeObject,
    sub: string | undefined,
    opts: WriteOptions & { force?: boolean },
  ): Promise<T> {
    const { namespace, name } = nameOf(obj);
    const w = this.#write(obj, opts);
    return this.request<T>('PATCH', resourcePath(res, namespace, name, sub), {
      ...w,
      query: { ...w.query, force: opts.force ?? true },
      contentType: 'application/apply-patch+yaml',
    });
  }

  #write(body: unknown, opts: WriteOptions): RequestOptions & { query: Record<string, string | boolean> } {
    const query: Record<string, string | boolean> = { fieldManager: opts.fieldManager ?? this.fieldManager };
    if (opts.dryRun) query['dryRun'] = 'All';
    return { body, query, ...(opts.signal ? { signal: opts.signal } : {}) };
  }

  /**
   * Takes a rate-limit token, sends, and retries a 429 that carries a Retry-After (the
   * server did not process it, so any verb may be retried). Returns a 2xx response with
   * its body unread; other answers throw KubeError.
   */
  async #send(
    method: Dispatcher.HttpMethod,
    verb: string,
    path: string,
    opts: RequestOptions,
    signal: AbortSignal,
    context: string,
    bodyTimeout: number,
  ): Promise<Dispatcher.ResponseData> {
    // Waits end on the request's signal or on close(); built only when a wait is needed.
    // The caller awaits this request, so its waits keep the process alive.
    let combined: AbortSignal | undefined;
    const waitSignal = (): AbortSignal => {
      combined ??= AbortSignal.any([signal, this.#closing.signal]);
      return combined;
    };
    for (let retries = 0; ; retries++) {
      if (this.#limiter) {
        const ms = await this.#limiter.wait(waitSignal);
        for (const o of this.#observers) o.rateLimited?.(verb, ms);
      }
      const sent = this.clock.monotonic();
      const res = await this.#dispatch(method, path, opts, signal, bodyTimeout).catch((e: unknown) => {
        for (const o of this.#observers) o.answered?.(verb, 0, this.clock.monotonic() - sent);
        throw e;
      });
      for (const o of this.#observers) o.answered?.(verb, res.statusCode, this.clock.monotonic() - sent);
      if (res.statusCode < 300) return res;
      const body = parseJson(await res.body.text());
      const after = res.statusCode === 429 && retries < this.maxRetries ? retryAfterMs(res.headers, body) : undefined;
      if (after === undefined) throw KubeError.fromStatus(res.statusCode, body, context);
      for (const o of this.#observers) o.retried?.(verb, res.statusCode, after);
      await sleep(this.clock, after, waitSignal(), { keepAlive: true });
    }
  }

  async #dispatch(
    method: Dispatcher.HttpMethod,
    path: string,
    opts: RequestOptions,
    signal: AbortSignal,
    bodyTimeout: number,
  ): Promise<Dispatcher.ResponseData> {
    // Checked before every attempt: a closed client never opens a connection again.
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
    const { server, headers, dispatcher } = await this.kubeConfig.prepare();
    const url = new URL(server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    headers['accept'] = 'application/json';
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    return undiciRequest(url, {
      method,
      headers,
      body: payload ?? null,
      signal,
      // Request limits run on the clock (the signal); 0 turns undici's own timers off.
      headersTimeout: 0,
      bodyTimeout,
      ...(dispatcher ? { dispatcher } : {}),
    });
  }

  /** The error to throw: once closed, failures without an HTTP answer are Closed. */
  #failure(e: unknown, context: string): unknown {
    const k = toKubeError(e, context);
    if (this.closed && !(k instanceof KubeError && k.code > 0)) return closedError(context, e);
    return k;
  }
}

/** The wait before updateStatus's attempt `i + 2`: 10 ms × 5^i, up to 10% longer (client-go retry.DefaultBackoff). */
export function conflictBackoffMs(i: number, random: () => number = Math.random): number {
  return Math.round(10 * 5 ** i * (1 + 0.1 * random()));
}

/** The delay a 429 asks for: the Retry-After header (seconds), else status.details.retryAfterSeconds. */
function retryAfterMs(headers: Dispatcher.ResponseData['headers'], body: unknown): number | undefined {
  const h = headers['retry-after'];
  const text = Array.isArray(h) ? h[0] : h;
  if (text !== undefined && /^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const s = (body as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

function nameOf(obj: KubeObject): { namespace: string | undefined; name: string } {
  const name = obj.metadata?.name;
  if (!name) throw new TypeError('object has no metadata.name');
  return { namespace: obj.metadata?.namespace, name };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
