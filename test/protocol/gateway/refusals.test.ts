// Every refusal names what failed: tampered or replayed envelopes, forged or replayed capabilities, evidence
// for another key or measurement, forged receipts, bad session signatures, oversized payloads, deadlines.
import { generateKeyPairSync } from 'node:crypto';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import test from 'ava';
import { Wallet } from 'ethers';
import { AttestationError } from '../../../operator/verification/attestation.ts';
import { ReceiptError } from '../../../operator/verification/receipt.ts';
import { EnvelopeError, x25519Jwk, x25519KeyPair } from '../../../provider-runtime/gateway/envelope.ts';
import { protos } from '../../../provider-runtime/gateway/proto.ts';
import type { Capability__Output } from '../../../provider-runtime/gateway/proto.ts';
import { newNonce } from '../../../provider-runtime/gateway/service.ts';
import {
  CapabilityError,
  capabilityDomain,
  signCapability,
  signReceiptEd25519,
} from '../../../provider-runtime/gateway/signing.ts';
import { GatewayCallError, checkCapability, fp32Request } from '../../../provider-runtime/sdk/client.ts';
import { CHAIN_ID, MODEL, SETTLEMENT, input, rawInfer, startFixture, wrapBackend } from './fixture.ts';

const v2 = protos().v2.inference;
const body = () => v2.ModelInferRequest.serialize(fp32Request('x', input(1), [1, 256], MODEL));

function rawClient(address: string) {
  const Ctor = protos().gateway.nvdax.gateway.v1.ConfidentialGateway;
  const c = new Ctor(address, credentials.createInsecure(), { 'grpc.max_send_message_length': 16 * 1024 * 1024 });
  const call =
    <Res>(method: 'getCapability' | 'openSession') =>
    (req: unknown): Promise<Res> =>
      new Promise((resolve, reject) =>
        (c[method] as (r: unknown, cb: (e: ServiceError | null, r?: Res) => void) => void).call(c, req, (e, r) =>
          e ? reject(e) : resolve(r as Res),
        ),
      );
  return {
    infer: (req: { sessionId: Buffer; seq: number; ciphertext: Buffer }) => rawInfer(c, req),
    getCapability: call<Capability__Output>('getCapability'),
    openSession: call<{ sessionId: Buffer }>('openSession'),
    close: () => c.close(),
  };
}

const grpcError = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('expected a refusal');
};

test('tampered, replayed, unknown-session and malformed envelopes are refused, each naming what failed', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const raw = rawClient(f.address);
  t.teardown(() => raw.close());

  const sealed = c.sealRequest(body());
  const tampered = Buffer.from(sealed.ciphertext);
  tampered[5]! ^= 0x40;
  const e1 = await grpcError(raw.infer({ ...sealed, ciphertext: tampered }));
  t.is(e1.code, status.UNAUTHENTICATED);
  t.regex(e1.details, /envelope authentication: the AES-GCM tag does not verify/);

  // the tampered try did not burn the number: the genuine envelope still opens, once
  const ok = await raw.infer(sealed);
  t.is(ok.seq, sealed.seq);
  t.notThrows(() => c.openAnswer(sealed.seq, body(), ok));
  const e2 = await grpcError(raw.infer(sealed));
  t.is(e2.code, status.ALREADY_EXISTS);
  t.regex(e2.details, /envelope replay: sequence number \d+ was already used/);

  const e3 = await grpcError(raw.infer({ ...c.sealRequest(body()), sessionId: Buffer.alloc(16, 7) }));
  t.is(e3.code, status.UNAUTHENTICATED);
  t.regex(e3.details, /unknown or closed session/);

  const e4 = await grpcError(raw.infer({ ...c.sealRequest(body()), sessionId: Buffer.alloc(5) }));
  t.is(e4.code, status.INVALID_ARGUMENT);
  t.regex(e4.details, /session_id must be 16 bytes/);

  const e5 = await grpcError(raw.infer({ ...c.sealRequest(body()), ciphertext: Buffer.alloc(3) }));
  t.is(e5.code, status.INVALID_ARGUMENT);
  t.regex(e5.details, /shorter than its 16-byte tag/);

  const e6 = await grpcError(raw.infer({ ...c.sealRequest(body()), seq: 0 }));
  t.is(e6.code, status.INVALID_ARGUMENT);
  const metrics = await f.gateway.metrics.registry.metrics();
  t.regex(metrics, /nvdax_gateway_refused_total\{reason="authentication"\} 1/);
  t.regex(metrics, /nvdax_gateway_refused_total\{reason="replay"\} 1/);
});

