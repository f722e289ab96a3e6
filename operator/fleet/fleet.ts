// The fleet: every member cluster this hub reaches, one member per cluster, owned by no
// controller. A controller acquires the member for what it serves (a pool acquires its
// cluster), attaches the informers it needs to every member (the job controller's Pods
// labelled with a hub key), and hears about members coming, going and changing health.
// Several pools on one cluster share one connection and one set of caches; a member is
// closed when its last user releases it. A lost connection only changes health and the
// ready gate: nothing is ever deleted for it.
import { createHash } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import type { KubeObject } from '../kube/types.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Cache } from '../runtime/store.ts';
import { AgentMember } from './agent-member.ts';
import { type CacheSpec, Member } from './member.ts';

/** A member as controllers see it: a cluster the hub connects to, or a pool's agent. */
export type FleetMember = Member | AgentMember;

/** How a cluster is reached (a pool's spec.cluster, resolved). */
export type MemberSource =
  | { kind: 'Local' }
  /** Pull mode: the pool's agent reports through the hub; nothing to connect to. */
  | { kind: 'Agent'; pool: string }
  /** `origin` names where the kubeconfig came from (a Secret), for messages and rotation. */
  | { kind: 'Kubeconfig'; kubeconfig: string; origin: string };

export interface FleetOptions {
  manager: Manager;
  /** The hub's own kubeconfig, for Local members. */
  hubKubeConfig: KubeConfig;
  clock: Clock;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** Limit on each member request other than the probe (default 30 s). */
  requestTimeoutMs?: number;
  /** Client-side rate limit per member cluster. */
  qps?: number;
  burst?: number;
}

/** What a member's users hear. */
export interface MemberHooks {
  added?(m: Member): void;
  removed?(m: Member): void;
  /** Health, ready gate or credentials changed (of an agent member too: its heartbeat went fresh or stale). */
  changed?(m: FleetMember): void;
  /** A capacity cache (nodes, pods, runtime classes) changed. */
  capacity?(m: Member): void;
}

/** A cache attached to every member, with the map from member objects back to hub keys. */
export interface Attachment<T extends KubeObject> {
  readonly name: string;
  /** The cache on one member (undefined for an unknown member). */
  cache(member: string): Cache<T> | undefined;
  /** Objects on `member` that belong to the hub object `hubKey`. */
  byHubKey(member: string, hubKey: string): T[];
  /** Stops the cache on every member. */
  detach(): Promise<void>;
}

export interface AttachSpec<T extends KubeObject> extends Omit<CacheSpec<T>, 'handler' | 'indexers'> {
  /** The hub object(s) a member object belongs to (e.g. from a label), or undefined. */
  hubKey: (obj: T) => string | readonly string[] | undefined;
  /**
   * Called with each hub key touched by an add, update or delete on any member, with the object (and, for an
   * update, the old one; for an update that moved the object to another hub key, once for each side).
   */
  onChange?: (hubKey: string, member: Member, obj: T, old?: T) => void;
}

/** A user of a member: who (a controller) and for what (its key). */
interface User {
  owner: string;
  key: string;
  /** The source's origin, to tell a rotation from a second kubeconfig for the same cluster. */
  origin: string;
  /** The kubeconfig text and the credentials' fingerprint it presented last, to skip re-reading an unchanged one. */
  text: string;
  fingerprint: string;
}

const hubKeyIndex = 'nvdax.io/hub-key';
const localOrigin = 'the hub';

/** Thrown when a source cannot be used; the message names the fix. */
export class MemberSourceError extends Error {
  override readonly name = 'MemberSourceError';
}

export class Fleet {
  readonly #o: FleetOptions;
  /** By cluster key: `local` or the API server URL. */
  readonly #members = new Map<string, Member>();
  readonly #users = new Map<string, Map<string, User>>();
  readonly #hooks = new Set<MemberHooks>();
  readonly #specs = new Map<string, CacheSpec<KubeObject>>();
  /** Agent members by user id: one per agent pool, never shared. */
  readonly #agents = new Map<string, AgentMember>();

  constructor(o: FleetOptions) {
    this.#o = o;
  }

