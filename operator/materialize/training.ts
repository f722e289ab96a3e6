// A TrainingJob's member objects. Distributed: one Indexed batch/v1 Job of `workers` pods
// plus a headless Service, so rank i is reachable as `<workload>-i.<workload>` and torchrun
// finds its master at index 0. Federated: one such Job of a single pod per participant (each
// participant may be on another pool). Retries are the operator's (a new attempt elsewhere),
// so the Jobs never retry a pod themselves (backoffLimit 0).
import type { TrainingEngine } from '../api/constants.ts';
import type { TrainingJobSpec, TrainingJobStatus } from '../api/types.gen.ts';
import { LineageError, type ResumeFrom, resumeFrom } from '../training/lineage.ts';
import {
  type BatchJob,
  type ComputeDefaults,
  type ContainerEnvVar,
  type JobRef,
  jobEnv,
  MaterializeError,
  type PlacedOn,
  type PodTemplate,
  podTemplate,
  type Service,
  type ServicePort,
  workloadMeta,
} from './common.ts';
import { engineImage } from './images.ts';
import { labelKeys, participantName, tenantNamespace, workloadName } from './names.ts';

/** torchrun's default master port. */
export const MASTER_PORT = 29500;
/** The annotation an Indexed Job puts on each pod with its index. */
export const COMPLETION_INDEX_FIELD = "metadata.annotations['batch.kubernetes.io/job-completion-index']";

/** CPU and memory per worker when spec.resources leaves them unset. */
export const trainingDefaults: Readonly<Record<TrainingEngine, ComputeDefaults>> = {
  PyTorch: { cpu: '8', memory: '64Gi' },
  DeepSpeed: { cpu: '8', memory: '64Gi' },
  JAX: { cpu: '8', memory: '64Gi' },
  Flower: { cpu: '4', memory: '16Gi' },
  Custom: { cpu: '8', memory: '32Gi' },
};

const indexRef = (name: string): ContainerEnvVar => ({
  name,
  valueFrom: { fieldRef: { fieldPath: COMPLETION_INDEX_FIELD } },
});

/** Env every training pod gets: job, model, dataset, checkpoints. */
function trainingEnv(job: JobRef, spec: TrainingJobSpec, on: PlacedOn): ContainerEnvVar[] {
  const env = jobEnv(job, on.attempt, spec.model);
  if (spec.dataset) {
    env.push({ name: 'NVDAX_DATASET_URI', value: spec.dataset.uri });
    if (spec.dataset.hash) env.push({ name: 'NVDAX_DATASET_HASH', value: spec.dataset.hash });
  }
  if (spec.checkpoint) {
    env.push(
      { name: 'NVDAX_CHECKPOINT_URI', value: spec.checkpoint.uri },
      { name: 'NVDAX_CHECKPOINT_INTERVAL', value: spec.checkpoint.interval ?? '30m' },
      { name: 'NVDAX_CHECKPOINT_KEEP', value: String(spec.checkpoint.keep ?? 3) },
    );
  }
  return env;
}

/**
 * The checkpoint a new attempt starts from, fixed for the attempt. Federated: what the attempt's coordinator
 * resumed from (status.federation.resumedFrom, published before the participants are materialized).
 * Distributed, from the second attempt on: status.placement.resumeFrom, chosen by the scheduler at placement
 * (the newest record of status.checkpoints whose lineage verifies); for a placement without it, the same
 * choice made now from records written no later than status.placement.scheduledTime. A lineage that does not
 * verify has no checkpoint to resume from.
 */
export function resumePoint(spec: TrainingJobSpec, status: TrainingJobStatus | undefined): ResumeFrom | undefined {
  const attempt = status?.placement?.attempt;
  if (spec.mode === 'Federated') {
    const f = status?.federation;
    return f?.resumedFrom && f.attempt === attempt ? (f.resumedFrom as ResumeFrom) : undefined;
  }
  if (!attempt || attempt < 2) return undefined;
  // chosen once at placement (the scheduler), so it stays put while the attempt's checkpoints fold it out
  if (status?.placement?.resumeFrom) return status.placement.resumeFrom as ResumeFrom;
  // a placement written before the scheduler recorded it: the same choice, made from status as it is now
  const placed = Date.parse(status?.placement?.scheduledTime ?? '');
  if (Number.isNaN(placed)) return undefined;
  return verifiedResumePoint(status, placed);
}

