// A gateway on loopback for the protocol tests: the development attester, the embedded ONNX model (or the
// KServe v2 backend in front of a plain v2 server on the same model, or the OpenAI backend in front of an
// OpenAI-protocol server on it), a provider and a requester key; and a TCP relay that keeps the bytes.
import { Metadata } from '@grpc/grpc-js';
import { Wallet } from 'ethers';
import { MODEL_PATH } from '../../../hack/model/make-model.ts';
import type { Logger } from '../../../operator/runtime/log.ts';
import { initData } from '../../../operator/materialize/initdata.ts';
import { createDevAttester, devPolicy } from '../../../provider-runtime/attester/attester.ts';
import type { Backend } from '../../../provider-runtime/gateway/backends/backend.ts';
import { KServeBackend } from '../../../provider-runtime/gateway/backends/kserve.ts';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { OnnxBackend } from '../../../provider-runtime/gateway/backends/onnx.ts';
import { OpenAIBackend } from '../../../provider-runtime/gateway/backends/openai.ts';
import { type OpenAIServer, serveOpenAI } from '../../../provider-runtime/gateway/backends/openai-server.ts';
import { type RunningServer, serveV2 } from '../../../provider-runtime/gateway/backends/v2server.ts';
import type { LimitConfig } from '../../../provider-runtime/gateway/limits.ts';
import { Gateway, type GatewayOptions, startGateway } from '../../../provider-runtime/gateway/service.ts';
import { ConfidentialClient, type ConnectOptions } from '../../../provider-runtime/sdk/client.ts';
import type { ConfidentialGatewayClient, SealedResponse__Output } from '../../../provider-runtime/gateway/proto.ts';

export const CHAIN_ID = 31337n;
export const SETTLEMENT = '0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e';
export const PRICE = '1000000000000';
export const JOB = { namespace: 'team-a', name: 'mlp' };
export const MODEL = 'mlp';

export interface FixtureOptions {
  limits?: Partial<LimitConfig>;
  backend?: 'onnx' | 'kserve' | 'openai';
  receiptScheme?: 'ed25519' | 'eip712';
  secretOwners?: 'requester';
  secretsDir?: string;
  log?: Logger;
  /** kserve backend: the model server's address (default: a plain v2 server started here). */
  kserveTarget?: string;
  /** openai backend: the model server's URL (default: an OpenAI-protocol server started here). */
  openaiUrl?: string;
  /** openai backend: that server's wait between two streamed chunks, and before a whole answer. */
  chunkDelayMs?: number;
  answerDelayMs?: number;
  /** kserve and openai backends: send this released secret as the model server's bearer token. */
  backendTokenSecret?: string;
  /** Wrap the backend (to see what it receives). */
  wrap?: (b: Backend) => Backend;
  gateway?: Partial<GatewayOptions>;
}

