// What a job runs (model, runtime container) and what it needs (GPUs, CPU, memory).
// Shared by both job kinds; `per` words the descriptions for replicas or workers.
import { patterns } from './patterns.ts';
import { int, list, obj, oneOf, quantity, str } from './schema.ts';
import type { Schema } from './schema.ts';

export function model(purpose: string): Schema {
  return obj(
    'Model',
    `The model ${purpose}, pinned by content hash so providers cannot substitute another one.`,
    {
      id: str('Model id, e.g. meta-llama/Llama-3.1-8B-Instruct; shown in receipts and used by the runtime.', {
        pattern: patterns.modelId,
      }),
      uri: str(
        'Where the weights are fetched from (hf://org/model, s3://bucket/path, oci://registry/repo:tag). Unset: the ' +
          'runtime resolves id itself (e.g. from Hugging Face).',
        { pattern: patterns.uri },
      ),
      hash: str(
        'Content hash of the weights: sha256:<64 hex> or a bytes32 (0x + 64 hex). The runtime refuses weights that ' +
          'do not match, and signed receipts cite it.',
        { pattern: patterns.contentHash },
      ),
    },
    { required: ['id', 'hash'] },
  );
}

const envVar = obj(
  'EnvVar',
  'An environment variable for the runtime container.',
  {
    name: str('Variable name.', { pattern: patterns.envName }),
    value: str('Literal value. Secrets do not belong here: the provider sees the pod spec.', { maxLength: 32768 }),
  },
  { required: ['name'] },
);

export function runtime(tsName: string, enumName: string, engines: readonly string[], examples: string): Schema {
  return obj(
    tsName,
    'The container that runs the workload.',
    {
      engine: oneOf(
        enumName,
        `Serving or training engine (${examples}). The operator picks a pinned image and arguments for it; Custom ` +
          'runs your image as is.',
        engines,
      ),
      image: str("Container image. Unset: the operator's pinned image for engine. Required when engine is Custom.", {
        pattern: patterns.image,
      }),
      command: list('Entrypoint override; unset uses the image entrypoint.', str('An argument.', { maxLength: 1024 }), {
        maxItems: 32,
      }),
      args: list('Arguments to the entrypoint.', str('An argument.', { maxLength: 4096 }), { maxItems: 128 }),
      env: list('Environment variables, merged by name.', envVar, { maxItems: 64, listType: 'map', keys: ['name'] }),
    },
    {
      required: ['engine'],
      rules: [
        {
          rule: "self.engine != 'Custom' || has(self.image)",
          message: 'image is required when engine is Custom',
          fieldPath: '.image',
          reason: 'FieldValueRequired',
        },
      ],
    },
  );
}

/** A resource amount: a quantity that cannot be negative, in either form. */
const size = (description: string): Schema => quantity(description, patterns.nonNegativeQuantity, { minimum: 0 });

export function resources(per: 'replica' | 'worker'): Schema {
  return obj(
    'Resources',
    `Compute for each ${per}. Pools are matched on GPU product, count per node and GPU memory.`,
    {
      gpus: int(`GPUs per ${per}, all on one node.`, { minimum: 1, maximum: 64 }),
      gpuProducts: list(
        'GPU products accepted, by their GPU Feature Discovery names (nvidia.com/gpu.product), e.g. ' +
          'NVIDIA-H100-80GB-HBM3, NVIDIA-H200, NVIDIA-A100-SXM4-80GB, NVIDIA-L4. Empty: any product with enough memory.',
        str('A GPU product name.', { pattern: patterns.gpuProduct }),
        { maxItems: 16, listType: 'set' },
      ),
      minGpuMemory: size('Least memory per GPU (e.g. 40Gi, 80Gi), compared with nvidia.com/gpu.memory.'),
      cpu: size(`CPU per ${per} (e.g. 8 or 500m). Unset: the engine's default.`),
      memory: size(`Memory per ${per} (e.g. 64Gi). Unset: the engine's default.`),
    },
    { required: ['gpus'] },
  );
}
