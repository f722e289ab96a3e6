// The Open Inference Protocol (KServe v2) backend: the model server beside the gateway in the job's pod
// (Triton, a KServe runtime, MLServer…) over gRPC. The gateway forwards the decrypted bytes as they are; it
// decodes them once to check that they name the served model (so a receipt's model hash is the model that
// answered), filling the name in when the requester left it empty.
import { Client, Metadata, type ServiceError, credentials, status } from '@grpc/grpc-js';
import { protos } from '../proto.ts';
import type { ModelInferRequest__Output, ModelMetadataResponse, ModelMetadataResponse__Output } from '../proto.ts';
import { type Backend, BackendError, type InferOptions, type InferResult } from './backend.ts';

const SERVICE = '/inference.GRPCInferenceService';
const raw = (b: Buffer) => b;

export interface KServeBackendOptions {
  /** host:port of the model server (in the pod: 127.0.0.1:8001 for Triton). */
  target: string;
  modelName: string;
  /** 0x + SHA-256 of the artefact the model server loads (the job pins it). */
  modelHash: string;
  /** Largest message either way, bytes. */
  maxMessageBytes?: number;
  /** A bearer token for the model server, read per call (e.g. a secret released to the gateway). */
  token?: () => string | undefined;
}

export class KServeBackend implements Backend {
  readonly kind = 'kserve' as const;
  readonly protocol = 'OpenInference' as const;
  readonly modelName: string;
  readonly modelHash: string;
  readonly #client: Client;
  readonly #token: (() => string | undefined) | undefined;
  readonly #v2 = protos().v2.inference;

  constructor(o: KServeBackendOptions) {
    if (!/^0x[0-9a-f]{64}$/.test(o.modelHash)) throw new RangeError('kserve backend: modelHash must be 0x + 64 hex');
    this.modelName = o.modelName;
    this.modelHash = o.modelHash;
    this.#token = o.token;
    const max = o.maxMessageBytes ?? 4 * 1024 * 1024;
    this.#client = new Client(o.target, credentials.createInsecure(), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
    });
  }

  #metadata(): Metadata {
    const md = new Metadata();
    const token = this.#token?.();
    if (token) md.set('authorization', `Bearer ${token}`);
    return md;
  }

  #call<Req, Res>(
    method: string,
    ser: (x: Req) => Buffer,
    de: (b: Buffer) => Res,
    arg: Req,
    deadline?: number,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        `${SERVICE}/${method}`,
        ser,
        de,
        arg,
        this.#metadata(),
        deadline === undefined ? {} : { deadline },
        (err: ServiceError | null, res?: Res) => (err || res === undefined ? reject(err) : resolve(res)),
      );
    });
  }

  async infer(request: Buffer, opts: InferOptions = {}): Promise<InferResult> {
    let req: ModelInferRequest__Output;
    try {
      req = this.#v2.ModelInferRequest.deserialize(request);
    } catch {
      throw new BackendError(status.INVALID_ARGUMENT, 'the request is not an inference.ModelInferRequest');
    }
    let body = request;
    if (req.modelName === '') body = this.#v2.ModelInferRequest.serialize({ ...req, modelName: this.modelName });
    else if (req.modelName !== this.modelName)
      throw new BackendError(
        status.NOT_FOUND,
        `model "${req.modelName}" is not served here (this is "${this.modelName}")`,
      );
    const t0 = performance.now();
    try {
      const response = await this.#call('ModelInfer', raw, raw, body, opts.deadline);
      return { response, deviceTimeUs: Math.round((performance.now() - t0) * 1000) };
    } catch (e) {
      const se = e as ServiceError;
      throw new BackendError(se.code ?? status.UNKNOWN, `model server: ${se.details ?? String(e)}`, { cause: e });
    }
  }

  metadata(): Promise<ModelMetadataResponse__Output> {
    return this.#call(
      'ModelMetadata',
      this.#v2.ModelMetadataRequest.serialize,
      this.#v2.ModelMetadataResponse.deserialize,
      { name: this.modelName },
      Date.now() + 5000,
    );
  }

  async ready(): Promise<boolean> {
    try {
      const r = await this.#call(
        'ModelReady',
        this.#v2.ModelReadyRequest.serialize,
        this.#v2.ModelReadyResponse.deserialize,
        { name: this.modelName },
        Date.now() + 2000,
      );
      return r.ready;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}

export type { ModelMetadataResponse };
