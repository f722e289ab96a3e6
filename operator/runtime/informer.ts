// A resilient list+watch cache (client-go's Reflector + SharedInformer). client-node's
// informer stops on any error other than 410 and never restarts; this one lists,
// watches from the list's resourceVersion, follows bookmarks, relists on 410 Gone,
// re-watches with exponential backoff after any other error, resyncs periodically,
// and reports each transition as a typed state for metrics, logs and tests.
import type { KubeClient } from '../kube/client.ts';
import { isGone, isUnavailable } from '../kube/errors.ts';
import type { KubeObject, ResourceType } from '../kube/types.ts';
import { apiVersionOf, objectKey } from '../kube/types.ts';
import { ExponentialBackoff } from './backoff.ts';
import type { Clock, TimerHandle } from './clock.ts';
import { realClock, sleep } from './clock.ts';
import type { EventHandler, InformerOptions, InformerState } from './informer-types.ts';
import { stripManagedFields } from './informer-types.ts';
import type { Cache } from './store.ts';
import { Store } from './store.ts';
import { deepFreeze } from './freeze.ts';

export type { EventHandler, InformerOptions, InformerState } from './informer-types.ts';
export { stripManagedFields } from './informer-types.ts';

/** A list+watch cache of one resource in one cluster. */
export class Informer<T extends KubeObject> implements Cache<T> {
  readonly client: KubeClient;
  readonly resource: ResourceType;
  readonly namespace: string | undefined;
  readonly #opts: InformerOptions<T>;
  readonly #store: Store<T>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #backoff: ExponentialBackoff;
  readonly #handlers = new Set<EventHandler<T>>();
  readonly #stateListeners = new Set<(s: InformerState) => void>();
  readonly #syncWaiters: Array<() => void> = [];
  #abort: AbortController | undefined;
  /** Aborts the current list or watch only, so the loop relists (see relist()). */
  #round: AbortController | undefined;
  #relistRequested = false;
  #running: Promise<void> | undefined;
  #resyncTimer: TimerHandle | undefined;
  #synced = false;
  #rv = '';
  #lastError: unknown;

