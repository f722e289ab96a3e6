// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
// try to acquire every retryPeriod; a holder's lease counts as expired only after
// leaseDuration has passed since *this process observed* its last change (no clock
// skew between processes matters); the leader renews every retryPeriod and steps
// down — aborting its leader signal at once — when no renewal succeeded within
// renewDeadline (< leaseDuration, so it stops before anyone else may start). On a
// graceful stop the lease is released so a standby takes over without waiting.
import type { KubeClient } from '../kube/client.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/errors.ts';
import type { KubeObject } from '../kube/types.ts';
import { resources } from '../kube/types.ts';
import type { Clock, TimerHandle } from './clock.ts';
import { realClock, sleep, timeoutSignal } from './clock.ts';
import { microTime } from './events.ts';
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** Options of a {@link LeaderElector}. */
export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name. */
  name: string;
  /** This process's identity (unique per process). */
  identity: string;
  /** How long a standby waits after the last observed renewal, ms (default 15 s). */
  leaseDurationMs?: number;
  /** The leader steps down when it could not renew for this long, ms (default 10 s). */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts, ms (default 2 s). */
  retryPeriodMs?: number;
  /** Called on becoming leader; `signal` aborts the moment leadership ends. */
  onStartedLeading(signal: AbortSignal): void;
  /** Called once leadership ended (lost or released). */
  onStoppedLeading?(): void;
  /** Called when the observed holder changes. */
  onNewLeader?(identity: string): void;
  clock?: Clock;
  log?: Logger;
  random?: () => number;
}

