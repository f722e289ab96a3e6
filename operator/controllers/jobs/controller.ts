// The job controller: for each InferenceJob and TrainingJob key, carry out what the
// placement loop decided. It creates the job's objects in the member cluster of its pool
// (server-side apply, deterministic names: a restart or a second pass creates nothing
// twice), removes objects of any other attempt (fencing: an attempt's objects live only
// while it is the current one), rolls member state up into the status fields it owns,
// meters GPU time per attempt, fails over when the pool is lost beyond a grace period,
// and deletes member objects through a finalizer. A part on an agent pool (pull mode) is the
// same objects published as a Work on the hub for the pool's agent, read back from its status.
import { createHash } from 'node:crypto';
import { API_VERSION, JobConditionType, JobPhase, JobReason } from '../../api/constants.ts';
import type { InferenceJobObject, ProviderPoolObject, TrainingJobObject, WorkObject } from '../../api/resources.ts';
import { inferenceJobs, providerPools, trainingJobs, works } from '../../api/resources.ts';
import type { AgentMember } from '../../fleet/agent-member.ts';
import { buildWork, specHashAnnotation, type WorkloadView, workloadsOf, workName } from '../../fleet/agent-work.ts';
import type { AttemptUsage, InferenceJobStatus, TrainingJobStatus } from '../../api/types.gen.ts';
import type { Attachment, Fleet, FleetMember } from '../../fleet/fleet.ts';
import type { Member } from '../../fleet/member.ts';
import { isInvalid, isNotFound } from '../../kube/errors.ts';
import { type KubeObject, type ResourceType, resources } from '../../kube/types.ts';
import {
  annotationKeys,
  attemptOf,
  type GatewayPlacement,
  hubKeyOf,
  inferenceObjects,
  initData,
  MaterializeError,
  participantObjects,
  type PlacedOn,
  resumePoint,
  serviceEndpoint,
  tenantNamespace,
  tenantObjects,
  trainingObjects,
} from '../../materialize/index.ts';
import {
  type Condition,
  type ConditionInput,
  findCondition,
  metaTime,
  setCondition,
} from '../../runtime/conditions.ts';
import { canonical } from '../../runtime/canonical.ts';
import type { ReconcileContext, Result } from '../../runtime/controller.ts';
import { ensureFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from '../../runtime/finalizers.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Manager } from '../../runtime/manager.ts';
import type { PricingParams } from '../../scheduling/pricing.ts';
import {
  attemptsOf,
  attemptUsage,
  cleanupFinalizer,
  failuresOf,
  isFederated,
  isFinished,
  isPlaced,
  type JobKind,
  type JobObject,
  jobConditions,
  jobKey,
  jobQueueKey,
  jobManager,
  kindOf,
  mergeUsage,
  meteredUsage,
  ownedConditions,
  parseQueueKey,
  partsPlaced,
  queueKey,
  resourceOf,
  PodTimeLedger,
  type UsagePod,
} from './model.ts';
import { PlacementScheduler } from './scheduler.ts';
import { YieldGate } from '../../runtime/yield-gate.ts';
import type { SettlementGates } from '../settlement/settler.ts';
import type { TypedDataDomain } from 'ethers';
import { Counter } from 'prom-client';
import { verifyWorkStatus } from '../../verification/heartbeat.ts';
import { TelemetryError } from '../../verification/telemetry.ts';
import { MeterBudget } from './meter-budget.ts';

export interface JobControllerOptions {
  manager: Manager;
  fleet: Fleet;
  /** The same pool informer the ProviderPool controller uses, when there is one. */
  pools?: Informer<ProviderPoolObject>;
  kbsUrl?: string;
  pricing?: PricingParams;
  /** A pool lost (not Ready, or its member unreachable) this long is failed over (default 60 s). */
  failoverGraceMs?: number;
  concurrency?: number;
  /**
   * Reconciles that may run while placement has writes queued or in flight (default 2): the rest wait, so a
   * burst's placements (what Scheduled=True waits on) are not slowed by its member objects and status writes.
   */
  slotsWhilePlacing?: number;
  /**
   * Progress alone (replica counters, endpoints, a workload not Ready yet, usage while no attempt ended)
   * is written at most this often per job, counted from its placement or our last write (default 15 s):
   * a job that starts within it costs one status write, not one per step. Phase, Ready=True, failure, an
   * attempt's end and a new observedGeneration are written at once.
   */
  progressIntervalMs?: number;
  /** Label selector restricting the jobs this process places and reconciles ('' = all). */
  jobSelector?: string;
  schedulerMinIntervalMs?: number;
  /** --require-signed-tasks: the settlement contract's EIP-712 domain; set, only jobs whose requester signed their task are placed. */
  taskDomain?: TypedDataDomain;
  /**
   * The settlement's telemetry domain: an agent pool's Work status (its workloads and the pod times usage is
   * metered by) is then read only when signed by the pool's provider (operator/verification/heartbeat.ts).
   */
  reportDomain?: TypedDataDomain;
  /**
   * What a confidential InferenceJob's gateway needs from the hub: the settlement's chain id and address (its
   * capability and receipts are signed under that domain), its image (--gateway-image, pinned) and where it
   * reports to the hub (--reports-advertise-address, HOST:PORT).
   */
  gateway?: { chainId?: string; settlement?: string; image?: string; reports?: string };
  /** --federated-bind-address: participants are materialized once the job's coordinator is published. */
  federatedCoordinators?: boolean;
  /** A running job's usage is measured at least this often (default 60 s); settlement bills a period once it is. */
  meterIntervalMs?: number;
  /**
   * --usage-meter-qps: the hub status writes a second for metering alone, all jobs together (default 10); past
   * it each running job's interval stretches (meter-budget.ts).
   */
  meterQps?: number;
  /** --settlement-deployment: the escrow and stake gates, and the wait for a task to open before a workload starts. */
  settlement?: SettlementGates;
}

/** Field manager of the member objects. */
export const memberManager = 'nvdax-operator';
const managedBy = 'app.kubernetes.io/managed-by=nvdax';
const poolOwner = 'providerpool';

/** A Deployment or Job as the rollup reads it: from a member's cache, or from a Work's report. */
type Workload = WorkloadView;
type JobPod = KubeObject & {
  spec?: { nodeName?: string; containers?: Array<{ resources?: { limits?: Record<string, string> } }> };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string }>;
    startTime?: string;
    containerStatuses?: Array<{ state?: { terminated?: { finishedAt?: string } } }>;
  };
};

/** The hub job a member object belongs to, as a queue key. */
const hubQueueKey = (o: KubeObject): string | undefined => {
  const kind = o.metadata?.labels?.['nvdax.io/job-kind'];
  const key = hubKeyOf(o);
  return kind && key ? queueKey(kind as JobKind, key) : undefined;
};

