// Writes the small ONNX model the gateway's embedded backend serves in the demo, the tests and the
// benchmark: a two-layer perceptron, x float32[batch, 256] → Gemm(256×16) → Relu → Gemm(16×4) → Softmax →
// y float32[batch, 4], with weights from a fixed-seed generator, so the bytes never change. The ONNX
// ModelProto is encoded with protobufjs from hack/model/onnx.proto (a subset of ONNX's own .proto).
//
//   node hack/model/make-model.ts           write provider-runtime/gateway/models/mlp-256x16x4.onnx
//   node hack/model/make-model.ts --check   exit 1 when the committed file differs from what this writes
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import protobuf from 'protobufjs';

const root = join(import.meta.dirname, '..', '..');
export const MODEL_PATH = join(root, 'provider-runtime', 'gateway', 'models', 'mlp-256x16x4.onnx');
const IN = 256;
const HIDDEN = 16;
const OUT = 4;
const FLOAT = 1;

/** xorshift32 from a fixed seed: uniform in [-scale, scale), the same on every machine. */
function weights(n: number, seed: number, scale: number): Buffer {
  const b = Buffer.alloc(n * 4);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    b.writeFloatLE(Math.fround((s / 2 ** 32) * 2 * scale - scale), i * 4);
  }
  return b;
}

const tensor = (name: string, dims: number[], raw: Buffer) => ({ name, dims, dataType: FLOAT, rawData: raw });
const value = (name: string, dims: Array<number | string>) => ({
  name,
  type: {
    tensorType: {
      elemType: FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

/** The model's bytes. */
export function modelBytes(): Buffer {
  const onnx = protobuf.loadSync(join(import.meta.dirname, 'onnx.proto'));
  const Model = onnx.lookupType('onnx.ModelProto');
  const model = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'nvdax-hack-model',
    producerVersion: '1',
    modelVersion: 1,
    docString: 'NVDAx demo and test model: 256 → 16 (ReLU) → 4 (softmax), fixed-seed weights.',
    graph: {
      name: 'mlp',
      node: [
        { name: 'fc1', opType: 'Gemm', input: ['x', 'w1', 'b1'], output: ['h'] },
        { name: 'act', opType: 'Relu', input: ['h'], output: ['r'] },
        { name: 'fc2', opType: 'Gemm', input: ['r', 'w2', 'b2'], output: ['logits'] },
        {
          name: 'softmax',
          opType: 'Softmax',
          input: ['logits'],
          output: ['y'],
          attribute: [{ name: 'axis', i: -1, type: 2 }],
        },
      ],
      initializer: [
        tensor('w1', [IN, HIDDEN], weights(IN * HIDDEN, 0x9e3779b9, 1 / Math.sqrt(IN))),
        tensor('b1', [HIDDEN], weights(HIDDEN, 0x85ebca6b, 0.1)),
        tensor('w2', [HIDDEN, OUT], weights(HIDDEN * OUT, 0xc2b2ae35, 1 / Math.sqrt(HIDDEN))),
        tensor('b2', [OUT], weights(OUT, 0x27d4eb2f, 0.1)),
      ],
      input: [value('x', ['batch', IN])],
      output: [value('y', ['batch', OUT])],
    },
  };
  const problem = Model.verify(model);
  if (problem) throw new Error(`onnx.ModelProto: ${problem}`);
  return Buffer.from(Model.encode(Model.fromObject(model)).finish());
}

if (import.meta.main) {
  const bytes = modelBytes();
  const name = relative(root, MODEL_PATH);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (process.argv.includes('--check')) {
    let have: Buffer | undefined;
    try {
      have = readFileSync(MODEL_PATH);
    } catch {
      have = undefined;
    }
    if (!have?.equals(bytes)) {
      console.error(`${name} is stale or missing: run node hack/model/make-model.ts`);
      process.exit(1);
    }
    console.log(`${name} up to date (${bytes.length} bytes, sha256 ${sha})`);
  } else {
    writeFileSync(MODEL_PATH, bytes);
    console.log(`wrote ${name} (${bytes.length} bytes, sha256 ${sha})`);
  }
}
