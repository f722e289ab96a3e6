// A plain (unencrypted) Open Inference Protocol server over any backend: the model server the kserve backend
// talks to in tests and the benchmark (standing in for Triton), and the plain baseline of bench/gateway.ts.
// ModelInfer passes the serialized messages through, so it does exactly the backend's work and no more.
// Never expose it outside the pod: it is what the gateway exists to put behind attestation and encryption.
import {
  type ServerUnaryCall,
  type sendUnaryData,
  Server,
  ServerCredentials,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { protos } from '../proto.ts';
import { type Backend, BackendError } from './backend.ts';

export interface V2ServerOptions {
  host?: string;
  /** 0: a free port. */
  port?: number;
  maxMessageBytes?: number;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

const raw = (b: Buffer) => b;

export async function serveV2(backend: Backend, o: V2ServerOptions = {}): Promise<RunningServer> {
  const max = o.maxMessageBytes ?? 4 * 1024 * 1024;
  const server = new Server({
    'grpc.max_receive_message_length': max,
    'grpc.max_send_message_length': max,
  });
  const svc = protos().v2.inference.GRPCInferenceService.service;
  const fail = (cb: sendUnaryData<never>, e: unknown) => {
    const code = e instanceof BackendError ? e.code : status.INTERNAL;
    cb({ code, details: e instanceof Error ? e.message : String(e) } as ServiceError);
  };
  server.addService(
    { ...svc, ModelInfer: { ...svc.ModelInfer, requestDeserialize: raw, responseSerialize: raw } },
    {
      ServerLive: (_c: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => cb(null, { live: true }),
      ServerReady: (_c: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) =>
        backend.ready().then(
          (ready) => cb(null, { ready }),
          (e) => fail(cb, e),
        ),
      ModelReady: (c: ServerUnaryCall<{ name: string }, unknown>, cb: sendUnaryData<unknown>) =>
        c.request.name !== backend.modelName
          ? cb(null, { ready: false })
          : backend.ready().then(
              (ready) => cb(null, { ready }),
              (e) => fail(cb, e),
            ),
      ServerMetadata: (_c: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) =>
        cb(null, { name: 'nvdax-gateway', version: '1', extensions: [] }),
      ModelMetadata: (c: ServerUnaryCall<{ name: string }, unknown>, cb: sendUnaryData<unknown>) =>
        c.request.name !== backend.modelName
          ? cb({ code: status.NOT_FOUND, details: `model "${c.request.name}" is not served here` } as ServiceError)
          : backend.metadata().then(
              (m) => cb(null, m),
              (e) => fail(cb, e),
            ),
      ModelInfer: (c: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        const d = c.getDeadline();
        const deadline = d instanceof Date ? d.getTime() : Number.isFinite(d) ? Number(d) : undefined;
        backend.infer(c.request, deadline === undefined ? {} : { deadline }).then(
          (r) => cb(null, r.response),
          (e) => fail(cb, e),
        );
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${o.host ?? '127.0.0.1'}:${o.port ?? 0}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
