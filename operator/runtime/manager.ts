// The manager wires one operator process: informers (started at once, on standby too,
// so a new leader starts with warm caches), controllers and leader-only runnables
// (started only while this process leads, after the hub caches synced), runnables that
// run on every replica, leader election, the ops server and shutdown. Graceful stop:
// stop taking keys, abort runnables' signals, let in-flight reconciles and runnables
// finish (up to a deadline), release the lease, stop informers. Lost leadership: abort
// every reconcile and leader runnable at once and reject start() with
// LeadershipLostError; main.ts exits, as controller-runtime does.
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from './clock.ts';
import { realClock, sleep } from './clock.ts';
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
import { createMetrics, observeClient, observeInformer } from './metrics.ts';
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

/**
 * A loop that is not a controller (a metering tick, a chain listener): controller-runtime's
 * Runnable. A leader-only one starts once this process leads and the required caches
 * synced; its signal aborts when leadership is lost or the manager stops.
 */
export interface Runnable {
  name: string;
  /** Runs until `signal` aborts, then returns; a throw not caused by the abort stops the manager. */
  start(signal: AbortSignal): Promise<void> | void;
  /** Run only while this process leads (default true); false runs it on every replica. */
  needLeaderElection?: boolean;
}

interface RunnableEntry {
  readonly r: Runnable;
  readonly leader: boolean;
  ac?: AbortController;
  done?: Promise<void>;
  finished: boolean;
}

