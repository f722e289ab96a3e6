// The hub's write budget for metering alone. A running job's GPU-seconds grow by the second; written every
// minute for each of 10,000 running jobs they were 167 status writes a second on the hub, competing with the
// jobs still starting. Metering-only writes take a token from one bucket (--usage-meter-qps): past the
// budget each job's interval stretches (10,000 running jobs at 10 a second: about 17 minutes), which only
// delays billing (settlement bills a period once the running attempt is metered past its end), never loses
// usage (GPU-seconds are recomputed from the member pods' times at every write).
import { TokenBucketLimiter } from '../../kube/rate-limit.ts';
import type { Clock } from '../../runtime/clock.ts';

export class MeterBudget {
  readonly #bucket: TokenBucketLimiter;
  readonly #clock: Clock;
  /** Keys holding a reserved token: the monotonic ms it may be used from. */
  readonly #slots = new Map<string, number>();

  constructor(qps: number, clock: Clock) {
    if (!(qps > 0)) throw new RangeError(`--usage-meter-qps: must be above 0 (got ${qps})`);
    this.#bucket = new TokenBucketLimiter(qps, Math.max(1, Math.ceil(qps)), clock);
    this.#clock = clock;
  }

  /**
   * ms until `key` may write its metering: 0 now, else the wait for the token reserved for it. Asking again
   * does not reserve another: the key keeps its token (and its place) until `used` or `release`, so a write
   * that failed is retried on the same token.
   */
  wait(key: string): number {
    const now = this.#clock.monotonic();
    let at = this.#slots.get(key);
    if (at === undefined) {
      at = now + this.#bucket.reserve();
      this.#slots.set(key, at);
    }
    return Math.max(0, at - now);
  }

  /** The key's metering was written: its token is spent. */
  used(key: string): void {
    this.#slots.delete(key);
  }

  /** The key wrote for another reason, stopped running or is gone: a token it holds goes back. */
  release(key: string): void {
    if (this.#slots.delete(key)) this.#bucket.cancel();
  }

  /** Keys whose token is not due yet. */
  get waiting(): number {
    const now = this.#clock.monotonic();
    let n = 0;
    for (const at of this.#slots.values()) if (at > now) n++;
    return n;
  }

  /** Keys holding a token (due or not) not yet used or released. */
  get held(): number {
    return this.#slots.size;
  }
}
