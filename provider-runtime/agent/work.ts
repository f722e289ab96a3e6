// The agent's work controller: for each Work of its pool in its work namespace on the hub, apply
// the objects it carries in this cluster (server-side apply, the agent's own field manager; an
// unchanged object costs no write) and report their state back in the Work's status. A Work for
// another pool is never acted on. Objects whose Work is gone from the hub are deleted — but only
// from a Work cache that has listed the hub, so a hub outage deletes nothing: what runs keeps
// running, and the agent catches up when the hub returns (the informers list again).
import type { Signer, TypedDataDomain } from 'ethers';
import { API_VERSION, WorkConditionType } from '../../operator/api/constants.ts';
import type { WorkObject } from '../../operator/api/resources.ts';
import { works } from '../../operator/api/resources.ts';
import type { WorkStatus } from '../../operator/api/types.gen.ts';
import {
  type AgentPodView,
  hashOf,
  observedWork,
  specHashAnnotation,
  type WorkloadView,
  workLabel,
  workLabelValue,
  workloadNamesOf,
} from '../../operator/fleet/agent-work.ts';
import type { KubeClient } from '../../operator/kube/client.ts';
import { isNotFound } from '../../operator/kube/errors.ts';
import { type KubeObject, type ResourceType, resources } from '../../operator/kube/types.ts';
import { labelKeys, labelValue } from '../../operator/materialize/names.ts';
import { canonical } from '../../operator/runtime/canonical.ts';
import { type Condition, setCondition } from '../../operator/runtime/conditions.ts';
import type { Controller, ReconcileContext, Result } from '../../operator/runtime/controller.ts';
import type { Informer } from '../../operator/runtime/informer.ts';
import type { Manager } from '../../operator/runtime/manager.ts';
import { slotGroupLabel } from '../../operator/scheduling/snapshot.ts';
import { signWorkStatus } from '../../operator/verification/heartbeat.ts';

/** Field manager of what the agent writes: objects here, Work status and pool status on the hub. */
export const agentManager = 'nvdax-agent';

/** The kinds a Work may carry, and where they go. Anything else is refused. */
const kinds: Record<string, ResourceType> = {
  Namespace: resources.namespaces,
  NetworkPolicy: resources.networkPolicies,
  Deployment: resources.deployments,
  Job: resources.jobs,
  Service: resources.services,
};
/** Kinds the agent deletes when their Work is gone (namespaces and their policy are shared by a tenant's jobs). */
const collected: Array<[string, ResourceType]> = [
  ['Deployment', resources.deployments],
  ['Job', resources.jobs],
  ['Service', resources.services],
];

export interface WorkControllerOptions {
  manager: Manager;
  /** The hub client (the agent's hub credential). */
  hub: KubeClient;
  pool: string;
  /** The pool's work namespace on the hub. */
  namespace: string;
  /** The provider's key and the settlement's EIP-712 domain: each Work status is signed with them. */
  signing?: { signer: Signer; domain: TypedDataDomain };
}

export interface WorkController {
  controller: Controller;
  works: Informer<WorkObject>;
  /** Deletes what this agent applied whose Work is gone; returns how many it deleted (0 before the hub listed). */
  collect(signal: AbortSignal): Promise<number>;
}

/** Keeps a local workload small: what the Work status reports. */
function slimWorkload<T extends KubeObject>(o: T): T {
  const { managedFields: _m, ...meta } = o.metadata ?? {};
  const spec = (o as { spec?: Record<string, unknown> }).spec;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: meta,
    ...(spec ? { spec: { replicas: spec['replicas'], completions: spec['completions'] } } : {}),
    status: (o as { status?: unknown }).status,
  } as unknown as T;
}

