// The invalid-manifest table shared by the unit tests (nvdax validate) and the
// integration tests (the API server): each case is one valid example with one mutation,
// and the field path both must name when they refuse it. validCases: mutations both accept.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '..', '..');

export const exampleFiles = {
  inference: 'examples/inferencejob-chat-confidential.yaml',
  distributed: 'examples/trainingjob-distributed.yaml',
  federated: 'examples/trainingjob-federated.yaml',
  pool: 'examples/providerpool.yaml',
} as const;
export type ExampleName = keyof typeof exampleFiles;

type Obj = Record<string, unknown>;

/** A fresh copy of an example, parsed. */
export function loadExample(name: ExampleName): Obj {
  return parse(readFileSync(join(root, exampleFiles[name]), 'utf8')) as Obj;
}

function parent(o: Obj, path: string): [Obj, string] {
  const segs = path.split('.');
  const last = segs.pop()!;
  let cur: unknown = o;
  for (const s of segs) {
    const next: unknown = Array.isArray(cur) ? cur[Number(s)] : (cur as Obj)[s];
    if (next === undefined) (cur as Obj)[s] = {};
    cur = Array.isArray(cur) ? cur[Number(s)] : (cur as Obj)[s];
  }
  return [cur as Obj, last];
}

/** Sets a dotted path (list indexes as numbers: `spec.baseRates.0.pricePerGpuHour`). */
const set =
  (path: string, value: unknown) =>
  (o: Obj): void => {
    const [p, k] = parent(o, path);
    p[k] = value;
  };
const del =
  (path: string) =>
  (o: Obj): void => {
    const [p, k] = parent(o, path);
    delete p[k];
  };
const confidentialH100 = (price: string) => ({
  gpuProduct: 'NVIDIA-H100-80GB-HBM3',
  mode: 'Confidential',
  pricePerGpuHour: price,
});
const all =
  (...fs: Array<(o: Obj) => void>) =>
  (o: Obj): void => {
    for (const f of fs) f(o);
  };

export interface InvalidCase {
  name: string;
  base: ExampleName;
  mutate: (o: Obj) => void;
  /** The field path both the API server and nvdax validate name. */
  path: string;
}

