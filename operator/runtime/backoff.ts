// Retry pacing for the work queue and for informer reconnects: a per-key exponential
// backoff with jitter and a ceiling (client-go's ItemExponentialFailureRateLimiter
// plus wait.Jitter), an overall token bucket (BucketRateLimiter), and their max.
// Time and randomness are injected so tests assert exact delays.
import type { Clock } from './clock.ts';
import { realClock } from './clock.ts';
import { TokenBucketLimiter } from '../kube/rate-limit.ts';

/** Decides how long a key waits before it is retried (client-go's RateLimiter). */
export interface RateLimiter {
  /** Delay in ms before the next retry of `key`; counts one more failure for it. */
  when(key: string): number;
  /** Clears the failure history of `key` (after a success). */
  forget(key: string): void;
  /** Failures counted for `key` since the last forget. */
  numRequeues(key: string): number;
}

/** Options of {@link ExponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** Delay after the first failure, ms (default 5). */
  baseMs?: number;
  /** Ceiling on any delay, jitter included, ms (default 1000 s). */
  maxMs?: number;
  /** Growth factor per failure (default 2). */
  factor?: number;
  /** Extra random fraction added: delay × (1 + jitter × random()) (default 0.1). */
  jitter?: number;
  /** Uniform [0, 1) source (default Math.random). */
  random?: () => number;
}

/** Per-key exponential backoff: base × factor^failures, jittered upward, capped at max. */
export class ExponentialBackoff implements RateLimiter {
  readonly #failures = new Map<string, number>();
  readonly #base: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;

  constructor(opts: ExponentialBackoffOptions = {}) {
    this.#base = opts.baseMs ?? 5;
    this.#max = opts.maxMs ?? 1_000_000;
    this.#factor = opts.factor ?? 2;
    this.#jitter = opts.jitter ?? 0.1;
    this.#random = opts.random ?? Math.random;
    if (!(this.#base > 0) || !(this.#max >= this.#base) || !(this.#factor >= 1) || !(this.#jitter >= 0)) {
      throw new RangeError('ExponentialBackoff: need baseMs > 0, maxMs >= baseMs, factor >= 1, jitter >= 0');
    }
  }

  when(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    return this.delayFor(n);
  }

  /** The delay for the (n+1)-th consecutive failure, without recording it. */
  delayFor(n: number): number {
    const exp = this.#base * this.#factor ** n;
    const raw = Number.isFinite(exp) ? Math.min(exp, this.#max) : this.#max;
    return Math.min(this.#max, raw * (1 + this.#jitter * this.#random()));
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Sustained retries per second (default 10). */
  qps?: number;
  /** Bucket size (default 100). */
  burst?: number;
  clock?: Clock;
}

/** An overall limit on retries across keys: each `when` reserves one token of the clients' token bucket. */
export class TokenBucket implements RateLimiter {
  readonly #bucket: TokenBucketLimiter;

  constructor(opts: TokenBucketOptions = {}) {
    const qps = opts.qps ?? 10;
    const burst = opts.burst ?? 100;
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError('TokenBucket: need qps > 0 and burst >= 1');
    this.#bucket = new TokenBucketLimiter(qps, burst, opts.clock ?? realClock);
  }

  when(_key: string): number {
    return this.#bucket.reserve();
  }

  forget(_key: string): void {}

  numRequeues(_key: string): number {
    return 0;
  }
}

/** The longest delay of several limiters (controller-runtime's default combination). */
export class MaxOfRateLimiter implements RateLimiter {
  readonly #limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    if (limiters.length === 0) throw new RangeError('MaxOfRateLimiter needs at least one limiter');
    this.#limiters = limiters;
  }

  when(key: string): number {
    return Math.max(...this.#limiters.map((l) => l.when(key)));
  }

  forget(key: string): void {
    for (const l of this.#limiters) l.forget(key);
  }

  numRequeues(key: string): number {
    return Math.max(...this.#limiters.map((l) => l.numRequeues(key)));
  }
}

/** controller-runtime's default: per-key 5 ms → 1000 s exponential, max with 10 qps / 100 burst. */
export function defaultControllerRateLimiter(clock: Clock = realClock, random?: () => number): RateLimiter {
  return new MaxOfRateLimiter(
    new ExponentialBackoff({ baseMs: 5, maxMs: 1_000_000, ...(random ? { random } : {}) }),
    new TokenBucket({ qps: 10, burst: 100, clock }),
  );
}