/** start() rejects with this after a runnable failed (the manager stopped gracefully first). */
export class RunnableError extends Error {
  override readonly name = 'RunnableError';
  readonly runnable: string;
  constructor(runnable: string, cause: unknown) {
    super(`runnable ${runnable} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.runnable = runnable;
  }
}

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
  readonly #runnables: RunnableEntry[] = [];
  readonly #observed = new WeakSet<KubeClient>();
  readonly #elector: LeaderElector | undefined;
  #ops: OpsServer | undefined;
  #running = false;
  #stopping = false;
  #leaderSignal: AbortSignal | undefined;
  #controllersStarted = false;
  #othersStarted = false;
  /** Aborted when start()'s signal aborts or a runnable fails: begins the graceful stop. */
  #halt: AbortController | undefined;
  #failure: RunnableError | undefined;

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
    this.#observeClient(opts.client);
  }

  /** A manager configured from parsed flags. */
  static fromConfig(config: RuntimeConfig, client: KubeClient, log: Logger): Manager {
    const le = config.leaderElection;
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = le;
    return new Manager({
      client,
      log,
      leaderElection: le.enabled
        ? {
            namespace: le.namespace,
            name: le.id,
            identity: le.identity,
            leaseDurationMs,
            renewDeadlineMs,
            retryPeriodMs,
          }
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
    this.#observeClient(client);
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
    this.#informers.set(inf as unknown as Informer<KubeObject>, {
      required: requiredForReady,
      unobserve: () => {
        unmetric();
        unlog();
      },
    });
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

  /**
   * Adds a loop that is not a controller. Leader-only ones (the default) start with the
   * controllers; others start on every replica once the required caches synced. Added
   * while running, it starts at once when those conditions hold.
   */
  runnable(r: Runnable): void {
    const e: RunnableEntry = { r, leader: r.needLeaderElection !== false, finished: false };
    this.#runnables.push(e);
    if (!this.#running || this.#stopping) return;
    const leading = this.#controllersStarted && this.isLeader() && this.#leaderSignal;
    if (e.leader && leading) this.#launch(e, leading);
    else if (!e.leader && this.#othersStarted) this.#launch(e);
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

  /** Runs until `signal` aborts (then stops gracefully, resolves) or leadership is lost or a runnable fails (rejects). */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error('manager already started');
    this.#running = true;
    this.#stopping = false;
    this.#failure = undefined;
    const halt = new AbortController();
    this.#halt = halt;
    const onStop = (): void => halt.abort(signal.reason);
    if (signal.aborted) onStop();
    else signal.addEventListener('abort', onStop, { once: true });
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
    this.#startOthers(halt.signal);
    const stopRequested = new Promise<'stop'>((resolve) => {
      if (halt.signal.aborted) resolve('stop');
      else halt.signal.addEventListener('abort', () => resolve('stop'), { once: true });
    });
    let outcome: 'lost' | 'stop' = 'stop';
    if (this.#elector) {
      const campaign = new AbortController();
      const electing = this.#elector.run(campaign.signal);
      outcome = (await Promise.race([electing, stopRequested])) === 'lost' ? 'lost' : 'stop';
      this.#stopping = true;
      if (outcome === 'stop') await this.#stopWork();
      campaign.abort();
      await electing;
      // Leader runnables were aborted with the leader signal; wait for them before the informers stop.
      if (outcome === 'lost') await this.#stopRunnables();
    } else {
      const always = new AbortController();
      this.#lead(always.signal);
      await stopRequested;
      this.#stopping = true;
      await this.#stopWork();
      always.abort();
    }
    signal.removeEventListener('abort', onStop);
    await Promise.all([...this.#informers.keys()].map((i) => i.stop()));
    await this.#ops?.close();
    this.#running = false;
    this.log.info({ outcome: this.#failure ? 'failed' : outcome }, 'Manager stopped');
    if (outcome === 'lost') throw new LeadershipLostError('leadership lost; controllers were stopped');
    if (this.#failure) throw this.#failure;
  }

  #observeClient(client: KubeClient): void {
    // typeof: unit tests hand the manager partial fake clients
    if (this.#observed.has(client) || typeof client.observe !== 'function') return;
    this.#observed.add(client);
    observeClient(this.metrics, client);
  }

  #requiredSynced(signal: AbortSignal): Promise<unknown> {
    return Promise.all([...this.#informers].filter(([, e]) => e.required).map(([inf]) => inf.waitForSync(signal)));
  }

  #lead(leaderSignal: AbortSignal): void {
    this.#leaderSignal = leaderSignal;
    const leaseName = this.#o.leaderElection ? this.#o.leaderElection.name : undefined;
    if (leaseName) this.metrics.leaderStatus.set({ name: leaseName }, 1);
    leaderSignal.addEventListener(
      'abort',
      () => {
        if (leaseName) this.metrics.leaderStatus.set({ name: leaseName }, 0);
        for (const c of this.#controllers) c.abort(leaderSignal.reason);
      },
      { once: true },
    );
    this.#requiredSynced(leaderSignal).then(
      () => {
        if (leaderSignal.aborted || this.#stopping) return;
        for (const c of this.#controllers) c.start();
        for (const e of this.#runnables) if (e.leader) this.#launch(e, leaderSignal);
        this.#controllersStarted = true;
        this.log.info({ controllers: this.#controllers.map((c) => c.name) }, 'Controllers started');
      },
      () => undefined,
    );
  }

  /** Starts the runnables that run on every replica once the required caches synced. */
  #startOthers(halt: AbortSignal): void {
    this.#requiredSynced(halt).then(
      () => {
        if (halt.aborted || this.#stopping) return;
        this.#othersStarted = true;
        for (const e of this.#runnables) if (!e.leader) this.#launch(e);
      },
      () => undefined,
    );
  }

  /** Runs one runnable; its signal follows `parent` (the leader signal for leader-only ones). */
  #launch(e: RunnableEntry, parent?: AbortSignal): void {
    if (e.done) return;
    const ac = new AbortController();
    e.ac = ac;
    const onParent = (): void => ac.abort(parent?.reason);
    parent?.addEventListener('abort', onParent, { once: true });
    const log = this.log.child({ runnable: e.r.name });
    log.info({ leaderOnly: e.leader }, 'Starting runnable');
    e.done = (async () => e.r.start(ac.signal))()
      .then(
        () => log.info({ stopped: ac.signal.aborted }, 'Runnable returned'),
        (err: unknown) => {
          if (ac.signal.aborted) return log.info({ err }, 'Runnable stopped');
          // As controller-runtime: a failed runnable stops the manager, so the failure is not silent.
          log.error({ err }, 'Runnable failed, stopping the manager');
          this.#failure ??= new RunnableError(e.r.name, err);
          this.#halt?.abort(this.#failure);
        },
      )
      .finally(() => {
        e.finished = true;
        parent?.removeEventListener('abort', onParent);
      });
  }

  /** Graceful stop of the work: controllers drain and runnables stop, together, within the shutdown timeout. */
  async #stopWork(): Promise<void> {
    await Promise.all([this.#drainControllers(), this.#stopRunnables()]);
  }

  /** Aborts every started runnable and waits for them up to the shutdown timeout; true if all returned. */
  async #stopRunnables(): Promise<boolean> {
    const started = this.#runnables.filter((e) => e.done !== undefined);
    for (const e of started) e.ac?.abort(new Error('manager stopping'));
    if (started.every((e) => e.finished)) return true;
    const timeout = this.#o.shutdownTimeoutMs ?? 30_000;
    const deadline = new AbortController();
    const all = Promise.all(started.map((e) => e.done)).then(() => true);
    const expired = sleep(this.clock, timeout, deadline.signal).then(
      () => false,
      () => false,
    );
    const finished = await Promise.race([all, expired]);
    deadline.abort();
    const left = started.filter((e) => !e.finished).map((e) => e.r.name);
    if (!finished) this.log.warn({ runnables: left, timeoutMs: timeout }, 'Shutdown deadline passed, runnables left');
    return finished;
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