export const invalidCases: InvalidCase[] = [
  // InferenceJob: schema
  {
    name: 'latency of zero',
    base: 'inference',
    mutate: set('spec.sla.maxLatencyMs', 0),
    path: 'spec.sla.maxLatencyMs',
  },
  { name: 'unknown tier', base: 'inference', mutate: set('spec.sla.tier', 'Gold'), path: 'spec.sla.tier' },
  {
    name: 'price with two dots',
    base: 'inference',
    mutate: set('spec.sla.priceCap', '1.2.3'),
    path: 'spec.sla.priceCap',
  },
  { name: 'price as a float', base: 'inference', mutate: set('spec.sla.priceCap', 4.5), path: 'spec.sla.priceCap' },
  {
    name: 'short requester address',
    base: 'inference',
    mutate: set('spec.payment.requester', '0x1234'),
    path: 'spec.payment.requester',
  },
  { name: 'md5 model hash', base: 'inference', mutate: set('spec.model.hash', 'md5:0123'), path: 'spec.model.hash' },
  { name: 'no sla', base: 'inference', mutate: del('spec.sla'), path: 'spec.sla' },
  { name: 'no escrow', base: 'inference', mutate: del('spec.payment.escrowId'), path: 'spec.payment.escrowId' },
  { name: 'zero GPUs', base: 'inference', mutate: set('spec.resources.gpus', 0), path: 'spec.resources.gpus' },
  {
    name: 'GPU count as text',
    base: 'inference',
    mutate: set('spec.resources.gpus', 'two'),
    path: 'spec.resources.gpus',
  },
  {
    name: 'GPU product not in GFD naming',
    base: 'inference',
    mutate: set('spec.resources.gpuProducts', ['H100']),
    path: 'spec.resources.gpuProducts[0]',
  },
  {
    name: 'GPU memory in GB',
    base: 'inference',
    mutate: set('spec.resources.minGpuMemory', '80GB'),
    path: 'spec.resources.minGpuMemory',
  },
  {
    name: 'unknown TEE',
    base: 'inference',
    mutate: set('spec.confidential.teeTypes', ['sev']),
    path: 'spec.confidential.teeTypes[0]',
  },
  {
    name: 'TEE listed twice',
    base: 'inference',
    mutate: set('spec.confidential.teeTypes', ['snp', 'snp']),
    path: 'spec.confidential.teeTypes[1]',
  },
  {
    name: 'env var twice',
    base: 'inference',
    mutate: set('spec.runtime.env', [
      { name: 'A', value: '1' },
      { name: 'A', value: '2' },
    ]),
    path: 'spec.runtime.env[1]',
  },
  {
    name: 'typo in an sla field',
    base: 'inference',
    mutate: set('spec.sla.maxLatency', 300),
    path: 'spec.sla.maxLatency',
  },
  {
    name: 'duration in words',
    base: 'inference',
    mutate: set('spec.sla.maxDuration', '10 minutes'),
    path: 'spec.sla.maxDuration',
  },
  { name: 'negative CPU', base: 'inference', mutate: set('spec.resources.cpu', '-1'), path: 'spec.resources.cpu' },
  {
    name: 'negative CPU as an integer',
    base: 'inference',
    mutate: set('spec.resources.cpu', -2),
    path: 'spec.resources.cpu',
  },
  {
    name: 'negative memory',
    base: 'inference',
    mutate: set('spec.resources.memory', '-64Gi'),
    path: 'spec.resources.memory',
  },
  {
    name: 'negative GPU memory',
    base: 'inference',
    mutate: set('spec.resources.minGpuMemory', '-40Gi'),
    path: 'spec.resources.minGpuMemory',
  },
  { name: 'too many retries', base: 'inference', mutate: set('spec.retries', 11), path: 'spec.retries' },
  {
    name: 'port out of range',
    base: 'inference',
    mutate: set('spec.endpoint.port', 70000),
    path: 'spec.endpoint.port',
  },
  {
    name: 'residency by country name',
    base: 'inference',
    mutate: set('spec.sla.dataResidency', ['Germany']),
    path: 'spec.sla.dataResidency[0]',
  },
  {
    name: 'name with capitals and underscore',
    base: 'inference',
    mutate: set('metadata.name', 'Llama_Chat'),
    path: 'metadata.name',
  },
  // InferenceJob: CEL
  { name: 'zero price cap', base: 'inference', mutate: set('spec.sla.priceCap', '0.00'), path: 'spec.sla.priceCap' },
  {
    name: 'zero spend limit',
    base: 'inference',
    mutate: set('spec.payment.maxTotal', '0'),
    path: 'spec.payment.maxTotal',
  },
  {
    name: 'zero max duration',
    base: 'inference',
    mutate: set('spec.sla.maxDuration', '0s'),
    path: 'spec.sla.maxDuration',
  },
  { name: 'replicas and autoscaling', base: 'inference', mutate: set('spec.replicas', 2), path: 'spec.autoscaling' },
  {
    name: 'vLLM behind the gateway on the Open Inference Protocol',
    base: 'inference',
    mutate: set('spec.gateway.protocol', 'OpenInference'),
    path: 'spec.gateway.protocol',
  },
  {
    name: 'the gateway without confidential execution',
    base: 'inference',
    mutate: all(
      set('spec.runtime', { engine: 'Triton' }),
      set('spec.confidential', { required: false }),
      set('spec.gateway.enabled', true),
    ),
    path: 'spec.gateway.enabled',
  },
  {
    name: 'autoscaling min above max',
    base: 'inference',
    mutate: set('spec.autoscaling.minReplicas', 5),
    path: 'spec.autoscaling.minReplicas',
  },
  {
    name: 'OpenAI over gRPC',
    base: 'inference',
    mutate: set('spec.endpoint.transport', 'GRPC'),
    path: 'spec.endpoint.transport',
  },
  {
    name: 'Premium without a latency',
    base: 'inference',
    mutate: del('spec.sla.maxLatencyMs'),
    path: 'spec.sla.maxLatencyMs',
  },
  {
    name: 'Custom engine without image',
    base: 'inference',
    mutate: set('spec.runtime.engine', 'Custom'),
    path: 'spec.runtime.image',
  },
  {
    name: 'TEE types when not required',
    base: 'inference',
    mutate: set('spec.confidential.required', false),
    path: 'spec.confidential.teeTypes',
  },
  {
    name: 'GPU attestation when not required',
    base: 'inference',
    mutate: all(set('spec.confidential.required', false), del('spec.confidential.teeTypes')),
    path: 'spec.confidential.gpuAttestation',
  },
  // TrainingJob
  { name: 'unknown mode', base: 'distributed', mutate: set('spec.mode', 'Centralized'), path: 'spec.mode' },
  { name: 'zero workers', base: 'distributed', mutate: set('spec.workers', 0), path: 'spec.workers' },
  {
    name: 'checkpoint interval without unit',
    base: 'distributed',
    mutate: set('spec.checkpoint.interval', '15'),
    path: 'spec.checkpoint.interval',
  },
  {
    name: 'checkpoint without uri',
    base: 'distributed',
    mutate: del('spec.checkpoint.uri'),
    path: 'spec.checkpoint.uri',
  },
  {
    name: 'zero checkpoint interval',
    base: 'distributed',
    mutate: set('spec.checkpoint.interval', '0m'),
    path: 'spec.checkpoint.interval',
  },
  {
    name: 'zero training duration',
    base: 'distributed',
    mutate: set('spec.sla.maxDuration', '0h0m'),
    path: 'spec.sla.maxDuration',
  },
  {
    name: 'latency on a training job',
    base: 'distributed',
    mutate: set('spec.sla.maxLatencyMs', 500),
    path: 'spec.sla.maxLatencyMs',
  },
  {
    name: 'federated settings on a Distributed job',
    base: 'distributed',
    mutate: set('spec.federated', { rounds: 3 }),
    path: 'spec.federated',
  },
  {
    name: 'one participant',
    base: 'federated',
    mutate: set('spec.federated.minParticipants', 1),
    path: 'spec.federated.minParticipants',
  },
  {
    name: 'federated without rounds',
    base: 'federated',
    mutate: del('spec.federated.rounds'),
    path: 'spec.federated.rounds',
  },
  {
    name: 'Federated mode without federated',
    base: 'federated',
    mutate: del('spec.federated'),
    path: 'spec.federated',
  },
  {
    name: 'more participants than workers',
    base: 'federated',
    mutate: set('spec.federated.minParticipants', 5),
    path: 'spec.federated.minParticipants',
  },
  {
    name: 'secure aggregation with two',
    base: 'federated',
    mutate: set('spec.federated.minParticipants', 2),
    path: 'spec.federated.minParticipants',
  },
  {
    name: 'unknown aggregation',
    base: 'federated',
    mutate: set('spec.federated.aggregation', 'Median'),
    path: 'spec.federated.aggregation',
  },
  {
    name: 'zero round timeout',
    base: 'federated',
    mutate: set('spec.federated.roundTimeout', '0s'),
    path: 'spec.federated.roundTimeout',
  },
  // ProviderPool
  {
    name: 'provider address not hex',
    base: 'pool',
    mutate: set('spec.provider.address', '0xZZc1c0c768642580b570c52a133b87e056c5ea11'),
    path: 'spec.provider.address',
  },
  { name: 'jurisdiction as a name', base: 'pool', mutate: set('spec.jurisdiction', 'de'), path: 'spec.jurisdiction' },
  { name: 'region with capitals', base: 'pool', mutate: set('spec.region', 'EU-Central'), path: 'spec.region' },
  { name: 'unknown access mode', base: 'pool', mutate: set('spec.cluster.mode', 'SSH'), path: 'spec.cluster.mode' },
  {
    name: 'kubeconfig mode without secretRef',
    base: 'pool',
    mutate: del('spec.cluster.secretRef'),
    path: 'spec.cluster.secretRef',
  },
  {
    name: 'local mode with secretRef',
    base: 'pool',
    mutate: set('spec.cluster.mode', 'Local'),
    path: 'spec.cluster.secretRef',
  },
  {
    name: 'secretRef without name',
    base: 'pool',
    mutate: del('spec.cluster.secretRef.name'),
    path: 'spec.cluster.secretRef.name',
  },
  { name: 'no base rates', base: 'pool', mutate: set('spec.baseRates', []), path: 'spec.baseRates' },
  {
    name: 'rate in words',
    base: 'pool',
    mutate: set('spec.baseRates.0.pricePerGpuHour', 'cheap'),
    path: 'spec.baseRates[0].pricePerGpuHour',
  },
  {
    name: 'free GPUs',
    base: 'pool',
    mutate: set('spec.baseRates.1.pricePerGpuHour', '0'),
    path: 'spec.baseRates[1].pricePerGpuHour',
  },
  {
    name: 'two rates for one product',
    base: 'pool',
    mutate: set('spec.baseRates.1.gpuProduct', 'NVIDIA-H100-80GB-HBM3'),
    path: 'spec.baseRates[1]',
  },
  {
    name: 'two Confidential rates for one product',
    base: 'pool',
    mutate: set('spec.baseRates.3', confidentialH100('4')),
    path: 'spec.baseRates[3]',
  },
  {
    name: 'unknown GPU mode in a rate',
    base: 'pool',
    mutate: set('spec.baseRates.2.mode', 'Passthrough'),
    path: 'spec.baseRates[2].mode',
  },
  { name: 'development flag as text', base: 'pool', mutate: set('spec.development', 'yes'), path: 'spec.development' },
  { name: 'no tiers', base: 'pool', mutate: set('spec.tiers', []), path: 'spec.tiers' },
  {
    name: 'SGX runtime',
    base: 'pool',
    mutate: set('spec.confidentialRuntimes.0.teeType', 'sgx'),
    path: 'spec.confidentialRuntimes[0].teeType',
  },
  {
    name: 'heartbeat timeout in words',
    base: 'pool',
    mutate: set('spec.heartbeatTimeout', 'a minute'),
    path: 'spec.heartbeatTimeout',
  },
  {
    name: 'zero heartbeat timeout',
    base: 'pool',
    mutate: set('spec.heartbeatTimeout', '0s'),
    path: 'spec.heartbeatTimeout',
  },
  {
    name: 'node selector value with spaces',
    base: 'pool',
    mutate: set('spec.nodeSelector', { 'nvdax.io/pool': 'bad value!' }),
    path: 'spec.nodeSelector.nvdax.io/pool', // the OpenAPI validator joins map keys with a dot
  },
  { name: 'pool field misspelt', base: 'pool', mutate: set('spec.baseRate', []), path: 'spec.baseRate' },
];

