// The verifier run by the operator: with --verifier-sample-rate the real operator's Reports service takes
// records a requester offers for audit (a provider-signed receipt and the plaintext input), replays a sample of
// them on the reference model server (--verifier-backend, here the test's own ONNX model behind a KServe v2
// server), and turns an answer the reference does not give into a ReplayMismatch incident on the pool, which
// lowers its reputation. Receipts whose signature fails, whose input is not theirs, or that name another model
// than the job's signed task are refused, not held against the provider; the same evidence is recorded once.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { Wallet } from 'ethers';
import { MODEL_PATH } from '../../hack/model/make-model.ts';
import type { ProviderPool } from '../../operator/api/types.gen.ts';
import { reportsProto } from '../../operator/controllers/reports/intake.ts';
import { hubJobId } from '../../operator/settlement/task.ts';
import type { ReportsClient } from '../../operator/verification/gen/nvdax/hub/v1/Reports.gen.ts';
import { contentHash, type Receipt, receiptDomain, signReceipt } from '../../operator/verification/receipt.ts';
import { OnnxBackend } from '../../provider-runtime/gateway/backends/onnx.ts';
import { type RunningServer, serveV2 } from '../../provider-runtime/gateway/backends/v2server.ts';
import { protos } from '../../provider-runtime/gateway/proto.ts';
import { fp32Request } from '../../provider-runtime/sdk/client.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { placementRun } from '../helpers/placement-run.ts';

const r = placementRun('rpl', ['gpu-a']);
const { run, jobsNs, label } = r;
const CHAIN_ID = 31337n;
const SETTLEMENT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const provider = new Wallet(Wallet.createRandom().privateKey);
const stranger = new Wallet(Wallet.createRandom().privateKey);
const poolName = `${run}-dev`;
const sha256 = createHash('sha256').update(readFileSync(MODEL_PATH)).digest('hex');
const v2 = protos().v2.inference;

let op: OperatorProc;
let client: ReportsClient;
let onnx: OnnxBackend;
let reference: RunningServer;

interface ReplayAnswer {
  checked: number;
  replayed: number;
  evidence: string[];
  refused: string[];
}
const replay = (req: object) =>
  new Promise<ReplayAnswer>((resolve, reject) =>
    (
      client as unknown as { Replay: (r: object, cb: (e: grpc.ServiceError | null, r: ReplayAnswer) => void) => void }
    ).Replay.call(client, req, (e, res) => (e ? reject(e) : resolve(res))),
  );
const jobRef = { kind: 'InferenceJob', namespace: jobsNs, name: 'audited' };

test.before(async () => {
  onnx = await OnnxBackend.load(MODEL_PATH, { modelName: 'mlp' });
  reference = await serveV2(onnx);
  await r.setUp();
  const selector = r.nodes('gpu-a', 'cc', 1, 'H100', { tee: 'snp' });
  apply('hub', [r.devConfidentialPool(poolName, 'gpu-a', selector, provider.address)]);
  op = r.startOp(1, [
    '--reports-bind-address',
    '127.0.0.1:0',
    '--chain-id',
    String(CHAIN_ID),
    '--settlement-address',
    SETTLEMENT,
    '--verifier-sample-rate',
    '1',
    '--verifier-backend',
    `127.0.0.1:${reference.port}`,
  ]);
  const line = await op.proc.waitFor('reports port', (l) => l.msg === 'Serving reports', 60_000);
  const Reports = reportsProto().nvdax.hub.v1.Reports;
  client = new Reports(`127.0.0.1:${Number(line.port)}`, grpc.credentials.createInsecure());
  await r.poolReady(poolName);
});

test.after.always(async () => {
  client?.close();
  await op?.stop();
  await r.tearDown();
  await reference?.close();
  await onnx?.close();
});