  constructor(opts: InformerOptions<T>) {
    this.#opts = opts;
    this.client = opts.client;
    this.resource = opts.resource;
    this.namespace = opts.namespace;
    this.#store = new Store<T>(opts.indexers);
    this.#clock = opts.clock ?? realClock;
    this.#random = opts.random ?? Math.random;
    this.#backoff = new ExponentialBackoff({
      baseMs: 800,
      maxMs: 30_000,
      jitter: 1,
      random: this.#random,
      ...opts.backoff,
    });
  }

  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  list(namespace?: string): T[] {
    return this.#store.list(namespace);
  }

  byIndex(index: string, value: string): T[] {
    return this.#store.byIndex(index, value);
  }

  /** Number of cached objects. */
  get size(): number {
    return this.#store.size;
  }

  /** True once the first list has been stored. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** The resourceVersion the cache is at. */
  get resourceVersion(): string {
    return this.#rv;
  }

  /** The last list or watch error (undefined after the next success). */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Registers a handler; objects already cached are replayed to it as adds. Returns an unsubscribe. */
  addHandler(h: EventHandler<T>): () => void {
    this.#handlers.add(h);
    for (const obj of this.#store.list()) this.#call(() => h.onAdd?.(obj));
    return () => this.#handlers.delete(h);
  }

  /** Subscribes to state transitions. Returns an unsubscribe. */
  onState(fn: (s: InformerState) => void): () => void {
    this.#stateListeners.add(fn);
    return () => this.#stateListeners.delete(fn);
  }

  /** Resolves once synced; rejects when `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Starts listing and watching in the background (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#abort = new AbortController();
    this.#running = this.#run(this.#abort.signal);
    this.#scheduleResync();
  }

  /** Stops watching; the cache keeps its last contents. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    if (this.#resyncTimer !== undefined) this.#clock.clearTimeout(this.#resyncTimer);
    await this.#running;
  }

  /**
   * Drops the current watch and lists again, as after a 410 (a member cluster that lost
   * contact must prove its cache fresh by a new list before controllers act on it).
   */
  relist(): void {
    this.#relistRequested = true;
    this.#round?.abort(new Error('relist requested'));
  }

  async #run(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      this.#round = new AbortController();
      const round = AbortSignal.any([signal, this.#round.signal]);
      try {
        if (this.#relistRequested) {
          this.#relistRequested = false;
          needList = true;
        }
        if (needList) {
          await this.#relist(round);
          needList = false;
        }
        await this.#watch(round);
        if (!round.aborted) this.#emit({ type: 'watchClosed', resourceVersion: this.#rv });
      } catch (error) {
        if (signal.aborted) break;
        if (round.aborted) continue; // relist() asked for a new round
        if (!needList && isGone(error)) {
          this.#emit({ type: 'gone', resourceVersion: this.#rv });
          needList = true;
          continue;
        }
        this.#lastError = error;
        const retryInMs = this.#backoff.when('reconnect');
        this.#emit(needList ? { type: 'listError', error, retryInMs } : { type: 'watchError', error, retryInMs });
        if (!isUnavailable(error)) needList = true;
        await sleep(this.#clock, retryInMs, round).catch(() => undefined);
      }
    }
    this.#emit({ type: 'stopped' });
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const transform = this.#transform();
    const apiVersion = apiVersionOf(this.resource);
    // transformed page by page: the whole list of full objects is never held at once
    const items: T[] = [];
    let resourceVersion = '';
    for await (const page of this.client.listPages<T>(this.resource, this.#selectors(signal))) {
      for (const raw of page.items) {
        // List items come without apiVersion/kind; watch events carry them. Make both alike.
        raw.apiVersion ??= apiVersion;
        raw.kind ??= this.resource.kind;
        items.push(transform(raw));
      }
      resourceVersion = page.resourceVersion || resourceVersion;
    }
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.#store.upsert(obj);
      if (old === undefined) this.#dispatch((h) => h.onAdd?.(obj));
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.#dispatch((h) => h.onUpdate?.(old, obj));
    }
    for (const key of [...this.#store.keys()]) {
      if (seen.has(key)) continue;
      const old = this.#store.remove(key);
      if (old !== undefined) this.#dispatch((h) => h.onDelete?.(old));
    }
    this.#rv = resourceVersion;
    this.#lastError = undefined;
    this.#backoff.forget('reconnect');
    this.#emit({ type: 'listed', count: items.length, resourceVersion });
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const timeoutSeconds = this.#opts.watchTimeoutSeconds ?? Math.floor(300 * (1 + this.#random()));
    const transform = this.#transform();
    this.#emit({ type: 'watching', resourceVersion: this.#rv });
    const events = this.client.watch<T>(this.resource, {
      ...this.#selectors(signal),
      resourceVersion: this.#rv,
      timeoutSeconds,
    });
    for await (const ev of events) {
      this.#lastError = undefined;
      this.#backoff.forget('reconnect');
      const rv = ev.object.metadata?.resourceVersion;
      if (ev.type === 'BOOKMARK') {
        if (rv) this.#rv = rv;
        continue;
      }
      const obj = transform(ev.object);
      if (ev.type === 'DELETED') {
        const old = this.#store.remove(objectKey(obj));
        this.#dispatch((h) => h.onDelete?.(old ?? obj));
      } else {
        const old = this.#store.upsert(obj);
        this.#dispatch((h) => (old === undefined ? h.onAdd?.(obj) : h.onUpdate?.(old, obj)));
      }
      if (rv) this.#rv = rv;
    }
  }

  /** The configured transform, then (unless `freeze: false`) a deep freeze: cached objects are shared, never mutated. */
  #transform(): (obj: T) => T {
    const t = this.#opts.transform ?? stripManagedFields;
    return this.#opts.freeze === false ? t : (obj) => deepFreeze(t(obj));
  }

  #selectors(signal: AbortSignal): {
    namespace?: string;
    labelSelector?: string;
    fieldSelector?: string;
    signal: AbortSignal;
  } {
    const { namespace, labelSelector, fieldSelector } = this.#opts;
    return {
      signal,
      ...(namespace ? { namespace } : {}),
      ...(labelSelector ? { labelSelector } : {}),
      ...(fieldSelector ? { fieldSelector } : {}),
    };
  }

  #scheduleResync(): void {
    const period = this.#opts.resyncPeriodMs ?? 0;
    if (period <= 0) return;
    this.#resyncTimer = this.#clock.setTimeout(() => {
      if (this.#abort?.signal.aborted) return;
      if (this.#synced) {
        const all = this.#store.list();
        for (const obj of all) this.#dispatch((h) => h.onUpdate?.(obj, obj));
        this.#emit({ type: 'resync', count: all.length });
      }
      this.#scheduleResync();
    }, period);
  }

  #dispatch(fn: (h: EventHandler<T>) => void): void {
    for (const h of this.#handlers) this.#call(() => fn(h));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#emit({ type: 'handlerError', error });
    }
  }

  #emit(s: InformerState): void {
    for (const fn of this.#stateListeners) {
      try {
        fn(s);
      } catch {
        /* a listener's failure must not stop the informer */
      }
    }
  }
}
