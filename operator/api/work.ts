// Work: what the hub asks an agent pool (spec.cluster.mode Agent) to run — the member objects of
// one part of one attempt of a job, built by the same pure builders the hub applies to a member
// it reaches itself — published in the pool's work namespace on the hub (nvdax-pool-<pool>) for
// its agent to apply in its own cluster. The agent reports the objects' state in status (Open
// Cluster Management's ManifestWork, Karmada's Work).
import { WorkConditionType, WorkJobKind } from './constants.ts';
import type { KindDef } from './crd.ts';
import { conditions } from './conditions.ts';
import { patterns } from './patterns.ts';
import { anyObject, bool, int, list, map, obj, oneOf, str, time } from './schema.ts';

const jobRef = obj(
  'WorkJobReference',
  'The hub job the objects belong to.',
  {
    kind: oneOf('WorkJobKind', 'InferenceJob or TrainingJob.', Object.values(WorkJobKind)),
    namespace: str('Namespace of the hub job.', { pattern: patterns.dnsLabel }),
    name: str('Name of the hub job.', { pattern: patterns.dnsSubdomain }),
    uid: str('UID of the hub job.', { maxLength: 64 }),
  },
  { required: ['kind', 'namespace', 'name'] },
);

const objectStatus = obj(
  'WorkObjectStatus',
  'The state of one applied workload (Deployment or Job) in the agent cluster.',
  {
    kind: str('Kind of the object: Deployment or Job.', { maxLength: 63 }),
    namespace: str('Namespace of the object in the agent cluster.', { pattern: patterns.dnsLabel }),
    name: str('Name of the object.', { pattern: patterns.dnsSubdomain }),
    labels: map('Labels of the object.', str('Label value.', { pattern: patterns.labelValue }), 32),
    desired: int('spec.replicas of a Deployment, spec.completions of a Job.', { minimum: 0 }),
    replicas: int('status.replicas of a Deployment.', { minimum: 0 }),
    readyReplicas: int('status.readyReplicas of a Deployment.', { minimum: 0 }),
    active: int('status.active of a Job.', { minimum: 0 }),
    ready: int('status.ready of a Job.', { minimum: 0 }),
    succeeded: int('status.succeeded of a Job.', { minimum: 0 }),
    failed: int('status.failed of a Job.', { minimum: 0 }),
    complete: bool('A Job with condition Complete=True.'),
    failedMessage: str('The message of a Job condition Failed=True; absent while it has not failed.', {
      maxLength: 1024,
    }),
  },
  { required: ['kind', 'name'] },
);

const podStatus = obj(
  'WorkPod',
  "One pod of the work's objects, as usage metering reads it.",
  {
    name: str('Pod name.', { pattern: patterns.dnsSubdomain }),
    node: str('Node it is bound to.', { pattern: patterns.dnsSubdomain }),
    labels: map('Labels of the pod (attempt, slot group).', str('Label value.', { pattern: patterns.labelValue }), 32),
    gpus: int('GPUs the pod requests.', { minimum: 0 }),
    phase: str('status.phase of the pod.', { maxLength: 32 }),
    startTime: time('status.startTime of the pod.'),
    finishTime: time('Latest finishedAt of its terminated containers.'),
    deletionTime: time('metadata.deletionTimestamp, while it is being deleted.'),
  },
  { required: ['name'] },
);

export const work: KindDef = {
  kind: 'Work',
  description:
    "Work carries the member objects of one part of one attempt of a job placed on an Agent pool, in the pool's " +
    'work namespace on the hub (nvdax-pool-<pool>). The operator writes spec; the pool agent applies the objects ' +
    'in its own cluster with server-side apply and writes status.',
  spec: obj(
    'WorkSpec',
    'What the agent applies. Written by the operator.',
    {
      pool: str('The ProviderPool this work is for; an agent acts only on its own pool.', {
        pattern: patterns.dnsSubdomain,
      }),
      job: jobRef,
      attempt: int('The attempt of the job the objects belong to.', { minimum: 1 }),
      part: int('The part of the job (a federated participant index; 0 otherwise).', { minimum: 0 }),
      manifests: list(
        'Kubernetes objects to apply in the agent cluster (tenant Namespace and NetworkPolicies, the workload and ' +
          'its Service), in order.',
        anyObject('A whole Kubernetes object: apiVersion, kind, metadata, spec.'),
        { maxItems: 16 },
      ),
    },
    { required: ['pool', 'job', 'attempt', 'manifests'] },
  ),
  status: obj('WorkStatus', 'What the agent observed. Written by the agent.', {
    conditions: conditions(`Types: ${Object.values(WorkConditionType).join(', ')}.`),
    observedGeneration: int('metadata.generation the agent applied last.', { minimum: 0, format: 'int64' }),
    objects: list('The workloads applied, with their state.', objectStatus, { maxItems: 16 }),
    pods: list('Pods of the workloads, for usage metering (at most 256).', podStatus, { maxItems: 256 }),
    updateTime: time('When the agent last wrote this status.'),
    signature: str(
      "The provider's EIP-712 signature over this status and the Work's name (operator/verification/heartbeat.ts); " +
        'a hub that settles on a chain reads only signed Work status.',
      { pattern: patterns.signature },
    ),
  }),
  rootRules: [],
  printerColumns: [
    { name: 'Pool', type: 'string', jsonPath: '.spec.pool', description: 'Pool the work is for.' },
    { name: 'Job', type: 'string', jsonPath: '.spec.job.name', description: 'Hub job.' },
    { name: 'Attempt', type: 'integer', jsonPath: '.spec.attempt', description: 'Attempt of the job.' },
    {
      name: 'Applied',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Applied")].status',
      description: 'Applied in the agent cluster.',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
