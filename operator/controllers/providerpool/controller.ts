// The ProviderPool controller: for each pool, acquire its member cluster from the fleet
// (the hub itself, a kubeconfig in a Secret, or its agent's reports), compute capacity
// from the member's caches, and write the status fields it owns with conditions
// Connected, Ready and ConfidentialReady. Level-triggered: pool changes, member cache
// changes and member health changes all just enqueue the pool's name; a heartbeat
// requeue keeps lastHeartbeatTime fresh and notices what no event reports.
import type { TypedDataDomain } from 'ethers';
import { Counter } from 'prom-client';
import { API_VERSION, ClusterMode, PoolConditionType } from '../../api/constants.ts';
import { type ProviderPoolObject, providerPools } from '../../api/resources.ts';
import type { AgentStatus, ProviderPoolStatus } from '../../api/types.gen.ts';
import type { ClusterSource, Fleet } from '../../fleet/fleet.ts';
import { MemberSourceError } from '../../fleet/fleet.ts';
import type { AgentMember } from '../../fleet/agent-member.ts';
import type { Member } from '../../fleet/member.ts';
import { computeCapacity } from '../../fleet/capacity.ts';
import { type KubeObject, resources } from '../../kube/types.ts';
import { canonical } from '../../runtime/canonical.ts';
import type { Controller, ReconcileContext, Result } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Manager } from '../../runtime/manager.ts';
import { findCondition, type Condition } from '../../runtime/conditions.ts';
import { verifyHeartbeat } from '../../verification/heartbeat.ts';
import { TelemetryError } from '../../verification/telemetry.ts';
import { desiredStatus, heartbeatTimeoutMs, type Observation, ownedStatus } from './status.ts';

export type { ProviderPoolObject } from '../../api/resources.ts';
export { providerPools } from '../../api/resources.ts';

export interface ProviderPoolControllerOptions {
  manager: Manager;
  /** The member clusters, shared with every other controller. */
  fleet: Fleet;
  /** How often a pool is re-observed and its heartbeat written (default 15 s). */
  heartbeatIntervalMs?: number;
  /**
   * Capacity changes (pods and nodes coming and going) reach a pool's status at most this often
   * (default 2 s): a burst of pods is one status write, not one per pod. Placement reads capacity
   * from the caches, not from this status, so nothing waits on it.
   */
  capacityIntervalMs?: number;
  concurrency?: number;
  /** Label selector restricting the pools this process reconciles ('' = all). */
  poolSelector?: string;
  /**
   * The only namespace kubeconfig Secrets are read from (the operator's own), and the
   * default of secretRef.namespace. Pools are cluster-scoped and written by platform
   * admins, but a pool must not make the operator read Secrets elsewhere.
   */
  secretNamespace: string;
  /**
   * The settlement's EIP-712 domain: agent pools' heartbeats must then be signed by the pool's provider
   * (operator/verification/heartbeat.ts). Without it (a hub that settles nowhere) they are taken unsigned.
   */
  heartbeatDomain?: TypedDataDomain;
}

export interface ProviderPoolController {
  controller: Controller;
  pools: Informer<ProviderPoolObject>;
}

/** The fleet owner name of pools, and this controller's field manager. */
const owner = 'providerpool';
export const fieldManager = 'nvdax-providerpool-controller';

/** Equal in the owned fields but for the heartbeat time, i.e. nothing worth a write. */
export const sameStatus = (a: ProviderPoolStatus, b: ProviderPoolStatus) =>
  canonical({ ...ownedStatus(a), lastHeartbeatTime: undefined }) ===
  canonical({ ...ownedStatus(b), lastHeartbeatTime: undefined });

type SecretObject = KubeObject & { data?: Record<string, string> };

/** The Secret a pool's kubeconfig is read from, with the namespace defaulted. */
function secretOf(pool: ProviderPoolObject, secretNamespace: string) {
  const ref = pool.spec.cluster.secretRef;
  return ref
    ? { namespace: ref.namespace ?? secretNamespace, name: ref.name, key: ref.key ?? 'kubeconfig' }
    : undefined;
}

function readKubeconfig(
  secrets: Informer<SecretObject>,
  secretNamespace: string,
  pool: ProviderPoolObject,
): ClusterSource | Observation {
  const ref = secretOf(pool, secretNamespace);
  if (!ref) return { kind: 'SecretMissing', message: 'spec.cluster.secretRef is required for mode KubeconfigSecret' };
  if (ref.namespace !== secretNamespace) {
    return {
      kind: 'KubeconfigInvalid',
      message:
        `spec.cluster.secretRef.namespace "${ref.namespace}": the operator reads kubeconfig Secrets ` +
        `only from its own namespace "${secretNamespace}"`,
    };
  }
  const secret = secrets.get(`${ref.namespace}/${ref.name}`);
  if (!secret) return { kind: 'SecretMissing', message: `Secret ${ref.namespace}/${ref.name} not found` };
  const data = secret.data?.[ref.key];
  if (!data) return { kind: 'SecretMissing', message: `Secret ${ref.namespace}/${ref.name} has no key "${ref.key}"` };
  return {
    kind: 'Kubeconfig',
    kubeconfig: Buffer.from(data, 'base64').toString('utf8'),
    origin: `Secret ${ref.namespace}/${ref.name} key "${ref.key}"`,
  };
}

