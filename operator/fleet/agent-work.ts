// Work objects (operator/api/work.ts): how the hub hands an agent pool the member objects of a job,
// and how the agent's report in their status reads back as the workloads and pods the job
// controller rolls up and meters — pure, shared by the hub and the agent (provider-runtime/agent).
import { createHash } from 'node:crypto';
import { API_VERSION } from '../api/constants.ts';
import type { WorkObject } from '../api/resources.ts';
import type { WorkObjectStatus, WorkPod, WorkStatus } from '../api/types.gen.ts';
import type { KubeObject } from '../kube/types.ts';
import { hash8, type JobRef, jobAnnotations, jobLabels, labelKeys } from '../materialize/index.ts';
import { canonical } from '../runtime/canonical.ts';
import { slotGroupLabel } from '../scheduling/snapshot.ts';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The hub namespace of an agent pool's Work objects: `nvdax-pool-<pool>`, hash-suffixed when not a DNS label. */
export function poolNamespace(pool: string): string {
  const base = `nvdax-pool-${pool}`;
  if (base.length <= 63 && dnsLabel.test(base)) return base;
  const clean = base
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 54)
    .replace(/-+$/, '');
  return `${clean}-${hash8(pool)}`;
}

/** The Work of one part of one attempt of a job: `<ij|tj>.<namespace>.<name>.a<attempt>.p<part>` (hashed when too long). */
export function workName(job: Pick<JobRef, 'kind' | 'namespace' | 'name'>, attempt: number, part: number): string {
  const kind = job.kind === 'TrainingJob' ? 'tj' : 'ij';
  const full = `${kind}.${job.namespace}.${job.name}.a${attempt}.p${part}`;
  if (full.length <= 253) return full;
  return `${kind}.${hash8(`${job.namespace}/${job.name}`)}.${job.name.slice(0, 200).replace(/[.-]+$/, '')}.a${attempt}.p${part}`;
}

/** Label on what the agent applied: the Work it came from (its name, or a hash of it when too long for a label). */
export const workLabel = 'nvdax.io/work';
export const workLabelValue = (name: string) => (name.length <= 63 ? name : `h-${hash8(name)}-${name.slice(-50)}`);
/** The annotation with a hash of what was applied, so an unchanged object costs no write. */
export const specHashAnnotation = 'nvdax.io/spec-hash';
export const hashOf = (o: unknown) => createHash('sha256').update(canonical(o)).digest('hex').slice(0, 32);

/** The Work for `manifests` of `job`'s attempt and part on `pool`, with the hash of its spec annotated. */
export function buildWork(
  job: JobRef,
  pool: string,
  attempt: number,
  part: number,
  manifests: readonly KubeObject[],
): WorkObject {
  const spec = {
    pool,
    job: { kind: job.kind, namespace: job.namespace, name: job.name, ...(job.uid ? { uid: job.uid } : {}) },
    attempt,
    part,
    manifests: manifests.map((m) => structuredClone(m) as Record<string, unknown>),
  };
  return {
    apiVersion: API_VERSION,
    kind: 'Work',
    metadata: {
      name: workName(job, attempt, part),
      namespace: poolNamespace(pool),
      labels: jobLabels(job, attempt, pool),
      annotations: { ...jobAnnotations(job), [specHashAnnotation]: hashOf(spec) },
    },
    spec,
  } as WorkObject;
}

/** A workload as the job controller's rollup reads it (Deployment or Job, slim). */
export interface WorkloadView extends KubeObject {
  spec?: { replicas?: number; completions?: number };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    active?: number;
    ready?: number;
    succeeded?: number;
    failed?: number;
    conditions?: Array<{ type: string; status: string; message?: string }>;
  };
}

/** The Work's reported workloads as the rollup reads member objects. */
export function workloadsOf(work: WorkObject): WorkloadView[] {
  return (work.status?.objects ?? []).map((o) => {
    const conditions: Array<{ type: string; status: string; message?: string }> = [];
    if (o.complete) conditions.push({ type: 'Complete', status: 'True' });
    if (o.failedMessage !== undefined) conditions.push({ type: 'Failed', status: 'True', message: o.failedMessage });
    const n = (x: number | undefined, k: string) => (x === undefined ? {} : { [k]: x });
    return {
      apiVersion: o.kind === 'Job' ? 'batch/v1' : 'apps/v1',
      kind: o.kind,
      metadata: { name: o.name, namespace: o.namespace ?? '', labels: { ...o.labels } },
      spec: o.kind === 'Job' ? n(o.desired, 'completions') : n(o.desired, 'replicas'),
      status: {
        ...n(o.replicas, 'replicas'),
        ...n(o.readyReplicas, 'readyReplicas'),
        ...n(o.active, 'active'),
        ...n(o.ready, 'ready'),
        ...n(o.succeeded, 'succeeded'),
        ...n(o.failed, 'failed'),
        ...(conditions.length ? { conditions } : {}),
      },
    } as WorkloadView;
  });
}

