// Time as an injected port: the queue, backoff, informer resync and leader election
// read time and schedule timers only through a Clock, so unit tests run instantly
// on a FakeClock and nothing depends on the wall clock at import time.

/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

/** Options of {@link Clock.setTimeout}. */
export interface TimerOptions {
  keepAlive?: boolean;
}

/** The time source and timer scheduler used by the runtime. */
export interface Clock {
  /** Milliseconds since the epoch (wall time: for timestamps written to objects). */
  now(): number;
  /** Milliseconds on a clock that never steps (only differences mean anything): for measuring durations. */
  monotonic(): number;
  /**
   * Runs `fn` after `ms` milliseconds. The timer does not keep the process alive unless
   * `keepAlive` says a caller is awaiting it (a request's rate-limit or Retry-After wait);
   * background loops (probes, resyncs, backoff) must never hold the process.
   */
  setTimeout(fn: () => void, ms: number, opts?: TimerOptions): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process clock (Date.now, and timers unref'd unless kept alive). */
export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms, opts) => {
    const t = setTimeout(fn, Math.max(0, ms));
    if (!opts?.keepAlive) t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal, opts?: TimerOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      ms,
      opts,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A signal that aborts with a TimeoutError (as AbortSignal.timeout's) after `ms` on `clock`,
 * so request timeouts follow a FakeClock in tests; `cancel` clears the timer once it is not needed.
 */
export function timeoutSignal(clock: Clock, ms: number): { signal: AbortSignal; cancel: () => void } {
  const ac = new AbortController();
  const handle = clock.setTimeout(() => ac.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms);
  return { signal: ac.signal, cancel: () => clock.clearTimeout(handle) };
}

/** A manually advanced clock for tests: timers fire only inside {@link FakeClock.advance}. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'object' && handle !== null && 'id' in handle && typeof handle.id === 'number') {
      this.#timers.delete(handle.id);
    }
  }

  /** Number of timers not yet fired. */
  pending(): number {
    return this.#timers.size;
  }

  /** Time until each pending timer fires, ms, soonest first (tests wait for a timer to exist). */
  timers(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing due timers in time order (timers they schedule too). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
    }
    this.#now = target;
  }
}
