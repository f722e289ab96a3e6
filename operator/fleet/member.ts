// One member cluster as the hub sees it: one pooled client, the caches every user of the
// cluster shares (Nodes, Pods in slim form and RuntimeClasses for capacity, plus any
// informer a controller attached), health from a periodic probe and the informers' own
// watch errors, and the ready gate: true only while connected AND every cache has listed
// since the last loss of contact (MultiKueue's Active condition). Controllers must not
// act on a member whose gate is false: its caches may be missing what happened meanwhile.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.ts';
import { isUnavailable } from '../kube/errors.ts';
import type { KubeObject, ResourceType } from '../kube/types.ts';
import { resources } from '../kube/types.ts';
import type { Clock, TimerHandle } from '../runtime/clock.ts';
import type { EventHandler, Informer, InformerState } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Cache, IndexFunc } from '../runtime/store.ts';
import type { NodeView, PodView, RuntimeClassView } from './capacity.ts';
import { slotGroupLabel } from '../scheduling/snapshot.ts';

export type NodeObject = KubeObject & NodeView;
export type PodObject = KubeObject & PodView;
export type RuntimeClassObject = KubeObject & RuntimeClassView;

/** What a controller reads about a member cluster; an agent-backed member (pull mode) will implement it too. */
export interface MemberView {
  /** The cluster's name in logs and metrics (host:port of its API server, or `local`). */
  readonly name: string;
  /** Connection health as last observed. */
  health(): MemberHealth;
  /** The ready gate: connected and every cache listed since the last loss of contact. */
  ready(): boolean;
  /** Caches that cannot list for a reason other than reachability (e.g. 403), by cache name. */
  cacheErrors(): Record<string, string>;
  nodes(): NodeObject[];
  pods(): PodObject[];
  runtimeClasses(): RuntimeClassObject[];
}

export interface MemberHealth {
  connected: boolean;
  /** Last successful contact (probe or list), ms since the epoch. */
  lastContact?: number;
  /** The last failure, when not connected; absent before the first contact attempt ended. */
  error?: string;
  /** Since when `connected` has had its current value. */
  since: number;
}

/** An informer a controller wants on every member (see Fleet.attach). */
export interface CacheSpec<T extends KubeObject> {
  /** Unique among the fleet's caches, e.g. `inferencejob-pods`. */
  name: string;
  resource: ResourceType;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Applied before caching (default: drop managedFields). Keep member caches small. */
  transform?: (obj: T) => T;
  indexers?: Record<string, IndexFunc<T>>;
  /** Called for every add, update and delete, after the cache was updated. */
  handler?: (member: Member) => EventHandler<T>;
}

export interface MemberOptions {
  /** The fleet's key for the cluster: `local` or its API server URL. */
  key: string;
  name: string;
  kubeConfig: KubeConfig;
  /** Identifies the credentials; a rotation replaces it. */
  fingerprint: string;
  manager: Manager;
  clock: Clock;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** Limit on every other member request (list pages, creates, patches). */
  requestTimeoutMs: number;
  /** Client-side rate limit of this cluster's client (undefined: the client's default). */
  qps?: number;
  burst?: number;
  /** Health, gate or credentials changed. */
  onChange: (m: Member) => void;
  /** A capacity cache (nodes, pods, runtime classes) changed. */
  onCapacity: (m: Member) => void;
}

/** Keeps only what capacity needs of a pod: member clusters can hold many thousands. */
export function slimPod(p: PodObject): PodObject {
  type Res = { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
  const res = (c: Res) => {
    const r = c.resources;
    return r
      ? { resources: { ...(r.requests ? { requests: r.requests } : {}), ...(r.limits ? { limits: r.limits } : {}) } }
      : {};
  };
  const m = p.metadata;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: m?.name ?? '',
      namespace: m?.namespace ?? '',
      resourceVersion: m?.resourceVersion ?? '',
      // the snapshot matches our pods to their reservation by it
      ...(m?.labels?.[slotGroupLabel] ? { labels: { [slotGroupLabel]: m.labels[slotGroupLabel] } } : {}),
    },
    spec: {
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
      ...(p.spec?.nodeSelector ? { nodeSelector: p.spec.nodeSelector } : {}),
      containers: (p.spec?.containers ?? []).map(res),
      ...(p.spec?.initContainers ? { initContainers: p.spec.initContainers.map(res) } : {}),
    },
    status: {
      ...(p.status?.phase ? { phase: p.status.phase } : {}),
      ...(p.status?.nominatedNodeName ? { nominatedNodeName: p.status.nominatedNodeName } : {}),
    },
  } as PodObject;
}

/** The capacity caches every member has, named as CacheSpecs. */
export const capacityCaches = { nodes: 'nodes', pods: 'pods', runtimeClasses: 'runtimeclasses' } as const;

