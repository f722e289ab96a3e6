// The work queue between informer events and reconcilers, with client-go's
// semantics: keys are deduplicated while waiting (dirty set), a key is handed to at
// most one worker at a time (processing set), a key added while it is processed is
// queued again once `done` is called, and delayed / rate-limited adds merge into
// the earliest pending time. Events are never replayed: only keys are queued.
import type { Clock, TimerHandle } from './clock.ts';
import { realClock } from './clock.ts';
import type { RateLimiter } from './backoff.ts';
import { defaultControllerRateLimiter } from './backoff.ts';

/** Observations a queue reports (implemented by the metrics module; all optional). */
export interface QueueObserver {
  add?(): void;
  depth?(n: number): void;
  /** Seconds a key waited between add and get. */
  latency?(seconds: number): void;
  /** Seconds between get and done. */
  workDuration?(seconds: number): void;
  retry?(): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  clock?: Clock;
  rateLimiter?: RateLimiter;
  observer?: QueueObserver;
}

/** A deduplicating, delaying, rate-limited queue of string keys. */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #limiter: RateLimiter;
  readonly #obs: QueueObserver;
  readonly #queue: string[] = [];
  #head = 0;
  readonly #dirty = new Set<string>();
  readonly #processing = new Map<string, number>();
  readonly #addedAt = new Map<string, number>();
  readonly #waiting = new Map<string, { at: number; timer: TimerHandle }>();
  readonly #getters: Array<(key: string | undefined) => void> = [];
  readonly #drainers: Array<() => void> = [];
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.#clock = opts.clock ?? realClock;
    this.#limiter = opts.rateLimiter ?? defaultControllerRateLimiter(this.#clock);
    this.#obs = opts.observer ?? {};
  }

  /** Queues `key` unless it is already waiting; a key being processed is queued again after `done`. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#obs.add?.();
    this.#dirty.add(key);
    this.#addedAt.set(key, this.#clock.monotonic());
    if (this.#processing.has(key)) return;
    this.#queue.push(key);
    this.#dispatch();
    this.#obs.depth?.(this.len());
  }

  /** Queues `key` after `ms`; an earlier pending time for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.monotonic() + ms;
    const existing = this.#waiting.get(key);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      this.#clock.clearTimeout(existing.timer);
    }
    const timer = this.#clock.setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    this.#waiting.set(key, { at, timer });
  }

  /** Queues `key` after the rate limiter's delay for it (one more failure counted). */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#obs.retry?.();
    this.addAfter(key, this.#limiter.when(key));
  }

  /** Resets the failure count of `key` (call after a successful reconcile). */
  forget(key: string): void {
    this.#limiter.forget(key);
  }

  /** Failures counted for `key` since the last forget. */
  numRequeues(key: string): number {
    return this.#limiter.numRequeues(key);
  }

  /** Waits for the next key and marks it processing; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#getters.push(resolve);
      this.#dispatch();
    });
  }

  /** Marks `key` finished; if it was added meanwhile it is queued again. */
  done(key: string): void {
    const started = this.#processing.get(key);
    if (started === undefined) return;
    this.#processing.delete(key);
    this.#obs.workDuration?.((this.#clock.monotonic() - started) / 1000);
    if (this.#dirty.has(key) && !this.#shuttingDown) {
      this.#queue.push(key);
      this.#dispatch();
      this.#obs.depth?.(this.len());
    }
    if (this.#processing.size === 0) for (const d of this.#drainers.splice(0)) d();
  }

  /** Keys waiting to be handed out (not counting delayed or processing keys). */
  len(): number {
    return this.#queue.length - this.#head;
  }

  /** Keys currently handed to workers. */
  processing(): number {
    return this.#processing.size;
  }

  /** True once shutDown was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Stops the queue: new adds are ignored, waiting and delayed keys dropped, getters get undefined. */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { timer } of this.#waiting.values()) this.#clock.clearTimeout(timer);
    this.#waiting.clear();
    this.#queue.length = 0;
    this.#head = 0;
    this.#dirty.clear();
    this.#addedAt.clear();
    for (const g of this.#getters.splice(0)) g(undefined);
    this.#obs.depth?.(0);
  }

  /** Shuts down, then resolves once every key handed out has been marked done. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainers.push(resolve));
  }

  #dispatch(): void {
    while (this.#getters.length > 0 && this.len() > 0) {
      const key = this.#queue[this.#head++] as string;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      const now = this.#clock.monotonic();
      this.#dirty.delete(key);
      this.#processing.set(key, now);
      const added = this.#addedAt.get(key);
      this.#addedAt.delete(key);
      if (added !== undefined) this.#obs.latency?.((now - added) / 1000);
      this.#obs.depth?.(this.len());
      const getter = this.#getters.shift() as (key: string | undefined) => void;
      getter(key);
    }
  }
}
