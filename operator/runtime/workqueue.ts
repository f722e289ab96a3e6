// The work queue between informer events and reconcilers, with client-go's
// semantics: keys are deduplicated while waiting (dirty set), a key is handed to at
// most one worker at a time (processing set), a key added while it is processed is
// queued again once `done` is called, and delayed / rate-limited adds merge into
// the earliest pending time. Events are never replayed: only keys are queued.
//
// Priorities (controller-runtime's priority queue): a key is handed out before every key of a lower
// priority, first-in first-out within one. Adding a waiting key again with a higher priority raises it
// (it keeps no place in the lower line); with a lower one changes nothing. The default is 0. It lets an
// event that finishes work (a workload became Ready) go before a backlog of work still to start, which
// would otherwise hold it for a whole pass over the queue.
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

/** One priority's first-in first-out line: entries before `head` are handed out or stale. */
interface Line {
  entries: Array<{ key: string; seq: number }>;
  head: number;
}

/** A deduplicating, delaying, rate-limited queue of string keys. */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #limiter: RateLimiter;
  readonly #obs: QueueObserver;
  /** One first-in first-out line per priority; an entry is live while #queued holds its key with its seq. */
  readonly #lines = new Map<number, Line>();
  /** Priorities present in #lines, highest first. */
  #order: number[] = [];
  /** Keys waiting to be handed out: their priority and the seq of their live entry. */
  readonly #queued = new Map<string, { priority: number; seq: number }>();
  #seq = 0;
  /** Keys added while processing: the priority to queue them with at done (the highest asked). */
  readonly #again = new Map<string, number>();
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

  /**
   * Queues `key` unless it is already waiting (then only a higher `priority` raises it); a key being
   * processed is queued again after `done`, with the highest priority asked meanwhile.
   */
  add(key: string, priority = 0): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) {
      const waiting = this.#queued.get(key)?.priority;
      if (waiting !== undefined && priority > waiting) {
        this.#push(key, priority);
        this.#dispatch();
      } else if (waiting === undefined && priority > (this.#again.get(key) ?? Number.NEGATIVE_INFINITY))
        this.#again.set(key, priority);
      return;
    }
    this.#obs.add?.();
    this.#dirty.add(key);
    this.#addedAt.set(key, this.#clock.monotonic());
    if (this.#processing.has(key)) {
      this.#again.set(key, priority);
      return;
    }
    this.#push(key, priority);
    this.#dispatch();
    this.#obs.depth?.(this.len());
  }

  #push(key: string, priority: number): void {
    const seq = ++this.#seq;
    this.#queued.set(key, { priority, seq });
    let line = this.#lines.get(priority);
    if (!line) {
      line = { entries: [], head: 0 };
      this.#lines.set(priority, line);
      this.#order = [...this.#lines.keys()].sort((a, b) => b - a);
    }
    line.entries.push({ key, seq });
  }

  /** The next live key, highest priority first; undefined when none waits. */
  #pop(): string | undefined {
    for (const p of this.#order) {
      const line = this.#lines.get(p) as Line;
      while (line.head < line.entries.length) {
        const { key, seq } = line.entries[line.head++] as { key: string; seq: number };
        if (line.head > 1024 && line.head * 2 > line.entries.length) {
          line.entries.splice(0, line.head);
          line.head = 0;
        }
        // an entry left behind when its key was raised to a higher line (handed out from there, maybe
        // queued again since: a newer entry)
        if (this.#queued.get(key)?.seq !== seq) continue;
        this.#queued.delete(key);
        return key;
      }
    }
    return undefined;
  }

  /** Queues `key` after `ms` (at `priority` then); an earlier pending time for the same key wins. */
  addAfter(key: string, ms: number, priority = 0): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key, priority);
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
      this.add(key, priority);
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
    const again = this.#again.get(key) ?? 0;
    this.#again.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) {
      this.#push(key, again);
      this.#dispatch();
      this.#obs.depth?.(this.len());
    }
    if (this.#processing.size === 0) for (const d of this.#drainers.splice(0)) d();
  }

  /** Keys waiting to be handed out (not counting delayed or processing keys). */
  len(): number {
    return this.#queued.size;
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
    this.#lines.clear();
    this.#order = [];
    this.#queued.clear();
    this.#again.clear();
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
      const key = this.#pop() as string;
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
