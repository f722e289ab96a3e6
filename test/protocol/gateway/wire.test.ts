// The provider side never sees plaintext outside the gateway process: the bytes on the wire (captured by a
// TCP relay between requester and gateway), the gateway's logs and its metrics hold none of the request or
// the answer; the backend gets exactly what the gateway decrypted.
import { Writable } from 'node:stream';
import { Client, credentials } from '@grpc/grpc-js';
import test from 'ava';
import { createLogger } from '../../../operator/runtime/log.ts';
import { serveV2 } from '../../../provider-runtime/gateway/backends/v2server.ts';
import { protos } from '../../../provider-runtime/gateway/proto.ts';
import { fp32Request } from '../../../provider-runtime/sdk/client.ts';
import { MODEL, startFixture, tap, wrapBackend } from './fixture.ts';

const v2 = protos().v2.inference;

/** 1 KiB of input whose bytes spell a marker again and again (every 4 bytes a finite float). */
const MARKER = Buffer.from('PLAINTEXT-PROMPT-e7c1-');
const markedInput = () => {
  const b = Buffer.alloc(1024);
  for (let i = 0; i < b.length; i++) b[i] = MARKER[i % MARKER.length]!;
  return new Float32Array(b.buffer, b.byteOffset, 256);
};
const forms = (b: Buffer) => [b, Buffer.from(b.toString('hex')), Buffer.from(b.toString('base64').slice(0, 20))];
const holds = (hay: Buffer | string, needle: Buffer) => {
  const h = typeof hay === 'string' ? Buffer.from(hay) : hay;
  return forms(needle).some((f) => h.includes(f));
};

test('no plaintext on the wire, in the logs or in the metrics; the backend gets what the gateway decrypted', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const seen: Buffer[] = [];
  const f = await startFixture({
    log: createLogger({ level: 'debug', destination: sink as never, name: 'nvdax-gateway' }),
    secretOwners: 'requester',
    wrap: (b) =>
      wrapBackend(b, {
        infer: (req, o) => {
          seen.push(Buffer.from(req));
          return b.infer(req, o);
        },
      }),
  });
  t.teardown(() => f.close());
  const relay = await tap(f.running.port);
  t.teardown(() => relay.close());
  const c = await f.connect({ address: `127.0.0.1:${relay.port}` });
  t.teardown(() => c.close());

  const body = v2.ModelInferRequest.serialize(fp32Request('x', markedInput(), [1, 256], MODEL));
  const answers: Buffer[] = [];
  for (let i = 0; i < 3; i++) answers.push((await c.infer(body)).raw);
  // a refused request and a secret go through the same wire
  await c
    .infer(v2.ModelInferRequest.serialize(fp32Request('PLAINTEXT-PROMPT-e7c1-', markedInput(), [1, 256], MODEL)))
    .catch(() => {});
  const secret = Buffer.from('hf_PLAINTEXT-PROMPT-e7c1-secret-token');
  await c.releaseSecret('hf-token', secret);

  t.true(body.includes(MARKER), 'the request does carry the marker');
  t.deepEqual(seen.slice(0, 3), [body, body, body], 'the backend got exactly the plaintext');
  const wire = relay.bytes();
  t.true(wire.length > 3 * 1024, 'the relay saw the traffic');
  t.false(holds(wire, MARKER), 'the request plaintext is not on the wire');
  t.false(holds(wire, secret), 'the secret is not on the wire');
  const out = answers[0]!;
  // the output tensor's bytes (16 of them) and the whole serialized answer
  const tensor = v2.ModelInferResponse.deserialize(out).rawOutputContents[0]!;
  t.is(tensor.length, 16);
  t.false(wire.includes(tensor), 'the answer plaintext is not on the wire');
  t.false(wire.includes(out));

  const logs = lines.join('');
  t.true(logs.includes('session opened'), 'the logs were captured');
  t.false(holds(logs, MARKER));
  t.false(holds(logs, secret));
  t.false(holds(logs, tensor));
  const metrics = await f.gateway.metrics.registry.metrics();
  t.regex(metrics, /nvdax_gateway_requests_total\{method="Infer",code="OK"\} 3/);
  // the hot path's counters and gauge are plain numbers until a scrape adds them in
  t.regex(metrics, /nvdax_gateway_ciphertext_bytes_total\{direction="in"\} [1-9]/);
  t.regex(metrics, /nvdax_gateway_ciphertext_bytes_total\{direction="out"\} [1-9]/);
  t.regex(metrics, /nvdax_gateway_inflight_requests 0/);
  t.regex(metrics, /nvdax_gateway_request_duration_seconds_count\{method="Infer"\} [1-9]/);
  t.false(holds(metrics, MARKER));
});

test('control: the same capture finds the plaintext of a plain (unencrypted) call', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const plain = await serveV2(f.onnx);
  t.teardown(() => plain.close());
  const relay = await tap(plain.port);
  t.teardown(() => relay.close());
  const client = new Client(`127.0.0.1:${relay.port}`, credentials.createInsecure());
  t.teardown(() => client.close());
  await new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      '/inference.GRPCInferenceService/ModelInfer',
      v2.ModelInferRequest.serialize,
      v2.ModelInferResponse.deserialize,
      fp32Request('x', markedInput(), [1, 256], MODEL),
      (e, r) => (e ? reject(e) : resolve(r)),
    ),
  );
  t.true(holds(relay.bytes(), MARKER));
});