/**
 * Keeps member caches small: what rollup, usage, cleanup and the spec-hash check read. A pod is kept as its
 * first container's GPU limits, its times, phase and conditions (at 10,000 jobs whole pod specs, their
 * environment and the init-data annotation, were about half the operator's heap).
 */
export function slimMemberObject<T extends KubeObject>(o: T): T {
  const m = o.metadata ?? {};
  // the hub key (which job the object is of: the caches' index) and the hash of what we applied
  const annotations: Record<string, string> = {};
  for (const k of [annotationKeys.job, specHashAnnotation]) {
    const v = m.annotations?.[k];
    if (v !== undefined) annotations[k] = v;
  }
  const metadata: KubeObject['metadata'] = {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ...(m.generation !== undefined ? { generation: m.generation } : {}),
    ...(m.deletionTimestamp !== undefined ? { deletionTimestamp: m.deletionTimestamp } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
  const out: Record<string, unknown> = { apiVersion: o.apiVersion, kind: o.kind, metadata };
  if (o.kind === 'Pod') {
    const p = o as JobPod;
    const limits = p.spec?.containers?.[0]?.resources?.limits;
    out['spec'] = {
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
      ...(limits ? { containers: [{ resources: { limits } }] } : {}),
    };
    const st = p.status ?? {};
    out['status'] = {
      ...(st.phase ? { phase: st.phase } : {}),
      ...(st.startTime ? { startTime: st.startTime } : {}),
      ...(st.conditions ? { conditions: st.conditions.map(({ type, status }) => ({ type, status })) } : {}),
      ...(st.containerStatuses
        ? {
            containerStatuses: st.containerStatuses.map((c) => {
              const finishedAt = c.state?.terminated?.finishedAt;
              return finishedAt ? { state: { terminated: { finishedAt } } } : {};
            }),
          }
        : {}),
    };
    return out as T;
  }
  const spec = (o as { spec?: Record<string, unknown> }).spec;
  if (spec)
    out['spec'] =
      o.kind === 'Service'
        ? { clusterIP: spec['clusterIP'] } // materialize replaces a Service that is not headless
        : { replicas: spec['replicas'], completions: spec['completions'] };
  out['status'] = (o as { status?: unknown }).status;
  return out as T;
}

/**
 * The work-queue priority of a member event that finishes a step a job waits on: a pod became Ready or not,
 * changed phase or started going; a batch Job's conditions or counts moved. Those go before the backlog: in a
 * burst the queue holds every job still to materialize, and a job whose pod just became Ready would otherwise
 * wait a whole pass over it to be written Running. Everything else (adds, echoes of our own writes, status
 * bookkeeping) keeps the default 0.
 */
export const PROGRESS_PRIORITY = 10;

type Counted = { status?: JobPod['status'] & { ready?: number; succeeded?: number; failed?: number } };

/** A pod's Ready condition is True. */
const podReady = (p: KubeObject) =>
  (p as JobPod).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** A member Pod's event: progress when its readiness or phase changed or it started going. */
export function podEventPriority(obj: KubeObject, old?: KubeObject): number {
  if (!old) return 0;
  const st = (x: KubeObject) => (x as Counted).status;
  const moved =
    podReady(obj) !== podReady(old) ||
    st(obj)?.phase !== st(old)?.phase ||
    (obj.metadata?.deletionTimestamp === undefined) !== (old.metadata?.deletionTimestamp === undefined);
  return moved ? PROGRESS_PRIORITY : 0;
}

/** An update is progress when `view` of the object moved; an add is not. */
const progressWhenMoved =
  <T>(view: (x: T) => string) =>
  (obj: T, old?: T): number =>
    old && view(obj) !== view(old) ? PROGRESS_PRIORITY : 0;

/** A member batch Job's event: progress when its conditions or its ready/succeeded/failed counts moved. */
export const batchJobEventPriority = progressWhenMoved((x: KubeObject) => {
  const s = (x as Counted).status;
  return canonical({ c: s?.conditions ?? [], r: s?.ready, s: s?.succeeded, f: s?.failed });
});

/**
 * An agent's Work report: progress when a workload's counts or completion, a pod's phase or going, or a
 * condition moved (as a member pod's or batch Job's event would be); a report that only renews its time and
 * signature is not.
 */
export const workEventPriority = progressWhenMoved((w: WorkObject) => {
  const s = w.status;
  return canonical({
    o: (s?.objects ?? []).map(({ labels: _l, ...rest }) => rest),
    p: (s?.pods ?? []).map((p) => [p.name, p.phase, p.deletionTime !== undefined]),
    c: (s?.conditions ?? []).map((c) => [c.type, c.status]),
  });
});

export function setupJobControllers(o: JobControllerOptions) {
  const { manager, fleet } = o;
  const clock = manager.clock;
  const hub = manager.client;
  const events = manager.eventRecorder();
  const grace = o.failoverGraceMs ?? 60_000;
  const kbsUrl = o.kbsUrl ?? 'http://kbs.trustee-operator-system.svc:8080';
  const pools = o.pools ?? manager.informer<ProviderPoolObject>({ resource: providerPools });
  const sel = o.jobSelector ? { labelSelector: o.jobSelector } : {};
  const informers: Record<JobKind, Informer<JobObject>> = {
    InferenceJob: manager.informer<InferenceJobObject>({ resource: inferenceJobs, ...sel }) as Informer<JobObject>,
    TrainingJob: manager.informer<TrainingJobObject>({ resource: trainingJobs, ...sel }) as Informer<JobObject>,
  };
  const gate = new YieldGate(() => scheduler.pendingWrites > 0, o.slotsWhilePlacing ?? 2);
  const scheduler = new PlacementScheduler({
    hub,
    fleet,
    clock,
    log: manager.log.child({ component: 'scheduler' }),
    events,
    pools,
    jobs: informers,
    kbsUrl,
    ...(o.pricing ? { pricing: o.pricing } : {}),
    ...(o.schedulerMinIntervalMs !== undefined ? { minIntervalMs: o.schedulerMinIntervalMs } : {}),
    ...(o.taskDomain ? { taskDomain: o.taskDomain } : {}),
    ...(o.settlement ? { settlement: o.settlement } : {}),
    onPlaced: (kind, key) => controller.enqueue(queueKey(kind, key)),
    onWritesIdle: () => gate.wake(),
    registry: manager.metrics.registry,
  });
  manager.runnable({ name: 'placement-scheduler', start: (signal) => scheduler.run(signal) });

  // member objects of every job on every member, keyed back to the hub job
  const attach = <T extends KubeObject>(
    name: string,
    resource: ResourceType,
    priority: (obj: T, old?: T) => number = () => 0,
  ) =>
    fleet.attach<T>({
      name,
      resource,
      labelSelector: managedBy,
      transform: slimMemberObject,
      hubKey: hubQueueKey,
      onChange: (k, _m, obj, old) => controller.enqueue(k, priority(obj, old)),
    });
  const deployments = attach<Workload>('job-deployments', resources.deployments);
  const batchJobs = attach<Workload>('job-jobs', resources.jobs, batchJobEventPriority);
  const services = attach<KubeObject>('job-services', resources.services);
  const pods = attach<JobPod>('job-pods', resources.pods, podEventPriority);
  const owned: Array<[Attachment<KubeObject>, ResourceType]> = [
    [deployments as Attachment<KubeObject>, resources.deployments],
    [batchJobs as Attachment<KubeObject>, resources.jobs],
    [services, resources.services],
  ];
  // agent pools: the Works published for them on the hub (their agents apply and report them), by job
  const workIndex = 'nvdax.io/hub-key';
  const hubWorks = manager.informer<WorkObject>({
    resource: works,
    labelSelector: managedBy,
    indexers: {
      [workIndex]: (w) => {
        const k = hubQueueKey(w);
        return k ? [k] : [];
      },
    },
  });
  const worksOf = (qk: string) => hubWorks.byIndex(workIndex, qk);
  /** Work statuses checked (cache objects are replaced on change): the Work as read, or without its status. */
  const workVerdicts = new WeakMap<WorkObject, WorkObject>();
  const refusedWorkStatus = new Counter({
    name: 'nvdax_agent_work_status_refused_total',
    help: "Work status writes refused because they are not signed by the pool's provider",
    labelNames: ['pool'],
    registers: [manager.metrics.registry],
  });
  const statusWrites = new Counter({
    name: 'nvdax_job_status_writes_total',
    help: 'Job status writes by the job controller, by cause: metering (GPU-seconds alone), progress (counters, endpoints, usage), change (anything else)',
    labelNames: ['cause'],
    registers: [manager.metrics.registry],
  });
  /** `w` as the hub may use it: with a reportDomain, its status only when the pool's provider signed it. */
  function checkedWork(w: WorkObject): WorkObject {
    if (!o.reportDomain || !w.status) return w;
    let out = workVerdicts.get(w);
    if (!out) {
      const provider = poolByName(w.spec.pool)?.spec.provider.address ?? '';
      try {
        verifyWorkStatus(
          o.reportDomain,
          w.spec.pool,
          provider,
          `${w.metadata?.namespace}/${w.metadata?.name}`,
          w.status,
        );
        out = w;
      } catch (e) {
        if (!(e instanceof TelemetryError)) throw e;
        manager.log.warn(
          { work: w.metadata?.name, pool: w.spec.pool, reason: e.message },
          'Work status refused: not signed by the pool provider',
        );
        refusedWorkStatus.inc({ pool: w.spec.pool });
        const { status: _s, ...rest } = w;
        out = rest as WorkObject;
      }
      workVerdicts.set(w, out);
    }
    return out;
  }
  /** The Work of a part on an agent pool, as the cache shows it (its status only if signed, see checkedWork). */
  const workOf = (job: JobObject, attempt: number, index: number, member: AgentMember) => {
    const w = worksOf(jobQueueKey(job)).find(
      (w) => w.metadata?.name === workName(jobRef(job), attempt, index) && w.spec.pool === member.pool,
    );
    return w ? checkedWork(w) : undefined;
  };
  /** Tenants applied per member this process lifetime: a namespace and its policy once, not per job. */
  const tenants = new Set<string>();

  const poolByName = (name: string) => pools.get(name);

  /** Since when the pool of a part has been lost, or undefined when it is fine. */
  function lostSince(pool: string, member: FleetMember | undefined, placedAt: number): number | undefined {
    const p = poolByName(pool);
    if (!p || !member) return placedAt;
    const ready = findCondition(p.status?.conditions as Condition[] | undefined, 'Ready');
    const h = member.health();
    const times: number[] = [];
    if (p.status?.phase === 'Disconnected' || (ready && ready.status !== 'True' && p.status?.phase !== 'Degraded')) {
      times.push(Date.parse(ready?.lastTransitionTime ?? '') || clock.now());
    }
    if (!h.connected) times.push(h.since);
    return times.length ? Math.min(...times) : undefined;
  }

  /** A federated job's coordinator address for its current attempt (status.federation), if published. */
  function coordinatorOf(job: JobObject): string | undefined {
    const f = (job as TrainingJobObject).status?.federation;
    return isFederated(job) && f?.coordinator && f.attempt === attemptsOf(job) ? f.coordinator : undefined;
  }

  function placedOn(job: JobObject, pool: string, index: number): PlacedOn {
    // a federated participant has its own class (its pool may expose other products or TEEs)
    const part = (job as TrainingJobObject).status?.participants?.find((x) => x.index === index && x.pool === pool);
    const base = job.status?.placement ?? {};
    const p = part
      ? {
          ...base,
          gpuProduct: part.gpuProduct,
          resourceName: part.resourceName,
          teeType: part.teeType,
          runtimeClass: part.runtimeClass,
        }
      : base;
    const confidential = p.mode === 'Confidential';
    const init = confidential ? initData({ kbsUrl }) : undefined;
    return {
      pool,
      attempt: attemptsOf(job),
      mode: confidential ? 'confidential' : 'container',
      resourceName: p.resourceName ?? 'nvidia.com/gpu',
      product: p.gpuProduct ?? 'unknown',
      ...(p.teeType ? { tee: p.teeType } : {}),
      ...(p.runtimeClass ? { runtimeClassName: p.runtimeClass } : {}),
      ...(poolByName(pool)?.spec.nodeSelector ? { nodeSelector: poolByName(pool)?.spec.nodeSelector } : {}),
      ...(init ? { initData: init } : {}),
      ...(coordinatorOf(job) ? { coordinator: coordinatorOf(job) } : {}),
      ...(job.kind === 'InferenceJob' && confidential ? { gateway: gatewayPlacement(pool) } : {}),
    };
  }

  /** The pool's and the hub's side of a confidential InferenceJob's gateway (materialize/inference.ts). */
  function gatewayPlacement(pool: string): GatewayPlacement {
    const spec = poolByName(pool)?.spec;
    const g = o.gateway ?? {};
    return {
      ...(spec?.provider.address ? { provider: spec.provider.address } : {}),
      ...(g.chainId ? { chainId: g.chainId } : {}),
      ...(g.settlement ? { settlement: g.settlement } : {}),
      ...(spec?.development ? { development: true } : {}),
      ...(g.image ? { image: g.image } : {}),
      ...(g.reports ? { reports: g.reports } : {}),
    };
  }

  function jobRef(job: JobObject) {
    return {
      kind: kindOf(job),
      namespace: job.metadata?.namespace ?? '',
      name: job.metadata?.name ?? '',
      uid: job.metadata?.uid ?? '',
    };
  }

  function desiredObjects(job: JobObject, index: number, on: PlacedOn): Array<[ResourceType, KubeObject]> {
    const ref = jobRef(job);
    if (job.kind === 'InferenceJob') {
      const { deployment, service } = inferenceObjects(ref, (job as InferenceJobObject).spec, on);
      return [
        [resources.deployments, deployment as KubeObject],
        [resources.services, service as KubeObject],
      ];
    }
    const tj = job as TrainingJobObject;
    // a new attempt starts from the last verified checkpoint (the pods' NVDAX_RESUME_* env)
    const resume = resumePoint(tj.spec, tj.status);
    const built =
      tj.spec.mode === 'Federated'
        ? participantObjects(ref, tj.spec, on, index, resume)
        : trainingObjects(ref, tj.spec, on, resume);
    return [
      [resources.jobs, built.job as KubeObject],
      [resources.services, built.service as KubeObject],
    ];
  }

  async function ensureTenant(member: Member, hubNs: string, signal: AbortSignal): Promise<void> {
    const ns = tenantNamespace(hubNs);
    const id = `${member.key}|${ns}|${member.fingerprint}`;
    if (tenants.has(id)) return;
    const [namespace, ...policies] = tenantObjects(hubNs, {});
    await member.client.apply(resources.namespaces, namespace as KubeObject, { fieldManager: memberManager, signal });
    for (const policy of policies)
      await member.client.apply(resources.networkPolicies, policy as KubeObject, {
        fieldManager: memberManager,
        signal,
      });
    tenants.add(id);
  }

  /**
   * Applies what differs from the member cache (by a hash of what we last applied), the objects of
   * one part side by side; returns how many it wrote.
   */
  async function materialize(
    job: JobObject,
    index: number,
    pool: string,
    member: Member,
    signal: AbortSignal,
  ): Promise<number> {
    await ensureTenant(member, job.metadata?.namespace ?? '', signal);
    const writes = desiredObjects(job, index, placedOn(job, pool, index)).flatMap(([res, obj]) => {
      // a change detector for what we applied last, so an unchanged object costs no write
      const hash = createHash('sha256').update(canonical(obj)).digest('hex').slice(0, 32);
      const cache = res === resources.deployments ? deployments : res === resources.jobs ? batchJobs : services;
      const have = cache.cache(member.key)?.get(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
      if (have?.metadata?.annotations?.[specHashAnnotation] === hash) return [];
      const body = {
        ...obj,
        metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [specHashAnnotation]: hash } },
      };
      const write = member.client.apply(res, body as KubeObject, { fieldManager: memberManager, force: true, signal });
      if (res !== resources.services || !have) return [write];
      // a Service from an older operator has a cluster IP, which is immutable: replace it (the name stays)
      return [
        write.catch(async (e) => {
          if (!isInvalid(e) || (have as { spec?: { clusterIP?: string } }).spec?.clusterIP === 'None') throw e;
          await member.client.delete(res, have.metadata?.name ?? '', have.metadata?.namespace, {
            ...(have.metadata?.uid ? { uid: have.metadata.uid } : {}),
            signal,
          });
          return member.client.apply(res, body as KubeObject, { fieldManager: memberManager, force: true, signal });
        }),
      ];
    });
    await Promise.all(writes);
    return writes.length;
  }

  /**
   * An agent pool's part: the same objects (its tenant namespace and policy first) published as a Work
   * in the pool's work namespace on the hub, for its agent to apply; written only when they changed.
   */
  async function publishWork(
    job: JobObject,
    index: number,
    pool: string,
    member: AgentMember,
    signal: AbortSignal,
  ): Promise<number> {
    const tenant = tenantObjects(job.metadata?.namespace ?? '', {}) as KubeObject[];
    const objects = desiredObjects(job, index, placedOn(job, pool, index)).map(([, o]) => o);
    const work = buildWork(jobRef(job), pool, attemptsOf(job), index, [...tenant, ...objects]);
    const have = workOf(job, attemptsOf(job), index, member);
    if (have?.metadata?.annotations?.[specHashAnnotation] === work.metadata?.annotations?.[specHashAnnotation])
      return 0;
    await hub.apply(works, work as KubeObject, { fieldManager: memberManager, force: true, signal });
    return 1;
  }

  /** Deletes this job's member objects that are not of the current placement; returns how many remain. */
  async function removeStale(k: string, job: JobObject | undefined, signal: AbortSignal): Promise<number> {
    const keep = new Map<string, number>(); // member key -> attempt kept there
    const keepWorks = new Set<string>(); // namespace/name of the Works of the current placement
    if (job && isPlaced(job) && !isBeingDeleted(job) && !(isFinished(job) && job.status?.phase === JobPhase.Failed)) {
      for (const part of partsPlaced(job)) {
        const m = fleet.memberOf(poolOwner, part.pool);
        if (m?.kind === 'agent') keepWorks.add(`${m.pool}/${workName(jobRef(job), attemptsOf(job), part.index)}`);
        else if (m) keep.set(m.key, attemptsOf(job));
      }
    }
    let left = 0;
    // Works of other attempts or pools go from the hub at once; their agents delete what they applied
    for (const w of worksOf(k)) {
      if (keepWorks.has(`${w.spec.pool}/${w.metadata?.name}`)) continue;
      await hub.delete(works, w.metadata?.name ?? '', w.metadata?.namespace, {
        ...(w.metadata?.uid ? { uid: w.metadata.uid } : {}),
        signal,
      });
      left++;
    }
    for (const m of fleet.members()) {
      for (const [att, res] of owned) {
        for (const obj of att.byHubKey(m.key, k)) {
          if (keep.get(m.key) === attemptOf(obj)) continue;
          if (!m.ready()) {
            left++;
            continue;
          }
          await m.client.delete(res, obj.metadata?.name ?? '', obj.metadata?.namespace, {
            propagationPolicy: 'Background',
            ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
            signal,
          });
          left++;
        }
      }
    }
    return left;
  }

  function usagePods(k: string, member: FleetMember, attempt: number, work?: WorkObject): UsagePod[] {
    if (member.kind === 'agent') {
      return (work?.status?.pods ?? []).flatMap((p) => {
        if (Number(p.labels?.['nvdax.io/attempt']) !== attempt) return [];
        const ended = p.finishTime ?? p.deletionTime;
        return [
          {
            id: p.name,
            gpus: p.gpus ?? 0,
            startedAt: p.startTime ? Date.parse(p.startTime) : undefined,
            endedAt: ended ? Date.parse(ended) : undefined,
          },
        ];
      });
    }
    return attemptPods(member.key, k, attempt).map((p) => {
      const limits = p.spec?.containers?.[0]?.resources?.limits ?? {};
      const gpus = Object.entries(limits)
        .filter(([r]) => r.startsWith('nvidia.com/'))
        .reduce((a, [, v]) => a + Number(v), 0);
      const started = p.status?.startTime ? Date.parse(p.status.startTime) : undefined;
      const finished = p.status?.containerStatuses
        ?.map((c) => c.state?.terminated?.finishedAt)
        .filter((x): x is string => !!x)
        .map(Date.parse);
      const ended = finished?.length
        ? Math.max(...finished)
        : p.metadata?.deletionTimestamp
          ? Date.parse(String(p.metadata.deletionTimestamp))
          : undefined;
      return { id: p.metadata?.uid ?? p.metadata?.name, gpus, startedAt: started, endedAt: ended };
    });
  }

  /** The member's cached pods of `attempt` of the job (the pod informer's per-job index). */
  function attemptPods(member: string, qk: string, attempt: number) {
    return pods.byHubKey(member, qk).filter((p) => attemptOf(p) === attempt);
  }

  type Owned = InferenceJobStatus & TrainingJobStatus;

  /** The job controller's fields of the status as they are now. */
  function ownedNow(job: JobObject): Partial<Owned> {
    const s = (job.status ?? {}) as Owned;
    const out: Partial<Owned> = {};
    for (const f of [
      'observedGeneration',
      'usage',
      'startTime',
      'completionTime',
      'replicas',
      'readyReplicas',
      'endpoints',
      'readyWorkers',
    ] as const) {
      if (s[f] !== undefined) (out as Record<string, unknown>)[f] = s[f];
    }
    if (out.usage) out.usage = meteredUsage(out.usage);
    const conds = ownedConditions(s.conditions as Condition[] | undefined, jobConditions);
    if (conds.length) out.conditions = conds;
    return out;
  }

  const meterBudget = new MeterBudget(o.meterQps ?? 10, clock);
  /** When this process last wrote each job's status (monotonic ms), for the counters' interval. */
  const lastWrite = new Map<string, number>();
  /** Per job, its running attempt's pods' GPU time, gone pods included (model.ts PodTimeLedger). */
  const podTime = new Map<string, { attempt: number; ledger: PodTimeLedger }>();
  const progressMs = o.progressIntervalMs ?? 15_000;
  /**
   * Only progress differs: counters, endpoints, a Ready condition that was and stays not True, and usage
   * while no attempt ended (it is recomputed from the member pods' times at every write, so waiting loses
   * nothing; an attempt's end is news, as settlement bills it).
   */
  function progressOnly(have: Partial<Owned>, want: Partial<Owned>): boolean {
    const ready = (x: Partial<Owned>) => (x.conditions as Condition[] | undefined)?.find((c) => c.type === 'Ready');
    if (ready(have)?.status === 'True' || ready(want)?.status === 'True') return false;
    const ended = (x: Partial<Owned>) => canonical((x.usage?.attempts ?? []).filter((a) => a.endTime));
    if (ended(have) !== ended(want)) return false;
    const strip = ({
      replicas: _r,
      readyReplicas: _rr,
      readyWorkers: _w,
      endpoints: _e,
      usage: _u,
      conditions,
      ...rest
    }: Partial<Owned>) => ({ ...rest, conditions: conditions?.filter((c) => c.type !== 'Ready') });
    // a first report of observedGeneration can wait too; a new generation's cannot (a rollout is news)
    const gen = have.observedGeneration === undefined ? { observedGeneration: undefined } : {};
    return canonical(strip({ ...have, ...gen })) === canonical(strip({ ...want, ...gen }));
  }

  /**
   * The resourceVersion of our last write to each job, until the job cache shows it. A reconcile on an older
   * copy decides on what we already changed, and its write (preconditioned on that copy) could only
   * conflict: under load one write in twenty did, each a wasted write and a retry. It waits for the cache
   * instead (the informer clears the mark; a mark older than 10 s is dropped, say after a relist).
   */
  const ownWrites = new Map<string, { rv: string; at: number }>();
  const noteWrite = (qk: string, obj: KubeObject | undefined) => {
    const rv = obj?.metadata?.resourceVersion;
    const { kind, key } = parseQueueKey(qk);
    // the watch can bring our write before its answer does
    if (rv && informers[kind]?.get(key)?.metadata?.resourceVersion !== rv)
      ownWrites.set(qk, { rv, at: clock.monotonic() });
  };
  /**
   * Keys whose reconcile found the cache behind our write and stood down: they come back the moment the cache
   * shows the write, ahead of the backlog (they had their turn; our own status writes do not wake the
   * controller, and a timed requeue would go to the back of a burst's queue, minutes away).
   */
  const awaitingCache = new Set<string>();
  const cacheCaughtUp = (qk: string, obj: KubeObject) => {
    if (ownWrites.get(qk)?.rv !== obj.metadata?.resourceVersion) return;
    ownWrites.delete(qk);
    if (awaitingCache.delete(qk)) controller.enqueue(qk, PROGRESS_PRIORITY);
  };

  /** Only the running attempts' metering differs (GPU-seconds, meteredTime): no attempt started or ended. */
  function meteringOnly(have: Partial<Owned>, want: Partial<Owned>): boolean {
    const fixed = ({ usage, ...rest }: Partial<Owned>) => ({
      ...rest,
      attempts: (usage?.attempts ?? []).map(({ gpuSeconds: _g, meteredTime: _m, ...a }) => a),
    });
    return canonical(fixed(have)) === canonical(fixed(want));
  }

  /** Why a status is written: metering alone, progress alone (counters, endpoints, usage) or anything else. */
  type WriteCause = 'metering' | 'progress' | 'change';
  async function writeOwned(
    job: JobObject,
    want: Partial<Owned>,
    phase: string | undefined,
    signal: AbortSignal,
    cause: WriteCause = 'change',
  ) {
    const have = ownedNow(job);
    if (canonical(have) === canonical(want) && (phase === undefined || phase === job.status?.phase)) return false;
    const written = await hub.applyStatus(
      resourceOf(kindOf(job)),
      {
        apiVersion: API_VERSION,
        kind: kindOf(job),
        // the precondition: a status computed from a stale copy (say, before a failover) is refused, not written
        metadata: {
          name: job.metadata?.name ?? '',
          namespace: job.metadata?.namespace ?? '',
          resourceVersion: job.metadata?.resourceVersion ?? '',
        },
        status: { ...want, ...(phase ? { phase } : {}) },
      } as KubeObject,
      { fieldManager: jobManager, force: true, signal },
    );
    const qk = jobQueueKey(job);
    noteWrite(qk, written);
    statusWrites.inc({ cause });
    // the metering token was spent on this write, or (another cause) it carried the usage anyway
    if (cause === 'metering') meterBudget.used(qk);
    else meterBudget.release(qk);
    return true;
  }

  const reconcile = async (qk: string, ctx: ReconcileContext): Promise<Result> => {
    const { kind, key } = parseQueueKey(qk);
    const job = informers[kind]?.get(key);
    const signal = ctx.signal;
    if (!job) {
      lastWrite.delete(qk);
      podTime.delete(qk);
      meterBudget.release(qk);
      // Not in our cache. Only if the hub says it is gone (or was replaced: another uid) do its member
      // objects go, e.g. from a member that was away at delete time. A job our cache does not hold yet, or
      // another shard's (--job-selector), or another operator's sharing the member, is not ours to delete.
      const held = [
        ...fleet.members().flatMap((m) => owned.flatMap(([att]) => att.byHubKey(m.key, qk))),
        ...worksOf(qk),
      ];
      if (!held.length) return {};
      const slash = key.indexOf('/');
      let liveUid: string | undefined;
      try {
        const live = await hub.get(resourceOf(kind), key.slice(slash + 1), key.slice(0, slash), signal);
        liveUid = live.metadata?.uid;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      if (liveUid !== undefined && held.some((o) => o.metadata?.labels?.['nvdax.io/job-uid'] === liveUid)) return {};
      const left = await removeStale(qk, undefined, signal);
      return left ? { requeueAfter: 5_000 } : {};
    }
    const mine = ownWrites.get(qk);
    if (mine) {
      const waited = clock.monotonic() - mine.at;
      if (mine.rv !== job.metadata?.resourceVersion && waited < 10_000) {
        // back when the cache shows our write (cacheCaughtUp); at the latest when the mark expires
        awaitingCache.add(qk);
        return { requeueAfter: 10_000 - waited };
      }
      ownWrites.delete(qk);
    }
    awaitingCache.delete(qk);
    if (isBeingDeleted(job) || !isPlaced(job) || isFinished(job)) {
      meterBudget.release(qk); // nothing runs to meter
      podTime.delete(qk);
    }
    if (isBeingDeleted(job)) {
      if (!hasFinalizer(job, cleanupFinalizer)) return {};
      const left = await removeStale(qk, undefined, signal);
      const pool = job.status?.placement?.pool;
      const member = pool ? fleet.memberOf(poolOwner, pool) : undefined;
      const since = pool ? lostSince(pool, member, 0) : undefined;
      // a member that is away keeps the finalizer for the grace period; after it, its objects go when it returns
      if (left > 0 && (since === undefined || clock.now() - since < grace)) return { requeueAfter: 2_000 };
      await removeFinalizer(hub, resourceOf(kind), job, cleanupFinalizer, { signal, fieldManager: jobManager });
      scheduler.poke();
      return {};
    }
    await removeStale(qk, job, signal);
    const now = clock.now();
    const gen = job.metadata?.generation;
    if (!isPlaced(job) || isFinished(job)) {
      const current = job;
      // never placed: nothing of ours to report yet (the scheduler's Scheduled condition speaks), and a
      // write here would race the placement write's resourceVersion precondition for every new job
      if (isFinished(current) || !attemptsOf(current)) return {};
      const base = ownedNow(current);
      // queued: no workload, so not Ready; usage and times as they were
      let conditions = ownedConditions(current.status?.conditions as Condition[] | undefined, jobConditions);
      if (conditions.some((c) => c.type === JobConditionType.Ready)) {
        conditions = setCondition(
          conditions,
          { type: 'Ready', status: 'False', reason: JobReason.WorkloadNotReady, message: 'waiting to be placed' },
          now,
        );
      }
      const { replicas: _r, readyReplicas: _rr, readyWorkers: _w, endpoints: _e, ...rest } = base;
      await writeOwned(
        current,
        { ...rest, ...(conditions.length ? { conditions } : {}), ...(gen ? { observedGeneration: gen } : {}) },
        undefined,
        signal,
      );
      return {};
    }

    // paid work starts only once its task is open on chain (escrow and stake locked); the settler enqueues
    // this key when it writes the open, which our cache may show a moment later: look again soon
    if (o.settlement?.materializeWait(job) !== undefined) return { requeueAfter: 1_000 };
    // with the hub running coordinators, participants start once theirs listens (its address is in their env)
    if (o.federatedCoordinators && isFederated(job) && !coordinatorOf(job)) return { requeueAfter: 1_000 };

    // placed: the finalizer goes on beside the first member writes, not before them (a round trip off
    // every job's path to Running). A job deleted in between loses nothing: its member objects then
    // name a hub job that is gone, and the branch above deletes them (on restart too, from the lists).
    const finalized = ensureFinalizer(hub, resourceOf(kind), job, cleanupFinalizer, {
      signal,
      fieldManager: jobManager,
    });
    // settled before anything else can throw: its failure is this reconcile's error, retried
    finalized.catch(() => {});
    let current = job;
    const attempt = attemptsOf(current);
    const placedAt = Date.parse(current.status?.placement?.scheduledTime ?? '') || now;
    let requeue: number | undefined;
    let lost: { pool: string; since: number } | undefined;
    const seen: Array<{ member: FleetMember; index: number; pool: string }> = [];
    let applied = 0;
    for (const part of partsPlaced(current)) {
      const member = fleet.memberOf(poolOwner, part.pool);
      const since = lostSince(part.pool, member, placedAt);
      if (since !== undefined || !member?.ready()) {
        const from = since ?? now;
        if (now - from >= grace) lost = { pool: part.pool, since: from };
        else requeue = Math.min(requeue ?? Infinity, grace - (now - from) + 100);
        continue;
      }
      try {
        applied +=
          member.kind === 'agent'
            ? await publishWork(current, part.index, part.pool, member, signal)
            : await materialize(current, part.index, part.pool, member, signal);
      } catch (e) {
        if (!(e instanceof MaterializeError)) throw e;
        current = await finalized;
        const base = ownedNow(current);
        const conditions = setCondition(
          base.conditions,
          { type: 'Failed', status: 'True', reason: 'InvalidSpec', message: `${e.field}: ${e.message}` },
          now,
        );
        await writeOwned(current, { ...base, conditions, completionTime: metaTime(now) }, JobPhase.Failed, signal);
        return {};
      }
      seen.push({ member, index: part.index, pool: part.pool });
    }
    current = await finalized;
    if (current !== job) noteWrite(qk, current);
    const base = ownedNow(current);

    const price = current.status?.placement?.price;
    const prevAttempt = current.status?.usage?.attempts?.find((a) => a.attempt === attempt);
    const usagePodsAll = seen.flatMap((s) =>
      usagePods(
        qk,
        s.member,
        attempt,
        s.member.kind === 'agent' ? workOf(current, attempt, s.index, s.member) : undefined,
      ),
    );
    let ledger = podTime.get(qk);
    if (ledger?.attempt !== attempt) {
      ledger = { attempt, ledger: new PodTimeLedger() };
      podTime.set(qk, ledger);
    }
    let entry: AttemptUsage = attemptUsage(
      usagePodsAll,
      { attempt, pool: current.status?.placement?.pool ?? '', price },
      now,
      prevAttempt,
      ledger.ledger,
    );

    if (lost) {
      // fencing: this attempt ends now; the next may start elsewhere, and this one's objects are deleted
      // wherever they are (on the lost member as soon as it is back)
      entry = { ...entry, endTime: metaTime(now), endReason: 'PoolLost' };
      const usage = { ...meteredUsage(current.status?.usage), ...mergeUsage(current.status?.usage?.attempts, entry) };
      const retriesLeft = (current.spec.retries ?? 3) - failuresOf(current);
      const message = `pool ${lost.pool} lost since ${metaTime(lost.since)} (grace ${Math.round(grace / 1000)}s)`;
      if (retriesLeft <= 0) {
        const conditions = setCondition(
          setCondition(base.conditions, { type: 'Ready', status: 'False', reason: JobReason.PoolLost, message }, now),
          {
            type: 'Failed',
            status: 'True',
            reason: JobReason.RetriesExhausted,
            message: `${message}; no retries left`,
          },
          now,
        );
        await writeOwned(
          current,
          { ...base, usage, conditions, completionTime: metaTime(now) },
          JobPhase.Failed,
          signal,
        );
        void events.warning(current, JobReason.RetriesExhausted, `${message}; no retries left`);
        return {};
      }
      const conditions = setCondition(
        base.conditions,
        { type: 'Ready', status: 'False', reason: JobReason.PoolLost, message },
        now,
      );
      await writeOwned(current, { ...base, usage, conditions }, undefined, signal);
      await scheduler.release(current, {
        reason: JobReason.PoolLost,
        message: `${message}; placing again (${retriesLeft} retries left)`,
        signal,
      });
      void events.warning(current, JobReason.PoolLost, `${message}; placing again elsewhere`);
      return {};
    }

    // what was just created is not in the member caches yet: its watch event brings this key back, and
    // the status written then has something to say (now it could only say 0 ready)
    const cached = (p: { member: FleetMember; index: number }) =>
      workloads(current, qk, p).some((w) => attemptOf(w) === attempt);
    if (applied > 0 && !seen.some(cached)) return {};
    const roll = rollup(current, qk, seen);
    let conditions = base.conditions;
    for (const c of roll.conditions) conditions = setCondition(conditions, c, now);
    let phase: string = roll.phase;
    let completionTime = base.completionTime;
    if (roll.failed) {
      entry = { ...entry, endTime: metaTime(now), endReason: 'Failed' };
      const retriesLeft = (current.spec.retries ?? 3) - failuresOf(current);
      const usage = { ...meteredUsage(current.status?.usage), ...mergeUsage(current.status?.usage?.attempts, entry) };
      if (retriesLeft > 0) {
        await writeOwned(current, { ...base, usage, conditions }, undefined, signal);
        await scheduler.release(current, {
          reason: 'WorkloadFailed',
          message: `attempt ${attempt} failed: ${roll.failed}; retrying (${retriesLeft} left)`,
          signal,
        });
        void events.warning(current, 'WorkloadFailed', `attempt ${attempt} failed: ${roll.failed}; retrying`);
        return {};
      }
      conditions = setCondition(
        conditions,
        { type: 'Failed', status: 'True', reason: JobReason.RetriesExhausted, message: roll.failed },
        now,
      );
      phase = JobPhase.Failed;
      completionTime = metaTime(now);
    }
    if (phase === JobPhase.Succeeded) {
      entry = { ...entry, endTime: entry.endTime ?? metaTime(now), endReason: 'Completed' };
      completionTime = completionTime ?? metaTime(now);
    }
    const usage = { ...meteredUsage(current.status?.usage), ...mergeUsage(current.status?.usage?.attempts, entry) };
    const startTime =
      base.startTime ?? (phase === JobPhase.Running || phase === JobPhase.Succeeded ? metaTime(now) : undefined);
    const want: Partial<Owned> = {
      ...(gen ? { observedGeneration: gen } : {}),
      usage,
      ...(startTime ? { startTime } : {}),
      ...(completionTime ? { completionTime } : {}),
      ...(conditions ? { conditions } : {}),
      ...roll.fields,
    };
    const last = lastWrite.get(qk);
    const since = last !== undefined ? clock.monotonic() - last : now - placedAt;
    const have = phase === current.status?.phase ? ownedNow(current) : undefined;
    const changed = have !== undefined && canonical(have) !== canonical(want);
    const metering = changed && meteringOnly(have, want);
    const progress = changed && !metering && progressOnly(have, want);
    if (progress && since < progressMs) return { requeueAfter: Math.min(progressMs - since, requeue ?? Infinity) };
    // a running attempt's GPU-seconds grow by the second: alone they are written on the meter's interval,
    // not at every member event after the start (each was a status write per job)
    const meterMs = o.meterIntervalMs ?? 60_000;
    if (metering) {
      // at the default priority: below it, member events of other operators' jobs (shards sharing the member)
      // kept the check waiting for good on a shared test cluster, and the job was never metered
      if (since < meterMs) return { requeueAfter: Math.min(meterMs - since, requeue ?? Infinity) };
      const wait = meterBudget.wait(qk);
      if (wait > 0) return { requeueAfter: Math.min(wait, requeue ?? Infinity) };
    }
    const wrote = await writeOwned(
      current,
      want,
      phase,
      signal,
      metering ? 'metering' : progress ? 'progress' : 'change',
    );
    if (wrote) lastWrite.set(qk, clock.monotonic());
    // the end of a job is news; its start shows in the phase (and the Placed event came before it)
    if (wrote && phase !== current.status?.phase && phase !== JobPhase.Running) {
      void events.normal(current, phase, `${kind} ${key} is ${phase} (attempt ${attempt})`);
    }
    // running jobs are metered: a minute (--usage-meter-interval) is the granularity usage moves at without other events
    const meter = phase === JobPhase.Running ? (o.meterIntervalMs ?? 60_000) : undefined;
    const next = Math.min(requeue ?? Infinity, meter ?? Infinity);
    return Number.isFinite(next) ? { requeueAfter: next } : {};
  };

  /** A part's workloads: from the member caches, or from its Work's status on an agent pool. */
  function workloads(
    job: JobObject,
    qk: string,
    p: { member: FleetMember; index: number },
    only?: 'Deployment' | 'Job',
  ): Workload[] {
    if (p.member.kind === 'agent') {
      const w = workOf(job, attemptsOf(job), p.index, p.member);
      return w ? workloadsOf(w).filter((x) => !only || x.kind === only) : [];
    }
    return [
      ...(only !== 'Job' ? deployments.byHubKey(p.member.key, qk) : []),
      ...(only !== 'Deployment' ? batchJobs.byHubKey(p.member.key, qk) : []),
    ];
  }

  /** Pods of `attempt` of the job not on their way out, on one member: [all, Ready]. */
  function podCounts(member: string, qk: string, attempt: number): [number, number] {
    const live = attemptPods(member, qk, attempt).filter((p) => !p.metadata?.deletionTimestamp);
    return [live.length, live.filter(podReady).length];
  }

  /** Member state → phase, conditions and the kind's fields. */
  function rollup(job: JobObject, qk: string, parts: Array<{ member: FleetMember; index: number }>) {
    const conditions: ConditionInput[] = [];
    const fields: Partial<Owned> = {};
    let failed: string | undefined;
    let phase: string = JobPhase.Scheduled;
    const attempt = attemptsOf(job);
    if (job.kind === 'InferenceJob') {
      const spec = (job as InferenceJobObject).spec;
      const dep = parts.flatMap((p) => workloads(job, qk, p, 'Deployment')).find((d) => attemptOf(d) === attempt);
      const desired = dep?.spec?.replicas ?? 0;
      // ready pods as the member's pod cache shows them, before the ReplicaSet's and then the Deployment's
      // status say so (two more writes through the member's controller-manager: seconds under load)
      const counts = parts.map((p) => (p.member.kind === 'agent' ? [0, 0] : podCounts(p.member.key, qk, attempt)));
      const ready = Math.max(dep?.status?.readyReplicas ?? 0, ...counts.map(([, r]) => r ?? 0));
      fields.replicas = Math.max(dep?.status?.replicas ?? 0, ...counts.map(([all]) => all ?? 0));
      fields.readyReplicas = ready;
      if (dep) {
        const svc = dep.metadata?.name ?? '';
        const ns = dep.metadata?.namespace ?? '';
        // the Service's port: the gateway's for a confidential job behind it, else the model server's endpoint
        const mode = job.status?.placement?.mode === 'Confidential' ? 'confidential' : 'container';
        fields.endpoints = [serviceEndpoint(spec, { mode }, svc, ns)];
      }
      const ok = dep !== undefined && ready >= desired && (desired === 0 || ready > 0);
      if (ready > 0 || (ok && desired === 0)) phase = JobPhase.Running;
      conditions.push(
        ok
          ? {
              type: 'Ready',
              status: 'True',
              reason: JobReason.WorkloadReady,
              message: `${ready}/${desired} replicas ready`,
            }
          : {
              type: 'Ready',
              status: 'False',
              reason: JobReason.WorkloadNotReady,
              message: `${ready}/${desired} replicas ready`,
            },
      );
      return { phase, conditions, fields, failed };
    }
    const jobs = parts.flatMap((p) => workloads(job, qk, p, 'Job')).filter((j) => attemptOf(j) === attempt);
    const want = partsPlaced(job).length;
    const done = jobs.filter((j) => j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
    const bad = jobs.find((j) => j.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True'));
    const readyWorkers = jobs.reduce((a, j) => a + (j.status?.ready ?? j.status?.active ?? 0), 0);
    fields.readyWorkers = readyWorkers;
    const workers = (job as TrainingJobObject).spec.workers ?? 1;
    if (bad) {
      failed = bad.status?.conditions?.find((c) => c.type === 'Failed')?.message ?? 'a worker failed';
    } else if (jobs.length === want && done.length === want) {
      phase = JobPhase.Succeeded;
      conditions.push({
        type: 'Complete',
        status: 'True',
        reason: JobReason.Completed,
        message: 'all workers succeeded',
      });
      conditions.push({ type: 'Ready', status: 'False', reason: JobReason.Completed, message: 'finished' });
    } else {
      if (readyWorkers > 0) phase = JobPhase.Running;
      const all = readyWorkers >= workers;
      conditions.push({
        type: 'Ready',
        status: all ? 'True' : 'False',
        reason: all ? JobReason.WorkloadReady : JobReason.WorkloadNotReady,
        message: `${readyWorkers}/${workers} workers running`,
      });
    }
    return { phase, conditions, fields, failed };
  }

  const controller = manager.controller({
    name: 'jobs',
    reconcile,
    // placement's writes first (see slotsWhilePlacing): the gate is passed before any read or write
    gate,
    concurrency: o.concurrency ?? 8,
  });
  // an agent's report (a Work's status) and a Work gone bring its job back; a report of progress before the backlog
  controller.watch(hubWorks, { map: (w) => hubQueueKey(w) ?? [], priority: workEventPriority });
  for (const kind of ['InferenceJob', 'TrainingJob'] as const) {
    const inf = informers[kind];
    controller.watch(inf, {
      map: (j) => queueKey(kind, jobKey(j)),
      // the controller's own status writes do not wake it; placement changes and spec changes do
      filter: (j, old) =>
        !old ||
        j.metadata?.generation !== old.metadata?.generation ||
        j.metadata?.deletionTimestamp !== old.metadata?.deletionTimestamp ||
        j.status?.attempts !== old.status?.attempts ||
        j.status?.placement?.attempt !== old.status?.placement?.attempt ||
        (j.status?.placement === undefined) !== (old.status?.placement === undefined),
    });
    inf.addHandler({
      onAdd: (j) => {
        cacheCaughtUp(queueKey(kind, jobKey(j)), j);
        scheduler.poke();
      },
      onUpdate: (old, j) => {
        cacheCaughtUp(queueKey(kind, jobKey(j)), j);
        if (old.metadata?.generation !== j.metadata?.generation || isPlaced(old) !== isPlaced(j)) scheduler.poke();
      },
      onDelete: (j) => {
        const qk = queueKey(kind, jobKey(j));
        ownWrites.delete(qk);
        awaitingCache.delete(qk);
        scheduler.poke();
      },
    });
  }
  /** Jobs with a part on `pool`. */
  const jobsOn = (pool: string) =>
    (['InferenceJob', 'TrainingJob'] as const).flatMap((kind) =>
      informers[kind]
        .list()
        .filter((j) => partsPlaced(j).some((p) => p.pool === pool))
        .map((j) => queueKey(kind, jobKey(j))),
    );
  pools.addHandler({
    onAdd: () => scheduler.poke(),
    onUpdate: (old, p) => {
      if (old.status?.phase !== p.status?.phase || old.metadata?.generation !== p.metadata?.generation) {
        scheduler.poke();
        for (const k of jobsOn(p.metadata?.name ?? '')) controller.enqueue(k);
      } else if (canonical(old.status?.capacity) !== canonical(p.status?.capacity)) scheduler.poke();
    },
    onDelete: (p) => {
      scheduler.poke();
      for (const k of jobsOn(p.metadata?.name ?? '')) controller.enqueue(k);
    },
  });
  fleet.watch({
    changed: (m) => {
      scheduler.poke();
      for (const pool of fleet.usersOf(m, poolOwner)) for (const k of jobsOn(pool)) controller.enqueue(k);
    },
    capacity: () => scheduler.poke(),
  });
  return { controller, scheduler, informers, pools };
}
