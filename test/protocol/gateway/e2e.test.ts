// End to end over gRPC on loopback: requester SDK → gateway → embedded ONNX model or KServe v2 model server.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { status } from '@grpc/grpc-js';
import test from 'ava';
import { Wallet } from 'ethers';
import { MODEL_PATH } from '../../../hack/model/make-model.ts';
import { initData } from '../../../operator/materialize/initdata.ts';
import { contentHash, receiptDomain, verifyReceipt } from '../../../operator/verification/receipt.ts';
import { devPolicy } from '../../../provider-runtime/attester/attester.ts';
import type { Backend } from '../../../provider-runtime/gateway/backends/backend.ts';
import { protos } from '../../../provider-runtime/gateway/proto.ts';
import { verifyGatewayReceipt } from '../../../provider-runtime/gateway/signing.ts';
import {
  ConfidentialClient,
  GatewayCallError,
  fp32Outputs,
  fp32Request,
} from '../../../provider-runtime/sdk/client.ts';
import { CHAIN_ID, MODEL, PRICE, SETTLEMENT, input, startFixture, wrapBackend } from './fixture.ts';

const v2 = protos().v2.inference;

/** What the model computes for `rows` rows, asked of the backend directly. */
async function direct(backend: Backend, data: Float32Array, rows: number) {
  const { response } = await backend.infer(v2.ModelInferRequest.serialize(fp32Request('x', data, [rows, 256], MODEL)));
  return fp32Outputs(v2.ModelInferResponse.deserialize(response))['y']!;
}