interface LiveCache {
  spec: CacheSpec<KubeObject>;
  informer: Informer<KubeObject>;
  /** The epoch of the last successful list; the gate needs it equal to the member's. */
  listedEpoch: number;
  /** Successful lists so far, for metrics and tests. */
  lists: number;
  unsubscribe: Array<() => void>;
}

export class Member implements MemberView {
  /** A cluster the hub connects to (an agent pool's member is an AgentMember). */
  readonly kind = 'cluster' as const;
  readonly key: string;
  readonly name: string;
  readonly #o: MemberOptions;
  readonly #caches = new Map<string, LiveCache>();
  readonly #cacheErrors = new Map<string, string>();
  #client: KubeClient;
  #fingerprint: string;
  #health: MemberHealth;
  /** Grows at every loss of contact and rotation: caches must list again before the gate opens. */
  #epoch = 0;
  #gate = false;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(o: MemberOptions, specs: ReadonlyArray<CacheSpec<KubeObject>>) {
    this.#o = o;
    this.key = o.key;
    this.name = o.name;
    this.#fingerprint = o.fingerprint;
    this.#client = this.#newClient(o.kubeConfig);
    this.#health = { connected: false, since: o.clock.now() };
    const capacity = (): EventHandler<KubeObject> => {
      const changed = () => this.#o.onCapacity(this);
      return { onAdd: changed, onUpdate: changed, onDelete: changed };
    };
    const base: Array<CacheSpec<KubeObject>> = [
      { name: capacityCaches.nodes, resource: resources.nodes, handler: capacity },
      // finished pods hold no GPUs
      {
        name: capacityCaches.pods,
        resource: resources.pods,
        handler: capacity,
        fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
        transform: slimPod as (o: KubeObject) => KubeObject,
      },
      { name: capacityCaches.runtimeClasses, resource: resources.runtimeClasses, handler: capacity },
    ];
    for (const spec of [...base, ...specs]) this.addCache(spec);
    this.#schedule(0);
  }

  /** The client for this cluster's current credentials; a rotation closes it for good. */
  get client(): KubeClient {
    return this.#client;
  }

  get fingerprint(): string {
    return this.#fingerprint;
  }

  health(): MemberHealth {
    return { ...this.#health };
  }

  ready(): boolean {
    return this.#gate;
  }

  cacheErrors(): Record<string, string> {
    return Object.fromEntries(this.#cacheErrors);
  }

  nodes(): NodeObject[] {
    return this.#list<NodeObject>(capacityCaches.nodes);
  }

  pods(): PodObject[] {
    return this.#list<PodObject>(capacityCaches.pods);
  }

  runtimeClasses(): RuntimeClassObject[] {
    return this.#list<RuntimeClassObject>(capacityCaches.runtimeClasses);
  }

  #list<T extends KubeObject>(name: string): T[] {
    return (this.#caches.get(name)?.informer.list() ?? []) as T[];
  }

  /** Read access to the named cache (a capacity cache or one a controller attached); survives rotations. */
  cache<T extends KubeObject>(name: string): Cache<T> | undefined {
    if (!this.#caches.has(name)) return undefined;
    const current = () => this.#caches.get(name)?.informer as Informer<T> | undefined;
    return {
      get: (key) => current()?.get(key),
      list: (namespace) => current()?.list(namespace) ?? [],
      byIndex: (index, value) => current()?.byIndex(index, value) ?? [],
    };
  }

  /** Per cache: objects held, lists done, and whether it listed since the last loss of contact. */
  cacheStats(): Record<string, { objects: number; lists: number; fresh: boolean }> {
    return Object.fromEntries(
      [...this.#caches].map(([name, c]) => [
        name,
        { objects: c.informer.size, lists: c.lists, fresh: c.listedEpoch === this.#epoch },
      ]),
    );
  }

  /** Starts a cache on this member (Fleet.attach calls it on every member). */
  addCache<T extends KubeObject>(spec: CacheSpec<T>): void {
    if (this.#stopped) return;
    if (this.#caches.has(spec.name)) throw new Error(`member ${this.name}: a cache named ${spec.name} exists`);
    const s = spec as unknown as CacheSpec<KubeObject>;
    const live: LiveCache = { spec: s, informer: this.#informer(s), listedEpoch: -1, lists: 0, unsubscribe: [] };
    this.#caches.set(s.name, live);
    this.#wire(live);
    this.#updateGate();
  }

  /** Stops and forgets a cache. */
  async removeCache(name: string): Promise<void> {
    const live = this.#caches.get(name);
    if (!live) return;
    this.#caches.delete(name);
    this.#cacheErrors.delete(name);
    await this.#stopCache(live);
    this.#updateGate();
  }

  /**
   * New credentials for the same cluster: the old client is closed for good (nothing
   * can use the replaced credentials again), every cache is rebuilt on the new client,
   * and the gate stays false until they all listed.
   */
  async rotate(kubeConfig: KubeConfig, fingerprint: string): Promise<void> {
    if (this.#stopped || fingerprint === this.#fingerprint) return;
    const old = this.#client;
    const caches = [...this.#caches.values()];
    this.#fingerprint = fingerprint;
    this.#client = this.#newClient(kubeConfig);
    this.#epoch++;
    this.#cacheErrors.clear();
    this.#health = { connected: false, since: this.#o.clock.now() };
    await Promise.all(caches.map((c) => this.#stopCache(c)));
    await old.destroy();
    for (const c of caches) {
      c.informer = this.#informer(c.spec);
      c.listedEpoch = -1;
      c.unsubscribe = [];
      this.#wire(c);
    }
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#schedule(0);
    this.#updateGate(true);
  }

  /** Stops the probe and every cache and closes the client for good. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#gate = false;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    await Promise.all([...this.#caches.values()].map((c) => this.#stopCache(c)));
    this.#caches.clear();
    await this.#client.destroy();
  }

  #newClient(kc: KubeConfig): KubeClient {
    const limits = {
      ...(this.#o.qps !== undefined ? { qps: this.#o.qps } : {}),
      ...(this.#o.burst !== undefined ? { burst: this.#o.burst } : {}),
    };
    return new KubeClient(kc, {
      name: `member/${this.#o.name}`,
      requestTimeoutMs: this.#o.requestTimeoutMs,
      clock: this.#o.clock,
      ...limits,
    });
  }

  #informer(spec: CacheSpec<KubeObject>): Informer<KubeObject> {
    const { name: _n, handler: _h, ...rest } = spec;
    // Member caches never gate the hub's readiness, and reconnect within a few seconds
    // of their API server returning (the default backoff grows to 30 s).
    return this.#o.manager.informer<KubeObject>({
      ...rest,
      client: this.#client,
      requiredForReady: false,
      backoff: { baseMs: 500, maxMs: 5000 },
    });
  }

  #wire(live: LiveCache): void {
    const name = live.spec.name;
    live.unsubscribe.push(live.informer.onState((s) => this.#onInformerState(live, name, s)));
    if (live.spec.handler) live.unsubscribe.push(live.informer.addHandler(live.spec.handler(this)));
  }

  async #stopCache(live: LiveCache): Promise<void> {
    for (const u of live.unsubscribe) u();
    await this.#o.manager.removeInformer(live.informer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => void this.#probe(), ms);
  }

  async #probe(): Promise<void> {
    const client = this.#client;
    try {
      await client.request('GET', '/version', { timeoutMs: this.#o.probeTimeoutMs });
      if (client === this.#client) this.#mark(true);
    } catch (e) {
      if (client === this.#client) this.#mark(false, e instanceof Error ? e.message : String(e));
    }
    if (client === this.#client) this.#schedule(this.#o.probeIntervalMs);
  }

  // A list that succeeded is contact and (re)opens that cache's part of the gate;
  // 'watching' is not (it is emitted before the server answers). A 410 means the cache
  // is stale until it lists again. Only reachability errors mean lost contact: a 403 on
  // one resource is a permission problem of that cache, reported apart, or health would
  // flap with the probe.
  #onInformerState(live: LiveCache, name: string, s: InformerState): void {
    if (this.#caches.get(name) !== live) return;
    if (s.type === 'listed') {
      live.listedEpoch = this.#epoch;
      live.lists++;
      const had = this.#cacheErrors.delete(name);
      this.#mark(true);
      if (had) this.#o.onChange(this);
      this.#updateGate();
    } else if (s.type === 'gone') {
      live.listedEpoch = -1;
      this.#updateGate();
    } else if (s.type === 'listError' || s.type === 'watchError') {
      const message = s.error instanceof Error ? s.error.message : String(s.error);
      if (isUnavailable(s.error)) this.#mark(false, message);
      else if (this.#cacheErrors.get(name) !== message) {
        this.#cacheErrors.set(name, message);
        this.#updateGate(true);
      }
    }
  }

  #mark(ok: boolean, error?: string): void {
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    const was = this.#health;
    this.#health = ok
      ? { connected: true, lastContact: now, since: was.connected ? was.since : now }
      : {
          connected: false,
          ...(was.lastContact !== undefined ? { lastContact: was.lastContact } : {}),
          error: error ?? 'unreachable',
          since: was.connected ? now : was.since,
        };
    if (was.connected && !ok) {
      // Lost contact: whatever the caches hold may be missing changes made meanwhile.
      // Each must list again (not just resume its watch) before controllers act here.
      this.#epoch++;
      for (const c of this.#caches.values()) c.informer.relist();
    }
    if (was.connected !== ok) this.#updateGate(true);
  }

  #updateGate(notify = false): void {
    const open =
      !this.#stopped &&
      this.#health.connected &&
      this.#cacheErrors.size === 0 &&
      [...this.#caches.values()].every((c) => c.listedEpoch === this.#epoch);
    const changed = open !== this.#gate;
    this.#gate = open;
    if (changed || notify) this.#o.onChange(this);
  }
}