test('oversized envelopes are refused before decryption, by the gateway and by the gRPC size cap', async (t) => {
  const f = await startFixture({ limits: { maxPayloadBytes: 4096 } });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const raw = rawClient(f.address);
  t.teardown(() => raw.close());
  const e1 = await grpcError(raw.infer({ ...c.sealRequest(body()), ciphertext: Buffer.alloc(4096 + 17) }));
  t.is(e1.code, status.RESOURCE_EXHAUSTED);
  t.regex(e1.details, /payload of 4097 bytes is over the limit of 4096/);
  const e2 = await grpcError(raw.infer({ ...c.sealRequest(body()), ciphertext: Buffer.alloc(64 * 1024) }));
  t.is(e2.code, status.RESOURCE_EXHAUSTED);
  t.regex(e2.details, /larger than max/i);
  // a request in bounds still works
  t.truthy((await c.infer(body())).response);
  t.is(c.capability.limits?.maxPayloadBytes, 4096);
});

test('a replayed or altered capability is refused: nonce, signature, provider, model, price', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const raw = rawClient(f.address);
  t.teardown(() => raw.close());
  const nonceA = newNonce();
  const capA = await raw.getCapability({ nonce: nonceA });
  const opts = f.connectOptions();
  // genuine: passes
  const ok = await checkCapability(capA, nonceA, opts);
  t.is(ok.statement.provider, f.provider.address);

  // replayed: an old answer offered for a new nonce
  const nonceB = newNonce();
  const e1 = await t.throwsAsync(checkCapability(capA, nonceB, opts), { instanceOf: CapabilityError });
  t.is(e1.field, 'nonce');
  // the echo rewritten to match: the provider's signature no longer covers it
  const e2 = await t.throwsAsync(checkCapability({ ...capA, nonce: nonceB }, nonceB, opts), {
    instanceOf: CapabilityError,
  });
  t.is(e2.field, 'signature');
  // a price changed in transit
  const e3 = await t.throwsAsync(checkCapability({ ...capA, pricePerRequest: '1' }, nonceA, opts), {
    instanceOf: CapabilityError,
  });
  t.is(e3.field, 'signature');
  // signed by someone else who claims to be the provider
  const mallory = Wallet.createRandom();
  const forged = await signCapability(mallory, capabilityDomain(CHAIN_ID, SETTLEMENT), ok.statement);
  const e4 = await t.throwsAsync(checkCapability({ ...capA, signature: forged }, nonceA, opts), {
    instanceOf: CapabilityError,
  });
  t.is(e4.field, 'signature');
  // signed correctly, by another provider than the job's
  const e5 = await t.throwsAsync(checkCapability(capA, nonceA, { ...opts, provider: mallory.address }), {
    instanceOf: CapabilityError,
  });
  t.is(e5.field, 'provider');
  const e6 = await t.throwsAsync(checkCapability(capA, nonceA, { ...opts, modelHash: `0x${'00'.repeat(32)}` }), {
    instanceOf: CapabilityError,
  });
  t.is(e6.field, 'modelHash');
  const e7 = await t.throwsAsync(checkCapability(capA, nonceA, { ...opts, maxPricePerRequest: 1n }), {
    instanceOf: CapabilityError,
  });
  t.is(e7.field, 'pricePerRequest');
});