test('the embedded ONNX model answers through the gateway: same numbers, a receipt that verifies', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  t.is(c.capability.attestation.teeType, 'sample');
  t.true(c.capability.attestation.development);
  t.is(c.capability.modelName, MODEL);
  t.is(c.capability.statement.provider, f.provider.address);
  for (const rows of [1, 3, 64]) {
    const data = input(rows, rows);
    const body = v2.ModelInferRequest.serialize(fp32Request('x', data, [rows, 256], MODEL));
    const r = await c.infer(body);
    const y = fp32Outputs(r.response)['y']!;
    t.deepEqual(y.shape, [rows, 4]);
    t.deepEqual(y.data, (await direct(f.onnx, data, rows)).data);
    const receipt = await r.receipt;
    const rc = receipt.receipt;
    t.is(receipt.scheme, 'ed25519');
    t.is(rc.job, f.gateway.jobId);
    t.is(rc.modelHash, f.onnx.modelHash);
    t.is(rc.price, PRICE);
    t.is(rc.inputHash, contentHash(body));
    t.is(rc.outputHash, contentHash(r.raw));
    t.true(rc.deviceTimeUs > 0 && rc.latencyUs >= rc.deviceTimeUs);
    // a verifier that holds only the capability checks the receipt the same way
    t.notThrows(() =>
      verifyGatewayReceipt(receipt, {
        provider: c.capability.statement.provider,
        receiptKey: Buffer.from(c.capability.statement.receiptKey.slice(2), 'hex'),
      }),
    );
  }
  // softmax rows sum to one: the model ran, not an echo
  const one = fp32Outputs((await c.infer(fp32Request('x', input(1), [1, 256]))).response)['y']!;
  t.true(Math.abs(one.data.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  t.is(f.gateway.sessionCount, 1);
});

test('the KServe v2 backend forwards exactly the decrypted bytes to the model server and back', async (t) => {
  const seen: Buffer[] = [];
  const f = await startFixture({
    backend: 'kserve',
    wrap: (b) =>
      wrapBackend(b, {
        infer: (req, o) => {
          seen.push(Buffer.from(req));
          return b.infer(req, o);
        },
      }),
  });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const data = input(2, 9);
  const body = v2.ModelInferRequest.serialize(fp32Request('x', data, [2, 256], MODEL));
  const r = await c.infer(body);
  t.deepEqual(seen, [body], 'the backend got the plaintext the requester sealed, nothing else');
  t.deepEqual(fp32Outputs(r.response)['y']!.data, (await direct(f.onnx, data, 2)).data);
  t.true(await f.backend.ready());
  t.is((await f.backend.metadata()).name, MODEL);
});

test('eip712 receipts are operator/verification/receipt.ts receipts', async (t) => {
  const f = await startFixture({ receiptScheme: 'eip712' });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const r = await c.infer(fp32Request('x', input(1), [1, 256]));
  const receipt = await r.receipt;
  t.is(receipt.scheme, 'eip712');
  const rc = verifyReceipt(receiptDomain(CHAIN_ID, SETTLEMENT), receipt, { provider: f.provider.address });
  t.is(rc.job, f.gateway.jobId);
});

// serial: the other tests of this file would run on this thread while it measures settled()'s CPU
test.serial('the answer comes before its receipt: the requester does not wait on the signature', async (t) => {
  // a provider key that signs receipts (eip712) only when the test says so; capabilities at once
  let release = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  let asked = 0;
  class HeldReceipts extends Wallet {
    override async signTypedData(...a: Parameters<Wallet['signTypedData']>): Promise<string> {
      if ('Receipt' in a[1]) {
        asked++;
        await held;
      }
      return super.signTypedData(...a);
    }
  }
  const provider = new HeldReceipts(Wallet.createRandom().privateKey);
  const f = await startFixture({ receiptScheme: 'eip712', gateway: { provider } });
  t.teardown(() => f.close());
  const strict = await f.connect({ provider: provider.address, receipts: 'verify' });
  t.teardown(() => strict.close());
  const c = await f.connect({ provider: provider.address, timeoutMs: 5000 });
  t.teardown(() => c.close());
  // the answer arrives while its receipt's signature is held (were it sent after, this call would time out)
  const r = await c.infer(fp32Request('x', input(1), [1, 256]));
  t.deepEqual(fp32Outputs(r.response)['y']?.shape, [1, 4]);
  t.is(asked, 1, 'the gateway is signing the receipt');
  // in verify mode the caller waits for the receipt: nothing yet
  let verified = false;
  const v = strict.infer(fp32Request('x', input(1), [1, 256])).then((x) => {
    verified = true;
    return x;
  });
  let receiptCame = false;
  void r.receipt.then(() => {
    receiptCame = true;
  });
  // a call its deadline ends after the answer: that receipt is lost to this client, which goes on
  const short = await f.connect({ provider: provider.address, timeoutMs: 300 });
  t.teardown(() => short.close());
  const cut = await short.infer(fp32Request('x', input(1), [1, 256]));
  t.is((await t.throwsAsync(cut.receipt, { instanceOf: GatewayCallError })).code, status.DEADLINE_EXCEEDED);
  t.false(receiptCame, 'the receipt waits on the signature');
  t.false(verified, 'a verify-mode call waits on its receipt');
  // settled() waits for the held receipt without spinning (this thread's CPU: ava runs test files on threads)
  const waiting = c.settled();
  const cpu0 = process.threadCpuUsage();
  await new Promise((res) => setTimeout(res, 200));
  const cpu = process.threadCpuUsage(cpu0);
  t.true((cpu.user + cpu.system) / 1000 < 60, `settled() used ${(cpu.user + cpu.system) / 1000} ms of CPU in 200 ms`);
  release();
  await waiting;
  const receipt = await r.receipt;
  t.is(receipt.scheme, 'eip712');
  t.is(receipt.receipt.outputHash, contentHash(r.raw));
  t.is((await (await v).receipt).receipt.outputHash, contentHash((await v).raw));
  t.is(short.receiptFailures.length, 1);
  const next = await short.infer(fp32Request('x', input(1), [1, 256]));
  t.is((await next.receipt).receipt.outputHash, contentHash(next.raw), 'the client goes on after a lost receipt');
});

test('a backend error is answered with its code; the reason reaches only the requester, sealed', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const bad = fp32Request('not-an-input', input(1), [1, 256]);
  const e = await t.throwsAsync(c.infer(bad), { instanceOf: GatewayCallError });
  t.is(e.code, status.INVALID_ARGUMENT);
  t.regex(e.detail ?? '', /unknown input "not-an-input"/);
  t.notRegex(
    e.message.replace(e.detail ?? '', ''),
    /not-an-input/,
    'the status text itself names nothing of the request',
  );
  const wrongModel = await t.throwsAsync(c.infer({ ...fp32Request('x', input(1), [1, 256]), modelName: 'other' }), {
    instanceOf: GatewayCallError,
  });
  t.is(wrongModel.code, status.NOT_FOUND);
  // the session still works
  t.truthy((await c.infer(fp32Request('x', input(1), [1, 256]))).response);
});

test('secrets reach the workload only sealed, from the job owner', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-secrets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = await startFixture({ secretOwners: 'requester', secretsDir: join(dir, 's') });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  await c.releaseSecret('hf-token', 'hf_gated_model_token_123');
  t.is(f.gateway.secrets.get('hf-token')?.toString(), 'hf_gated_model_token_123');
  t.is(readFileSync(join(dir, 's', 'hf-token'), 'utf8'), 'hf_gated_model_token_123');
  const bad = await t.throwsAsync(c.releaseSecret('../etc', 'x'), { instanceOf: GatewayCallError });
  t.is(bad.code, status.INVALID_ARGUMENT);
  // another requester, attested and in session, may not release secrets
  const other = await f.connect({ requester: Wallet.createRandom() });
  t.teardown(() => other.close());
  const denied = await t.throwsAsync(other.releaseSecret('hf-token', 'replaced'), { instanceOf: GatewayCallError });
  t.is(denied.code, status.PERMISSION_DENIED);
  t.is(f.gateway.secrets.get('hf-token')?.toString(), 'hf_gated_model_token_123');
});

