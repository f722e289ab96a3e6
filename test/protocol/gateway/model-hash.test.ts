// One model hash end to end: the artefact's SHA-256 that spec.model.hash pins is what the requester signs in its
// task, what the operator hands the gateway (NVDAX_MODEL_HASH), what the attested capability and every receipt
// name, and what the verifier holds receipts to. Each step is compared with the task's value, so any of them
// drifting to another definition (keccak of the reference, another encoding) fails here.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Wallet } from 'ethers';
import { MODEL_PATH } from '../../../hack/model/make-model.ts';
import type { InferenceJobSpec } from '../../../operator/api/types.gen.ts';
import { inferenceObjects, initData, type PlacedOn } from '../../../operator/materialize/index.ts';
import { jobTaskValue } from '../../../operator/settlement/job-task.ts';
import { modelHashOf } from '../../../operator/verification/model-hash.ts';
import { contentHash, receiptDomain } from '../../../operator/verification/receipt.ts';
import { Verifier } from '../../../operator/verification/verifier.ts';
import { createDevAttester, devPolicy } from '../../../provider-runtime/attester/attester.ts';
import { main } from '../../../provider-runtime/gateway/main.ts';
import { protos } from '../../../provider-runtime/gateway/proto.ts';
import { ConfidentialClient, fp32Request } from '../../../provider-runtime/sdk/client.ts';
import { CHAIN_ID, SETTLEMENT, input } from './fixture.ts';

const v2 = protos().v2.inference;
const sha256 = createHash('sha256').update(readFileSync(MODEL_PATH)).digest('hex');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const requester = Wallet.createRandom();
const provider = Wallet.createRandom();
const spec = (hash: string): InferenceJobSpec => ({
  model: { id: 'nvdax/mlp', hash },
  runtime: { engine: 'ONNXRuntime' },
  resources: { gpus: 1 },
  sla: { priceCap: '2.5' },
  payment: {
    requester: requester.address,
    escrowId: `0x${'2'.repeat(64)}`,
    maxTotal: '10',
    nonce: '1',
    deadline: '2030-01-01T00:00:00Z',
  },
});
const job = { kind: 'InferenceJob' as const, namespace: 'team-a', name: 'mlp', uid: 'u1' };
const init = initData({ kbsUrl: 'http://kbs.example:8080' });
const on: PlacedOn = {
  pool: 'pool-dev',
  attempt: 1,
  mode: 'confidential',
  resourceName: 'nvidia.com/pgpu',
  product: 'H100',
  tee: 'snp',
  runtimeClassName: 'kata-qemu-nvidia-gpu-snp',
  initData: init,
  gateway: { development: true, chainId: String(CHAIN_ID), settlement: SETTLEMENT, provider: provider.address },
};

/** The gateway's env as the operator materializes it (the values; the init-data comes from the annotation). */
function gatewayEnv(s: InferenceJobSpec): Record<string, string> {
  const c = inferenceObjects(job, s, on).deployment.spec.template.spec.containers.find((x) => x.name === 'gateway');
  if (!c) throw new Error('no gateway container');
  const env: Record<string, string> = {};
  for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

for (const hash of [`sha256:${sha256}`, `0x${sha256.toUpperCase()}`]) {
  test(`task, gateway env, capability, receipt and verifier name one model hash (spec ${hash.slice(0, 9)}…)`, async (t) => {
    const taskHash = jobTaskValue({ kind: 'InferenceJob', metadata: job, spec: spec(hash) }).modelHash;
    // the definition: the artefact's SHA-256, as bytes32 — checkable with sha256sum
    t.is(taskHash, `0x${sha256}`);
    t.is(modelHashOf(hash), taskHash);
    const env = gatewayEnv(spec(hash));
    t.is(env['NVDAX_MODEL_HASH'], taskHash);

    const dir = mkdtempSync(join(tmpdir(), 'nvdax-model-hash-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const attester = await createDevAttester();
    writeFileSync(join(dir, 'attester.json'), JSON.stringify(attester.keys));
    const port = await freePort();
    // what the pod would run, with the operator's env; the onnx backend stands in for the model server and
    // checks the file it loads against NVDAX_MODEL_HASH
    const stop = await main(
      [
        '--backend',
        'onnx',
        '--model',
        MODEL_PATH,
        '--model-name',
        'mlp',
        '--receipt-scheme',
        'eip712',
        '--dev-attester-keys',
        join(dir, 'attester.json'),
        '--listen',
        `127.0.0.1:${port}`,
        '--ops-listen',
        '127.0.0.1:0',
        '--log-level',
        'error',
      ],
      {
        ...env,
        NVDAX_PROVIDER_KEY_RESOURCE: '',
        NVDAX_PROVIDER_KEY: provider.privateKey,
        NVDAX_INIT_DATA: init.annotation,
      },
    );
    t.teardown(stop);
    // the requester checks the attested capability against the hash it signed
    const c = await ConfidentialClient.connect({
      address: `127.0.0.1:${port}`,
      requester,
      policy: devPolicy(attester),
      expected: { initDataDigest: init.digest },
      provider: provider.address,
      job: { namespace: job.namespace, name: job.name },
      modelHash: taskHash,
      chainId: CHAIN_ID,
      settlement: SETTLEMENT,
    });
    t.teardown(() => c.close());
    t.is(c.capability.statement.modelHash, taskHash);
    const body = v2.ModelInferRequest.serialize(fp32Request('x', input(1), [1, 256], 'mlp'));
    const r = await c.infer(body);
    const receipt = await r.receipt;
    t.is(receipt.receipt.modelHash, taskHash);
    // the verifier holds the receipt to the task's model hash: it passes, and another model is evidence
    const v = new Verifier({
      domain: receiptDomain(CHAIN_ID, SETTLEMENT),
      share: 0,
      seed: 's',
      infer: () => r.raw,
    });
    t.is((await v.check({ receipt, input: body, modelHash: taskHash })).status, 'ok');
    t.is(contentHash(body), receipt.receipt.inputHash);
    const other = await v.check({ receipt, input: body, modelHash: `0x${'0'.repeat(64)}` });
    t.is(other.status, 'evidence');
    t.is(other.status === 'evidence' ? other.evidence.kind : undefined, 'model-mismatch');
  });
}

test('the gateway refuses to serve a model file whose SHA-256 is not the pinned hash', async (t) => {
  const env = gatewayEnv(spec(`sha256:${'ab'.repeat(32)}`));
  const err = await t.throwsAsync(
    main(['--backend', 'onnx', '--model', MODEL_PATH, '--listen', '127.0.0.1:0', '--ops-listen', '127.0.0.1:0'], {
      ...env,
      NVDAX_PROVIDER_KEY_RESOURCE: '',
      NVDAX_PROVIDER_KEY: provider.privateKey,
      NVDAX_INIT_DATA: init.annotation,
    }),
  );
  t.regex(err?.message ?? '', /SHA-256 is 0x[0-9a-f]{64}, not the pinned 0x(ab){32}/);
});

test('a hash that is no content hash (a reference) is named by keccak256 of its text, as before', (t) => {
  t.is(modelHashOf('hf://meta-llama/Llama-3.1-8B-Instruct').length, 66);
  t.not(modelHashOf('hf://a'), modelHashOf('hf://b'));
  t.is(modelHashOf(`0x${'AB'.repeat(32)}`), `0x${'ab'.repeat(32)}`);
});
