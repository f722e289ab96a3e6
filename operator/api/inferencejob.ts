// InferenceJob: serve a model behind an endpoint, on a pool chosen by SLA and price.
import { EndpointProtocol, InferenceEngine, Transport } from './constants.ts';
import type { KindDef } from './crd.ts';
import { confidential } from './confidential.ts';
import { attemptsOnlyGrow, immutableOncePlaced, jobStatusProperties, slaFrozenOncePlaced } from './jobstatus.ts';
import { patterns } from './patterns.ts';
import { payment } from './payment.ts';
import { bool, int, list, obj, oneOf, quantity, str } from './schema.ts';
import { sla } from './sla.ts';
import { model, resources, runtime } from './workload.ts';

const autoscaling = obj(
  'Autoscaling',
  'Scale replicas between bounds on load. Mutually exclusive with replicas.',
  {
    minReplicas: int('Fewest replicas; 0 scales to zero when idle (the first request waits for a cold start).', {
      minimum: 0,
      maximum: 100,
      default: 1,
    }),
    maxReplicas: int('Most replicas; bounds the cost.', { minimum: 1, maximum: 100 }),
    targetConcurrency: int('In-flight requests per replica to aim for.', { minimum: 1, maximum: 10000, default: 8 }),
  },
  {
    required: ['maxReplicas'],
    rules: [
      { rule: 'self.minReplicas <= self.maxReplicas', message: 'must be <= maxReplicas', fieldPath: '.minReplicas' },
    ],
  },
);

const endpoint = obj(
  'Endpoint',
  'How requests reach the model.',
  {
    protocol: oneOf(
      'EndpointProtocol',
      'API the endpoint speaks: OpenAI (chat/completions) or OpenInference (KServe Open Inference Protocol v2).',
      Object.values(EndpointProtocol),
      EndpointProtocol.OpenAI,
    ),
    transport: oneOf(
      'Transport',
      'HTTP or GRPC. The OpenAI protocol is HTTP only.',
      Object.values(Transport),
      Transport.HTTP,
    ),
    port: int('Port the runtime container listens on; the gateway forwards to it.', {
      minimum: 1,
      maximum: 65535,
      default: 8000,
    }),
  },
  {
    rules: [
      {
        rule: "self.protocol != 'OpenAI' || self.transport == 'HTTP'",
        message: 'the OpenAI protocol is served over HTTP only',
        fieldPath: '.transport',
      },
    ],
  },
);

const gateway = obj(
  'InferenceGateway',
  'The attested, encrypted gRPC gateway (nvdax.gateway.v1.ConfidentialGateway) the operator runs beside the model ' +
    'server in a confidential job: the only way in. Requesters attest it and send requests sealed to its key; it ' +
    "forwards them to the model server over the pod's loopback (the Open Inference Protocol v2 over gRPC, or the " +
    "OpenAI API over HTTP) and signs a receipt per answer. The Service then exposes the gateway's port only: " +
    'plaintext never leaves the pod.',
  {
    enabled: bool(
      'Run the gateway. Unset: on for every confidential job. false on a confidential job exposes the model ' +
        'server in the cluster in plaintext. true needs confidential.required.',
    ),
    protocol: oneOf(
      'EndpointProtocol',
      'What the gateway speaks to the model server: OpenInference (KServe v2 over gRPC: Triton, our ONNX Runtime ' +
        'server, KServe runtimes) or OpenAI (HTTP: /v1/chat/completions, /v1/completions and /v1/embeddings, ' +
        'whole or streamed). Default: OpenAI for vLLM and TGI (the only one they speak), ' +
        'OpenInference for the others (the only one ONNXRuntime speaks).',
      Object.values(EndpointProtocol),
    ),
    modelName: str(
      "The model name requests use (inference.ModelInferRequest.model_name, or the OpenAI body's model), as the " +
        'model server serves it; for vLLM the operator passes it as --served-model-name. Default: the last ' +
        'segment of model.id.',
      { pattern: patterns.labelValue, minLength: 1 },
    ),
    backendPort: int(
      "The model server's port in the pod the gateway forwards to. OpenInference: its gRPC port, by default " +
        'endpoint.port when endpoint.transport is GRPC, else 8001 for Triton (its gRPC port) and endpoint.port ' +
        'for the others. OpenAI: its HTTP port, by default endpoint.port.',
      { minimum: 1, maximum: 65535 },
    ),
    cpu: quantity("The gateway container's CPU (requests = limits). Default 1.", patterns.nonNegativeQuantity, {
      minimum: 0,
    }),
    memory: quantity(
      "The gateway container's memory (requests = limits). Default 512Mi.",
      patterns.nonNegativeQuantity,
      { minimum: 0 },
    ),
  },
);

