// An InferenceJob's member objects: a Deployment of model servers and a headless Service in
// front of them (why headless: HTTP_SERVICE_PORT below). A pure function of the job, its spec and the placement, so a spec change
// (replicas, image, args, env, resources) changes the Deployment and it rolls out.
//
// A confidential job also gets the attested gateway (provider-runtime/gateway) as a second
// container: requesters reach the model only through it, sealed end to end, and the Service
// exposes the gateway's port alone, so plaintext never leaves the pod (docs/gateway.md).
import type { EndpointProtocol, InferenceEngine } from '../api/constants.ts';
import type { InferenceJobSpec } from '../api/types.gen.ts';
import { contentModelHash } from '../verification/model-hash.ts';
import {
  type ComputeDefaults,
  type Container,
  type ContainerEnvVar,
  type Deployment,
  type JobRef,
  jobEnv,
  MaterializeError,
  type PlacedOn,
  podTemplate,
  type Service,
  type ServicePort,
  workloadMeta,
} from './common.ts';
import { engineImage, gatewayImage } from './images.ts';
import { annotationKeys, labelKeys, tenantNamespace, workloadName } from './names.ts';

export const DEFAULT_INFERENCE_PORT = 8000;

/** CPU and memory per replica when spec.resources leaves them unset. */
export const inferenceDefaults: Readonly<Record<InferenceEngine, ComputeDefaults>> = {
  vLLM: { cpu: '4', memory: '32Gi' },
  TGI: { cpu: '4', memory: '32Gi' },
  Triton: { cpu: '4', memory: '16Gi' },
  ONNXRuntime: { cpu: '4', memory: '16Gi' },
  Custom: { cpu: '4', memory: '16Gi' },
};

/**
 * Arguments for engines whose image needs to be told what to serve, used when the spec sets
 * neither command nor args: the model, the port, and the GPUs to shard over.
 */
function defaultArgs(
  engine: InferenceEngine,
  spec: InferenceJobSpec,
  port: number,
  gateway: boolean,
): string[] | undefined {
  const gpus = String(spec.resources.gpus);
  switch (engine) {
    // behind the gateway the model server listens on the pod's loopback only (the provider's network cannot
    // reach it past the gateway) and vLLM serves the name requests use
    case 'vLLM': // entrypoint `vllm serve`
      return [
        '--model',
        spec.model.id,
        '--port',
        String(port),
        '--tensor-parallel-size',
        gpus,
        ...(gateway ? ['--host', '127.0.0.1', '--served-model-name', gatewayModelName(spec)] : []),
      ];
    case 'TGI': // entrypoint `text-generation-launcher`
      return [
        '--model-id',
        spec.model.id,
        '--port',
        String(port),
        '--num-shard',
        gpus,
        ...(gateway ? ['--hostname', '127.0.0.1'] : []),
      ];
    default:
      return undefined;
  }
}

/** Replicas to run: spec.replicas, else autoscaling.minReplicas (0 allowed: scaled to zero), else 1. */
export function desiredReplicas(spec: InferenceJobSpec): number {
  if (spec.replicas !== undefined) return spec.replicas;
  if (spec.autoscaling) return spec.autoscaling.minReplicas ?? 1;
  return 1;
}

// ------------------------------------------------------------------------------------------------ gateway

/** The gateway container's name; the model server stays the first container (the controller reads its GPUs). */
export const GATEWAY_CONTAINER_NAME = 'gateway';
/** The gateway's gRPC port (nvdax.gateway.v1.ConfidentialGateway), in the pod and on the Service. */
export const GATEWAY_PORT = 8443;
/** The gateway's /healthz, /readyz and /metrics; in the pod only, not on the Service. */
export const GATEWAY_OPS_PORT = 9090;
/** Triton's gRPC port (the kserve backend's target when the endpoint is Triton's HTTP port). */
export const TRITON_GRPC_PORT = 8001;
/**
 * The gateway's receipt journal (--receipt-journal-dir), with hub reports only: receipts the hub has not answered
 * survive a gateway container restart. Memory-backed: a tmpfs inside the pod's Kata guest, so it outlives the
 * container, not the pod, and never reaches the host's disk; counted in the gateway's memory. The journal holds
 * at most the reporter's 10,000 receipts (~7 MB) and is compacted at 4x that.
 */
export const GATEWAY_JOURNAL_VOLUME = {
  name: 'gateway-receipts',
  mountPath: '/var/run/nvdax/receipts',
  sizeLimit: '64Mi',
};