export interface ValidCase {
  name: string;
  base: ExampleName;
  mutate: (o: Obj) => void;
}

/** Variants at the edges of the rules above that both the API server and nvdax validate accept. */
export const validCases: ValidCase[] = [
  // Secure by default: required without gpuAttestation means attested GPUs (gpuAttestationRequired).
  { name: 'confidential without gpuAttestation', base: 'inference', mutate: del('spec.confidential.gpuAttestation') },
  {
    name: 'confidential with GPU attestation off',
    base: 'inference',
    mutate: set('spec.confidential.gpuAttestation', false),
  },
  { name: 'sub-second max duration', base: 'inference', mutate: set('spec.sla.maxDuration', '500ms') },
  { name: 'zero GPU memory', base: 'inference', mutate: set('spec.resources.minGpuMemory', '0') },
  { name: 'CPU in millicores with a plus sign', base: 'inference', mutate: set('spec.resources.cpu', '+500m') },
  { name: 'memory with an exponent', base: 'inference', mutate: set('spec.resources.memory', '64e9') },
  { name: 'no checkpoint interval (defaults to 30m)', base: 'distributed', mutate: del('spec.checkpoint.interval') },
  { name: 'no round timeout (defaults to 30m)', base: 'federated', mutate: del('spec.federated.roundTimeout') },
  {
    name: "secretRef without namespace (the operator's)",
    base: 'pool',
    mutate: del('spec.cluster.secretRef.namespace'),
  },
  { name: 'development pool', base: 'pool', mutate: set('spec.development', true) },
  {
    name: 'Confidential rate only',
    base: 'pool',
    mutate: set('spec.baseRates', [{ gpuProduct: 'NVIDIA-H200', mode: 'Confidential', pricePerGpuHour: '4' }]),
  },
];

/** The manifest of a case: its example, mutated. */
export function invalidManifest(c: InvalidCase): Obj {
  const o = loadExample(c.base);
  c.mutate(o);
  return o;
}

/** The manifest of a valid case: its example, mutated. */
export function validManifest(c: ValidCase): Obj {
  const o = loadExample(c.base);
  c.mutate(o);
  return o;
}