test.serial(
  'a replay mismatch is an incident on the pool and lowers its reputation; honest answers pass',
  async (t) => {
    apply('hub', [
      {
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'InferenceJob',
        metadata: { name: 'audited', namespace: jobsNs, labels: label },
        spec: {
          model: { id: 'org/mlp', hash: `sha256:${sha256}` },
          runtime: { engine: 'ONNXRuntime' },
          resources: { gpus: 1 },
          confidential: { required: true, teeTypes: ['snp'] },
          sla: { priceCap: '50' },
          payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
        },
      },
    ]);
    await eventually(
      'audited Running',
      async () =>
        getJson<{ status?: { phase?: string } }>('hub', ['-n', jobsNs, 'get', 'ij', 'audited']).status?.phase ===
        'Running',
      120_000,
      250,
    );
    const domain = receiptDomain(CHAIN_ID, SETTLEMENT);
    const input = (i: number) =>
      v2.ModelInferRequest.serialize(
        fp32Request(
          'x',
          Float32Array.from({ length: 256 }, (_, k) => Math.sin(k * 0.1 + i)),
          [1, 256],
          'mlp',
        ),
      );
    const honestOutput = async (i: number) => (await onnx.infer(input(i))).response;
    const receipt = (i: number, outputHash: string, over: Partial<Receipt> = {}): Receipt => ({
      provider: provider.address,
      job: hubJobId({ namespace: jobsNs, name: 'audited' }),
      modelHash: `0x${sha256}`,
      inputHash: contentHash(input(i)),
      outputHash,
      latencyUs: 900,
      deviceTimeUs: 500,
      price: '0',
      requestId: `0x${String(i).padStart(64, '0')}`,
      gatewayKey: `0x${'44'.repeat(32)}`,
      time: 1_800_000_000_000 + i,
      inputTokens: 0,
      outputTokens: 0,
      ...over,
    });
    const record = async (rc: Receipt, body: Buffer, signer = provider) => {
      const s = await signReceipt(signer, domain, rc);
      return { receipt: { receiptJson: JSON.stringify(s.receipt), signature: s.signature }, input: body };
    };

    // honest: the reference gives the same bytes
    const ok = await replay({
      job: jobRef,
      records: [await record(receipt(1, contentHash(await honestOutput(1))), input(1))],
    });
    t.deepEqual(ok, { checked: 1, replayed: 1, evidence: [], refused: [] });

    // refused, not evidence: another signer, an input that is not the receipt's, another model than the task's
    const refusedOnly = await replay({
      job: jobRef,
      records: [
        await record(receipt(2, contentHash('x'), { provider: stranger.address }), input(2), stranger),
        await record(receipt(3, contentHash('x')), input(99)),
      ],
    });
    t.is(refusedOnly.checked, 0);
    t.is(refusedOnly.refused.length, 2);
    t.deepEqual(refusedOnly.evidence, []);
    const before = getJson<ProviderPool>('hub', ['get', 'providerpool', poolName]);
    t.is((before.status?.incidents ?? []).length, 0);

    // a wrong answer: evidence, an incident on the pool, a lower reputation
    const wrong = await record(receipt(4, contentHash('not what the model says')), input(4));
    const bad = await replay({ job: jobRef, records: [wrong] });
    t.is(bad.checked, 1);
    t.is(bad.replayed, 1);
    t.is(bad.evidence.length, 1);
    t.regex(bad.evidence[0] ?? '', /replay-mismatch evidence 0x[0-9a-f]{64}/);
    const pool = await eventually(
      'the incident on the pool',
      () => {
        const p = getJson<ProviderPool>('hub', ['get', 'providerpool', poolName]);
        return (p.status?.incidents ?? []).some((x) => x.kind === 'ReplayMismatch') && p;
      },
      30_000,
    );
    const incident = pool.status?.incidents?.find((x) => x.kind === 'ReplayMismatch');
    t.is(incident?.job, `${jobsNs}/audited`);
    t.regex(incident?.message ?? '', /^replay-mismatch: request 0x0+4, evidence 0x[0-9a-f]{64}$/);
    t.true(Number(pool.status?.reputation) < 1, `reputation ${pool.status?.reputation}`);

    // a model other than the signed task's: evidence too
    const other = await replay({
      job: jobRef,
      records: [await record(receipt(5, contentHash('y'), { modelHash: `0x${'ef'.repeat(32)}` }), input(5))],
    });
    t.regex(other.evidence[0] ?? '', /model-mismatch/);

    // the same evidence again is recorded once
    const again = await replay({ job: jobRef, records: [wrong] });
    t.regex(again.evidence[0] ?? '', /recorded before/);
    const after = getJson<ProviderPool>('hub', ['get', 'providerpool', poolName]);
    t.is((after.status?.incidents ?? []).filter((x) => x.kind === 'ReplayMismatch').length, 2);
    // the intake's own field manager wrote them (no second manager for the pool's status)
    const managers = getJson<{ metadata: { managedFields?: Array<{ manager: string; subresource?: string }> } }>(
      'hub',
      ['get', 'providerpool', poolName, '--show-managed-fields'],
    )
      .metadata.managedFields?.filter((m) => m.subresource === 'status')
      .map((m) => m.manager);
    t.true(managers?.includes('nvdax-reports'));
  },
);