/** CPU and memory of the gateway container when spec.gateway leaves them unset. */
export const gatewayDefaults: Readonly<ComputeDefaults> = { cpu: '1', memory: '512Mi' };
/** The longest an OpenAI-protocol request may take through the gateway (its --max-request-ms). */
export const OPENAI_MAX_REQUEST_MS = 600_000;
/** Engines that speak only the OpenAI API over HTTP: the gateway's openai backend fronts them. */
export const openAIEngines: readonly InferenceEngine[] = ['vLLM', 'TGI'];
/** The KBS resource (`kbs:///<repo>/<type>/<tag>`) holding a pool's provider key, released to attested guests. */
export const providerKeyResource = (pool: string): string => `kbs:///nvdax/provider-key/${pool}`;

/**
 * Whether the job runs the gateway: spec.gateway.enabled when set; unset, every confidential job. (The schema
 * refuses `enabled: true` without confidential.required.)
 */
export function gatewayEnabled(spec: InferenceJobSpec, on: Pick<PlacedOn, 'mode'>): boolean {
  if (on.mode !== 'confidential') return false;
  return spec.gateway?.enabled ?? true;
}

/**
 * What the gateway speaks to the model server: spec.gateway.protocol, else OpenAI for vLLM and TGI (all they
 * speak) and the Open Inference Protocol for the others (Triton, our ONNX Runtime server; a Custom image must
 * speak the one it is given).
 */
export function gatewayProtocol(spec: InferenceJobSpec): EndpointProtocol {
  return spec.gateway?.protocol ?? (openAIEngines.includes(spec.runtime.engine) ? 'OpenAI' : 'OpenInference');
}

/** The model server's port in the pod the gateway forwards to: its OIP gRPC port, or its OpenAI HTTP port. */
export function gatewayBackendPort(spec: InferenceJobSpec): number {
  if (spec.gateway?.backendPort !== undefined) return spec.gateway.backendPort;
  const port = spec.endpoint?.port ?? DEFAULT_INFERENCE_PORT;
  if (gatewayProtocol(spec) === 'OpenAI' || spec.endpoint?.transport === 'GRPC') return port;
  return spec.runtime.engine === 'Triton' ? TRITON_GRPC_PORT : port;
}

/** The name requests use: spec.gateway.modelName, else the last segment of the model id. */
export function gatewayModelName(spec: InferenceJobSpec): string {
  return spec.gateway?.modelName ?? spec.model.id.split('/').pop() ?? spec.model.id;
}

/** What requesters reach the job at through its Service: the gateway (gRPC) or the model server's endpoint. */
export function servicePort(spec: InferenceJobSpec, on: Pick<PlacedOn, 'mode'>): ServicePort {
  if (gatewayEnabled(spec, on)) {
    return {
      name: GATEWAY_CONTAINER_NAME,
      port: GATEWAY_PORT,
      targetPort: GATEWAY_CONTAINER_NAME,
      protocol: 'TCP',
      appProtocol: 'kubernetes.io/h2c',
    };
  }
  return spec.endpoint?.transport === 'GRPC'
    ? {
        name: 'grpc',
        port: spec.endpoint.port ?? DEFAULT_INFERENCE_PORT,
        targetPort: 'grpc',
        protocol: 'TCP',
        appProtocol: 'kubernetes.io/h2c',
      }
    : {
        name: 'http',
        port: spec.endpoint?.port ?? DEFAULT_INFERENCE_PORT,
        targetPort: 'http',
        protocol: 'TCP',
        appProtocol: 'http',
      };
}

/**
 * What requesters are told in status.endpoints: the Service's address, and what they send there — through the
 * gateway, the protocol it fronts (sealed); else the model server's own.
 */
export function serviceEndpoint(
  spec: InferenceJobSpec,
  on: Pick<PlacedOn, 'mode'>,
  service: string,
  namespace: string,
): { name: string; url: string; protocol: EndpointProtocol } {
  const port = servicePort(spec, on);
  return {
    name: 'default',
    url: `${port.appProtocol === 'http' ? 'http' : 'grpc'}://${service}.${namespace}.svc:${port.port}`,
    protocol: gatewayEnabled(spec, on) ? gatewayProtocol(spec) : (spec.endpoint?.protocol ?? 'OpenAI'),
  };
}

/**
 * The gateway container of a confidential job. Configured by env only (provider-runtime/gateway/main.ts
 * reads each flag from its NVDAX_* variable); it holds no secret: the provider key is fetched inside the
 * TEE from the confidential-data-hub, which the KBS answers only for a guest whose evidence passes.
 */
