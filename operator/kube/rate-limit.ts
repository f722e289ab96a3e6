// The client-side request limit of one cluster's client: client-go's flowcontrol token
// bucket (golang.org/x/time/rate). The bucket holds `burst` tokens and refills at `qps`;
// each request takes one, and when none is left it reserves the next one and waits on
// the clock until then, so waiters are paced at qps in arrival order.
import type { Clock } from '../runtime/clock.ts';
import { sleep } from '../runtime/clock.ts';

/** A token bucket whose `wait` blocks (on the injected clock) until a token is free. */
export class TokenBucketLimiter {
  readonly qps: number;
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(qps: number, burst: number, clock: Clock) {
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError('rate limit: need qps > 0 and burst >= 1');
    this.qps = qps;
    this.burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.monotonic();
  }

  /** Takes one token now; returns how long to wait before using it, ms (0 when one was free). */
  reserve(): number {
    const now = this.#clock.monotonic();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
    this.#tokens -= 1;
    // A negative balance is the queue of reservations: this one is due when it refills to 0.
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.qps) * 1000;
  }

  /** Gives back a reserved token that will not be used (its wait was aborted). */
  cancel(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }

  /**
   * Takes one token, waiting on the clock when none is left (keeping the process alive: the
   * caller awaits it); resolves with the ms waited. An abort gives the token back. A function
   * for `signal` is called only when a wait is needed, so a caller builds a combined signal
   * only then.
   */
  async wait(signal?: AbortSignal | (() => AbortSignal)): Promise<number> {
    if (typeof signal !== 'function' && signal?.aborted) throw signal.reason;
    const ms = this.reserve();
    if (ms === 0) return 0;
    try {
      await sleep(this.#clock, ms, typeof signal === 'function' ? signal() : signal, { keepAlive: true });
    } catch (e) {
      this.cancel();
      throw e;
    }
    return ms;
  }
}
