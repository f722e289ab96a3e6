// Shared shapes of the member objects and the pod template every workload uses. Pure: no
// I/O, no clock, no randomness, so the same job, spec and placement always give the same
// objects (a retry or a restart applies exactly what the last pass applied).
import type { EnvVar, Resources } from '../api/types.gen.ts';
import { gpuTolerations, labels as nodeLabels } from '../hardware/labels.ts';
import type { KubeObject } from '../kube/types.ts';
import { annotationKeys, jobAnnotations, jobLabels, labelKeys } from './names.ts';

/** Thrown when a spec cannot be turned into member objects; the controller reports it as a condition. */
export class MaterializeError extends Error {
  override readonly name = 'MaterializeError';
  /** The spec field at fault, e.g. `spec.runtime.image`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** Where and how a job (or one federated participant) was placed. */
export interface PlacedOn {
  pool: string;
  attempt: number;
  mode: 'container' | 'confidential';
  /** Extended resource the pods request, e.g. nvidia.com/gpu, nvidia.com/pgpu, nvidia.com/GH100_H100_SXM5_80GB. */
  resourceName: string;
  /** GFD product name or derived model name. */
  product: string;
  tee?: 'snp' | 'tdx';
  /** Confidential only, e.g. kata-qemu-nvidia-gpu-snp. */
  runtimeClassName?: string;
  /** The pool's spec.nodeSelector. */
  nodeSelector?: Record<string, string>;
  initData?: { annotation: string; digest: string; algorithm: string };
  /** Federated participants: where the hub's coordinator for this attempt listens (status.federation). */
  coordinator?: string;
  /** What the confidential inference gateway needs to know that the job's spec does not say. */
  gateway?: GatewayPlacement;
}

/**
 * The pool's and the operator's side of a confidential InferenceJob's gateway: who signs its capability and
 * receipts, under which settlement domain, at what price, with which limits. Never the provider's key: the
 * gateway fetches that inside the TEE from the attested secret-release path (docs/gateway.md).
 */
export interface GatewayPlacement {
  /** The pool's provider address (spec.provider.address): the key the gateway fetches must be this one's. */
  provider?: string;
  /** The settlement contract's EIP-712 domain: chain id (decimal) and address. */
  chainId?: string;
  settlement?: string;
  /** Price per request, wei, quoted in the capability and each receipt. Default 0: GPU time is what is billed. */
  pricePerRequest?: string;
  /** The pool's gateway limits (provider-runtime/gateway/limits.ts), when it sets any. */
  limits?: Record<string, number>;
  /** A development pool (no hardware TEE): the gateway's evidence comes from the development attester. */
  development?: boolean;
  /** The gateway image (the operator's --gateway-image), pinned by digest; default the pinned operator image. */
  image?: string;
  /**
   * The hub's Reports service as gateways dial it, HOST:PORT (the operator's --reports-advertise-address): the
   * gateway attests its instance there and reports its receipts (NVDAX_HUB_REPORTS). Unset: it reports nothing.
   */
  reports?: string;
}

/** The hub job the objects belong to. */
export interface JobRef {
  kind: 'InferenceJob' | 'TrainingJob';
  namespace: string;
  name: string;
  uid: string;
}

/** Metadata of the objects built here: always named, labelled and (except tenant objects) annotated. */
export interface Meta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ContainerEnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef: { fieldPath: string } };
}
export interface ContainerPort {
  name: string;
  containerPort: number;
  protocol: 'TCP';
}
export interface Probe {
  tcpSocket?: { port: string | number };
  httpGet?: { path: string; port: string | number };
  initialDelaySeconds?: number;
  periodSeconds: number;
  failureThreshold: number;
}
export interface NodeSelectorRequirement {
  key: string;
  operator: 'In';
  values: string[];
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env: ContainerEnvVar[];
  ports?: ContainerPort[];
  readinessProbe?: Probe;
  resources: { limits: Record<string, string>; requests: Record<string, string> };
  securityContext: {
    allowPrivilegeEscalation: false;
    capabilities: { drop: ['ALL'] };
    readOnlyRootFilesystem: boolean;
    runAsNonRoot: true;
  };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
export interface PodSpec {
  runtimeClassName?: string;
  automountServiceAccountToken: false;
  enableServiceLinks: false;
  restartPolicy: 'Always' | 'Never';
  subdomain?: string;
  securityContext: {
    runAsNonRoot: true;
    runAsUser: number;
    runAsGroup: number;
    fsGroup: number;
    seccompProfile: { type: 'RuntimeDefault' };
  };
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: Array<{ matchExpressions: NodeSelectorRequirement[] }>;
      };
    };
  };
  tolerations: Array<{ key: string; operator: 'Exists' | 'Equal'; value?: string; effect: string }>;
  containers: Container[];
  volumes: Array<{ name: string; emptyDir: { medium?: 'Memory'; sizeLimit?: string } }>;
}
export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: PodSpec;
}

