// An InferenceJob's member objects: a Deployment of model servers and a ClusterIP Service in
// front of them. A pure function of the job, its spec and the placement, so a spec change
// (replicas, image, args, env, resources) changes the Deployment and it rolls out.
import type { InferenceEngine } from '../api/constants.ts';
import type { InferenceJobSpec } from '../api/types.gen.ts';
import {
  type ComputeDefaults,
  type ContainerEnvVar,
  type Deployment,
  type JobRef,
  jobEnv,
  type PlacedOn,
  podTemplate,
  type Service,
  workloadMeta,
} from './common.ts';
import { engineImage } from './images.ts';
import { labelKeys, tenantNamespace, workloadName } from './names.ts';

export const DEFAULT_INFERENCE_PORT = 8000;
/** The Service port for HTTP endpoints; gRPC keeps the container's port (clients name it explicitly). */
export const HTTP_SERVICE_PORT = 80;

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
function defaultArgs(engine: InferenceEngine, spec: InferenceJobSpec, port: number): string[] | undefined {
  const gpus = String(spec.resources.gpus);
  switch (engine) {
    case 'vLLM': // entrypoint `vllm serve`
      return ['--model', spec.model.id, '--port', String(port), '--tensor-parallel-size', gpus];
    case 'TGI': // entrypoint `text-generation-launcher`
      return ['--model-id', spec.model.id, '--port', String(port), '--num-shard', gpus];
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
  const args = runtime.args ?? (runtime.command ? undefined : defaultArgs(runtime.engine, spec, port));
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
    readinessProbe: { tcpSocket: { port: portName }, periodSeconds: 10, failureThreshold: 3 },
    restartPolicy: 'Always',
  });
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
      type: 'ClusterIP',
      selector: { [labelKeys.slotGroup]: name },
      ports: [
        grpc
          ? { name: 'grpc', port, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }
          : { name: 'http', port: HTTP_SERVICE_PORT, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
      ],
    },
  };
  return { deployment, service };
}