/**
 * The newest checkpoint of status.checkpoints recorded no later than `before` (ms), from a lineage that
 * verifies; undefined when there is none or the lineage does not verify (nothing to resume from). The
 * scheduler records it at placement; resumePoint falls back to it for placements without one.
 */
export function verifiedResumePoint(status: TrainingJobStatus | undefined, before: number): ResumeFrom | undefined {
  try {
    return resumeFrom(status?.checkpoints as Parameters<typeof resumeFrom>[0], before);
  } catch (e) {
    if (e instanceof LineageError) return undefined;
    throw e;
  }
}

/** The resume env: the checkpoint's URI, sha256 and step, and the parent the attempt's first checkpoint names. */
export function resumeEnv(r: ResumeFrom | undefined): ContainerEnvVar[] {
  if (!r) return [];
  return [
    { name: 'NVDAX_RESUME_URI', value: r.uri },
    { name: 'NVDAX_RESUME_SHA256', value: r.sha256 },
    { name: 'NVDAX_RESUME_STEP', value: String(r.step) },
    { name: 'NVDAX_RESUME_PARENT', value: r.parent },
  ];
}

function indexedJob(
  job: JobRef,
  on: PlacedOn,
  name: string,
  namespace: string,
  pods: number,
  template: PodTemplate,
  extra?: Record<string, string>,
): BatchJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: workloadMeta(job, on, name, namespace, extra),
    spec: {
      completionMode: 'Indexed',
      completions: pods,
      parallelism: pods,
      backoffLimit: 0,
      template,
    },
  };
}

function headlessService(
  job: JobRef,
  on: PlacedOn,
  name: string,
  namespace: string,
  ports: ServicePort[],
  extra?: Record<string, string>,
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: workloadMeta(job, on, name, namespace, extra),
    spec: {
      clusterIP: 'None',
      // ranks must find each other before they are Ready (they become Ready by meeting)
      publishNotReadyAddresses: true,
      selector: { [labelKeys.slotGroup]: name },
      ports,
    },
  };
}

/**
 * A Distributed TrainingJob: an Indexed Job of spec.workers pods and its headless Service. `resume`
 * (resumePoint) puts the checkpoint to start from in the pods' env.
 */
export function trainingObjects(
  job: JobRef,
  spec: TrainingJobSpec,
  on: PlacedOn,
  resume?: ResumeFrom,
): { job: BatchJob; service: Service } {
  if (spec.mode !== 'Distributed') {
    throw new MaterializeError('spec.mode', `${spec.mode} jobs are materialized per participant`);
  }
  const name = workloadName(job.name, on.attempt);
  const namespace = tenantNamespace(job.namespace);
  const workers = spec.workers ?? 1;
  const gpus = String(spec.resources.gpus);
  // Pod hostname of index i of an Indexed Job is `<job>-<i>`; with subdomain = the headless
  // Service, `<job>-0.<service>` resolves from the namespace's pods.
  const master = `${name}-0.${name}`;
  const env: ContainerEnvVar[] = [
    ...trainingEnv(job, spec, on),
    { name: 'MASTER_ADDR', value: master },
    { name: 'MASTER_PORT', value: String(MASTER_PORT) },
    { name: 'WORLD_SIZE', value: String(workers) },
    indexRef('NODE_RANK'),
    { name: 'NPROC_PER_NODE', value: gpus },
    // torchrun reads its flags' defaults from PET_*: plain `torchrun train.py` joins the job
    { name: 'PET_NNODES', value: String(workers) },
    indexRef('PET_NODE_RANK'),
    { name: 'PET_NPROC_PER_NODE', value: gpus },
    { name: 'PET_MASTER_ADDR', value: master },
    { name: 'PET_MASTER_PORT', value: String(MASTER_PORT) },
    ...resumeEnv(resume),
  ];
  const runtime = spec.runtime;
  const template = podTemplate(job, on, {
    workload: name,
    image: engineImage(runtime.engine, runtime.image),
    ...(runtime.command ? { command: runtime.command } : {}),
    ...(runtime.args ? { args: runtime.args } : {}),
    ...(runtime.env ? { userEnv: runtime.env } : {}),
    env,
    resources: spec.resources,
    defaults: trainingDefaults[runtime.engine],
    ports: [{ name: 'rendezvous', containerPort: MASTER_PORT, protocol: 'TCP' }],
    restartPolicy: 'Never',
    subdomain: name,
  });
  return {
    job: indexedJob(job, on, name, namespace, workers, template),
    service: headlessService(job, on, name, namespace, [
      { name: 'rendezvous', port: MASTER_PORT, targetPort: MASTER_PORT, protocol: 'TCP' },
    ]),
  };
}