const endpointStatus = obj(
  'EndpointStatus',
  'An address the job is served at.',
  {
    name: str('Endpoint name, e.g. default.', { pattern: patterns.dnsLabel }),
    url: str('URL requesters call (through the gateway, which encrypts to the attested workload).', {
      maxLength: 2048,
    }),
    protocol: oneOf('EndpointProtocol', 'API spoken there.', Object.values(EndpointProtocol)),
  },
  { required: ['name', 'url'] },
);

export const inferenceJob: KindDef = {
  kind: 'InferenceJob',
  description:
    'InferenceJob serves a model on GPUs of the NVDAx network. The operator picks the cheapest ProviderPool that ' +
    'meets the SLA (GPU product and count, latency, price cap, region, data residency, confidential execution), ' +
    'runs the model there, and settles metered usage from the requester escrow.',
  spec: obj(
    'InferenceJobSpec',
    'What to serve, on what hardware, at which service level and price.',
    {
      suspend: bool('Stop serving and release the GPUs while keeping the job; set false to resume.', false),
      model: model('to serve'),
      runtime: runtime(
        'InferenceRuntime',
        'InferenceEngine',
        Object.values(InferenceEngine),
        'vLLM, Triton, ONNXRuntime, TGI',
      ),
      resources: resources('replica'),
      replicas: int('Fixed number of replicas. Unset and no autoscaling: 1.', { minimum: 0, maximum: 100 }),
      autoscaling,
      endpoint,
      gateway,
      sla,
      confidential,
      retries: int('Times to place the job again after a failure or a lost pool before it fails.', {
        minimum: 0,
        maximum: 10,
        default: 3,
      }),
      payment,
    },
    {
      required: ['model', 'runtime', 'resources', 'sla', 'payment'],
      rules: [
        {
          rule: '!has(self.replicas) || !has(self.autoscaling)',
          message: 'set either replicas or autoscaling, not both',
          fieldPath: '.autoscaling',
          reason: 'FieldValueForbidden',
        },
        {
          rule:
            '!has(self.gateway) || !has(self.gateway.enabled) || !self.gateway.enabled || ' +
            '(has(self.confidential) && self.confidential.required)',
          message: 'the gateway attests the TEE it runs in: it needs confidential.required',
          fieldPath: '.gateway.enabled',
          reason: 'FieldValueForbidden',
        },
        {
          rule:
            '!has(self.gateway) || !has(self.gateway.protocol) || ' +
            "(self.gateway.protocol == 'OpenAI' ? self.runtime.engine != 'ONNXRuntime' : " +
            "!(self.runtime.engine in ['vLLM', 'TGI']))",
          message:
            'vLLM and TGI speak the OpenAI protocol only; our ONNXRuntime server the Open Inference Protocol only',
          fieldPath: '.gateway.protocol',
          reason: 'FieldValueInvalid',
        },
        {
          rule: "self.sla.tier != 'Premium' || has(self.sla.maxLatencyMs)",
          message: 'the Premium tier guarantees a latency: set sla.maxLatencyMs',
          fieldPath: '.sla.maxLatencyMs',
          reason: 'FieldValueRequired',
        },
      ],
    },
  ),
  status: obj('InferenceJobStatus', 'Observed state, written by the operator.', {
    ...jobStatusProperties(),
    replicas: int('Replicas running.', { minimum: 0 }),
    readyReplicas: int('Replicas ready to serve.', { minimum: 0 }),
    latencyMs: int('Measured p95 request latency over the last minute, in milliseconds.', { minimum: 0 }),
    endpoints: list('Where the job is served.', endpointStatus, { maxItems: 8, listType: 'map', keys: ['name'] }),
  }),
  rootRules: [
    ...immutableOncePlaced(['model', 'runtime', 'resources', 'confidential']),
    ...slaFrozenOncePlaced(),
    attemptsOnlyGrow,
  ],
  selectableFields: ['.status.phase', '.status.placement.pool', '.spec.sla.tier'],
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
    { name: 'Pool', type: 'string', jsonPath: '.status.placement.pool', description: 'ProviderPool the job runs on.' },
    { name: 'Price', type: 'string', jsonPath: '.status.placement.price', description: 'Quoted NVDAx per GPU-hour.' },
    { name: 'GPUs', type: 'integer', jsonPath: '.spec.resources.gpus', description: 'GPUs per replica.' },
    { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Replicas ready.' },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Scheduled")].reason',
      description: 'Reason of the Scheduled condition: Placed, or why no pool fits yet (e.g. PriceCapExceeded).',
    },
    {
      name: 'Latency(ms)',
      type: 'integer',
      jsonPath: '.status.latencyMs',
      description: 'Measured p95 latency.',
      priority: 1,
    },
    { name: 'Tier', type: 'string', jsonPath: '.spec.sla.tier', description: 'Service tier.', priority: 1 },
    { name: 'Model', type: 'string', jsonPath: '.spec.model.id', description: 'Model served.', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