/** A pod as the agent reads it for a Work's status. */
export interface AgentPodView extends KubeObject {
  spec?: { nodeName?: string; containers?: Array<{ resources?: { limits?: Record<string, string> } }> };
  status?: {
    phase?: string;
    startTime?: string;
    containerStatuses?: Array<{ state?: { terminated?: { finishedAt?: string } } }>;
  };
}

const gpusOf = (p: AgentPodView) =>
  Object.entries(p.spec?.containers?.[0]?.resources?.limits ?? {})
    .filter(([r]) => r.startsWith('nvidia.com/'))
    .reduce((a, [, v]) => a + Number(v), 0);

/** The workload names (Deployments, Jobs) a Work's manifests create: its pods carry them as slot group. */
export const workloadNamesOf = (work: WorkObject): string[] =>
  (work.spec.manifests ?? [])
    .filter((m) => m['kind'] === 'Deployment' || m['kind'] === 'Job')
    .map((m) => String((m['metadata'] as { name?: string } | undefined)?.name ?? ''));

/**
 * The status the agent reports for `work` from what its cluster shows: each workload's counters and
 * completion, its pods' nodes, GPUs and times. Conditions are set by the caller.
 */
export function observedWork(
  work: WorkObject,
  workloads: readonly WorkloadView[],
  pods: readonly AgentPodView[],
): Pick<WorkStatus, 'objects' | 'pods'> {
  const names = new Set(workloadNamesOf(work));
  const objects: WorkObjectStatus[] = workloads
    .filter((w) => names.has(w.metadata?.name ?? ''))
    .map((w) => {
      const s = w.status ?? {};
      const failed = s.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
      const labels = Object.fromEntries(
        Object.entries(w.metadata?.labels ?? {}).filter(
          ([k]) => k === labelKeys.attempt || k === labelKeys.participant,
        ),
      );
      const num = (x: number | undefined, k: string) => (x === undefined ? {} : { [k]: x });
      return {
        kind: w.kind ?? '',
        namespace: w.metadata?.namespace ?? '',
        name: w.metadata?.name ?? '',
        labels,
        ...num(w.kind === 'Job' ? w.spec?.completions : w.spec?.replicas, 'desired'),
        ...num(s.replicas, 'replicas'),
        ...num(s.readyReplicas, 'readyReplicas'),
        ...num(s.active, 'active'),
        ...num(s.ready, 'ready'),
        ...num(s.succeeded, 'succeeded'),
        ...num(s.failed, 'failed'),
        ...(s.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? { complete: true } : {}),
        ...(failed ? { failedMessage: (failed.message ?? 'failed').slice(0, 1024) } : {}),
      };
    })
    .sort((a, b) => (`${a.kind}/${a.name}` < `${b.kind}/${b.name}` ? -1 : 1));
  const out: WorkPod[] = pods
    .filter((p) => names.has(p.metadata?.labels?.[slotGroupLabel] ?? ''))
    .map((p) => {
      const finished = (p.status?.containerStatuses ?? [])
        .map((c) => c.state?.terminated?.finishedAt)
        .filter((x): x is string => !!x)
        .sort();
      const last = finished[finished.length - 1];
      const del = p.metadata?.deletionTimestamp ? String(p.metadata.deletionTimestamp) : undefined;
      return {
        name: p.metadata?.name ?? '',
        ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
        labels: { [labelKeys.attempt]: p.metadata?.labels?.[labelKeys.attempt] ?? '' },
        gpus: gpusOf(p),
        ...(p.status?.phase ? { phase: p.status.phase } : {}),
        ...(p.status?.startTime ? { startTime: String(p.status.startTime) } : {}),
        ...(last ? { finishTime: last } : {}),
        ...(del ? { deletionTime: del } : {}),
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .slice(0, 256);
  return { objects, pods: out };
}
