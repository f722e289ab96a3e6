// A pool reached through its agent (spec.cluster.mode Agent, pull mode): the hub has no
// connection to the cluster, only what the agent writes in the pool's status — its heartbeat and
// its inventory (signed by the pool's provider where the hub checks signatures). This member offers the same read side as a connected one (health, ready gate,
// nodes, pods, RuntimeClasses) from that, so capacity, the snapshot and the matcher treat an
// agent pool like any other. Its gate is open while the last heartbeat is younger than the pool's
// heartbeatTimeout.
import type { AgentStatus } from '../api/types.gen.ts';
import type { Clock } from '../runtime/clock.ts';
import { type AgentInventory, expandInventory } from './agent-inventory.ts';
import type { MemberHealth, MemberView, NodeObject, PodObject, RuntimeClassObject } from './member.ts';

/** The fleet key of the agent member of `pool`. */
export const agentMemberKey = (pool: string) => `agent:${pool}`;

export class AgentMember implements MemberView {
  readonly kind = 'agent' as const;
  readonly key: string;
  readonly name: string;
  readonly pool: string;
  readonly #clock: Clock;
  readonly #onChange: ((m: AgentMember) => void) | undefined;
  #wasReady = false;
  #status: AgentStatus | undefined;
  #timeoutMs = 60_000;
  #refused: string | undefined;
  #views: ReturnType<typeof expandInventory> = { nodes: [], pods: [], runtimeClasses: [] };
  #viewsOf: AgentStatus | undefined;

  /** `onChange` hears the gate open or close (as a connected member's users hear it). */
  constructor(pool: string, clock: Clock, onChange?: (m: AgentMember) => void) {
    this.pool = pool;
    this.key = agentMemberKey(pool);
    this.name = `agent/${pool}`;
    this.#clock = clock;
    this.#onChange = onChange;
  }

  /**
   * What the pool's status says now (status.agent) and how long a heartbeat stays good; `refused` says why
   * this heartbeat may not be used (its signature failed): the gate stays shut until a good one comes.
   */
  observe(status: AgentStatus | undefined, timeoutMs: number, refused?: string): void {
    this.#status = status;
    this.#timeoutMs = timeoutMs;
    this.#refused = refused;
    const ready = this.ready();
    if (ready !== this.#wasReady) {
      this.#wasReady = ready;
      this.#onChange?.(this);
    }
  }

  /** The last heartbeat, ms since the epoch; undefined before the first. */
  heartbeat(): number | undefined {
    const t = this.#status?.heartbeatTime ? Date.parse(this.#status.heartbeatTime) : Number.NaN;
    return Number.isFinite(t) ? t : undefined;
  }

  /** When the last heartbeat goes stale (ms since the epoch); undefined before the first. */
  staleAt(): number | undefined {
    const beat = this.heartbeat();
    return beat === undefined ? undefined : beat + this.#timeoutMs;
  }

  health(): MemberHealth {
    const beat = this.heartbeat();
    const stale = this.staleAt();
    if (beat === undefined || stale === undefined) return { connected: false, since: 0 };
    if (this.#refused !== undefined) return { connected: false, lastContact: beat, error: this.#refused, since: beat };
    const now = this.#clock.now();
    return now <= stale
      ? { connected: true, lastContact: beat, since: beat }
      : { connected: false, lastContact: beat, error: 'no heartbeat from the agent', since: stale };
  }

  ready(): boolean {
    return this.health().connected && this.#status?.nodes !== undefined;
  }

  cacheErrors(): Record<string, string> {
    return {};
  }

  #expanded() {
    if (this.#viewsOf !== this.#status) {
      this.#views = expandInventory(this.#status as Partial<AgentInventory> | undefined);
      this.#viewsOf = this.#status;
    }
    return this.#views;
  }

  nodes(): NodeObject[] {
    return this.#expanded().nodes as NodeObject[];
  }

  pods(): PodObject[] {
    return this.#expanded().pods as PodObject[];
  }

  runtimeClasses(): RuntimeClassObject[] {
    return this.#expanded().runtimeClasses as RuntimeClassObject[];
  }

  /** No caches of its own: controllers read the agent's reports (Work status) instead. */
  cache(_name: string): undefined {
    return undefined;
  }
}
