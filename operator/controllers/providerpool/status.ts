// The ProviderPool status the operator wants, from what it observed of the member
// cluster — pure, so every condition and phase is unit-tested without a cluster.
// It holds only the fields this controller owns (an allow-list, applied with its own
// field manager): stake, reputation, activeJobs and other condition types belong to
// other controllers, and a status built here never carries them.
// A lost cluster turns Connected and Ready False at once and the phase Degraded;
// after spec.heartbeatTimeout without contact the phase is Disconnected. The last
// known capacity is kept (with its time in lastHeartbeatTime), never wiped.
import { PoolConditionType, PoolPhase, PoolReason } from '../../api/constants.ts';
import type { GpuCapacity, ProviderPool, ProviderPoolStatus } from '../../api/types.gen.ts';
import { metaTime, setCondition, type Condition, type ConditionInput } from '../../runtime/conditions.ts';
import { parseDuration } from '../../runtime/config.ts';
import type { PoolCapacity } from '../../fleet/capacity.ts';

export type Observation =
  | { kind: 'Connected'; capacity: PoolCapacity; lastContact: number }
  /** The first contact attempt (after a start, failover or new kubeconfig) is under way; or an agent pool's first heartbeat. */
  | { kind: 'Connecting'; message?: string }
  /** Reachable, but the caches have not listed yet. */
  | { kind: 'Syncing'; lastContact?: number }
  /** Reachable, but a cache cannot list (e.g. 403): the kubeconfig lacks permissions. */
  | { kind: 'AccessDenied'; message: string; lastContact?: number }
  /** No contact; lastContact is what this process saw (undefined after a restart). */
  | { kind: 'Unreachable'; error: string; lastContact?: number }
  /** An agent pool's heartbeat whose signature fails: its inventory is not used. */
  | { kind: 'HeartbeatRefused'; message: string; lastContact?: number }
  | { kind: 'SecretMissing'; message: string }
  | { kind: 'KubeconfigInvalid'; message: string };

export const defaultHeartbeatTimeoutMs = 60_000;

/** The status fields the ProviderPool controller owns; every other field is another controller's. */
export const ownedFields = [
  'phase',
  'conditions',
  'observedGeneration',
  'capacity',
  'totalGpus',
  'availableGpus',
  'runtimeClasses',
  'lastHeartbeatTime',
] as const satisfies ReadonlyArray<keyof ProviderPoolStatus>;

/** The condition types it owns. */
export const ownedConditions: readonly string[] = Object.values(PoolConditionType);

/** Only the owned part of `s`: what this controller last wrote, as the base of what it writes next. */
export function ownedStatus(s: ProviderPoolStatus | undefined): ProviderPoolStatus {
  const out: Record<string, unknown> = {};
  for (const f of ownedFields) if (s?.[f] !== undefined) out[f] = s[f];
  const mine = (s?.conditions ?? []).filter((c) => ownedConditions.includes(c.type));
  if (mine.length > 0) out['conditions'] = mine;
  else delete out['conditions'];
  return out as ProviderPoolStatus;
}

export function heartbeatTimeoutMs(pool: ProviderPool): number {
  return (pool.spec.heartbeatTimeout && parseDuration(pool.spec.heartbeatTimeout)) || defaultHeartbeatTimeoutMs;
}

/** Capacity entries as the API reports them. */
export function capacityStatus(c: PoolCapacity): GpuCapacity[] {
  return c.capacity.map((e) => ({
    gpuProduct: e.product,
    mode: e.mode === 'confidential' ? 'Confidential' : 'Container',
    resourceName: e.resourceName,
    ...(e.memoryMiB ? { gpuMemory: `${e.memoryMiB}Mi` } : {}),
    nodes: e.nodes,
    total: e.total,
    allocatable: e.allocatable,
    inUse: e.inUse,
    available: e.available,
    largestFreeBlock: e.largestFreeBlock,
    ...(e.mode === 'confidential' ? { teeTypes: e.tees } : {}),
  }));
}

