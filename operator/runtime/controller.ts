// The reconcile loop (controller-runtime's Controller): informer events become keys in
// a work queue, a bounded pool of workers hands each key to the reconciler — one
// worker per key at a time — and the result decides what happens next: success
// forgets the key's backoff, `requeueAfter` schedules it, a throw requeues it with
// rate-limited backoff unless the error is terminal, and a reconcile whose signal was
// aborted is counted as 'aborted', not requeued. Reconcilers never see events.
import { isTerminal } from '../kube/errors.ts';
import type { KubeObject } from '../kube/types.ts';
import { objectKey } from '../kube/types.ts';
import type { RateLimiter } from './backoff.ts';
import type { Clock } from './clock.ts';
import { realClock, sleep } from './clock.ts';
import type { Informer } from './informer.ts';
import type { Logger } from './log.ts';
import { keyFields, silentLogger } from './log.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { queueObserver } from './metrics.ts';
import { WorkQueue } from './workqueue.ts';

/** What a reconcile asks for next: nothing, or to run again after `requeueAfter` ms. */
export interface Result {
  requeueAfter?: number;
  /**
   * The work-queue priority the timed requeue comes back at (default 0). Below 0 it waits while any key at 0
   * does: only for work that may wait for good (a queue shared with other shards' events need never drain).
   */
  priority?: number;
}

/** Per-reconcile context. */
export interface ReconcileContext {
  controller: string;
  /** A child logger carrying the controller and the key. */
  log: Logger;
  /** Aborted when the controller must stop at once (leadership lost, shutdown deadline passed). */
  signal: AbortSignal;
  /** Failures of this key since its last success (0 on a first try). */
  attempt: number;
}

/** A reconciler: reads the caches it closed over, enforces the desired state for `key`, returns what next. */
export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<Result | undefined> | Result | undefined;

/** Maps an object to the keys to reconcile (its own key by default; another cluster's or an owner's key, …). */
export type KeyMapper<T> = (obj: T) => string | readonly string[] | undefined | null;

/** How one informer feeds a controller. */
export interface WatchSpec<T> {
  map?: KeyMapper<T>;
  /** Drops events for which it returns false (old is set for updates). */
  filter?: (obj: T, old?: T) => boolean;
  /** The work-queue priority of an event's keys (default 0; old is set for updates). */
  priority?: (obj: T, old?: T) => number;
}

/**
 * A WatchSpec filter (controller-runtime's GenerationChangedPredicate, plus deletion):
 * passes adds, deletes, spec changes and the start of deletion; drops status-only and
 * resync updates, so a reconciler's own status writes do not trigger it again.
 */
export function generationChanged<T extends KubeObject>(obj: T, old?: T): boolean {
  if (old === undefined) return true;
  const m = obj.metadata;
  return (
    m?.generation !== old.metadata?.generation ||
    (m?.deletionTimestamp !== undefined && old.metadata?.deletionTimestamp === undefined)
  );
}

/** Options of a {@link Controller}. */
export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  /** Workers, i.e. keys reconciled at once (default 1). */
  concurrency?: number;
  rateLimiter?: RateLimiter;
  clock?: Clock;
  log?: Logger;
  metrics?: RuntimeMetrics;
  /**
   * Passed before each reconcile (a YieldGate): its wait counts as neither reconcile time nor an active
   * worker; a key whose wait is aborted (the controller stopping) is dropped, as an aborted reconcile is.
   */
  gate?: { enter(signal: AbortSignal): Promise<() => void> };
}

