// The leader's own Pod carries a label (nvdax.io/leader=true) while it leads, so a Service selecting it sends
// traffic to the leader alone: the report intake (--reports-bind-address) runs only there. The chart's
// `<release>-nvdax-operator-reports` Service selects it (docs/charts.md).
//
// One bit, reconciled: the wanted state is "labelled" while the leader-only runnable runs and "not labelled"
// before (a container restart clears the label an earlier run of this pod left) and after (lost leadership,
// stop); a loop patches the Pod until it matches, retrying with capped backoff, so a label that could not be
// written at once is written later and the last wish wins. A Pod that dies with the label is no endpoint (it is
// not Ready); a process that exits before it could remove the label clears it when its container starts again.
import { ExponentialBackoff } from './backoff.ts';
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';
import type { Runnable } from './manager.ts';

/** The label on the leading replica's Pod. */
export const LEADER_LABEL = 'nvdax.io/leader';

/** Writes the label on this process's Pod: `'true'`, or null to remove it (a JSON merge patch). */
export type PatchLeaderLabel = (value: 'true' | null) => Promise<void>;

export interface LeaderPodLabelOptions {
  patch: PatchLeaderLabel;
  log?: Logger;
  /** Backoff after a failed patch: first and longest wait, ms (default 500 ms, 30 s). */
  retryMs?: number;
  maxRetryMs?: number;
  /** How long stopping waits for the label to be removed, ms (default 5 s). */
  stopTimeoutMs?: number;
}

export class LeaderPodLabel {
  readonly #o: LeaderPodLabelOptions;
  readonly #log: Logger;
  readonly #backoff: ExponentialBackoff;
  #wanted = false;
  /** What the Pod has, as far as we know (undefined: not known yet, e.g. at start). */
  #applied: boolean | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** Counts for tests and logs. */
  readonly counts = { patches: 0, failures: 0 };

  constructor(o: LeaderPodLabelOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger();
    this.#backoff = new ExponentialBackoff({ baseMs: o.retryMs ?? 500, maxMs: o.maxRetryMs ?? 30_000, jitter: 0 });
  }

  /** Whether the Pod is known to carry the label. */
  get labelled(): boolean {
    return this.#applied === true;
  }

  /** Wants the label (leading) or not; resolves once the Pod matches (or a newer wish replaced this one). */
  set(leading: boolean): Promise<void> {
    this.#wanted = leading;
    this.#wake?.();
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
    });
    return this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#applied !== this.#wanted) {
      const want = this.#wanted;
      try {
        this.counts.patches++;
        await this.#o.patch(want ? 'true' : null);
        this.#applied = want;
        failures = 0;
        this.#log.info({ label: LEADER_LABEL, leading: want }, want ? 'Pod labelled leader' : 'Leader label removed');
      } catch (err) {
        this.counts.failures++;
        const wait = this.#backoff.delayFor(failures++);
        this.#log.warn({ err, label: LEADER_LABEL, leading: want, retryMs: wait }, 'Could not write the leader label');
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, wait);
          t.unref();
          function done() {
            clearTimeout(t);
            resolve();
          }
          // a new wish retries at once
          this.#wake = done;
        });
        this.#wake = undefined;
      }
    }
  }

  /** Clears a label an earlier run of this Pod left (every replica, at start); does not wait for it. */
  clearStale(): void {
    if (!this.#wanted) void this.set(false);
  }

  /**
   * The leader-only runnable: labels the Pod once `ready` resolved (the intake listens), and removes the label
   * when leadership ends or the manager stops (waiting up to stopTimeoutMs for that).
   */
  runnable(ready?: Promise<void>): Runnable {
    return {
      name: 'leader-label',
      start: async (signal) => {
        const aborted = new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        });
        await Promise.race([ready ?? Promise.resolve(), aborted]);
        if (!signal.aborted) void this.set(true);
        await aborted;
        const removed = this.set(false);
        await Promise.race([removed, new Promise((r) => setTimeout(r, this.#o.stopTimeoutMs ?? 5000).unref())]);
      },
    };
  }
}