/** A product is offered in a mode only with a base rate for both: confidential and container GPUs are priced apart. */
const offered = (pool: ProviderPool, c: GpuCapacity) =>
  pool.spec.baseRates.some((r) => r.gpuProduct === c.gpuProduct && (r.mode ?? 'Container') === c.mode);

function confidentialCondition(pool: ProviderPool, c: PoolCapacity): ConditionInput {
  const wanted = pool.spec.confidentialRuntimes ?? [];
  const type = PoolConditionType.ConfidentialReady;
  if (wanted.length === 0) {
    return {
      type,
      status: 'False',
      reason: PoolReason.NoConfidentialRuntime,
      message: 'the pool offers no confidential runtime (spec.confidentialRuntimes is empty)',
    };
  }
  const usable = wanted
    .filter((w) => c.confidential.usableRuntimeClasses.includes(w.runtimeClassName))
    .map((w) => w.runtimeClassName);
  if (usable.length > 0) {
    return {
      type,
      status: 'True',
      reason: PoolReason.ConfidentialRuntimeAvailable,
      message: `${usable.join(', ')} usable on ${c.confidential.readyNodes} CC-ready node(s)`,
    };
  }
  const missing = wanted
    .map((w) => w.runtimeClassName)
    .filter((n) => !c.confidential.unusableRuntimeClasses.includes(n));
  const why = [
    missing.length ? `RuntimeClass ${missing.join(', ')} not found in the member cluster` : '',
    c.confidential.readyNodes === 0
      ? 'no node has CC-ready GPUs on an SNP/TDX host with the kata runtime' +
        (c.confidential.notReadyNodes
          ? ` (${c.confidential.notReadyNodes} CC-capable node(s) not ready: nvidia.com/cc.ready.state != true)`
          : '')
      : 'no CC-ready node matches the node selector of the offered RuntimeClasses',
  ]
    .filter(Boolean)
    .join('; ');
  return { type, status: 'False', reason: PoolReason.NoConfidentialRuntime, message: why };
}