test('main.ts serves with the development attester; health and metrics answer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-gw-main-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const provider = Wallet.createRandom();
  const init = initData({ kbsUrl: 'http://trustee.nvdax-system:8080' });
  writeFileSync(join(dir, 'key'), provider.privateKey);
  writeFileSync(join(dir, 'init.toml'), init.toml);
  const p = spawn(
    process.execPath,
    [
      'provider-runtime/gateway/main.ts',
      '--listen=127.0.0.1:0',
      '--ops-listen=127.0.0.1:0',
      '--job=team-a/mlp',
      `--price=${PRICE}`,
      `--chain-id=${CHAIN_ID}`,
      `--settlement=${SETTLEMENT}`,
      `--provider-key-file=${join(dir, 'key')}`,
      `--model=${MODEL_PATH}`,
      '--model-name=mlp',
      '--dev-attester',
      `--init-data=${join(dir, 'init.toml')}`,
      `--dev-attester-jwks-out=${join(dir, 'jwks.json')}`,
      '--limits={"requesterRps":100}',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => {
    p.kill();
  });
  const ready = await new Promise<{ port: number; opsPort: number }>((resolve, reject) => {
    p.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    createInterface({ input: p.stdout! }).on('line', (l) => {
      const j = JSON.parse(l) as { msg: string; port: number; opsPort: number };
      if (j.msg === 'gateway serving') resolve(j);
    });
  });
  const c = await ConfidentialClient.connect({
    address: `127.0.0.1:${ready.port}`,
    requester: Wallet.createRandom(),
    policy: devPolicy({ jwks: JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8')) }),
    expected: { initDataDigest: init.digest },
    provider: provider.address,
    job: { namespace: 'team-a', name: 'mlp' },
  });
  t.teardown(() => c.close());
  t.is(c.capability.limits?.requesterRps, 100);
  const r = await c.infer(fp32Request('x', input(1), [1, 256]));
  t.deepEqual(fp32Outputs(r.response)['y']!.shape, [1, 4]);
  const ops = `http://127.0.0.1:${ready.opsPort}`;
  t.is((await fetch(`${ops}/healthz`)).status, 200);
  t.is((await fetch(`${ops}/readyz`)).status, 200);
  const metrics = await (await fetch(`${ops}/metrics`)).text();
  t.regex(metrics, /nvdax_gateway_requests_total\{method="Infer",code="OK"\} 1/);
  t.regex(metrics, /nvdax_gateway_sessions 1/);
  // the hot path's buffered observations are in the histograms by the time they are scraped
  t.regex(metrics, /nvdax_gateway_request_duration_seconds_count\{method="Infer"\} 1/);
  t.regex(metrics, /nvdax_gateway_backend_duration_seconds_count\{backend="onnx"\} 1/);
});

test('a released secret reaches the model server as its bearer token (kserve backend)', async (t) => {
  const { Server, ServerCredentials } = await import('@grpc/grpc-js');
  const { OnnxBackend } = await import('../../../provider-runtime/gateway/backends/onnx.ts');
  const onnx = await OnnxBackend.load(MODEL_PATH, { modelName: MODEL });
  t.teardown(() => onnx.close());
  // a model server that needs a token (a gated model, say)
  const tokens: Array<string | undefined> = [];
  const server = new Server();
  const svc = protos().v2.inference.GRPCInferenceService.service;
  const raw = (b: Buffer) => b;
  server.addService(
    { ModelInfer: { ...svc.ModelInfer, requestDeserialize: raw, responseSerialize: raw } },
    {
      ModelInfer: (call: any, cb: any) => {
        const auth = call.metadata.get('authorization')[0]?.toString();
        tokens.push(auth);
        if (auth !== 'Bearer hf_gated_token') return cb({ code: status.UNAUTHENTICATED, details: 'no token' });
        onnx.infer(call.request).then(
          (r) => cb(null, r.response),
          (e) => cb(e),
        );
      },
    },
  );
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  t.teardown(() => server.forceShutdown());
  const f = await startFixture({
    backend: 'kserve',
    kserveTarget: `127.0.0.1:${port}`,
    backendTokenSecret: 'model-token',
    secretOwners: 'requester',
  });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const before = await t.throwsAsync(c.infer(fp32Request('x', input(1), [1, 256])), { instanceOf: GatewayCallError });
  t.is(before.code, status.UNAUTHENTICATED);
  t.regex(before.detail ?? '', /model server: no token/);
  await c.releaseSecret('model-token', 'hf_gated_token');
  const r = await c.infer(fp32Request('x', input(1), [1, 256]));
  t.deepEqual(fp32Outputs(r.response)['y']!.shape, [1, 4]);
  t.deepEqual(tokens, [undefined, 'Bearer hf_gated_token']);
});