/** A member object as built here: apiVersion, kind and metadata always set. */
export interface Built<K extends string, S> extends KubeObject {
  apiVersion: string;
  kind: K;
  metadata: Meta;
  spec: S;
}
export type Deployment = Built<
  'Deployment',
  {
    replicas: number;
    revisionHistoryLimit: number;
    selector: { matchLabels: Record<string, string> };
    strategy: { type: 'RollingUpdate'; rollingUpdate: { maxSurge: number; maxUnavailable: number } };
    template: PodTemplate;
  }
>;
export interface ServicePort {
  name: string;
  port: number;
  targetPort: string | number;
  protocol: 'TCP';
  appProtocol?: string;
}
export type Service = Built<
  'Service',
  {
    type?: 'ClusterIP';
    clusterIP?: 'None';
    publishNotReadyAddresses?: boolean;
    selector: Record<string, string>;
    ports: ServicePort[];
  }
>;
export type BatchJob = Built<
  'Job',
  {
    completionMode: 'Indexed';
    completions: number;
    parallelism: number;
    backoffLimit: number;
    template: PodTemplate;
  }
>;

/** The uid/gid the workload runs as: not root, as the restricted Pod Security profile requires. */
export const RUN_AS = 1000;
/** Name of the workload container (the controller reads GPU limits from the first container). */
export const CONTAINER_NAME = 'workload';

/** CPU and memory per pod when spec.resources leaves them unset. */
export interface ComputeDefaults {
  cpu: string;
  memory: string;
}

/** What a workload puts in its pod template, beyond what every pod gets. */
export interface PodInput {
  /** The workload's name: the `nvdax.io/slot-group` of its pods. */
  workload: string;
  image: string;
  command?: string[];
  args?: string[];
  /** spec.runtime.env: overrides {@link baseEnv}, is overridden by `env`. */
  userEnv?: EnvVar[];
  /** The operator's variables; they win over the user's of the same name. */
  env: ContainerEnvVar[];
  resources: Resources;
  defaults: ComputeDefaults;
  ports?: ContainerPort[];
  readinessProbe?: Probe;
  restartPolicy: 'Always' | 'Never';
  subdomain?: string;
  /** More pod labels (e.g. the participant index). */
  labels?: Record<string, string>;
}

/**
 * Defaults the user may override: images often keep caches under $HOME, which for a non-root
 * user in an image built for root is not writable; /tmp is (and in a confidential pod it is
 * inside the guest, not on the host).
 */
const baseEnv: ContainerEnvVar[] = [
  { name: 'HOME', value: '/tmp' },
  { name: 'HF_HOME', value: '/tmp/huggingface' },
  { name: 'XDG_CACHE_HOME', value: '/tmp/.cache' },
];

/** Env by name, later entries replacing earlier ones in place: defaults < user < operator. */
export function mergeEnv(user: EnvVar[] | undefined, operator: ContainerEnvVar[]): ContainerEnvVar[] {
  const byName = new Map<string, ContainerEnvVar>();
  for (const e of baseEnv) byName.set(e.name, e);
  for (const e of user ?? []) byName.set(e.name, { name: e.name, value: e.value ?? '' });
  for (const e of operator) byName.set(e.name, e);
  return [...byName.values()];
}

const quantity = (q: number | string | undefined, dflt: string): string => (q === undefined ? dflt : String(q));