/** Runs the election loop for one Lease. */
export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #durationMs: number;
  readonly #deadlineMs: number;
  readonly #retryMs: number;
  #observedSpec = '';
  #observedAt = 0;
  #holder = '';
  #leading: AbortController | undefined;
  #lastRenew = 0;

  constructor(opts: LeaderElectionOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.log ?? silentLogger()).child({
      lease: `${opts.namespace}/${opts.name}`,
      identity: opts.identity,
    });
    this.#durationMs = opts.leaseDurationMs ?? 15_000;
    this.#deadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.#retryMs = opts.retryPeriodMs ?? 2_000;
    if (!(this.#durationMs > this.#deadlineMs && this.#deadlineMs > this.#retryMs && this.#retryMs > 0)) {
      throw new RangeError('leader election needs leaseDuration > renewDeadline > retryPeriod > 0');
    }
  }

  /** True while this process holds the lease. */
  isLeader(): boolean {
    return this.#leading !== undefined && !this.#leading.signal.aborted;
  }

  /** The holder last observed ('' when none). */
  get leader(): string {
    return this.#holder;
  }

  /** Healthy unless leading with a renewal overdue past the deadline (a stuck renew loop). */
  healthy(): boolean {
    return !this.isLeader() || this.#clock.monotonic() - this.#lastRenew <= this.#deadlineMs + this.#retryMs;
  }

  /** Campaigns until `signal` aborts or leadership is lost; releases the lease on abort while leading. */
  async run(signal: AbortSignal): Promise<'lost' | 'stopped'> {
    while (!signal.aborted && !(await this.#tryAcquireOrRenew(signal))) {
      await sleep(this.#clock, this.#jittered(), signal).catch(() => undefined);
    }
    if (signal.aborted) return 'stopped';
    const leading = new AbortController();
    this.#leading = leading;
    this.#log.info('Started leading');
    let watchdog: TimerHandle | undefined;
    const arm = (): void => {
      if (watchdog !== undefined) this.#clock.clearTimeout(watchdog);
      // Measured from the start of the last successful renew request, not from its answer.
      const left = this.#lastRenew + this.#deadlineMs - this.#clock.monotonic();
      watchdog = this.#clock.setTimeout(() => leading.abort(new Error('lease not renewed within renewDeadline')), left);
    };
    arm();
    this.#o.onStartedLeading(leading.signal);
    const either = AbortSignal.any([signal, leading.signal]);
    while (!either.aborted) {
      await sleep(this.#clock, this.#retryMs, either).catch(() => undefined);
      if (either.aborted) break;
      const remaining = this.#lastRenew + this.#deadlineMs - this.#clock.monotonic();
      // The attempt's limit runs on the injected clock, like the watchdog, so FakeClock tests need no real time.
      const limit = timeoutSignal(this.#clock, Math.max(1, remaining));
      const renewed = await this.#tryAcquireOrRenew(AbortSignal.any([either, limit.signal]));
      limit.cancel();
      if (renewed) arm();
      // Someone else holds the Lease now (a forced takeover, a manual edit): two leaders
      // must not run until our renew deadline passes, so step down at once.
      else if (this.#holder !== '' && this.#holder !== this.#o.identity)
        leading.abort(new Error(`lease taken over by ${this.#holder}`));
    }
    if (watchdog !== undefined) this.#clock.clearTimeout(watchdog);
    const lost = !signal.aborted;
    if (lost) this.#log.error({ err: leading.signal.reason }, 'Leadership lost');
    leading.abort(new Error(lost ? 'leadership lost' : 'stopping'));
    this.#o.onStoppedLeading?.();
    if (!lost) await this.#release();
    return lost ? 'lost' : 'stopped';
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { client, namespace, name, identity } = this.#o;
    // Expiry and renew deadlines are measured on the monotonic clock, as client-go does, so a
    // wall-clock step cannot make a standby take an unexpired Lease; wall time is only written.
    const now = this.#clock.now();
    const mono = this.#clock.monotonic();
    const durationSeconds = Math.ceil(this.#durationMs / 1000);
    try {
      let lease: Lease;
      try {
        lease = await client.get<Lease>(resources.leases, name, namespace, signal);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        const t = microTime(now);
        const spec: LeaseSpec = {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: t,
          renewTime: t,
          leaseTransitions: 0,
        };
        const lease: Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec,
        };
        const created = await client.create<Lease>(resources.leases, lease, { signal });
        this.#observe(created.spec ?? spec, mono);
        this.#lastRenew = mono;
        return true;
      }
      const spec = lease.spec ?? {};
      this.#observe(spec, mono);
      const holder = spec.holderIdentity ?? '';
      const expires = this.#observedAt + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (holder !== '' && holder !== identity && expires > mono) return false;
      const mine = holder === identity;
      const next: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      };
      const updated = await client.replace<Lease>(resources.leases, { ...lease, spec: next }, { signal });
      this.#observe(updated.spec ?? next, mono);
      this.#lastRenew = mono;
      return true;
    } catch (err) {
      if (!signal.aborted && !isConflict(err) && !isAlreadyExists(err))
        this.#log.warn({ err }, 'Lease acquire or renew failed');
      return false;
    }
  }

  async #release(): Promise<void> {
    const { client, namespace, name, identity } = this.#o;
    try {
      const lease = await client.get<Lease>(resources.leases, name, namespace);
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime(this.#clock.now());
      const transitions = lease.spec.leaseTransitions ?? 0;
      const spec: LeaseSpec = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: transitions,
      };
      await client.replace<Lease>(resources.leases, { ...lease, spec });
      this.#log.info('Lease released');
    } catch (err) {
      this.#log.warn({ err }, 'Lease release failed');
    }
  }

  #observe(spec: LeaseSpec, now: number): void {
    const raw = JSON.stringify(spec);
    if (raw !== this.#observedSpec) {
      this.#observedSpec = raw;
      this.#observedAt = now;
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== this.#holder) {
      this.#holder = holder;
      if (holder !== '') {
        this.#log.info({ leader: holder }, 'New leader observed');
        this.#o.onNewLeader?.(holder);
      }
    }
  }

  #jittered(): number {
    return this.#retryMs * (1 + 1.2 * (this.#o.random ?? Math.random)());
  }
}
