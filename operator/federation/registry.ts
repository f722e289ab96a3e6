// The member clusters of this hub, one per ProviderPool. A connection is made when a
// pool first needs it, replaced when its kubeconfig changes, and torn down with the
// pool; a lost connection only changes health — nothing is ever deleted for it.
import { createHash } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
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
