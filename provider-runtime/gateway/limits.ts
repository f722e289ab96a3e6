// Admission limits, checked before any decryption work: requests per second per requester and for the job
// (token buckets), requests in flight per requester, sessions per requester, payload size. Pure: the clock
// is passed in (monotonic milliseconds).

/** The limits of one gateway, set per pool (flags, env or a JSON file; see main.ts). 0 turns a rate off. */
export interface LimitConfig {
  /** Largest plaintext request, bytes. */
  maxPayloadBytes: number;
  requesterRps: number;
  requesterBurst: number;
  jobRps: number;
  jobBurst: number;
  maxConcurrentPerRequester: number;
  maxSessionsPerRequester: number;
  /** Sessions the gateway holds at once, all requesters together. */
  maxSessions: number;
}

export const DEFAULT_LIMITS: LimitConfig = {
  maxPayloadBytes: 4 * 1024 * 1024,
  requesterRps: 500,
  requesterBurst: 1000,
  jobRps: 5000,
  jobBurst: 10000,
  maxConcurrentPerRequester: 64,
  maxSessionsPerRequester: 16,
  maxSessions: 10000,
};

/** Why a request was refused before it was decrypted. */
export type Refusal = 'requester-rate' | 'job-rate' | 'requester-concurrency' | 'payload-size' | 'sessions';

/** A token bucket: `rate` tokens a second, at most `burst` held. rate 0: unlimited. */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = Math.max(1, burst);
    this.#tokens = this.burst;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
      this.#at = now;
    }
  }

  /** 0 when a token is there to take; otherwise the milliseconds until one is. Takes nothing. */
  wait(now: number): number {
    if (this.rate <= 0) return 0;
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.rate);
  }

  take(): void {
    if (this.rate > 0) this.#tokens -= 1;
  }
}

export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; reason: Refusal; retryAfterMs: number; message: string };

interface RequesterState {
  bucket: TokenBucket;
  inflight: number;
  /** Last use, to forget idle requesters. */
  seen: number;
}

/** The gateway's admission state. */
export class Limiter {
  readonly config: LimitConfig;
  readonly #job: TokenBucket;
  readonly #requesters = new Map<string, RequesterState>();

  constructor(config: LimitConfig, now: number) {
    this.config = config;
    this.#job = new TokenBucket(config.jobRps, config.jobBurst, now);
  }

  #state(requester: string, now: number): RequesterState {
    let s = this.#requesters.get(requester);
    if (!s) {
      s = {
        bucket: new TokenBucket(this.config.requesterRps, this.config.requesterBurst, now),
        inflight: 0,
        seen: now,
      };
      this.#requesters.set(requester, s);
    }
    s.seen = now;
    return s;
  }

  /** Admits one request of `requester` or says why not and when to retry; nothing is taken on refusal. */
  admit(requester: string, now: number): Admission {
    const s = this.#state(requester, now);
    const c = this.config;
    if (s.inflight >= c.maxConcurrentPerRequester)
      return {
        ok: false,
        reason: 'requester-concurrency',
        retryAfterMs: 10,
        message: `${s.inflight} requests of this requester in flight, the limit is ${c.maxConcurrentPerRequester}`,
      };
    const mine = s.bucket.wait(now);
    if (mine > 0)
      return {
        ok: false,
        reason: 'requester-rate',
        retryAfterMs: mine,
        message: `over ${c.requesterRps} requests/s for this requester`,
      };
    const job = this.#job.wait(now);
    if (job > 0)
      return { ok: false, reason: 'job-rate', retryAfterMs: job, message: `over ${c.jobRps} requests/s for this job` };
    s.bucket.take();
    this.#job.take();
    s.inflight++;
    let done = false;
    return {
      ok: true,
      release: () => {
        if (done) return;
        done = true;
        s.inflight--;
      },
    };
  }

  /** Forgets requesters idle for `idleMs` with nothing in flight (their buckets are full again by then). */
  sweep(now: number, idleMs = 60_000): void {
    for (const [k, s] of this.#requesters) if (s.inflight === 0 && now - s.seen > idleMs) this.#requesters.delete(k);
  }
}

/** Checks a configuration; throws a RangeError naming the field. */
export function checkLimits(c: LimitConfig): LimitConfig {
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new RangeError(`limits.${k}: ${v} is not a non-negative number`);
  }
  for (const k of ['maxPayloadBytes', 'maxConcurrentPerRequester', 'maxSessionsPerRequester', 'maxSessions'] as const)
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) throw new RangeError(`limits.${k}: ${c[k]} is not a positive integer`);
  return c;
}