/** The status to write for `pool` given `obs`, at time `now` (ms). Conditions keep their transition times. */
export function desiredStatus(pool: ProviderPool, obs: Observation, now: number): ProviderPoolStatus {
  const prev = ownedStatus(pool.status);
  const generation = pool.metadata?.generation;
  let conditions: Condition[] = (prev.conditions ?? []) as Condition[];
  const set = (c: ConditionInput) => {
    conditions = setCondition(
      conditions,
      { ...c, ...(generation !== undefined ? { observedGeneration: generation } : {}) },
      now,
    );
  };
  const out: ProviderPoolStatus = structuredClone(prev);
  if (generation !== undefined) out.observedGeneration = generation;

  if (obs.kind === 'Connected') {
    const capacity = capacityStatus(obs.capacity);
    const sale = capacity.filter((c) => offered(pool, c));
    const allocatable = sale.reduce((a, c) => a + (c.allocatable ?? 0), 0);
    out.capacity = capacity;
    out.totalGpus = capacity.reduce((a, c) => a + (c.total ?? 0), 0);
    out.availableGpus = sale.reduce((a, c) => a + (c.available ?? 0), 0);
    out.runtimeClasses = obs.capacity.confidential.usableRuntimeClasses;
    out.lastHeartbeatTime = metaTime(obs.lastContact);
    set({
      type: PoolConditionType.Connected,
      status: 'True',
      reason: PoolReason.Connected,
      message: `${obs.capacity.readyNodes}/${obs.capacity.nodes} node(s) Ready`,
    });
    if (pool.spec.unschedulable) {
      set({
        type: PoolConditionType.Ready,
        status: 'False',
        reason: PoolReason.Unschedulable,
        message: 'spec.unschedulable is true: the pool takes no new jobs',
      });
    } else if (allocatable === 0) {
      const products = capacity.map((c) => `${c.gpuProduct} ${c.mode}`);
      set({
        type: PoolConditionType.Ready,
        status: 'False',
        reason: PoolReason.NoGpuNodes,
        message:
          capacity.length === 0
            ? 'no Ready, schedulable GPU node matches spec.nodeSelector'
            : sale.length === 0
              ? `no base rate for the GPUs present (${products.join(', ')}): add them to spec.baseRates with their mode`
              : 'no GPU is allocatable: GPU nodes are NotReady, cordoned or tainted',
      });
    } else {
      set({
        type: PoolConditionType.Ready,
        status: 'True',
        reason: PoolReason.GpusAvailable,
        message: `${out.availableGpus} of ${allocatable} allocatable GPU(s) free`,
      });
    }
    set(confidentialCondition(pool, obs.capacity));
    out.phase = allocatable > 0 && !pool.spec.unschedulable ? PoolPhase.Ready : PoolPhase.Degraded;
  } else if (obs.kind === 'Connecting') {
    // Nothing observed yet. A new pool says so; after a restart or failover the previous
    // observer's conditions, phase and capacity stand until this process knows better,
    // so a failover causes no transitions (and no Events).
    if (!conditions.some((c) => c.type === PoolConditionType.Connected)) {
      set({
        type: PoolConditionType.Connected,
        status: 'Unknown',
        reason: PoolReason.Connecting,
        message: obs.message ?? 'first contact with the member cluster under way',
      });
    }
    out.phase = prev.phase ?? PoolPhase.Pending;
  } else if (obs.kind === 'Syncing') {
    set({
      type: PoolConditionType.Connected,
      status: 'True',
      reason: PoolReason.Connected,
      message: 'reading nodes, pods and RuntimeClasses',
    });
    if (obs.lastContact !== undefined) out.lastHeartbeatTime = metaTime(obs.lastContact);
    out.phase = prev.phase ?? PoolPhase.Pending;
  } else {
    const { reason, message } =
      obs.kind === 'Unreachable'
        ? { reason: PoolReason.ConnectionFailed, message: obs.error }
        : obs.kind === 'AccessDenied'
          ? { reason: PoolReason.AccessDenied, message: `the member kubeconfig lacks permissions: ${obs.message}` }
          : obs.kind === 'HeartbeatRefused'
            ? { reason: PoolReason.HeartbeatRefused, message: `the agent's heartbeat is refused: ${obs.message}` }
            : obs.kind === 'SecretMissing'
              ? { reason: PoolReason.KubeconfigSecretMissing, message: obs.message }
              : { reason: PoolReason.KubeconfigInvalid, message: obs.message };
    // after a restart or failover this process has seen no contact yet: the last one is in status
    const prevBeat = prev.lastHeartbeatTime ? Date.parse(prev.lastHeartbeatTime) : undefined;
    const lastContact =
      obs.kind === 'Unreachable' || obs.kind === 'AccessDenied' || obs.kind === 'HeartbeatRefused'
        ? (obs.lastContact ?? prevBeat)
        : undefined;
    const timedOut = lastContact === undefined || now - lastContact > heartbeatTimeoutMs(pool);
    const since =
      lastContact === undefined ? '' : ` (last contact ${metaTime(lastContact)}; capacity shown is from then)`;
    set({ type: PoolConditionType.Connected, status: 'False', reason, message: message + since });
    set({
      type: PoolConditionType.Ready,
      status: 'False',
      reason: obs.kind === 'Unreachable' && timedOut ? PoolReason.HeartbeatTimeout : reason,
      message: obs.kind === 'Unreachable' ? `member cluster unreachable: ${obs.error}` : message,
    });
    set({
      type: PoolConditionType.ConfidentialReady,
      status: 'Unknown',
      reason,
      message: 'member cluster not observed',
    });
    out.phase = timedOut ? PoolPhase.Disconnected : PoolPhase.Degraded;
  }
  out.conditions = conditions;
  return out;
}
