// client-node 2.0.1 builds a new undici Agent for every request in
// `KubeConfig.applySecurityAuthentication`, so each request pays a TCP+TLS handshake
// (measured 122 vs 511 creates/s). This subclass keeps everything client-node does
// for credentials (cert files, tokens, exec/OIDC plugins, impersonation) and only
// caches the dispatcher, keyed by the cluster's TLS material, so every request —
// ours, the generated *Api clients, Watch, makeInformer — shares one keep-alive pool.
import { createHash } from 'node:crypto';
import type { RequestOptions } from 'node:https';
import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { Agent, ProxyAgent, buildConnector } from 'undici';
import type { Dispatcher } from 'undici';
import { closedError } from './errors.ts';

/** Headers and the shared dispatcher for one request. */
export interface PreparedRequest {
  server: string;
  headers: Record<string, string>;
  dispatcher: Dispatcher | undefined;
}

/** Pool tuning for {@link PooledKubeConfig}. */
export interface PoolOptions {
  /** Idle time before a kept-alive socket is closed, ms (default 60 s, below the API server's 90 s). */
  keepAliveTimeoutMs?: number;
}

/** A KubeConfig whose requests reuse one undici dispatcher per cluster and credentials. */
export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;
  #dispatcherKey = '';
  #connectionsOpened = 0;
  #keepAliveTimeoutMs = 60_000;
  #closed = false;

  /** A pooled copy of `kc` (same clusters, users, contexts and current context). */
  static from(kc: KubeConfig, opts: PoolOptions = {}): PooledKubeConfig {
    const pooled = new PooledKubeConfig();
    pooled.loadFromOptions({
      clusters: kc.getClusters(),
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext(),
    });
    if (opts.keepAliveTimeoutMs !== undefined) pooled.#keepAliveTimeoutMs = opts.keepAliveTimeoutMs;
    return pooled;
  }

  /** TCP/TLS connections opened by the shared dispatcher so far. */
  get connectionsOpened(): number {
    return this.#connectionsOpened;
  }

  /** True once close() or destroy() was called: the pool is never rebuilt. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Credentials as headers plus the cached dispatcher for the current context; throws Closed once closed. */
  async prepare(): Promise<PreparedRequest> {
    if (this.#closed) throw closedError('kubeconfig');
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const opts: RequestOptions = {};
    await this.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    if (opts.auth) headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      rejectUnauthorized: opts.rejectUnauthorized,
      servername: opts.servername,
    };
    // Closed while the credentials were read: building a pool now would reopen it.
    if (this.#closed) throw closedError('kubeconfig');
    const key = materialKey(cluster.server, cluster.proxyUrl, tls);
    if (key !== this.#dispatcherKey || this.#dispatcher === undefined) {
      // Built synchronously (no await between the check and the store), so concurrent
      // first requests cannot create two pools.
      const made = this.#build(cluster, tls);
      let built: Dispatcher | undefined;
      if (made !== 'socks') built = made;
      else {
        const ctx = new RequestContext(cluster.server, 'GET');
        await super.applySecurityAuthentication(ctx); // client-node's SOCKS connector is private: build once, keep it.
        built = ctx.getDispatcher();
        if (this.#closed) {
          void built?.close().catch(() => undefined);
          throw closedError('kubeconfig');
        }
        if (key === this.#dispatcherKey && this.#dispatcher !== undefined) {
          void built?.close().catch(() => undefined);
          return { server: cluster.server, headers, dispatcher: this.#dispatcher };
        }
      }
      const old = this.#dispatcher;
      this.#dispatcher = built;
      this.#dispatcherKey = key;
      if (old) void old.close().catch(() => undefined);
    }
    return { server: cluster.server, headers, dispatcher: this.#dispatcher };
  }

  /** Same contract as KubeConfig's, but the dispatcher is the shared one. */
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const { headers, dispatcher } = await this.prepare();
    for (const [k, v] of Object.entries(headers)) context.setHeaderParam(k, v);
    if (dispatcher) context.setDispatcher(dispatcher);
  }

  /** Closes the shared dispatcher for good (in-flight requests finish first); later requests throw Closed. */
  async close(): Promise<void> {
    this.#closed = true;
    const d = this.#dispatcher;
    this.#dispatcher = undefined;
    this.#dispatcherKey = '';
    if (d) await d.close();
  }

  /** Closes for good at once, aborting in-flight requests and watches. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const d = this.#dispatcher;
    this.#dispatcher = undefined;
    this.#dispatcherKey = '';
    if (d) await d.destroy();
  }

  #build(
    cluster: NonNullable<ReturnType<KubeConfig['getCurrentCluster']>>,
    tls: Record<string, unknown>,
  ): Dispatcher | 'socks' {
    const agentOptions = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined && v !== null));
    const d = this.createDispatcherOptions(cluster, agentOptions);
    // HTTP/1.1 keep-alive, not undici 8's default HTTP/2: closing an h2 session with a
    // watch stream open emits an 'error' on the stream that nobody can listen to, which
    // crashed the process (seen in bench/ when a client closed after its informers).
    const pool = { keepAliveTimeout: this.#keepAliveTimeoutMs, keepAliveMaxTimeout: 10 * 60_000, allowH2: false };
    switch (d.type) {
      case 'agent':
      case 'none': {
        const connect = buildConnector({
          ...(d.type === 'agent' ? d.connect : { keepAlive: true, keepAliveInitialDelay: 30_000 }),
          allowH2: false,
        });
        return new Agent({
          ...pool,
          connect: (options, callback) =>
            connect(options, (err, socket) => {
              if (!err) this.#connectionsOpened++;
              (callback as (e: Error | null, s: unknown) => void)(err, socket);
            }),
        });
      }
      case 'proxy':
        return new ProxyAgent({ ...pool, uri: d.uri, requestTls: d.requestTls, connect: d.connect });
      case 'socks':
        return 'socks';
    }
  }
}

/**
 * The identity of a cluster's endpoint and TLS material: a dispatcher is rebuilt when it changes (a rotated
 * certificate on disk). Runs on every request, so it hashes the bytes as they are, each with its length
 * (JSON of the Buffers cost ~70 µs a request: every byte became a number in an array).
 */
function materialKey(server: string, proxyUrl: string | undefined, tls: Record<string, unknown>): string {
  const h = createHash('sha256');
  const feed = (v: unknown): void => {
    if (Array.isArray(v)) {
      h.update(`[${v.length}`);
      for (const x of v) feed(x);
    } else if (Buffer.isBuffer(v) || typeof v === 'string') {
      h.update(`${Buffer.isBuffer(v) ? 'b' : 's'}${Buffer.byteLength(v)}:`);
      h.update(v);
    } else h.update(`v${JSON.stringify(v ?? null)}`);
  };
  feed(server);
  feed(proxyUrl ?? '');
  for (const k of Object.keys(tls).sort()) {
    feed(k);
    feed(tls[k]);
  }
  return h.digest('hex');
}
