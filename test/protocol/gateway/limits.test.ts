// Limits under a bounded loopback load: refusals come with RESOURCE_EXHAUSTED and a retry hint, before any
// decryption, and the requests that are served are served correctly.
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import test from 'ava';
import { Wallet } from 'ethers';
import { protos } from '../../../provider-runtime/gateway/proto.ts';
import {
  type ConfidentialClient,
  GatewayCallError,
  fp32Outputs,
  fp32Request,
} from '../../../provider-runtime/sdk/client.ts';
import { MODEL, input, rawInfer, startFixture, wrapBackend } from './fixture.ts';

const v2 = protos().v2.inference;

async function expected(f: Awaited<ReturnType<typeof startFixture>>, data: Float32Array) {
  const { response } = await f.onnx.infer(v2.ModelInferRequest.serialize(fp32Request('x', data, [1, 256], MODEL)));
  return fp32Outputs(v2.ModelInferResponse.deserialize(response))['y']!.data;
}

/** Sends `n` requests, `concurrency` at a time; every answer checked against the model; refusals collected. */
async function load(c: ConfidentialClient, n: number, concurrency: number, want: Float32Array, data: Float32Array) {
  const refused: GatewayCallError[] = [];
  let served = 0;
  let wrong = 0;
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i++ < n) {
        try {
          const r = await c.infer(fp32Request('x', data, [1, 256]));
          served++;
          if (!fp32Outputs(r.response)['y']!.data.every((v, k) => v === want[k])) wrong++;
        } catch (e) {
          if (!(e instanceof GatewayCallError)) throw e;
          refused.push(e);
        }
      }
    }),
  );
  return { served, refused, wrong };
}

test('per-requester rate: refused with RESOURCE_EXHAUSTED and a retry hint, others unaffected, served ones right', async (t) => {
  const f = await startFixture({ limits: { requesterRps: 20, requesterBurst: 5, jobRps: 0 } });
  t.teardown(() => f.close());
  const a = await f.connect();
  const b = await f.connect({ requester: Wallet.createRandom() });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const data = input(1, 3);
  const want = await expected(f, data);
  const t0 = performance.now();
  const [la, lb] = await Promise.all([load(a, 80, 8, want, data), load(b, 5, 1, want, data)]);
  const seconds = (performance.now() - t0) / 1000;
  t.is(la.wrong, 0);
  t.true(la.served >= 5, `served ${la.served}`);
  t.true(la.served <= 5 + Math.ceil(20 * seconds) + 1, `served ${la.served} in ${seconds.toFixed(2)} s`);
  t.true(la.refused.length > 0);
  for (const e of la.refused) {
    t.is(e.code, status.RESOURCE_EXHAUSTED);
    t.regex(e.message, /over 20 requests\/s for this requester: retry after \d+ ms/);
    t.true(e.retryAfterMs! > 0 && e.retryAfterMs! <= 50, `retry after ${e.retryAfterMs}`);
  }
  t.deepEqual({ served: lb.served, refused: lb.refused.length, wrong: lb.wrong }, { served: 5, refused: 0, wrong: 0 });
  // honouring the hint works
  const last = la.refused.at(-1)!;
  await new Promise((r) => setTimeout(r, last.retryAfterMs! + 60));
  t.truthy((await a.infer(fp32Request('x', data, [1, 256]))).response);
  t.regex(await f.gateway.metrics.registry.metrics(), /nvdax_gateway_refused_total\{reason="requester-rate"\} [1-9]/);
});

test('limits are checked before decryption: over the limit, even garbage gets RESOURCE_EXHAUSTED', async (t) => {
  const f = await startFixture({ limits: { requesterRps: 1, requesterBurst: 1 } });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  await c.infer(fp32Request('x', input(1), [1, 256]));
  const Ctor = protos().gateway.nvdax.gateway.v1.ConfidentialGateway;
  const raw = new Ctor(f.address, credentials.createInsecure());
  t.teardown(() => raw.close());
  const garbage = { ...c.sealRequest(Buffer.alloc(10)), ciphertext: Buffer.alloc(64, 1) };
  const e = (await rawInfer(raw, garbage).catch((err: unknown) => err)) as ServiceError;
  t.is(e.code, status.RESOURCE_EXHAUSTED);
  t.regex(e.metadata.get('grpc-retry-pushback-ms')[0]?.toString() ?? '', /^\d+$/);
  t.notRegex(await f.gateway.metrics.registry.metrics(), /refused_total\{reason="authentication"\}/);
});

test('per-job rate covers all requesters together', async (t) => {
  const f = await startFixture({ limits: { requesterRps: 0, jobRps: 2, jobBurst: 3 } });
  t.teardown(() => f.close());
  const a = await f.connect();
  const b = await f.connect({ requester: Wallet.createRandom() });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const data = input(1);
  const want = await expected(f, data);
  const la = await load(a, 2, 1, want, data);
  const lb = await load(b, 4, 1, want, data);
  t.is(la.served + lb.served, 3);
  t.is(lb.refused.length, 3);
  t.regex(lb.refused[0]!.message, /over 2 requests\/s for this job/);
});

test('requests in flight per requester are capped; sessions per requester too', async (t) => {
  const f = await startFixture({
    limits: { maxConcurrentPerRequester: 2, maxSessionsPerRequester: 1 },
    wrap: (b) =>
      wrapBackend(b, {
        infer: async (req, o) => {
          await new Promise((r) => setTimeout(r, 150));
          return b.infer(req, o);
        },
      }),
  });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const data = input(1);
  const want = await expected(f, data);
  const r = await load(c, 4, 4, want, data);
  t.is(r.served, 2);
  t.is(r.wrong, 0);
  t.is(r.refused.length, 2);
  t.regex(r.refused[0]!.message, /2 requests of this requester in flight, the limit is 2/);
  const e = await t.throwsAsync(f.connect(), { instanceOf: GatewayCallError });
  t.is(e.code, status.RESOURCE_EXHAUSTED);
  t.regex(e.message, /holds 1 sessions/);
});

test('handshakes (capability and session) have a rate of their own', async (t) => {
  const f = await startFixture({ gateway: { capabilityRps: 1 } });
  t.teardown(() => f.close());
  const c = await f.connect(); // GetCapability + OpenSession: the burst of 2
  t.teardown(() => c.close());
  const e = await t.throwsAsync(f.connect(), { instanceOf: GatewayCallError });
  t.is(e.code, status.RESOURCE_EXHAUSTED);
  t.regex(e.message, /over 1 handshakes\/s: retry after \d+ ms/);
  t.true(e.retryAfterMs! > 0);
  // inference in the open session is not affected
  t.truthy((await c.infer(fp32Request('x', input(1), [1, 256]))).response);
});
