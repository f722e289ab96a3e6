// The member clusters of this hub, one per ProviderPool. A connection is made when a
// pool first needs it, replaced when its kubeconfig changes, and torn down with the
// pool; a lost connection only changes health — nothing is ever deleted for it.
import { createHash } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import type { Clock } from '../runtime/clock.ts';
import type { Manager } from '../runtime/manager.ts';
import { Member } from './member.ts';

/** How a pool's cluster is reached (the API's spec.cluster, resolved). Agent mode plugs in here later. */
export type MemberSource =
  | { kind: 'Local' }
  | { kind: 'Kubeconfig'; kubeconfig: string };

export interface MemberRegistryOptions {
  manager: Manager;
  /** The hub's own kubeconfig, for Local pools. */
  hubKubeConfig: KubeConfig;
  clock: Clock;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** Called with the pool name whenever its member's caches or health change. */
  onChange: (pool: string) => void;
}

export class MemberRegistry {
  readonly #o: MemberRegistryOptions;
  readonly #members = new Map<string, Member>();

  constructor(o: MemberRegistryOptions) {
    this.#o = o;
  }

  get(pool: string): Member | undefined {
    return this.#members.get(pool);
  }

  get size(): number {
    return this.#members.size;
  }

  /** The member for `pool`, connecting (or reconnecting when the source changed) as needed. Throws on an unreadable kubeconfig. */
  async ensure(pool: string, source: MemberSource): Promise<Member> {
    const { kubeConfig, fingerprint } = this.#resolve(source);
    const existing = this.#members.get(pool);
    if (existing?.fingerprint === fingerprint) return existing;
    if (existing) await this.remove(pool);
    const m = new Member({
      name: pool, kubeConfig, fingerprint, manager: this.#o.manager, clock: this.#o.clock,
      probeIntervalMs: this.#o.probeIntervalMs, probeTimeoutMs: this.#o.probeTimeoutMs,
      onChange: () => this.#o.onChange(pool),
    });
    this.#members.set(pool, m);
    return m;
  }

  async remove(pool: string): Promise<void> {
    const m = this.#members.get(pool);
    this.#members.delete(pool);
    await m?.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#members.keys()].map((p) => this.remove(p)));
  }

  #resolve(source: MemberSource): { kubeConfig: KubeConfig; fingerprint: string } {
    if (source.kind === 'Local') return { kubeConfig: this.#o.hubKubeConfig, fingerprint: 'local' };
    refuseUnsafe(source.kubeconfig);
    const kc = new KubeConfig();
    try {
      kc.loadFromString(source.kubeconfig);
    } catch (e) {
      throw new Error(`not a kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!kc.getCurrentCluster()) throw new Error('the kubeconfig has no current-context cluster');
    return { kubeConfig: kc, fingerprint: createHash('sha256').update(source.kubeconfig).digest('hex') };
  }
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
    throw new Error(`not a kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
  }
  const entries = (list: unknown, field: string): Array<Record<string, unknown>> =>
    Array.isArray(list) ? list.map((x) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[field] : undefined)).filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : [];
  const d = (doc ?? {}) as Record<string, unknown>;
  const forbidden: Array<[Array<Record<string, unknown>>, string, string[]]> = [
    [entries(d['users'], 'user'), 'users[].user', ['exec', 'auth-provider', 'tokenFile', 'client-certificate', 'client-key']],
    [entries(d['clusters'], 'cluster'), 'clusters[].cluster', ['certificate-authority']],
  ];
  for (const [items, path, keys] of forbidden) {
    for (const item of items) {
      const bad = keys.filter((k) => item[k] !== undefined && item[k] !== null && item[k] !== '');
      if (bad.length) throw new Error(`${path}.${bad[0]} is not allowed in a member kubeconfig (it would run or read files inside the operator): use inline data such as client-certificate-data, client-key-data, token, certificate-authority-data`);
    }
  }
}
