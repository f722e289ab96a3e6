// What the gateway forwards decrypted requests to. A backend takes and returns the plaintext bytes of one
// request and its answer in the protocol it speaks — serialized Open Inference Protocol (KServe v2) messages
// (`inference.ModelInferRequest` in, `inference.ModelInferResponse` out), or OpenAI-protocol JSON (openai.ts) —
// so the gateway hands it exactly the bytes it decrypted and seals exactly the bytes it got back.
import type { status } from '@grpc/grpc-js';
import type { ModelMetadataResponse } from '../proto.ts';

export interface InferResult {
  /** The answer's plaintext: a serialized inference.ModelInferResponse, or the OpenAI server's JSON body. */
  response: Buffer;
  /** Accelerator (or runtime) time of the request, microseconds. */
  deviceTimeUs: number;
  /** Tokens the model server counted (an OpenAI answer's `usage`); absent where it counts none. */
  tokens?: TokenCount;
}

/** Tokens of one request as the model server reported them (the receipt's inputTokens / outputTokens). */
export interface TokenCount {
  input: number;
  output: number;
}

export interface InferOptions {
  /** Absolute deadline, Unix milliseconds. */
  deadline?: number;
  /** Aborted when the requester goes away: the backend stops the model server's work. */
  signal?: AbortSignal;
  /** inferStream: called with the token counts when a piece carries them (the last such call counts). */
  onTokens?: (t: TokenCount) => void;
}

/** What a request's plaintext is: an inference.ModelInferRequest, or OpenAI JSON `{"path", "body"}`. */
export type BackendProtocol = 'OpenInference' | 'OpenAI';

export interface Backend {
  readonly kind: 'onnx' | 'kserve' | 'openai';
  /** What requests carry; the capability says it, so the SDK knows what to send. */
  readonly protocol: BackendProtocol;
  /** The model requests must name (ModelInferRequest.model_name, or the OpenAI body's `model`). */
  readonly modelName: string;
  /** 0x + SHA-256 of the model artefact (what the capability and receipts name). */
  readonly modelHash: string;
  /** Runs one request (its plaintext, in `protocol`); throws a BackendError. */
  infer(request: Buffer, opts?: InferOptions): Promise<InferResult>;
  /**
   * Runs one request whose answer comes in pieces as the model server makes them (an OpenAI server's
   * server-sent events); absent where the backend cannot stream. Throws a BackendError, before or between pieces.
   */
  inferStream?(request: Buffer, opts?: InferOptions): AsyncIterable<Buffer>;
  metadata(): Promise<ModelMetadataResponse>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A refused or failed inference, with the gRPC code to answer. Messages name tensors, types and shapes,
 * never values: the gateway returns them to the requester sealed, and logs only the code.
 */
export class BackendError extends Error {
  override name = 'BackendError';
  readonly code: status;
  constructor(code: status, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
