// The ProviderPool controller: for each pool, connect to its member cluster (the hub
// itself, a kubeconfig in a Secret, or — later — an agent), compute capacity from the
// member's caches, and write status with conditions Connected, Ready and
// ConfidentialReady. Level-triggered: pool changes, member cache changes and member
// health changes all just enqueue the pool's name; a heartbeat requeue keeps
// lastHeartbeatTime fresh and notices what no event reports.
import { API_VERSION, ClusterMode, PLURALS, PoolConditionType } from '../../api/constants.ts';
import type { ProviderPool, ProviderPoolStatus } from '../../api/types.gen.ts';
import { resourceType, resources, type KubeObject } from '../../kube/types.ts';
import type { Controller, ReconcileContext, Result } from '../../runtime/controller.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Manager } from '../../runtime/manager.ts';
import { findCondition, type Condition } from '../../runtime/conditions.ts';
import { MemberRegistry, type MemberSource } from '../../federation/registry.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { computeCapacity } from '../../fleet/capacity.ts';
import { desiredStatus, type Observation } from './status.ts';

export const providerPools = resourceType(API_VERSION, 'ProviderPool', PLURALS.ProviderPool, false);
export type ProviderPoolObject = ProviderPool & KubeObject;

export interface ProviderPoolControllerOptions {
  manager: Manager;
  hubKubeConfig: KubeConfig;
  /** How often a pool is re-observed and its heartbeat written (default 15 s). */
  heartbeatIntervalMs?: number;
  /** How often each member cluster is probed, and the probe's timeout (defaults 5 s, 3 s). */
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  concurrency?: number;
  /** Label selector restricting the pools this process reconciles ('' = all). */
  poolSelector?: string;
  /**
   * The only namespace kubeconfig Secrets are read from (the operator's own). Pools are
   * cluster-scoped and written by platform admins, but a pool must not make the operator
   * read Secrets elsewhere.
   */
  secretNamespace: string;
}

export interface ProviderPoolController {
  controller: Controller;
  pools: Informer<ProviderPoolObject>;
  members: MemberRegistry;
}

const fieldManager = 'nvdax-providerpool-controller';

/** Status fields written by this controller (others, e.g. stake and reputation, belong to other controllers). */
function owned(s: ProviderPoolStatus): ProviderPoolStatus {
  const { reputation: _r, stake: _s, activeJobs: _a, ...mine } = s;
  return mine;
}

/** JSON with object keys sorted: the server does not keep our key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}

/** Equal but for the heartbeat time, i.e. nothing worth a write. */
export const sameStatus = (a: ProviderPoolStatus, b: ProviderPoolStatus) =>
  canonical({ ...owned(a), lastHeartbeatTime: undefined }) === canonical({ ...owned(b), lastHeartbeatTime: undefined });

type SecretObject = KubeObject & { data?: Record<string, string> };

function readKubeconfig(secrets: Informer<SecretObject>, secretNamespace: string, pool: ProviderPoolObject): MemberSource | Observation {
  const ref = pool.spec.cluster.secretRef;
  if (!ref) return { kind: 'SecretMissing', message: 'spec.cluster.secretRef is required for mode KubeconfigSecret' };
  if (ref.namespace !== secretNamespace) {
    return { kind: 'KubeconfigInvalid', message: `spec.cluster.secretRef.namespace "${ref.namespace}": the operator reads kubeconfig Secrets only from its own namespace "${secretNamespace}"` };
  }
  const key = ref.key ?? 'kubeconfig';
  const secret = secrets.get(`${ref.namespace}/${ref.name}`);
  if (!secret) return { kind: 'SecretMissing', message: `Secret ${ref.namespace}/${ref.name} not found` };
  const data = secret.data?.[key];
  if (!data) return { kind: 'SecretMissing', message: `Secret ${ref.namespace}/${ref.name} has no key "${key}"` };
  return { kind: 'Kubeconfig', kubeconfig: Buffer.from(data, 'base64').toString('utf8') };
}

