// The embedded backend: ONNX Runtime (onnxruntime-node, CPU) in the gateway's process, for the demo, the tests
// and the benchmark. FP32 tensors, in raw_input_contents or fp32_contents; answers in raw_output_contents.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import ort from 'onnxruntime-node';
import { protos } from '../proto.ts';
import type { ModelInferRequest__Output, ModelInferResponse, ModelMetadataResponse } from '../proto.ts';
import { type Backend, BackendError, type InferResult } from './backend.ts';

export interface OnnxBackendOptions {
  /** The model name requests use (default: the file name without .onnx). */
  modelName?: string;
  /** ONNX Runtime intra-op threads (default 1: the gateway serves many small requests concurrently). */
  threads?: number;
}

/** The little-endian floats of `b`: a view when aligned, else one memcpy. */
function floatsOf(b: Buffer): Float32Array {
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const f = new Float32Array(b.byteLength / 4);
  new Uint8Array(f.buffer).set(b);
  return f;
}

export class OnnxBackend implements Backend {
  readonly kind = 'onnx' as const;
  readonly protocol = 'OpenInference' as const;
  readonly modelName: string;
  readonly modelHash: string;
  readonly #session: ort.InferenceSession;
  readonly #v2 = protos().v2.inference;

  private constructor(session: ort.InferenceSession, modelName: string, modelHash: string) {
    this.#session = session;
    this.modelName = modelName;
    this.modelHash = modelHash;
  }

  /** Loads an ONNX file; its SHA-256 is the model hash. */
  static async load(path: string, opts: OnnxBackendOptions = {}): Promise<OnnxBackend> {
    const bytes = await readFile(path);
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const name = opts.modelName ?? (path.split('/').pop() ?? 'model').replace(/\.onnx$/, '');
    return new OnnxBackend(session, name, `0x${createHash('sha256').update(bytes).digest('hex')}`);
  }

  async infer(request: Buffer): Promise<InferResult> {
    let req: ModelInferRequest__Output;
    try {
      req = this.#v2.ModelInferRequest.deserialize(request);
    } catch {
      throw new BackendError(status.INVALID_ARGUMENT, 'the request is not an inference.ModelInferRequest');
    }
    if (req.modelName !== this.modelName)
      throw new BackendError(
        status.NOT_FOUND,
        `model "${req.modelName}" is not served here (this is "${this.modelName}")`,
      );
    const feeds: Record<string, ort.Tensor> = {};
    const useRaw = req.rawInputContents.length > 0;
    if (useRaw && req.rawInputContents.length !== req.inputs.length)
      throw new BackendError(status.INVALID_ARGUMENT, 'raw_input_contents must have one entry per input');
    req.inputs.forEach((input, i) => {
      if (!this.#session.inputNames.includes(input.name))
        throw new BackendError(status.INVALID_ARGUMENT, `unknown input "${input.name}"`);
      if (input.datatype !== 'FP32')
        throw new BackendError(
          status.INVALID_ARGUMENT,
          `input "${input.name}": datatype ${input.datatype}, expected FP32`,
        );
      const count = input.shape.reduce((a, b) => a * b, 1);
      if (!input.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        throw new BackendError(status.INVALID_ARGUMENT, `input "${input.name}": bad shape`);
      let data: Float32Array;
      if (useRaw) {
        const raw = req.rawInputContents[i] as Buffer;
        if (raw.length !== count * 4)
          throw new BackendError(
            status.INVALID_ARGUMENT,
            `input "${input.name}": shape [${input.shape.join(',')}] needs ${count * 4} bytes, got ${raw.length}`,
          );
        data = floatsOf(raw);
      } else {
        const values = input.contents?.fp32Contents ?? [];
        if (values.length !== count)
          throw new BackendError(
            status.INVALID_ARGUMENT,
            `input "${input.name}": shape [${input.shape.join(',')}] needs ${count} values, got ${values.length}`,
          );
        data = Float32Array.from(values);
      }
      feeds[input.name] = new ort.Tensor('float32', data, input.shape);
    });
    for (const name of this.#session.inputNames)
      if (!feeds[name]) throw new BackendError(status.INVALID_ARGUMENT, `missing input "${name}"`);
    const wanted = req.outputs.length ? req.outputs.map((o) => o.name) : [...this.#session.outputNames];
    for (const name of wanted)
      if (!this.#session.outputNames.includes(name))
        throw new BackendError(status.INVALID_ARGUMENT, `unknown output "${name}"`);
    const t0 = performance.now();
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.#session.run(feeds, wanted);
    } catch (e) {
      // ONNX Runtime's messages name nodes and shapes, not values
      throw new BackendError(status.INVALID_ARGUMENT, `onnxruntime: ${e instanceof Error ? e.message : String(e)}`);
    }
    const deviceTimeUs = Math.round((performance.now() - t0) * 1000);
    const res: ModelInferResponse = {
      modelName: this.modelName,
      modelVersion: '1',
      id: req.id,
      outputs: wanted.map((name) => ({ name, datatype: 'FP32', shape: [...(results[name] as ort.Tensor).dims] })),
      rawOutputContents: wanted.map((name) => {
        const data = (results[name] as ort.Tensor).data as Float32Array;
        return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      }),
    };
    return { response: this.#v2.ModelInferResponse.serialize(res), deviceTimeUs };
  }

  async metadata(): Promise<ModelMetadataResponse> {
    const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
      list.map((m) => ({
        name: m.name,
        datatype: 'FP32',
        shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' ? d : -1)) : [],
      }));
    return {
      name: this.modelName,
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: meta(this.#session.inputMetadata),
      outputs: meta(this.#session.outputMetadata),
    };
  }

  async ready(): Promise<boolean> {
    return true;
  }

  #closed = false;

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }
}
