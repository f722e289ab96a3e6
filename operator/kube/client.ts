// The thin Kubernetes adapter the runtime and controllers use: raw JSON requests over
// the cluster's one shared keep-alive pool (see pooled-config.ts), typed errors, and
// the handful of verbs operators need (get, list, watch, create, replace, server-side
// apply, merge patch, status patch, delete). Raw requests instead of client-node's
// KubernetesObjectApi: no discovery round trip, no model (de)serialization, the same
// code for core kinds and CRDs, and objects cached exactly as the server sent them.
import type { KubeConfig } from '@kubernetes/client-node';
import { request as undiciRequest } from 'undici';
import type { Dispatcher } from 'undici';
import { KubeError, toKubeError } from './errors.ts';
import { PooledKubeConfig } from './pooled-config.ts';
import { parseWatchStream } from './watch.ts';
import type { WatchEvent } from './watch.ts';
import type { KubeClientOptions, ListOptions, RequestOptions, WatchOptions, WriteOptions } from './options.ts';
import type { KubeList, KubeObject, ResourceType } from './types.ts';

export type { WatchEvent } from './watch.ts';
export type { KubeClientOptions, ListOptions, RequestOptions, WatchOptions, WriteOptions } from './options.ts';
import { resourcePath } from './types.ts';

/** A client for one cluster; every request shares the cluster's connection pool. */
export class KubeClient {
  readonly name: string;
  readonly kubeConfig: PooledKubeConfig;
  readonly requestTimeoutMs: number;
  readonly fieldManager: string;

  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    const pool = opts.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs: opts.keepAliveTimeoutMs };
    this.kubeConfig = kc instanceof PooledKubeConfig ? kc : PooledKubeConfig.from(kc, pool);
    this.name = opts.name ?? kc.getCurrentCluster()?.name ?? 'default';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.fieldManager = opts.fieldManager ?? 'nvdax-operator';
  }

  /** TCP/TLS connections opened so far for this cluster. */
  get connectionsOpened(): number {
    return this.kubeConfig.connectionsOpened;
  }

  /** Sends one request and returns the parsed JSON body; non-2xx answers throw KubeError. */
  async request<T>(method: Dispatcher.HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const context = `${method} ${path}`;
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const res = await this.#send(method, path, opts, signal, timeoutMs, timeoutMs);
      const text = await res.body.text();
      if (res.statusCode >= 300) throw KubeError.fromStatus(res.statusCode, parseJson(text), context);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    } catch (e) {
      throw toKubeError(opts.signal?.aborted ? opts.signal.reason : e, context);
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
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.list<T>(res, { limit: 500, ...opts, ...(cont ? { continue: cont } : {}) });
      for (const it of page.items) items.push(it);
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  /** Streams watch events until the server ends the watch or `signal` aborts; ERROR events throw (410 → isGone). */
  async *watch<T extends KubeObject>(res: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const { namespace, signal, timeoutSeconds = 300, allowBookmarks = true, ...rest } = opts;
    const path = resourcePath(res, namespace);
    const query = { ...rest, watch: true, timeoutSeconds, allowWatchBookmarks: allowBookmarks };
    let body: Dispatcher.ResponseData['body'] | undefined;
    try {
      const bodyTimeout = timeoutSeconds * 1000 + this.requestTimeoutMs;
      const resp = await this.#send('GET', path, { query }, signal, this.requestTimeoutMs, bodyTimeout);
      body = resp.body;
      if (resp.statusCode >= 300) {
        throw KubeError.fromStatus(resp.statusCode, parseJson(await resp.body.text()), `WATCH ${path}`);
      }
      yield* parseWatchStream<T>(resp.body, path);
    } catch (e) {
      if (signal?.aborted) return;
      throw toKubeError(e, `WATCH ${path}`);
    } finally {
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
  apply<T extends KubeObject>(res: ResourceType, obj: KubeObject, opts: WriteOptions & { force?: boolean } = {}): Promise<T> {
    return this.#apply<T>(res, obj, undefined, opts);
  }

  /** Server-side apply to the status subresource. */
  applyStatus<T extends KubeObject>(res: ResourceType, obj: KubeObject, opts: WriteOptions & { force?: boolean } = {}): Promise<T> {
    return this.#apply<T>(res, obj, 'status', opts);
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
      await this.request('DELETE', resourcePath(res, namespace, name), { body, ...(opts.signal ? { signal: opts.signal } : {}) });
      return true;
    } catch (e) {
      if (e instanceof KubeError && e.reason === 'NotFound') return false;
      throw e;
    }
  }

  /** Closes the connection pool after in-flight requests finish. */
  close(): Promise<void> {
    return this.kubeConfig.close();
  }

  #apply<T>(res: ResourceType, obj: KubeObject, sub: string | undefined, opts: WriteOptions & { force?: boolean }): Promise<T> {
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

  async #send(
    method: Dispatcher.HttpMethod,
    path: string,
    opts: RequestOptions,
    signal: AbortSignal | undefined,
    headersTimeout: number,
    bodyTimeout: number,
  ): Promise<Dispatcher.ResponseData> {
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
      signal: signal ?? null,
      headersTimeout,
      bodyTimeout,
      ...(dispatcher ? { dispatcher } : {}),
    });
  }
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