/** Creates the ProviderPool informer and controller on `manager`. */
export function setupProviderPoolController(o: ProviderPoolControllerOptions): ProviderPoolController {
  const { manager, fleet } = o;
  const clock = manager.clock;
  const heartbeatMs = o.heartbeatIntervalMs ?? 15_000;
  const hub = manager.client;
  const events: EventRecorder = manager.eventRecorder();
  const pools = manager.informer<ProviderPoolObject>({
    resource: providerPools,
    ...(o.poolSelector ? { labelSelector: o.poolSelector } : {}),
  });
  // kubeconfig Secrets come from a cache of the operator's namespace: no read per reconcile,
  // and a rotated Secret reconciles its pools at once
  const secrets = manager.informer<SecretObject>({ resource: resources.secrets, namespace: o.secretNamespace });

  const refusedBeats = new Counter({
    name: 'nvdax_agent_heartbeats_refused_total',
    help: "Agent heartbeats refused because their signature is missing or is not the pool's provider's",
    labelNames: ['pool'],
    registers: [manager.metrics.registry],
  });
  // a heartbeat is checked once: informer objects are replaced on change, so the status object is the key
  const verdicts = new WeakMap<AgentStatus, string | null>();
  /** Why status.agent may not be used (its signature fails), or undefined when it may. */
  function refusal(pool: ProviderPoolObject, agent: AgentStatus | undefined): string | undefined {
    if (!o.heartbeatDomain || !agent?.heartbeatTime) return undefined;
    let verdict = verdicts.get(agent);
    if (verdict === undefined) {
      try {
        verifyHeartbeat(o.heartbeatDomain, pool.metadata?.name ?? '', pool.spec.provider.address, agent);
        verdict = null;
      } catch (e) {
        if (!(e instanceof TelemetryError)) throw e;
        verdict = e.message;
        refusedBeats.inc({ pool: pool.metadata?.name ?? '' });
      }
      verdicts.set(agent, verdict);
    }
    return verdict ?? undefined;
  }

  /** An agent pool: what its agent last reported in status.agent, and whether that is recent enough. */
  async function observeAgent(pool: ProviderPoolObject): Promise<Observation> {
    const name = pool.metadata?.name ?? '';
    const member: AgentMember = await fleet.acquire(owner, name, { kind: 'Agent', pool: name });
    const timeout = heartbeatTimeoutMs(pool);
    const refused = refusal(pool, pool.status?.agent);
    member.observe(pool.status?.agent, timeout, refused);
    const beat = member.heartbeat();
    if (beat === undefined)
      return { kind: 'Connecting', message: "waiting for the first heartbeat of the pool's agent" };
    // capacity only from a heartbeat the pool's provider signed; the last good one stays the last contact
    if (refused !== undefined) return { kind: 'HeartbeatRefused', message: refused };
    const stale = member.staleAt() ?? beat;
    // the next look: when this heartbeat goes stale, unless a newer one comes first
    if (stale >= clock.now()) recheck.set(name, stale - clock.now() + 500);
    if (!member.ready()) {
      return {
        kind: 'Unreachable',
        error: `no heartbeat from the pool's agent since ${new Date(beat).toISOString()} (heartbeatTimeout ${Math.round(timeout / 1000)}s)`,
        lastContact: beat,
      };
    }
    return {
      kind: 'Connected',
      capacity: computeCapacity(member.nodes(), member.pods(), member.runtimeClasses(), {
        nodeSelector: pool.spec.nodeSelector,
        development: pool.spec.development === true,
      }),
      lastContact: beat,
    };
  }
  /** Agent pools: ms until their last heartbeat goes stale, for the next requeue. */
  const recheck = new Map<string, number>();

  async function observe(pool: ProviderPoolObject): Promise<Observation> {
    const name = pool.metadata?.name ?? '';
    if (pool.spec.cluster.mode === ClusterMode.Agent) return observeAgent(pool);
    let source: ClusterSource;
    switch (pool.spec.cluster.mode) {
      case ClusterMode.Local:
        source = { kind: 'Local' };
        break;
      case ClusterMode.KubeconfigSecret: {
        const r = readKubeconfig(secrets, o.secretNamespace, pool);
        if (r.kind !== 'Local' && r.kind !== 'Kubeconfig') {
          await fleet.release(owner, name);
          return r;
        }
        source = r;
        break;
      }
      default:
        await fleet.release(owner, name);
        return { kind: 'KubeconfigInvalid', message: `unknown spec.cluster.mode ${pool.spec.cluster.mode}` };
    }
    let member: Member;
    try {
      member = await fleet.acquire(owner, name, source);
    } catch (e) {
      if (!(e instanceof MemberSourceError)) throw e;
      await fleet.release(owner, name); // never keep using the credentials that were replaced
      const ref = secretOf(pool, o.secretNamespace);
      return {
        kind: 'KubeconfigInvalid',
        message: `Secret ${ref?.namespace}/${ref?.name} key "${ref?.key}": ${e.message}`,
      };
    }
    const h = member.health();
    const seen = h.lastContact !== undefined ? { lastContact: h.lastContact } : {};
    if (!h.connected && h.error === undefined) return { kind: 'Connecting' };
    if (!h.connected) return { kind: 'Unreachable', error: h.error ?? 'unreachable', ...seen };
    const denied = Object.entries(member.cacheErrors());
    if (denied.length > 0)
      return { kind: 'AccessDenied', message: denied.map(([r, m]) => `list ${r}: ${m}`).join('; '), ...seen };
    // the ready gate: no capacity from caches that have not listed since the last loss of contact
    if (!member.ready()) return { kind: 'Syncing', ...seen };
    return {
      kind: 'Connected',
      capacity: computeCapacity(member.nodes(), member.pods(), member.runtimeClasses(), {
        nodeSelector: pool.spec.nodeSelector,
        development: pool.spec.development === true,
      }),
      lastContact: h.lastContact ?? clock.now(),
    };
  }

  function announce(pool: ProviderPoolObject, before: Condition[] | undefined, after: Condition[] | undefined): void {
    for (const type of [PoolConditionType.Connected, PoolConditionType.Ready, PoolConditionType.ConfidentialReady]) {
      const a = findCondition(before, type);
      const b = findCondition(after, type);
      if (!b || (a?.status === b.status && a?.reason === b.reason)) continue;
      const good = b.status === 'True';
      const note = `${type}=${b.status} (${b.reason}): ${b.message}`.slice(0, 1000);
      void (good ? events.normal(pool, b.reason, note) : events.warning(pool, b.reason, note));
    }
  }

  const reconcile = async (key: string, ctx: ReconcileContext): Promise<Result> => {
    const pool = pools.get(key);
    if (!pool) {
      await fleet.release(owner, key);
      return {};
    }
    recheck.delete(key);
    const obs = await observe(pool);
    const want = desiredStatus(pool, obs, clock.now());
    const have = ownedStatus(pool.status);
    const lastBeat = have.lastHeartbeatTime ? Date.parse(have.lastHeartbeatTime) : 0;
    // an agent pool's heartbeat is its agent's own write (status.agent.heartbeatTime): lastHeartbeatTime
    // follows it only beside a change, so a heartbeat costs the hub one write, not two
    const agent = pool.spec.cluster.mode === ClusterMode.Agent;
    const beatDue =
      !agent && want.lastHeartbeatTime !== have.lastHeartbeatTime && clock.now() - lastBeat >= heartbeatMs;
    const changed = !sameStatus(have, want);
    if (changed || beatDue) {
      // Only the owned fields, built from this observation (and, where nothing new was
      // observed, what this controller itself wrote last): other controllers' fields and
      // condition types are left alone; force takes back only fields that are ours.
      await hub.applyStatus(
        providerPools,
        { apiVersion: API_VERSION, kind: 'ProviderPool', metadata: { name: key }, status: want } as KubeObject,
        { fieldManager, force: true, signal: ctx.signal },
      );
      announce(pool, have.conditions as Condition[] | undefined, want.conditions as Condition[] | undefined);
      if (changed) ctx.log.info({ phase: want.phase, observation: obs.kind }, 'Pool status updated');
    }
    return { requeueAfter: Math.min(heartbeatMs, recheck.get(key) ?? Infinity) };
  };

  const controller = manager.controller({ name: 'providerpool', reconcile, concurrency: o.concurrency ?? 2 });
  controller.watch(pools);
  controller.watch(secrets, {
    map: (secret) =>
      pools
        .list()
        .filter((p) => {
          const ref = secretOf(p, o.secretNamespace);
          return ref?.name === secret.metadata?.name && ref?.namespace === secret.metadata?.namespace;
        })
        .map((p) => p.metadata?.name ?? ''),
  });
  // every pool on a member hears its health, gate and capacity changes
  const enqueuePools = (m: Parameters<typeof fleet.usersOf>[0], afterMs = 0) => {
    for (const p of fleet.usersOf(m, owner)) controller.enqueueAfter(p, afterMs);
  };
  const capacityMs = o.capacityIntervalMs ?? 2_000;
  fleet.watch({ changed: (m) => enqueuePools(m), capacity: (m) => enqueuePools(m, capacityMs) });
  return { controller, pools };
}