export function setupWorkController(o: WorkControllerOptions): WorkController {
  const { manager, hub, pool } = o;
  const local = manager.client;
  const clock = manager.clock;
  const mine = `${labelKeys.managedBy}=nvdax,${labelKeys.pool}=${labelValue(pool)}`;
  const hubWorks = manager.informer<WorkObject>({
    client: hub,
    resource: works,
    namespace: o.namespace,
    // back within seconds of the hub's return
    backoff: { baseMs: 500, maxMs: 5_000 },
    indexers: { workload: (w) => workloadNamesOf(w) },
  });
  const withKind =
    <T extends KubeObject>(kind: string, apiVersion: string) =>
    (x: T) =>
      slimWorkload({ ...x, kind, apiVersion });
  const deployments = manager.informer<WorkloadView>({
    resource: resources.deployments,
    labelSelector: mine,
    transform: withKind('Deployment', 'apps/v1'),
  });
  const jobs = manager.informer<WorkloadView>({
    resource: resources.jobs,
    labelSelector: mine,
    transform: withKind('Job', 'batch/v1'),
  });
  const services = manager.informer<KubeObject>({ resource: resources.services, labelSelector: mine });
  const pods = manager.informer<AgentPodView>({ resource: resources.pods, labelSelector: mine });
  /** Namespaces and policies applied this process lifetime (by name and hash): applied once, not per Work. */
  const applied = new Set<string>();

  const cacheOf = (kind: string): Informer<KubeObject> | undefined =>
    kind === 'Deployment'
      ? (deployments as Informer<KubeObject>)
      : kind === 'Job'
        ? (jobs as Informer<KubeObject>)
        : kind === 'Service'
          ? services
          : undefined;

  async function apply(work: WorkObject, signal: AbortSignal): Promise<number> {
    let writes = 0;
    for (const m of work.spec.manifests) {
      const obj = m as unknown as KubeObject;
      const kind = obj.kind ?? '';
      const res = kinds[kind];
      if (!res) throw new Error(`Work ${work.metadata?.name}: kind ${kind} is not one the agent applies`);
      const hash = hashOf(obj);
      const name = obj.metadata?.name ?? '';
      const ns = obj.metadata?.namespace;
      const cache = cacheOf(kind);
      if (cache) {
        const have = cache.get(ns ? `${ns}/${name}` : name);
        if (have?.metadata?.annotations?.[specHashAnnotation] === hash) continue;
      } else if (applied.has(`${kind}/${ns ?? ''}/${name}/${hash}`)) continue;
      const body = {
        ...obj,
        metadata: {
          ...obj.metadata,
          // a tenant namespace and its policy serve every Work of the tenant: no Work label on them
          ...(cache
            ? { labels: { ...obj.metadata?.labels, [workLabel]: workLabelValue(work.metadata?.name ?? '') } }
            : {}),
          annotations: { ...obj.metadata?.annotations, [specHashAnnotation]: hash },
        },
      };
      await local.apply(res, body as KubeObject, { fieldManager: agentManager, force: true, signal });
      if (!cache) applied.add(`${kind}/${ns ?? ''}/${name}/${hash}`);
      writes++;
    }
    return writes;
  }

  async function writeStatus(work: WorkObject, want: WorkStatus, signal: AbortSignal): Promise<void> {
    const { updateTime: _u, signature: _s, ...have } = work.status ?? {};
    const { updateTime: _w, signature: _t, ...next } = want;
    if (canonical(have) === canonical(next)) return;
    const name = `${work.metadata?.namespace ?? ''}/${work.metadata?.name ?? ''}`;
    // signed over exactly what is written (the hub meters usage and settles by it)
    const body = o.signing ? await signWorkStatus(o.signing.signer, o.signing.domain, pool, name, want) : want;
    await hub.applyStatus(
      works,
      {
        apiVersion: API_VERSION,
        kind: 'Work',
        metadata: { name: work.metadata?.name ?? '', namespace: work.metadata?.namespace ?? '' },
        status: body,
      } as KubeObject,
      { fieldManager: agentManager, force: true, signal },
    );
  }

  const reconcile = async (key: string, ctx: ReconcileContext): Promise<Result> => {
    const work = hubWorks.get(key);
    if (!work) return {}; // gone: collect() deletes what it applied
    if (work.spec.pool !== pool) {
      // never acted on: work for another pool has no business in this namespace
      ctx.log.warn({ workPool: work.spec.pool }, 'Work names another pool; ignored');
      return {};
    }
    const now = clock.now();
    const gen = work.metadata?.generation;
    let conditions = (work.status?.conditions ?? []) as Condition[];
    let writes = 0;
    try {
      writes = await apply(work, ctx.signal);
      conditions = setCondition(
        conditions,
        {
          type: WorkConditionType.Applied,
          status: 'True',
          reason: 'Applied',
          message: `${work.spec.manifests.length} object(s) applied`,
          ...(gen !== undefined ? { observedGeneration: gen } : {}),
        },
        now,
      );
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      conditions = setCondition(
        conditions,
        {
          type: WorkConditionType.Applied,
          status: 'False',
          reason: 'ApplyFailed',
          message: (e instanceof Error ? e.message : String(e)).slice(0, 1024),
          ...(gen !== undefined ? { observedGeneration: gen } : {}),
        },
        now,
      );
      await writeStatus(work, { ...work.status, conditions, updateTime: new Date(now).toISOString() }, ctx.signal);
      throw e;
    }
    // what was just written shows in the caches a moment later; its watch event brings this key back
    if (writes > 0) return {};
    const names = new Set(workloadNamesOf(work));
    const local = [...deployments.list(), ...jobs.list()].filter((w) => names.has(w.metadata?.name ?? ''));
    const podsOf = [...names].flatMap((n) => pods.list().filter((p) => p.metadata?.labels?.[slotGroupLabel] === n));
    const observed = observedWork(work, local, podsOf);
    const available = observed.objects?.some(
      (x) => (x.readyReplicas ?? 0) > 0 || (x.ready ?? x.active ?? 0) > 0 || x.complete === true,
    );
    conditions = setCondition(
      conditions,
      {
        type: WorkConditionType.Available,
        status: available ? 'True' : 'False',
        reason: available ? 'WorkloadAvailable' : 'WorkloadNotAvailable',
        message: available ? 'a workload has ready pods' : 'no workload has ready pods yet',
        ...(gen !== undefined ? { observedGeneration: gen } : {}),
      },
      now,
    );
    await writeStatus(
      work,
      {
        conditions,
        ...(gen !== undefined ? { observedGeneration: gen } : {}),
        ...observed,
        updateTime: new Date(now).toISOString(),
      },
      ctx.signal,
    );
    return {};
  };

  const controller = manager.controller({ name: 'agent-work', reconcile, concurrency: 4 });
  controller.watch(hubWorks);
  // the hub back after an outage (a list after a failed watch or list): every Work reports at once,
  // rather than when its retry backoff, grown during the outage, runs out
  let lost = false;
  hubWorks.onState((st) => {
    if (st.type === 'listError' || st.type === 'watchError') lost = true;
    else if (st.type === 'listed' && lost) {
      lost = false;
      for (const w of hubWorks.list()) controller.enqueue(`${w.metadata?.namespace}/${w.metadata?.name}`);
    }
  });
  // local changes go to the Work they came from
  const toWork = (w: KubeObject) => {
    const n = w.metadata?.name ?? '';
    return hubWorks.byIndex('workload', n).map((x) => `${x.metadata?.namespace}/${x.metadata?.name}`);
  };
  controller.watch(deployments, { map: toWork });
  controller.watch(jobs, { map: toWork });
  controller.watch(pods, {
    map: (p) =>
      hubWorks
        .byIndex('workload', p.metadata?.labels?.[slotGroupLabel] ?? '')
        .map((x) => `${x.metadata?.namespace}/${x.metadata?.name}`),
  });

  async function collect(signal: AbortSignal): Promise<number> {
    // only against a Work list the hub gave: before it (or with no hub at start) nothing is deleted
    if (!hubWorks.hasSynced()) return 0;
    const live = new Set(
      hubWorks
        .list()
        .filter((w) => w.spec.pool === pool)
        .map((w) => workLabelValue(w.metadata?.name ?? '')),
    );
    let deleted = 0;
    for (const [kind, res] of collected) {
      const cache = cacheOf(kind);
      for (const obj of cache?.list() ?? []) {
        const from = obj.metadata?.labels?.[workLabel];
        if (!from || live.has(from)) continue;
        try {
          await local.delete(res, obj.metadata?.name ?? '', obj.metadata?.namespace, {
            propagationPolicy: 'Background',
            ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
            signal,
          });
          deleted++;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }
    return deleted;
  }

  return { controller, works: hubWorks, collect };
}
