// The manager wires one operator process: informers (started at once, on standby too,
// so a new leader starts with warm caches), controllers (started only while this
// process leads, after the hub caches synced), leader election, the ops server and
// shutdown. Graceful stop: stop taking keys, let in-flight reconciles finish (up to a
// deadline), release the lease, stop informers. Lost leadership: abort every reconcile
// at once and reject start() with LeadershipLostError; main.ts exits, as controller-runtime does.
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from './clock.ts';
import { realClock } from './clock.ts';
import type { RuntimeConfig } from './config.ts';
import { Controller } from './controller.ts';
import type { ControllerOptions } from './controller.ts';
import { EventRecorder } from './events.ts';
import { startOpsServer } from './health.ts';
import type { OpsServer } from './health.ts';
import { Informer } from './informer.ts';
import type { InformerOptions } from './informer.ts';
import { LeaderElector } from './leader.ts';
import type { LeaderElectionOptions } from './leader.ts';
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';
import { createMetrics, observeInformer } from './metrics.ts';
import type { RuntimeMetrics } from './metrics.ts';

/** Options of a {@link Manager}. */
export interface ManagerOptions {
  /** The hub cluster: leases and events are written here; the default client of informers. */
  client: KubeClient;
  log?: Logger;
  clock?: Clock;
  metrics?: RuntimeMetrics;
  /** Lease coordinates and timing, or false to lead unconditionally. */
  leaderElection: false | LeaseSettings;
  /** Ops server address, or false for none. */
  ops: false | { host?: string; port: number };
  /** How long a graceful stop waits for in-flight reconciles, ms (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Workers of a controller that does not set its own concurrency (default 1). */
  maxConcurrentReconciles?: number;
  /** Default informer resync period, ms (default 0 = off). */
  resyncPeriodMs?: number;
  /** reportingController of events (default 'nvdax.io/operator'). */
  eventController?: string;
}

/** Where the Lease lives, who we are, and the election timing (see LeaderElector). */
export type LeaseSettings = Omit<LeaderElectionOptions, 'client' | 'onStartedLeading'>;

/** Informer options inside a manager: the client defaults to the hub's. */
export type ManagedInformerOptions<T> = Omit<InformerOptions<T>, 'client' | 'clock'> & {
  client?: KubeClient;
  /** Whether /readyz and controller start wait for this informer's sync (default true; use false for member clusters). */
  requiredForReady?: boolean;
};

/** start() rejects with this when the lease was lost; the process should exit. */
export class LeadershipLostError extends Error {
  override readonly name = 'LeadershipLostError';
}

/** One operator process: informers, controllers, leader election, ops server. */
export class Manager {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: RuntimeMetrics;
  readonly identity: string;
  readonly #o: ManagerOptions;
  readonly #informers = new Map<Informer<KubeObject>, { required: boolean; unobserve: () => void }>();
  readonly #controllers: Controller[] = [];
  readonly #elector: LeaderElector | undefined;
  #ops: OpsServer | undefined;
  #running = false;
  #leaderSignal: AbortSignal | undefined;
  #controllersStarted = false;