  /** Members by cluster key. */
  members(): Member[] {
    return [...this.#members.values()];
  }

  get(clusterKey: string): Member | undefined {
    return this.#members.get(clusterKey);
  }

  /** Agent members (pull-mode pools). */
  agents(): AgentMember[] {
    return [...this.#agents.values()];
  }

  /** The member `owner`'s `key` acquired, if any. */
  memberOf(owner: string, key: string): FleetMember | undefined {
    const id = userId(owner, key);
    const agent = this.#agents.get(id);
    if (agent) return agent;
    for (const [clusterKey, users] of this.#users) if (users.has(id)) return this.#members.get(clusterKey);
    return undefined;
  }

  /** Keys `owner` acquired `member` for (e.g. the pools on one cluster); every user's key without `owner`. */
  usersOf(member: FleetMember, owner?: string): string[] {
    if (member.kind === 'agent') {
      return [...this.#agents]
        .filter(([id, a]) => a === member && (owner === undefined || id.startsWith(`${owner}\u0000`)))
        .map(([, a]) => a.pool);
    }
    return [...(this.#users.get(member.key)?.values() ?? [])]
      .filter((u) => owner === undefined || u.owner === owner)
      .map((u) => u.key);
  }

  /** Subscribes to member events; returns an unsubscribe. Members already present are replayed as added. */
  watch(hooks: MemberHooks): () => void {
    this.#hooks.add(hooks);
    for (const m of this.#members.values()) hooks.added?.(m);
    return () => this.#hooks.delete(hooks);
  }

  /**
   * The member for `owner`/`key` reached through `source`: shared with every other user
   * of the same cluster, connected on first use, its credentials rotated when the same
   * origin now holds another kubeconfig. Releases what this user held before if the
   * source now points elsewhere. Throws MemberSourceError on an unusable source.
   */
  async acquire(owner: string, key: string, source: MemberSource & { kind: 'Agent' }): Promise<AgentMember>;
  async acquire(owner: string, key: string, source: ClusterSource): Promise<Member>;
  async acquire(owner: string, key: string, source: MemberSource): Promise<FleetMember>;
  async acquire(owner: string, key: string, source: MemberSource): Promise<FleetMember> {
    const id = userId(owner, key);
    if (source.kind === 'Agent') {
      const had = this.#agents.get(id);
      if (had?.pool === source.pool) return had;
      await this.release(owner, key);
      const agent = new AgentMember(source.pool, this.#o.clock, (m) => this.#emit((h) => h.changed?.(m)));
      this.#agents.set(id, agent);
      return agent;
    }
    if (this.#agents.has(id)) this.#agents.delete(id);
    const previous = this.memberOf(owner, key) as Member | undefined;
    // a pool reconciles every heartbeat: an unchanged source on an unchanged member needs no parsing
    const text = source.kind === 'Local' ? '' : source.kubeconfig;
    const last = previous && this.#users.get(previous.key)?.get(id);
    const from = source.kind === 'Local' ? localOrigin : source.origin;
    if (previous && last && last.text === text && last.origin === from && last.fingerprint === previous.fingerprint) {
      return previous;
    }
    const { clusterKey, name, kubeConfig, fingerprint, origin } = resolveSource(source, this.#o.hubKubeConfig);
    if (previous && previous.key !== clusterKey) await this.release(owner, key);
    const existing = this.#members.get(clusterKey);
    if (existing && existing.fingerprint !== fingerprint) {
      const others = [...(this.#users.get(clusterKey)?.values() ?? [])].filter((u) => userId(u.owner, u.key) !== id);
      const foreign = others.find((u) => u.origin !== origin);
      if (foreign) {
        throw new MemberSourceError(
          `cluster ${name} is already connected through ${foreign.origin} (used by ${foreign.owner} ${foreign.key}) ` +
            `with other credentials: pools on one cluster must share one kubeconfig Secret`,
        );
      }
      await existing.rotate(kubeConfig, fingerprint);
    }
    let member = this.#members.get(clusterKey);
    if (!member) {
      member = new Member(
        {
          key: clusterKey,
          name,
          kubeConfig,
          fingerprint,
          manager: this.#o.manager,
          clock: this.#o.clock,
          probeIntervalMs: this.#o.probeIntervalMs,
          probeTimeoutMs: this.#o.probeTimeoutMs,
          requestTimeoutMs: this.#o.requestTimeoutMs ?? 30_000,
          ...(this.#o.qps !== undefined ? { qps: this.#o.qps } : {}),
          ...(this.#o.burst !== undefined ? { burst: this.#o.burst } : {}),
          onChange: (m) => this.#emit((h) => h.changed?.(m)),
          onCapacity: (m) => this.#emit((h) => h.capacity?.(m)),
        },
        [...this.#specs.values()],
      );
      this.#members.set(clusterKey, member);
      this.#users.set(clusterKey, new Map());
      this.#emit((h) => h.added?.(member as Member));
    }
    this.#users.get(clusterKey)?.set(id, { owner, key, origin, text, fingerprint });
    return member;
  }

  /** Drops `owner`/`key`'s use of its member; the last user's release closes the member. */
  async release(owner: string, key: string): Promise<void> {
    if (this.#agents.delete(userId(owner, key))) return;
    const member = this.memberOf(owner, key);
    if (!member || member.kind === 'agent') return;
    const users = this.#users.get(member.key);
    users?.delete(userId(owner, key));
    if (users && users.size > 0) return;
    this.#members.delete(member.key);
    this.#users.delete(member.key);
    await member.stop();
    this.#emit((h) => h.removed?.(member));
  }

  /**
   * Starts an informer on every member, present and future, indexed by hub key, and
   * calls `onChange(hubKey)` for each member object that changes: a job controller's way
   * to watch the Pods it placed without a cache of its own per cluster.
   */
  attach<T extends KubeObject>(spec: AttachSpec<T>): Attachment<T> {
    if (this.#specs.has(spec.name)) throw new Error(`a fleet cache named ${spec.name} is attached already`);
    const { hubKey, onChange, ...rest } = spec;
    const keys = (o: T): readonly string[] => {
      const k = hubKey(o);
      return k === undefined ? [] : typeof k === 'string' ? [k] : k;
    };
    const cacheSpec: CacheSpec<T> = {
      ...rest,
      indexers: { [hubKeyIndex]: keys },
      ...(onChange
        ? {
            handler: (m: Member) => {
              const fire = (o: T) => {
                for (const k of keys(o)) onChange(k, m, o);
              };
              const onUpdate = (old: T, o: T) => {
                const now = keys(o);
                for (const k of now) onChange(k, m, o, old);
                for (const k of keys(old)) if (!now.includes(k)) onChange(k, m, old);
              };
              return { onAdd: fire, onDelete: fire, onUpdate };
            },
          }
        : {}),
    };
    const generic = cacheSpec as unknown as CacheSpec<KubeObject>;
    this.#specs.set(spec.name, generic);
    for (const m of this.#members.values()) m.addCache(generic);
    return {
      name: spec.name,
      cache: (member) => this.#members.get(member)?.cache<T>(spec.name),
      byHubKey: (member, key) => this.#members.get(member)?.cache<T>(spec.name)?.byIndex(hubKeyIndex, key) ?? [],
      detach: async () => {
        this.#specs.delete(spec.name);
        await Promise.all([...this.#members.values()].map((m) => m.removeCache(spec.name)));
      },
    };
  }

  /** Closes every member. */
  async stop(): Promise<void> {
    const members = [...this.#members.values()];
    this.#members.clear();
    this.#users.clear();
    this.#agents.clear();
    await Promise.all(members.map((m) => m.stop()));
  }

  #emit(fn: (h: MemberHooks) => void): void {
    for (const h of this.#hooks) fn(h);
  }
}

const userId = (owner: string, key: string) => `${owner}\u0000${key}`;

interface Resolved {
  clusterKey: string;
  name: string;
  kubeConfig: KubeConfig;
  fingerprint: string;
  origin: string;
}

/** A source the hub connects through. */
export type ClusterSource = Exclude<MemberSource, { kind: 'Agent' }>;

function resolveSource(source: ClusterSource, hub: KubeConfig): Resolved {
  if (source.kind === 'Local')
    return { clusterKey: 'local', name: 'local', kubeConfig: hub, fingerprint: 'local', origin: localOrigin };
  refuseUnsafe(source.kubeconfig);
  const kc = new KubeConfig();
  try {
    kc.loadFromString(source.kubeconfig);
  } catch (e) {
    throw new MemberSourceError(`not a kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new MemberSourceError('the kubeconfig has no current-context cluster');
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    throw new MemberSourceError(`clusters[].cluster.server "${cluster.server}" is not a URL`);
  }
  // One member per cluster: the API server is the cluster's identity; the credentials
  // (anything else in the kubeconfig) only decide whether a rotation is due.
  const clusterKey = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  return {
    clusterKey,
    name: url.host,
    kubeConfig: kc,
    // the credentials and trust as used, not the text: a reformatted kubeconfig is no rotation
    fingerprint: createHash('sha256')
      .update(JSON.stringify([clusterKey, { ...cluster, name: '', server: '' }, kc.getCurrentUser() ?? null]))
      .digest('hex'),
    origin: source.origin,
  };
}

/**
 * A provider supplies the kubeconfig, so it may carry nothing that acts inside the operator:
 * no exec or auth-provider plugins (they run commands here), no token or certificate files
 * (they would read the operator's own files, e.g. its service account token). Inline data only.
 */
export function refuseUnsafe(kubeconfig: string): void {
  let doc: unknown;
  try {
    doc = YAML.parse(kubeconfig);
  } catch (e) {
    throw new MemberSourceError(`not a kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
  }
  const entries = (list: unknown, field: string): Array<Record<string, unknown>> =>
    Array.isArray(list)
      ? list
          .map((x) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[field] : undefined))
          .filter((x): x is Record<string, unknown> => !!x && typeof x === 'object')
      : [];
  const d = (doc ?? {}) as Record<string, unknown>;
  const forbidden: Array<[Array<Record<string, unknown>>, string, string[]]> = [
    [
      entries(d['users'], 'user'),
      'users[].user',
      ['exec', 'auth-provider', 'tokenFile', 'client-certificate', 'client-key'],
    ],
    [entries(d['clusters'], 'cluster'), 'clusters[].cluster', ['certificate-authority']],
  ];
  for (const [items, path, keys] of forbidden) {
    for (const item of items) {
      const bad = keys.filter((k) => item[k] !== undefined && item[k] !== null && item[k] !== '');
      if (bad.length) {
        throw new MemberSourceError(
          `${path}.${bad[0]} is not allowed in a member kubeconfig (it would run or read files inside the operator): ` +
            'use inline data such as client-certificate-data, client-key-data, token, certificate-authority-data',
        );
      }
    }
  }
}
