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
   * ms until `key` may write its metering: 0 now (a token is taken), else the wait for the token reserved for
   * it. Asking again before then does not reserve another: the key keeps its place.
   */
  wait(key: string): number {
    const now = this.#clock.monotonic();
    const at = this.#slots.get(key);
    if (at !== undefined) {
      if (at > now) return at - now;
      this.#slots.delete(key);
      return 0;
    }
    const ms = this.#bucket.reserve();
    if (ms > 0) this.#slots.set(key, now + ms);
    return ms;
  }

  /** The key wrote for another reason (or is gone): a token it holds is not needed. */
  release(key: string): void {
    if (this.#slots.delete(key)) this.#bucket.cancel();
  }

  /** Keys waiting for a token. */
  get waiting(): number {
    return this.#slots.size;
  }
}
