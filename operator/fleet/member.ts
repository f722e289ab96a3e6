// One member cluster as the hub sees it: a pooled client, caches of its Nodes, Pods
// and RuntimeClasses, and its health from a periodic probe plus the informers' own
// watch errors (a dead API server shows up on the watch long before a probe).
// Health changes call `onChange`, so the owning pool is reconciled at once.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.ts';
import { isUnavailable } from '../kube/errors.ts';
import { resources, type KubeObject } from '../kube/types.ts';
import type { Clock, TimerHandle } from '../runtime/clock.ts';
import type { Informer, InformerState } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import type { NodeView, PodView, RuntimeClassView } from './capacity.ts';

export type NodeObject = KubeObject & NodeView;
export type PodObject = KubeObject & PodView;
export type RuntimeClassObject = KubeObject & RuntimeClassView;

/** What a pool's reconciler reads about its cluster; an agent-backed member (pull mode) will implement it too. */
export interface MemberView {
  readonly name: string;
  /** Connection health as last observed. */
  health(): MemberHealth;
  /** True once every cache listed at least once. */
  synced(): boolean;
  /** Caches that cannot list for a reason other than reachability (e.g. 403), by resource. */
  cacheErrors(): Record<string, string>;
  nodes(): NodeObject[];
  pods(): PodObject[];
  runtimeClasses(): RuntimeClassObject[];
}

export interface MemberHealth {
  connected: boolean;
  /** Last successful contact (probe, list or watch), ms since the epoch. */
  lastContact?: number;
  /** The last failure, when not connected; absent before the first contact attempt ended. */
  error?: string;
  /** Since when `connected` has had its current value. */
  since: number;
}

export interface MemberOptions {
  name: string;
  kubeConfig: KubeConfig;
  /** Identifies the credentials, so a changed kubeconfig replaces the connection. */
  fingerprint: string;
  manager: Manager;
  clock: Clock;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  onChange: () => void;
}

/** Keeps only what capacity needs of a pod: member clusters can hold many thousands. */
export function slimPod(p: PodObject): PodObject {
  const res = (c: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }) => {
    const r = c.resources;
    return r ? { resources: { ...(r.requests ? { requests: r.requests } : {}), ...(r.limits ? { limits: r.limits } : {}) } } : {};
  };
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? '', resourceVersion: p.metadata?.resourceVersion ?? '' },
    spec: {
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
      containers: (p.spec?.containers ?? []).map(res),
      ...(p.spec?.initContainers ? { initContainers: p.spec.initContainers.map(res) } : {}),
    },
    status: p.status?.phase ? { phase: p.status.phase } : {},
  } as PodObject;
}

export class Member implements MemberView {
  readonly name: string;
  readonly fingerprint: string;
  readonly client: KubeClient;
  readonly #o: MemberOptions;
  readonly #informers: { nodes: Informer<NodeObject>; pods: Informer<PodObject>; runtimeClasses: Informer<RuntimeClassObject> };
  readonly #unsubscribe: Array<() => void> = [];
  #health: MemberHealth;
  readonly #cacheErrors = new Map<string, string>();
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(o: MemberOptions) {
    this.#o = o;
    this.name = o.name;
    this.fingerprint = o.fingerprint;
    this.client = new KubeClient(o.kubeConfig, { name: `member/${o.name}`, requestTimeoutMs: o.probeTimeoutMs });
    this.#health = { connected: false, since: o.clock.now() };
    // Member caches never gate the hub's readiness, and reconnect within a few seconds
    // of their API server returning (the default backoff grows to 30 s).
    const common = { client: this.client, requiredForReady: false, backoff: { baseMs: 500, maxMs: 5000 } } as const;
    this.#informers = {
      nodes: o.manager.informer<NodeObject>({ ...common, resource: resources.nodes }),
      pods: o.manager.informer<PodObject>({
        ...common, resource: resources.pods,
        // finished pods hold no GPUs
        fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed', transform: slimPod,
      }),
      runtimeClasses: o.manager.informer<RuntimeClassObject>({ ...common, resource: resources.runtimeClasses }),
    };
    for (const inf of Object.values(this.#informers) as Array<Informer<KubeObject>>) {
      this.#unsubscribe.push(inf.onState((s) => this.#onInformerState(inf.resource.plural, s)));
      this.#unsubscribe.push(inf.addHandler({ onAdd: o.onChange, onUpdate: o.onChange, onDelete: o.onChange }));
    }
    this.#schedule(0);
  }

  health(): MemberHealth {
    return { ...this.#health };
  }

  synced(): boolean {
    return Object.values(this.#informers).every((i) => i.hasSynced());
  }

  cacheErrors(): Record<string, string> {
    return Object.fromEntries(this.#cacheErrors);
  }

  nodes(): NodeObject[] { return this.#informers.nodes.list(); }
  pods(): PodObject[] { return this.#informers.pods.list(); }
  runtimeClasses(): RuntimeClassObject[] { return this.#informers.runtimeClasses.list(); }

  /** Stops the probe and the informers and closes the connection pool. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    for (const u of this.#unsubscribe) u();
    await Promise.all(Object.values(this.#informers).map((i) => this.#o.manager.removeInformer(i as Informer<KubeObject>)));
    await this.client.close();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => void this.#probe(), ms);
  }

  async #probe(): Promise<void> {
    try {
      await this.client.request('GET', '/version', { timeoutMs: this.#o.probeTimeoutMs });
      this.#mark(true);
    } catch (e) {
      this.#mark(false, e instanceof Error ? e.message : String(e));
    }
    this.#schedule(this.#o.probeIntervalMs);
  }

  // A list that succeeded is contact; 'watching' is not (it is emitted before the server
  // answers). Only reachability errors mean lost contact: a 403 on one resource is a
  // permission problem of that cache, reported apart, or health would flap with the probe.
  #onInformerState(resource: string, s: InformerState): void {
    if (s.type === 'listed') {
      const had = this.#cacheErrors.delete(resource);
      this.#mark(true);
      if (had) this.#o.onChange();
    } else if (s.type === 'listError' || s.type === 'watchError') {
      const message = s.error instanceof Error ? s.error.message : String(s.error);
      if (isUnavailable(s.error)) this.#mark(false, message);
      else if (this.#cacheErrors.get(resource) !== message) {
        this.#cacheErrors.set(resource, message);
        this.#o.onChange();
      }
    }
  }

  #mark(ok: boolean, error?: string): void {
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    const was = this.#health;
    this.#health = ok
      ? { connected: true, lastContact: now, since: was.connected ? was.since : now }
      : { connected: false, ...(was.lastContact !== undefined ? { lastContact: was.lastContact } : {}), error: error ?? 'unreachable', since: was.connected ? now : was.since };
    if (was.connected !== ok) this.#o.onChange();
  }
}