  constructor(opts: ManagerOptions) {
    this.#o = opts;
    this.client = opts.client;
    this.log = opts.log ?? silentLogger();
    this.clock = opts.clock ?? realClock;
    this.metrics = opts.metrics ?? createMetrics();
    const le = opts.leaderElection;
    this.identity = le ? le.identity : 'nvdax-operator';
    if (le) {
      this.#elector = new LeaderElector({
        client: opts.client,
        ...le,
        clock: this.clock,
        log: this.log,
        onStartedLeading: (signal) => this.#lead(signal),
      });
      this.metrics.leaderStatus.set({ name: le.name }, 0);
    }
  }

  /** A manager configured from parsed flags. */
  static fromConfig(config: RuntimeConfig, client: KubeClient, log: Logger): Manager {
    const le = config.leaderElection;
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = le;
    return new Manager({
      client,
      log,
      leaderElection: le.enabled
        ? { namespace: le.namespace, name: le.id, identity: le.identity, leaseDurationMs, renewDeadlineMs, retryPeriodMs }
        : false,
      ops: config.ops,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      resyncPeriodMs: config.resyncPeriodMs,
      maxConcurrentReconciles: config.maxConcurrentReconciles,
    });
  }

  /** Creates an informer owned by the manager; started now if the manager runs, else at start. */
  informer<T extends KubeObject>(opts: ManagedInformerOptions<T>): Informer<T> {
    const { requiredForReady = true, client = this.client, ...rest } = opts;
    const inf = new Informer<T>({ resyncPeriodMs: this.#o.resyncPeriodMs ?? 0, ...rest, client, clock: this.clock });
    const scope = inf.namespace ? { namespace: inf.namespace } : {};
    const log = this.log.child({ cluster: client.name, resource: inf.resource.plural, ...scope });
    const unmetric = observeInformer(this.metrics, inf);
    const unlog = inf.onState((s) => {
      if (s.type === 'listError') log.warn({ err: s.error, retryInMs: Math.round(s.retryInMs) }, 'List failed');
      else if (s.type === 'watchError') log.warn({ err: s.error, retryInMs: Math.round(s.retryInMs) }, 'Watch failed');
      else if (s.type === 'gone') log.info({ resourceVersion: s.resourceVersion }, 'Watch expired, relisting');
      else if (s.type === 'listed') log.debug({ count: s.count, resourceVersion: s.resourceVersion }, 'Listed');
      else if (s.type === 'handlerError') log.error({ err: s.error }, 'Event handler failed');
    });
    this.#informers.set(inf as unknown as Informer<KubeObject>, { required: requiredForReady, unobserve: () => (unmetric(), unlog()) });
    if (this.#running) inf.start();
    return inf;
  }

  /** Stops an informer and forgets it (e.g. a member cluster was removed). */
  async removeInformer<T extends KubeObject>(inf: Informer<T>): Promise<void> {
    const entry = this.#informers.get(inf as unknown as Informer<KubeObject>);
    this.#informers.delete(inf as unknown as Informer<KubeObject>);
    await inf.stop();
    entry?.unobserve();
  }

  /** Creates a controller; its workers run only while this process leads. */
  controller(opts: Omit<ControllerOptions, 'clock' | 'log' | 'metrics'>): Controller {
    const concurrency = opts.concurrency ?? this.#o.maxConcurrentReconciles ?? 1;
    const c = new Controller({ ...opts, concurrency, clock: this.clock, log: this.log, metrics: this.metrics });
    this.#controllers.push(c);
    if (this.#controllersStarted && this.isLeader()) c.start();
    return c;
  }

  /** An event recorder writing to `client` (default: the hub). */
  eventRecorder(client: KubeClient = this.client): EventRecorder {
    const controller = this.#o.eventController ?? 'nvdax.io/operator';
    return new EventRecorder({ client, controller, instance: this.identity, clock: this.clock, log: this.log });
  }

  /** True while this process leads (always, without leader election, once started). */
  isLeader(): boolean {
    return this.#leaderSignal !== undefined && !this.#leaderSignal.aborted;
  }

  /** The ops server's port once started. */
  get opsPort(): number | undefined {
    return this.#ops?.port;
  }

  /** Ready: required informers synced and, when leading, controllers started. */
  ready(): boolean {
    const synced = [...this.#informers].every(([inf, e]) => !e.required || inf.hasSynced());
    return this.#running && synced && (!this.isLeader() || this.#controllersStarted);
  }

  /** Runs until `signal` aborts (then stops gracefully and resolves) or leadership is lost (rejects). */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error('manager already started');
    this.#running = true;
    if (this.#o.ops) {
      this.#ops = await startOpsServer({
        ...this.#o.ops,
        registry: this.metrics.registry,
        log: this.log,
        healthz: { ping: () => true, leaderElection: () => this.#elector?.healthy() ?? true },
        readyz: { informers: () => this.ready() },
      });
    }
    for (const inf of this.#informers.keys()) inf.start();
    const stopRequested = new Promise<'stop'>((resolve) => {
      if (signal.aborted) resolve('stop');
      else signal.addEventListener('abort', () => resolve('stop'), { once: true });
    });
    let outcome: 'lost' | 'stop' = 'stop';
    if (this.#elector) {
      const campaign = new AbortController();
      const electing = this.#elector.run(campaign.signal);
      outcome = (await Promise.race([electing, stopRequested])) === 'lost' ? 'lost' : 'stop';
      if (outcome === 'stop') await this.#drainControllers();
      campaign.abort();
      await electing;
    } else {
      const always = new AbortController();
      this.#lead(always.signal);
      await stopRequested;
      await this.#drainControllers();
      always.abort();
    }
    await Promise.all([...this.#informers.keys()].map((i) => i.stop()));
    await this.#ops?.close();
    this.#running = false;
    this.log.info({ outcome }, 'Manager stopped');
    if (outcome === 'lost') throw new LeadershipLostError('leadership lost; controllers were stopped');
  }

  #lead(leaderSignal: AbortSignal): void {
    this.#leaderSignal = leaderSignal;
    const leaseName = this.#o.leaderElection ? this.#o.leaderElection.name : undefined;
    if (leaseName) this.metrics.leaderStatus.set({ name: leaseName }, 1);
    leaderSignal.addEventListener('abort', () => {
      if (leaseName) this.metrics.leaderStatus.set({ name: leaseName }, 0);
      for (const c of this.#controllers) c.abort(leaderSignal.reason);
    }, { once: true });
    const required = [...this.#informers].filter(([, e]) => e.required).map(([inf]) => inf.waitForSync(leaderSignal));
    Promise.all(required).then(() => {
      if (leaderSignal.aborted) return;
      for (const c of this.#controllers) c.start();
      this.#controllersStarted = true;
      this.log.info({ controllers: this.#controllers.map((c) => c.name) }, 'Controllers started');
    }, () => undefined);
  }

  async #drainControllers(): Promise<void> {
    const timeout = this.#o.shutdownTimeoutMs ?? 30_000;
    const inFlight = this.#controllers.reduce((n, c) => n + c.inFlight(), 0);
    this.log.info({ inFlight, timeoutMs: timeout }, 'Stopping controllers, waiting for in-flight reconciles');
    const drained = await Promise.all(this.#controllers.map((c) => c.stop(timeout)));
    this.log.info({ drained: drained.every(Boolean) }, 'Controllers stopped');
  }
}
export { shutdownSignal } from './signals.ts';
