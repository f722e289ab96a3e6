// A gate through which lower-priority work gives way to higher-priority work on the same API server: while
// `busy()` says the higher class has work queued or in flight, at most `slotsWhileBusy` holders are inside at
// once; otherwise any number. The job controller's reconciles pass it so that placement writes — what a
// requester waits on for Scheduled=True — keep the hub's CPU under a burst, instead of queueing behind
// member objects and status writes that can wait a moment. Nothing starves: `slotsWhileBusy` always run.

export class YieldGate {
  readonly slotsWhileBusy: number;
  readonly #busy: () => boolean;
  #inside = 0;
  #waiters = new Set<() => void>();

  constructor(busy: () => boolean, slotsWhileBusy: number) {
    if (!(Number.isInteger(slotsWhileBusy) && slotsWhileBusy >= 1))
      throw new RangeError(`yield gate: slotsWhileBusy must be an integer >= 1, not ${slotsWhileBusy}`);
    this.#busy = busy;
    this.slotsWhileBusy = slotsWhileBusy;
  }

  /** Holders inside now. */
  get inside(): number {
    return this.#inside;
  }

  /** Callers waiting to enter. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Waits for a slot; resolves to the function that gives it back (once). Rejects when `signal` aborts. */
  async enter(signal?: AbortSignal): Promise<() => void> {
    while (this.#busy() && this.#inside >= this.slotsWhileBusy) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          this.#waiters.delete(wake);
          signal?.removeEventListener('abort', abort);
          resolve();
        };
        const abort = () => {
          this.#waiters.delete(wake);
          reject(signal?.reason);
        };
        this.#waiters.add(wake);
        signal?.addEventListener('abort', abort, { once: true });
      });
    }
    this.#inside++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#inside--;
      this.wake();
    };
  }

  /** Lets waiters look again: on a slot given back, and when `busy()` may have turned false. */
  wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}