/** A named reconcile loop over a work queue. */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #reconcile: Reconciler;
  readonly #concurrency: number;
  readonly #gate: ControllerOptions['gate'];
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: RuntimeMetrics | undefined;
  readonly #inFlight = new Map<string, AbortController>();
  readonly #stop = new AbortController();
  #workers: Promise<void>[] = [];

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.#reconcile = opts.reconcile;
    this.#concurrency = Math.max(1, opts.concurrency ?? 1);
    this.#gate = opts.gate;
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.log ?? silentLogger()).child({ controller: opts.name });
    this.#metrics = opts.metrics;
    this.queue = new WorkQueue({
      clock: this.#clock,
      ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
      ...(opts.metrics ? { observer: queueObserver(opts.metrics, opts.name) } : {}),
    });
    this.#metrics?.maxConcurrentReconciles.set({ controller: this.name }, this.#concurrency);
    this.#metrics?.activeWorkers.set({ controller: this.name }, 0);
  }

  /** Enqueues the keys `spec.map` gives for every add, update (old and new) and delete. Returns an unsubscribe. */
  watch<T extends KubeObject>(informer: Informer<T>, spec: WatchSpec<T> = {}): () => void {
    const map: KeyMapper<T> = spec.map ?? ((o) => objectKey(o));
    const push = (obj: T, priority = 0): void => {
      const keys = map(obj);
      if (typeof keys === 'string') this.queue.add(keys, priority);
      else if (keys) for (const k of keys) this.queue.add(k, priority);
    };
    const ok = spec.filter ?? (() => true);
    const prio = spec.priority ?? (() => 0);
    return informer.addHandler({
      onAdd: (o) => ok(o) && push(o, prio(o)),
      onUpdate: (old, o) => {
        if (!ok(o, old)) return;
        const p = prio(o, old);
        push(o, p);
        if (old !== o) push(old, p);
      },
      onDelete: (o) => ok(o) && push(o, prio(o)),
    });
  }

  /** Enqueues one key now; a higher `priority` (default 0) is handed out before lower ones (WorkQueue). */
  enqueue(key: string, priority = 0): void {
    this.queue.add(key, priority);
  }

  /** Enqueues one key after `ms` (an earlier pending time for it wins): many signals, one reconcile. */
  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  /** True once start was called. */
  get started(): boolean {
    return this.#workers.length > 0;
  }

  /** Keys being reconciled right now. */
  inFlight(): number {
    return this.#inFlight.size;
  }

  /** Starts the workers (idempotent). Keys queued before are processed now. */
  start(): void {
    if (this.started || this.#stop.signal.aborted) return;
    this.#log.info({ workers: this.#concurrency }, 'Starting workers');
    for (let i = 0; i < this.#concurrency; i++) this.#workers.push(this.#work());
  }

  /** Stops taking keys and waits up to `timeoutMs` for in-flight reconciles; then aborts them. Resolves true if all finished. */
  async stop(timeoutMs: number): Promise<boolean> {
    const drained = this.queue.shutDownWithDrain().then(() => true);
    const deadline = new AbortController();
    const finished = await Promise.race([drained, sleep(this.#clock, timeoutMs, deadline.signal).then(() => false)]);
    deadline.abort();
    if (!finished) {
      this.#log.warn({ inFlight: [...this.#inFlight.keys()] }, 'Shutdown deadline passed, aborting reconciles');
      this.abort(new Error('shutdown deadline passed'));
    }
    return finished;
  }

  /** Stops at once: aborts every in-flight reconcile's signal and drops queued keys (e.g. leadership lost). */
  abort(reason: unknown = new Error('controller stopped')): void {
    this.#stop.abort(reason);
    for (const ac of this.#inFlight.values()) ac.abort(reason);
    this.queue.shutDown();
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.#process(key);
    }
  }

  async #process(key: string): Promise<void> {
    const ac = new AbortController();
    this.#inFlight.set(key, ac);
    let leave: (() => void) | undefined;
    if (this.#gate) {
      try {
        leave = await this.#gate.enter(ac.signal);
      } catch {
        this.#inFlight.delete(key);
        this.queue.done(key);
        return;
      }
    }
    try {
      await this.#reconcileOnce(key, ac);
    } finally {
      leave?.();
    }
  }

  async #reconcileOnce(key: string, ac: AbortController): Promise<void> {
    const attempt = this.queue.numRequeues(key);
    const log = this.#log.child(keyFields(key));
    const labels = { controller: this.name };
    this.#metrics?.activeWorkers.inc(labels);
    const started = this.#clock.monotonic();
    let result: 'success' | 'error' | 'requeue_after' | 'aborted' = 'success';
    try {
      log.debug({ attempt }, 'Reconciling');
      const res = await this.#reconcile(key, { controller: this.name, log, signal: ac.signal, attempt });
      if (ac.signal.aborted) {
        result = 'aborted';
        return;
      }
      const after = res?.requeueAfter ?? 0;
      this.queue.forget(key);
      if (after > 0) {
        result = 'requeue_after';
        this.queue.addAfter(key, after, res?.priority ?? 0);
      }
      log.debug({ requeueAfter: after || undefined }, 'Reconciled');
    } catch (err) {
      // Aborted by us (leadership lost, shutdown deadline): neither a failure nor a success.
      result = ac.signal.aborted ? 'aborted' : 'error';
      if (result === 'aborted') {
        log.info({ err }, 'Reconcile aborted');
        return;
      }
      this.#metrics?.reconcileErrors.inc(labels);
      if (isTerminal(err)) {
        this.#metrics?.terminalReconcileErrors.inc(labels);
        this.queue.forget(key);
        log.error({ err, attempt }, 'Reconciler error, not retried (terminal)');
      } else {
        this.queue.addRateLimited(key);
        log.error({ err, attempt }, 'Reconciler error, retrying with backoff');
      }
    } finally {
      this.#metrics?.reconcileTime.observe(labels, (this.#clock.monotonic() - started) / 1000);
      this.#metrics?.reconcileTotal.inc({ ...labels, result });
      this.#metrics?.activeWorkers.dec(labels);
      this.#inFlight.delete(key);
      this.queue.done(key);
    }
  }
}