export async function startFixture(o: FixtureOptions = {}) {
  const attester = await createDevAttester();
  const init = initData({ kbsUrl: 'http://trustee.nvdax-system:8080' });
  const provider = Wallet.createRandom();
  const requester = Wallet.createRandom();
  const onnx = await OnnxBackend.load(MODEL_PATH, { modelName: MODEL });
  let modelServer: RunningServer | undefined;
  let openaiServer: OpenAIServer | undefined;
  let backend: Backend = onnx;
  let gatewayRef: Gateway | undefined;
  if (o.backend === 'kserve') {
    if (!o.kserveTarget) modelServer = await serveV2(onnx);
    const secret = o.backendTokenSecret;
    backend = new KServeBackend({
      target: o.kserveTarget ?? `127.0.0.1:${modelServer?.port}`,
      modelName: MODEL,
      modelHash: onnx.modelHash,
      ...(secret ? { token: () => gatewayRef?.secrets.get(secret)?.toString('utf8') } : {}),
    });
  }
  if (o.backend === 'openai') {
    if (!o.openaiUrl)
      modelServer = openaiServer = await serveOpenAI(onnx, {
        chunkDelayMs: o.chunkDelayMs ?? 0,
        answerDelayMs: o.answerDelayMs ?? 0,
      });
    const secret = o.backendTokenSecret;
    backend = new OpenAIBackend({
      url: o.openaiUrl ?? `http://127.0.0.1:${modelServer?.port}`,
      modelName: MODEL,
      modelHash: onnx.modelHash,
      ...(secret ? { token: () => gatewayRef?.secrets.get(secret)?.toString('utf8') } : {}),
    });
  }
  if (o.wrap) backend = o.wrap(backend);
  const gateway = new Gateway({
    job: JOB,
    backend,
    provider,
    evidence: (nonce, teePubKey) => attester.issue({ nonce, teePubKey, initData: init.toml, instance: 'mlp-0' }),
    pricePerRequest: PRICE,
    chainId: CHAIN_ID,
    settlement: SETTLEMENT,
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.receiptScheme ? { receiptScheme: o.receiptScheme } : {}),
    ...(o.secretOwners ? { secretOwners: [requester.address] } : {}),
    ...(o.secretsDir ? { secretsDir: o.secretsDir } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...o.gateway,
  });
  gatewayRef = gateway;
  const running = await startGateway(gateway);
  const address = `127.0.0.1:${running.port}`;
  const policy = devPolicy(attester);
  const connectOptions = (over: Partial<ConnectOptions> = {}): ConnectOptions => ({
    address,
    requester,
    policy,
    expected: { initDataDigest: init.digest },
    provider: provider.address,
    job: JOB,
    modelHash: onnx.modelHash,
    chainId: CHAIN_ID,
    settlement: SETTLEMENT,
    ...over,
  });
  return {
    attester,
    init,
    provider,
    requester,
    onnx,
    backend,
    gateway,
    running,
    /** The model server behind the kserve or openai backend (started here). */
    modelServer,
    /** The same, when it is the OpenAI-protocol one. */
    openaiServer,
    address,
    policy,
    connectOptions,
    connect: (over: Partial<ConnectOptions> = {}) => ConfidentialClient.connect(connectOptions(over)),
    async close() {
      await running.close();
      await backend.close();
      if (modelServer) await modelServer.close();
      if (backend !== onnx) await onnx.close();
    },
  };
}

/** A deterministic input of `rows` × 256 floats. */
export function input(rows: number, seed = 1): Float32Array {
  return Float32Array.from({ length: rows * 256 }, (_, i) => Math.sin(i * 0.37 + seed));
}

/** A relay to `port` that keeps every byte either way. */
export async function tap(port: number): Promise<{ port: number; bytes: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((down) => {
    const up = createConnection({ host: '127.0.0.1', port });
    sockets.push(down, up);
    down.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      down.write(d);
    });
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    bytes: () => Buffer.concat(chunks),
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** `b` with some methods replaced (to see or slow what it gets); the rest call through to it. */
export function wrapBackend(b: Backend, over: Partial<Pick<Backend, 'infer' | 'inferStream'>>): Backend {
  return {
    kind: b.kind,
    protocol: b.protocol,
    modelName: b.modelName,
    modelHash: b.modelHash,
    infer: (req, o) => b.infer(req, o),
    ...(b.inferStream
      ? { inferStream: (req, o) => (b.inferStream as NonNullable<Backend['inferStream']>)(req, o) }
      : {}),
    metadata: () => b.metadata(),
    ready: () => b.ready(),
    close: () => b.close(),
    ...over,
  };
}

/**
 * A raw Infer call, without the SDK: its two messages joined (the answer's ciphertext from the first, the
 * receipt from the second), or the gateway's refusal as grpc-js gives it (a ServiceError).
 */
export function rawInfer(
  client: ConfidentialGatewayClient,
  req: { sessionId: Buffer; seq: number; ciphertext: Buffer },
): Promise<SealedResponse__Output> {
  return new Promise((resolve, reject) => {
    const messages: SealedResponse__Output[] = [];
    const call = client.Infer(req, new Metadata());
    call.on('data', (m: SealedResponse__Output) => messages.push(m));
    call.on('error', reject);
    call.on('end', () => {
      const [answer, receipt] = messages;
      if (messages.length !== 2 || !answer || !receipt?.receipt)
        return reject(
          new Error(`an Infer call answered ${messages.length} message(s), not the answer and its receipt`),
        );
      resolve({ ...answer, receipt: receipt.receipt });
    });
  });
}