export function gatewayContainer(job: JobRef, spec: InferenceJobSpec, on: PlacedOn): Container {
  const modelHash = contentModelHash(spec.model.hash);
  if (!modelHash) {
    throw new MaterializeError(
      'spec.model.hash',
      'the gateway names the model by its SHA-256: sha256:<64 hex> or 0x<64 hex>',
    );
  }
  const g = on.gateway ?? {};
  const env: ContainerEnvVar[] = [
    { name: 'NVDAX_JOB', value: `${job.namespace}/${job.name}` },
    { name: 'NVDAX_ATTEMPT', value: String(on.attempt) },
    { name: 'NVDAX_POOL', value: on.pool },
    { name: 'NVDAX_GATEWAY_LISTEN', value: `0.0.0.0:${GATEWAY_PORT}` },
    { name: 'NVDAX_GATEWAY_OPS_LISTEN', value: `0.0.0.0:${GATEWAY_OPS_PORT}` },
    // the pod's loopback: inside the TEE, never on the network
    ...(gatewayProtocol(spec) === 'OpenAI'
      ? [
          { name: 'NVDAX_GATEWAY_BACKEND', value: 'openai' },
          { name: 'NVDAX_OPENAI_URL', value: `http://127.0.0.1:${gatewayBackendPort(spec)}` },
          // a long answer takes minutes, streamed (InferStream) or sealed whole (Infer): not the default 30 s
          { name: 'NVDAX_GATEWAY_MAX_REQUEST_MS', value: String(OPENAI_MAX_REQUEST_MS) },
        ]
      : [
          { name: 'NVDAX_GATEWAY_BACKEND', value: 'kserve' },
          { name: 'NVDAX_KSERVE_TARGET', value: `127.0.0.1:${gatewayBackendPort(spec)}` },
        ]),
    { name: 'NVDAX_MODEL_NAME', value: gatewayModelName(spec) },
    // the one model hash: what the requester signed in its task (operator/verification/model-hash.ts)
    { name: 'NVDAX_MODEL_HASH', value: modelHash },
    { name: 'NVDAX_PROVIDER_KEY_RESOURCE', value: providerKeyResource(on.pool) },
    { name: 'NVDAX_PRICE_PER_REQUEST', value: g.pricePerRequest ?? '0' },
    // only the paying requester opens sessions and releases secrets to the job
    { name: 'NVDAX_REQUESTERS', value: spec.payment.requester },
    { name: 'NVDAX_SECRET_OWNERS', value: spec.payment.requester },
  ];
  if (g.provider) env.push({ name: 'NVDAX_PROVIDER_ADDRESS', value: g.provider });
  if (g.chainId) env.push({ name: 'NVDAX_CHAIN_ID', value: g.chainId });
  if (g.settlement) env.push({ name: 'NVDAX_SETTLEMENT_ADDRESS', value: g.settlement });
  if (g.limits && Object.keys(g.limits).length > 0) {
    const sorted = Object.fromEntries(
      Object.keys(g.limits)
        .sort()
        .map((k) => [k, g.limits?.[k]]),
    );
    env.push({ name: 'NVDAX_GATEWAY_LIMITS', value: JSON.stringify(sorted) });
  }
  if (g.reports) {
    env.push(
      { name: 'NVDAX_HUB_REPORTS', value: g.reports },
      // the instance the hub knows: the pod's own name (each replica attests and reports on its own)
      { name: 'NVDAX_INSTANCE', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NVDAX_RECEIPT_JOURNAL_DIR', value: GATEWAY_JOURNAL_VOLUME.mountPath },
    );
  }
  if (g.development) {
    env.push(
      { name: 'NVDAX_DEV_ATTESTER', value: 'true' },
      // the development attester binds the pod's own init-data, read from its annotation
      {
        name: 'NVDAX_INIT_DATA',
        valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${annotationKeys.initData}']` } },
      },
    );
  }
  const compute = {
    cpu: String(spec.gateway?.cpu ?? gatewayDefaults.cpu),
    memory: String(spec.gateway?.memory ?? gatewayDefaults.memory),
  };
  return {
    name: GATEWAY_CONTAINER_NAME,
    image: gatewayImage(g.image),
    command: ['node', 'provider-runtime/gateway/main.ts'],
    env,
    ports: [
      { name: GATEWAY_CONTAINER_NAME, containerPort: GATEWAY_PORT, protocol: 'TCP' },
      { name: 'gateway-ops', containerPort: GATEWAY_OPS_PORT, protocol: 'TCP' },
    ],
    // ready once its backend (the model server) answers: ModelReady, or the OpenAI server's /health
    readinessProbe: { httpGet: { path: '/readyz', port: 'gateway-ops' }, periodSeconds: 10, failureThreshold: 3 },
    // requests = limits (Guaranteed QoS; the Kata VM is sized from the sum of the containers' limits)
    resources: { limits: { ...compute }, requests: { ...compute } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    },
    volumeMounts: g.reports ? [{ name: GATEWAY_JOURNAL_VOLUME.name, mountPath: GATEWAY_JOURNAL_VOLUME.mountPath }] : [],
  };
}

// ------------------------------------------------------------------------------------------------ objects

export function inferenceObjects(
  job: JobRef,
  spec: InferenceJobSpec,
  on: PlacedOn,
): { deployment: Deployment; service: Service } {
  const name = workloadName(job.name, on.attempt);
  const namespace = tenantNamespace(job.namespace);
  const runtime = spec.runtime;
  const image = engineImage(runtime.engine, runtime.image);
  const grpc = spec.endpoint?.transport === 'GRPC';
  const portName = grpc ? 'grpc' : 'http';
  const port = spec.endpoint?.port ?? DEFAULT_INFERENCE_PORT;
  const gateway = gatewayEnabled(spec, on);
  const args = runtime.args ?? (runtime.command ? undefined : defaultArgs(runtime.engine, spec, port, gateway));
  const env: ContainerEnvVar[] = [
    ...jobEnv(job, on.attempt, spec.model),
    { name: 'NVDAX_PORT', value: String(port) },
    { name: 'NVDAX_PROTOCOL', value: spec.endpoint?.protocol ?? 'OpenAI' },
  ];
  const template = podTemplate(job, on, {
    workload: name,
    image,
    ...(runtime.command ? { command: runtime.command } : {}),
    ...(args ? { args } : {}),
    ...(runtime.env ? { userEnv: runtime.env } : {}),
    env,
    resources: spec.resources,
    defaults: inferenceDefaults[runtime.engine],
    ports: [{ name: portName, containerPort: port, protocol: 'TCP' }],
    // the tenant's gateway policy: into this pod through the gateway's port only
    ...(gateway ? { labels: { [labelKeys.gateway]: 'true' } } : {}),
    // with the gateway, its /readyz asks the model server (which may listen on the loopback only, out of
    // the kubelet's reach on the pod IP)
    ...(gateway ? {} : { readinessProbe: { tcpSocket: { port: portName }, periodSeconds: 10, failureThreshold: 3 } }),
    restartPolicy: 'Always',
  });
  // after the model server: the controller and the agent read a pod's GPUs from its first container
  if (gateway) {
    template.spec.containers.push(gatewayContainer(job, spec, on));
    if (on.gateway?.reports) {
      const { name, sizeLimit } = GATEWAY_JOURNAL_VOLUME;
      template.spec.volumes.push({ name, emptyDir: { medium: 'Memory', sizeLimit } });
    }
  }
  const deployment: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: workloadMeta(job, on, name, namespace),
    spec: {
      replicas: desiredReplicas(spec),
      revisionHistoryLimit: 2,
      // The workload name is fixed per attempt, and the selector is immutable: select on it alone.
      selector: { matchLabels: { [labelKeys.slotGroup]: name } },
      // GPUs are scarce and reserved per replica: a rollout must never need a GPU beyond the
      // replicas' own (maxSurge 0), so it replaces one replica at a time in place.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      template,
    },
  };
  const service: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: workloadMeta(job, on, name, namespace),
    spec: {
      // Headless: the job's name resolves to its ready replicas, and the gateway or ingress in front routes to
      // them from the EndpointSlices, as gRPC clients balance best. A cluster IP would buy nothing on that path
      // and costs a scarce, rate-limited allocation per job: a service CIDR holds 4,096 (/20) to 65,536 (/16)
      // IPs, and Kubernetes 1.33+ allocates each through the API server's own 50 QPS client, which under a
      // burst of jobs became the slowest write in the placement benchmark (docs/decisions.md). The port is
      // the container's, since clients dial the pods directly.
      clusterIP: 'None',
      selector: { [labelKeys.slotGroup]: name },
      // a confidential job with the gateway: the gateway's port only, never the model server's
      ports: [servicePort(spec, on)],
    },
  };
  return { deployment, service };
}