test('evidence for another key or another measurement is refused by attestation, naming the claim', async (t) => {
  const other = x25519KeyPair();
  const f = await startFixture({
    gateway: {
      // a gateway that presents its key but evidence bound to another one (a relay or substituted key)
      evidence: async (nonce) =>
        f2.attester.issue({ nonce, teePubKey: x25519Jwk(other.publicKey), initData: f2.init.toml }),
    },
  });
  const f2 = f;
  t.teardown(() => f.close());
  const e1 = await t.throwsAsync(f.connect(), { instanceOf: AttestationError });
  t.is(e1.claim, 'report_data');

  const g = await startFixture();
  t.teardown(() => g.close());
  const e2 = await t.throwsAsync(g.connect({ expected: { initDataDigest: 'ab'.repeat(48) } }), {
    instanceOf: AttestationError,
  });
  t.is(e2.claim, 'init_data');
  const e3 = await t.throwsAsync(g.connect({ policy: { ...g.policy, allowDevelopment: false } }), {
    instanceOf: AttestationError,
  });
  t.is(e3.claim, 'tee');
});

test('a forged or altered receipt, or an altered answer, is refused naming what failed', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const raw = rawClient(f.address);
  t.teardown(() => raw.close());
  const b = body();
  const s = c.sealRequest(b);
  const res = await raw.infer(s);
  t.notThrows(() => c.openAnswer(s.seq, b, res));
  const receipt = res.receipt!;
  const withReceipt = (r: object) => ({ ...res, receipt: { ...receipt, ...r } });

  const priced = withReceipt({ receipt: { ...receipt.receipt!, price: '1' } });
  t.is(t.throws(() => c.openAnswer(s.seq, b, priced), { instanceOf: ReceiptError })!.field, 'price');
  const slower = withReceipt({ receipt: { ...receipt.receipt!, deviceTimeUs: receipt.receipt!.deviceTimeUs + 1000 } });
  t.is(t.throws(() => c.openAnswer(s.seq, b, slower), { instanceOf: ReceiptError })!.field, 'signature');
  const rogue = signReceiptEd25519(generateKeyPairSync('ed25519').privateKey, receipt.receipt! as never);
  t.is(t.throws(() => c.openAnswer(s.seq, b, withReceipt(rogue)), { instanceOf: ReceiptError })!.field, 'signature');
  const otherInput = body().fill(1, 40);
  t.is(t.throws(() => c.openAnswer(s.seq, otherInput, res), { instanceOf: ReceiptError })!.field, 'inputHash');

  const flipped = Buffer.from(res.ciphertext);
  flipped[0]! ^= 1;
  const e = t.throws(() => c.openAnswer(s.seq, b, { ...res, ciphertext: flipped }), { instanceOf: EnvelopeError });
  t.is(e!.reason, 'authentication');
  t.is(t.throws(() => c.openAnswer(s.seq + 1, b, res), { instanceOf: EnvelopeError })!.reason, 'sequence');
});