/** The operator's node affinity: what the placement needs, not trusting RuntimeClass or pool labels alone. */
export function nodeAffinityTerms(on: PlacedOn): NodeSelectorRequirement[] {
  const exprs: NodeSelectorRequirement[] = [];
  const add = (key: string, value: string) => {
    if (!exprs.some((e) => e.key === key && e.values.length === 1 && e.values[0] === value)) {
      exprs.push({ key, operator: 'In', values: [value] });
    }
  };
  if (on.mode === 'confidential') {
    // RuntimeClasses before kata 3.29 do not select CC-ready TEE nodes themselves.
    add(nodeLabels.ccReadyState, 'true');
    if (on.tee === 'snp') add(nodeLabels.snp, 'true');
    if (on.tee === 'tdx') add(nodeLabels.tdx, 'true');
    add(nodeLabels.workloadConfig, 'vm-passthrough');
  } else if (on.product.startsWith('NVIDIA-')) {
    // Only a real GFD name: a derived model name (or "unknown") is on no node's label.
    add(nodeLabels.gpuProduct, on.product);
  }
  const selector = on.nodeSelector ?? {};
  for (const key of Object.keys(selector).sort()) add(key, selector[key] ?? '');
  return exprs;
}

/** The pod template of every workload the operator places. */
export function podTemplate(job: JobRef, on: PlacedOn, input: PodInput): PodTemplate {
  const confidential = on.mode === 'confidential';
  const annotations: Record<string, string> = { ...jobAnnotations(job) };
  if (confidential) {
    if (!on.runtimeClassName) {
      throw new MaterializeError('status.placement.runtimeClass', 'a confidential placement needs a runtime class');
    }
    // Without init-data the guest would run the image's default agent policy and know no KBS.
    if (!on.initData) {
      throw new MaterializeError(
        'status.placement.initDataDigest',
        'a confidential placement needs init-data (is the operator started with --kbs-url?)',
      );
    }
    annotations[annotationKeys.initData] = on.initData.annotation;
  }
  const gpus = String(input.resources.gpus);
  const compute: Record<string, string> = {
    cpu: quantity(input.resources.cpu, input.defaults.cpu),
    memory: quantity(input.resources.memory, input.defaults.memory),
    [on.resourceName]: gpus,
  };
  const container: Container = {
    name: CONTAINER_NAME,
    image: input.image,
    ...(input.command ? { command: [...input.command] } : {}),
    ...(input.args ? { args: [...input.args] } : {}),
    env: mergeEnv(input.userEnv, input.env),
    ...(input.ports ? { ports: input.ports } : {}),
    ...(input.readinessProbe ? { readinessProbe: input.readinessProbe } : {}),
    // requests = limits: Guaranteed QoS, and a Kata VM is sized from the limits
    resources: { limits: { ...compute }, requests: { ...compute } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: false,
      runAsNonRoot: true,
    },
    // NCCL and PyTorch data loaders need more than the runtime's 64 MiB /dev/shm.
    volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
  };
  return {
    metadata: {
      labels: { ...jobLabels(job, on.attempt, on.pool), ...input.labels, [labelKeys.slotGroup]: input.workload },
      annotations,
    },
    spec: {
      ...(confidential ? { runtimeClassName: on.runtimeClassName } : {}),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: input.restartPolicy,
      ...(input.subdomain ? { subdomain: input.subdomain } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUN_AS,
        runAsGroup: RUN_AS,
        fsGroup: RUN_AS,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: nodeAffinityTerms(on) }],
          },
        },
      },
      tolerations: gpuTolerations.map((t) => ({ ...t })),
      containers: [container],
      // Memory-backed: a tmpfs in the node or, for a Kata pod, inside the guest.
      volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }],
    },
  };
}

/** Metadata of a workload object (Deployment, Job, Service) of `job` in its tenant namespace. */
export function workloadMeta(
  job: JobRef,
  on: PlacedOn,
  name: string,
  namespace: string,
  extra?: Record<string, string>,
) {
  return {
    name,
    namespace,
    labels: { ...jobLabels(job, on.attempt, on.pool), ...extra },
    annotations: jobAnnotations(job),
  } satisfies Meta;
}

/** The env every workload gets: which job, which attempt, which model. */
export function jobEnv(job: JobRef, attempt: number, model?: { id: string; hash: string; uri?: string }) {
  const env: ContainerEnvVar[] = [
    { name: 'NVDAX_JOB', value: `${job.namespace}/${job.name}` },
    { name: 'NVDAX_ATTEMPT', value: String(attempt) },
  ];
  if (model) {
    env.push({ name: 'NVDAX_MODEL_ID', value: model.id }, { name: 'NVDAX_MODEL_HASH', value: model.hash });
    if (model.uri) env.push({ name: 'NVDAX_MODEL_URI', value: model.uri });
  }
  return env;
}