/**
 * One participant of a Federated TrainingJob: an Indexed Job of one pod, and a headless Service naming it.
 * `resume` (resumePoint) tells the participant which checkpoint the coordinator's first round must start from.
 */
export function participantObjects(
  job: JobRef,
  spec: TrainingJobSpec,
  on: PlacedOn,
  index: number,
  resume?: ResumeFrom,
): { job: BatchJob; service: Service } {
  if (spec.mode !== 'Federated') {
    throw new MaterializeError('spec.mode', `${spec.mode} jobs have no participants`);
  }
  const fed = spec.federated;
  if (!fed) throw new MaterializeError('spec.federated', 'is required when spec.mode is Federated');
  const participants = spec.workers ?? 1;
  if (!Number.isSafeInteger(index) || index < 0 || index >= participants) {
    throw new RangeError(`participant index ${index} is outside 0..${participants - 1}`);
  }
  const name = participantName(job.name, on.attempt, index);
  const namespace = tenantNamespace(job.namespace);
  const extra = { [labelKeys.participant]: String(index) };
  const env: ContainerEnvVar[] = [
    ...trainingEnv(job, spec, on),
    { name: 'NVDAX_PARTICIPANT_INDEX', value: String(index) },
    { name: 'NVDAX_PARTICIPANTS', value: String(participants) },
    { name: 'NVDAX_ROUNDS', value: String(fed.rounds) },
    { name: 'NVDAX_MIN_PARTICIPANTS', value: String(fed.minParticipants ?? 2) },
    { name: 'NVDAX_AGGREGATION', value: fed.aggregation ?? 'FedAvg' },
    { name: 'NVDAX_ROUND_TIMEOUT', value: fed.roundTimeout ?? '30m' },
    { name: 'NPROC_PER_NODE', value: String(spec.resources.gpus) },
    // the participant runtime dials the hub's coordinator as this participant of this job
    { name: 'NVDAX_JOB', value: `${job.namespace}/${job.name}` },
    { name: 'NVDAX_PARTICIPANT_ID', value: name },
    ...(on.coordinator ? [{ name: 'NVDAX_COORDINATOR', value: on.coordinator }] : []),
    ...resumeEnv(resume),
  ];
  const runtime = spec.runtime;
  const template = podTemplate(job, on, {
    workload: name,
    image: engineImage(runtime.engine, runtime.image),
    ...(runtime.command ? { command: runtime.command } : {}),
    ...(runtime.args ? { args: runtime.args } : {}),
    ...(runtime.env ? { userEnv: runtime.env } : {}),
    env,
    resources: spec.resources,
    defaults: trainingDefaults[runtime.engine],
    restartPolicy: 'Never',
    subdomain: name,
    labels: extra,
  });
  return {
    job: indexedJob(job, on, name, namespace, 1, template, extra),
    service: headlessService(job, on, name, namespace, [], extra),
  };
}