/** Creates the ProviderPool informer and controller on `manager`. */
export function setupProviderPoolController(o: ProviderPoolControllerOptions): ProviderPoolController {
  const { manager } = o;
  const clock = manager.clock;
  const heartbeatMs = o.heartbeatIntervalMs ?? 15_000;
  const hub = manager.client;
  const events: EventRecorder = manager.eventRecorder();
  const pools = manager.informer<ProviderPoolObject>({ resource: providerPools, ...(o.poolSelector ? { labelSelector: o.poolSelector } : {}) });
  // kubeconfig Secrets come from a cache of the operator's namespace: no read per reconcile,
  // and a rotated Secret reconciles its pools at once
  const secrets = manager.informer<SecretObject>({ resource: resources.secrets, namespace: o.secretNamespace });
  // members notify the controller, which is created below once the registry exists
  let controller: Controller | undefined;
  const members = new MemberRegistry({
    manager, hubKubeConfig: o.hubKubeConfig, clock,
    probeIntervalMs: o.probeIntervalMs ?? 5_000, probeTimeoutMs: o.probeTimeoutMs ?? 3_000,
    onChange: (pool) => controller?.enqueue(pool),
  });

  async function observe(pool: ProviderPoolObject): Promise<Observation> {
    const name = pool.metadata?.name ?? '';
    let source: MemberSource;
    switch (pool.spec.cluster.mode) {
      case ClusterMode.Local:
        source = { kind: 'Local' };
        break;
      case ClusterMode.KubeconfigSecret: {
        const r = readKubeconfig(secrets, o.secretNamespace, pool);
        if (r.kind !== 'Local' && r.kind !== 'Kubeconfig') { await members.remove(name); return r; }
        source = r;
        break;
      }
      default:
        await members.remove(name);
        return { kind: 'AgentPending' };
    }
    let member;
    try {
      member = await members.ensure(name, source);
    } catch (e) {
      await members.remove(name); // never keep using the credentials that were replaced
      const ref = pool.spec.cluster.secretRef;
      return { kind: 'KubeconfigInvalid', message: `Secret ${ref?.namespace}/${ref?.name} key "${ref?.key ?? 'kubeconfig'}": ${e instanceof Error ? e.message : String(e)}` };
    }
    const h = member.health();
    const seen = h.lastContact !== undefined ? { lastContact: h.lastContact } : {};
    if (!h.connected && h.error === undefined) return { kind: 'Connecting' };
    if (!h.connected) return { kind: 'Unreachable', error: h.error ?? 'unreachable', ...seen };
    const denied = Object.entries(member.cacheErrors());
    if (denied.length > 0) return { kind: 'AccessDenied', message: denied.map(([r, m]) => `list ${r}: ${m}`).join('; '), ...seen };
    if (!member.synced()) return { kind: 'Syncing', ...seen };
    return {
      kind: 'Connected',
      capacity: computeCapacity(member.nodes(), member.pods(), member.runtimeClasses(), pool.spec.nodeSelector),
      lastContact: h.lastContact ?? clock.now(),
    };
  }

  function announce(pool: ProviderPoolObject, before: Condition[] | undefined, after: Condition[] | undefined): void {
    for (const type of [PoolConditionType.Connected, PoolConditionType.Ready, PoolConditionType.ConfidentialReady]) {
      const a = findCondition(before, type), b = findCondition(after, type);
      if (!b || (a?.status === b.status && a?.reason === b.reason)) continue;
      const good = b.status === 'True';
      const note = `${type}=${b.status} (${b.reason}): ${b.message}`.slice(0, 1000);
      void (good ? events.normal(pool, b.reason, note) : events.warning(pool, b.reason, note));
    }
  }

  const reconcile = async (key: string, ctx: ReconcileContext): Promise<Result> => {
    const pool = pools.get(key);
    if (!pool) {
      await members.remove(key);
      return {};
    }
    const obs = await observe(pool);
    const want = owned(desiredStatus(pool, obs, clock.now()));
    const have = pool.status ?? {};
    const lastBeat = have.lastHeartbeatTime ? Date.parse(have.lastHeartbeatTime) : 0;
    const beatDue = want.lastHeartbeatTime !== have.lastHeartbeatTime && clock.now() - lastBeat >= heartbeatMs;
    if (!sameStatus(have, want) || beatDue) {
      await hub.applyStatus(providerPools, { apiVersion: API_VERSION, kind: 'ProviderPool', metadata: { name: key }, status: want } as KubeObject,
        { fieldManager, force: true, signal: ctx.signal });
      announce(pool, have.conditions as Condition[] | undefined, want.conditions as Condition[] | undefined);
      if (!sameStatus(have, want)) ctx.log.info({ phase: want.phase, observation: obs.kind }, 'Pool status updated');
    }
    return { requeueAfter: heartbeatMs };
  };

  controller = manager.controller({ name: 'providerpool', reconcile, concurrency: o.concurrency ?? 2 });
  controller.watch(pools);
  controller.watch(secrets, {
    map: (secret) => pools.list()
      .filter((p) => p.spec.cluster.secretRef?.name === secret.metadata?.name && p.spec.cluster.secretRef?.namespace === secret.metadata?.namespace)
      .map((p) => p.metadata?.name ?? ''),
  });
  return { controller, pools, members };
}