test('sessions: a signature by another key, a stale time and a requester not allowed are refused', async (t) => {
  const allowed = Wallet.createRandom();
  const f = await startFixture({ gateway: { requesters: [] } });
  t.teardown(() => f.close());
  const e0 = await t.throwsAsync(f.connect(), { instanceOf: GatewayCallError });
  t.is(e0.code, status.PERMISSION_DENIED);
  t.regex(e0.message, /may not use this job/);

  const g = await startFixture({ gateway: { requesters: [allowed.address] } });
  t.teardown(() => g.close());
  const raw = rawClient(g.address);
  t.teardown(() => raw.close());
  const nonce = newNonce();
  const cap = await raw.getCapability({ nonce });
  const mine = x25519KeyPair();
  const base = { requesterPublicKey: mine.publicKey, capabilityNonce: nonce, requester: allowed.address };
  const { sessionMessage } = await import('../../../provider-runtime/gateway/signing.ts');
  const msg = (issuedAtMs: number) =>
    sessionMessage({ job: cap.job, gatewayPublicKey: cap.gatewayPublicKey, ...base, issuedAtMs });
  const now = Date.now();
  const e1 = await grpcError(
    raw.openSession({ ...base, issuedAtMs: now, signature: await Wallet.createRandom().signMessage(msg(now)) }),
  );
  t.is(e1.code, status.UNAUTHENTICATED);
  t.regex(e1.details, /not the requester's/);
  const old = now - 3_600_000;
  const e2 = await grpcError(
    raw.openSession({ ...base, issuedAtMs: old, signature: await allowed.signMessage(msg(old)) }),
  );
  t.is(e2.code, status.UNAUTHENTICATED);
  t.regex(e2.details, /issued_at_ms/);
  const good = await raw.openSession({ ...base, issuedAtMs: now, signature: await allowed.signMessage(msg(now)) });
  t.is(good.sessionId.length, 16);
});

test('a request past its deadline fails with DEADLINE_EXCEEDED and the gateway keeps serving', async (t) => {
  let delay = 300;
  const f = await startFixture({
    wrap: (b) =>
      wrapBackend(b, {
        infer: async (req, o) => {
          await new Promise((r) => setTimeout(r, delay));
          return b.infer(req, o);
        },
      }),
  });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const e = await t.throwsAsync(c.infer(body(), { timeoutMs: 100 }), { instanceOf: GatewayCallError });
  t.is(e.code, status.DEADLINE_EXCEEDED);
  delay = 0;
  t.truthy((await c.infer(body())).response);
});

test('a relay that alters receipts: refused before the answer with receipts "verify", at settled() and the next call by default', async (t) => {
  const { Server, ServerCredentials } = await import('@grpc/grpc-js');
  type Unary = import('@grpc/grpc-js').handleUnaryCall<any, any>;
  const f = await startFixture();
  t.teardown(() => f.close());
  const upstream = rawClient(f.address);
  t.teardown(() => upstream.close());
  // a real gRPC server in the middle: forwards everything, lowers the price written in each receipt
  const relay = new Server();
  const pass =
    (fn: (r: unknown) => Promise<unknown>, change: (x: never) => unknown = (x) => x): Unary =>
    (call, cb) => {
      fn(call.request).then(
        (r) => cb(null, change(r as never)),
        (e) => cb(e),
      );
    };
  relay.addService(protos().gateway.nvdax.gateway.v1.ConfidentialGateway.service, {
    GetCapability: pass(upstream.getCapability),
    OpenSession: pass(upstream.openSession),
    // the answer as it came, then its receipt with the price changed
    Infer: ((call) => {
      upstream.infer(call.request).then(
        (r) => {
          call.write({ seq: r.seq, ciphertext: r.ciphertext });
          call.write({ seq: r.seq, receipt: { ...r.receipt, receipt: { ...r.receipt!.receipt, price: '1' } } });
          call.end();
        },
        (e) => call.emit('error', e),
      );
    }) as import('@grpc/grpc-js').handleServerStreamingCall<any, any>,
    ReleaseSecret: ((_c, cb) => cb({ code: status.UNIMPLEMENTED })) as Unary,
  });
  const port = await new Promise<number>((res, rej) =>
    relay.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  t.teardown(() => relay.forceShutdown());
  const address = `127.0.0.1:${port}`;

  const strict = await f.connect({ address, receipts: 'verify' });
  t.teardown(() => strict.close());
  t.is((await t.throwsAsync(strict.infer(body()), { instanceOf: ReceiptError })).field, 'price');

  const c = await f.connect({ address });
  t.teardown(() => c.close());
  const first = await c.infer(body());
  t.truthy(first.response, 'the answer itself is authentic (AES-GCM) and returned');
  t.is((await t.throwsAsync(first.receipt, { instanceOf: ReceiptError })).field, 'price');
  t.is((await t.throwsAsync(c.settled(), { instanceOf: ReceiptError })).field, 'price');
  t.is(c.receiptFailures.length, 1);
  await t.throwsAsync(c.infer(body()), { instanceOf: ReceiptError });
});
