// The report intake end to end: the real operator serves the Reports gRPC service; a confidential job runs
// on a development pool of the simulated clusters; its instance (this test, speaking the real protocol)
// gets a nonce, presents development-attester evidence over the pod's own init-data, and is recorded in
// status.attestations with Attested=True. A replayed nonce is refused, debug-mode GPU evidence is recorded
// as refused with the claim named, receipts signed by the pool's provider from the attested gateway key are
// counted once into status.usage (a resent batch counts nothing), forged or unattested ones are refused, and
// the job controller's own usage writes leave the counted requests alone.
import test from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Wallet } from 'ethers';
import type { TrainingJob } from '../../operator/api/types.gen.ts';
import { generateSigningKey, signingJwk, signWith } from '../../operator/training/keys.ts';
import { recordHash, signCheckpoint, verifyLineage } from '../../operator/training/lineage.ts';
import { reportsProto } from '../../operator/controllers/reports/intake.ts';
import { hubJobId } from '../../operator/settlement/task.ts';
import type { ReportsClient } from '../../operator/verification/gen/nvdax/hub/v1/Reports.gen.ts';
import {
  contentHash,
  gatewayKeyHash,
  RECEIPT_TYPES,
  type Receipt,
  receiptDomain,
  signReceipt,
} from '../../operator/verification/receipt.ts';
import { createDevAttester, type DevAttester, devPolicy } from '../../provider-runtime/attester/attester.ts';
import { capabilityDomain, signCapability, signReceiptEd25519 } from '../../provider-runtime/gateway/signing.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { CHAIN_ID, reportsRun, SETTLEMENT } from '../helpers/reports-run.ts';
import { SIM_RUN_ENV } from '../../hack/sim/cluster.ts';

const { r, dir, provider, getJob, cond } = reportsRun('rep', 'secret');
const { run, jobsNs, tenant, label } = r;
const stranger = new Wallet(Wallet.createRandom().privateKey);

let op: OperatorProc;
let client: ReportsClient;
let attester: DevAttester;

const call = <Req, Res>(method: string, req: Req) =>
  new Promise<Res>((resolve, reject) =>
    (client as unknown as Record<string, (r: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[
      method
    ]!.call(client, req, (e, r) => (e ? reject(e) : resolve(r))),
  );
const jobRef = { kind: 'InferenceJob', namespace: jobsNs, name: 'secret' };

test.before(async () => {
  attester = await createDevAttester();
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(devPolicy(attester)));
  await r.setUp();
  const selector = r.nodes('gpu-a', 'cc', 1, 'H100', { tee: 'snp' });
  apply('hub', [r.devConfidentialPool(`${run}-dev`, 'gpu-a', selector, provider.address)]);
  op = r.startOp(1, [
    '--failover-grace',
    '60s',
    '--reports-bind-address',
    '127.0.0.1:0',
    '--attestation-policy',
    join(dir, 'policy.json'),
    '--chain-id',
    String(CHAIN_ID),
    '--settlement-address',
    SETTLEMENT,
    '--usage-meter-interval',
    '2s',
  ]);
  const line = await op.proc.waitFor('reports port', (l) => l.msg === 'Serving reports', 60_000);
  const Reports = reportsProto().nvdax.hub.v1.Reports;
  client = new Reports(`127.0.0.1:${Number(line.port)}`, grpc.credentials.createInsecure());
  await r.poolReady(`${run}-dev`);
});

test.after.always(async () => {
  client?.close();
  await op?.stop();
  await r.tearDown();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('attestation per instance, then receipts counted once into usage', async (t) => {
  apply('hub', [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'InferenceJob',
      metadata: { name: 'secret', namespace: jobsNs, labels: label },
      spec: {
        model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
        runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
        resources: { gpus: 1 },
        confidential: { required: true, teeTypes: ['snp'] },
        sla: { priceCap: '50' },
        payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
      },
    },
  ]);
  await eventually('secret Running', async () => getJob().status?.phase === 'Running', 120_000, 250);
  const pods = getJson<{ items: Array<{ metadata: { name: string; annotations?: Record<string, string> } }> }>(
    'gpu-a',
    ['-n', tenant, 'get', 'pods'],
  ).items;
  t.is(pods.length, 1);
  const pod = pods[0]!;
  const instance = pod.metadata.name;
  const initData = pod.metadata.annotations?.['io.katacontainers.config.hypervisor.cc_init_data'] ?? '';
  t.not(initData, '');
  const teePubKey = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }) as Record<string, unknown>;

  // an instance of another attempt is not this job's
  const other = await t.throwsAsync(call('Challenge', { job: jobRef, instance: 'secret-a7-xyz' }));
  t.is((other as grpc.ServiceError).code, grpc.status.FAILED_PRECONDITION);

  // good evidence: verified, recorded for this instance, Attested=True (1 of 1)
  const { nonce } = await call<object, { nonce: string }>('Challenge', { job: jobRef, instance });
  const bundle = await attester.issue({ nonce, teePubKey, initData, gpus: 1, instance });
  const attest = (n: string, b: typeof bundle) => ({
    job: jobRef,
    instance,
    nonce: n,
    teePubKeyJson: JSON.stringify(teePubKey),
    ear: b.ear,
    nrasJson: b.nras ? JSON.stringify(b.nras) : '',
  });
  const ok = await call<object, { verified: boolean; gatewayKey: string }>('Attest', attest(nonce, bundle));
  t.true(ok.verified);
  t.is(ok.gatewayKey, gatewayKeyHash(teePubKey));
  const attested = await eventually('Attested=True', async () => {
    const j = getJob();
    return cond(j, 'Attested')?.status === 'True' ? j : undefined;
  });
  const entry = attested.status?.attestations?.find((a) => a.instance === instance);
  t.is(entry?.verified, true);
  t.is(entry?.development, true);
  t.is(entry?.gpuAttested, true);
  t.is(entry?.gatewayKey, gatewayKeyHash(teePubKey));
  t.regex(cond(attested, 'Attested')?.message ?? '', /1 of 1 instances attested/);

  // the same nonce again: refused before any check
  const replay = await t.throwsAsync(call('Attest', attest(nonce, bundle)));
  t.is((replay as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);
  t.regex((replay as grpc.ServiceError).details, /nonce/);

  // receipts from the attested gateway, signed by the pool's provider
  const domain = receiptDomain(CHAIN_ID, SETTLEMENT);
  const base = (i: number, key = gatewayKeyHash(teePubKey)): Receipt => ({
    provider: provider.address,
    job: hubJobId({ namespace: jobsNs, name: 'secret' }),
    modelHash: `0x${'cd'.repeat(32)}`,
    inputHash: contentHash(`in ${i}`),
    outputHash: contentHash(`out ${i}`),
    latencyUs: 900,
    deviceTimeUs: 2_500,
    price: '1000',
    requestId: `0x${String(i).padStart(64, '0')}`,
    gatewayKey: key,
    time: 1_800_000_000_000 + i,
    inputTokens: 10 * i,
    outputTokens: i,
  });
  const msg = async (r: Receipt) => {
    const s = await signReceipt(provider, domain, r);
    return { receiptJson: JSON.stringify(s.receipt), signature: s.signature };
  };
  // a receipt naming the provider, signed by someone else (signReceipt refuses to make one)
  const forged = async (r: Receipt) => ({
    receiptJson: JSON.stringify(r),
    signature: await stranger.signTypedData(domain, RECEIPT_TYPES, r),
  });
  const batch = await Promise.all([1, 2, 3].map((i) => msg(base(i))));
  const first = await call<object, { accepted: number; duplicates: number; refused: string[] }>('Receipts', {
    job: jobRef,
    receipts: batch,
  });
  t.deepEqual(first, { accepted: 3, duplicates: 0, refused: [] });
  const again = await call<object, { accepted: number; duplicates: number; refused: string[] }>('Receipts', {
    job: jobRef,
    receipts: batch,
  });
  t.deepEqual(again, { accepted: 0, duplicates: 3, refused: [] });
  const bad = await call<object, { accepted: number; refused: string[] }>('Receipts', {
    job: jobRef,
    receipts: [await forged(base(4)), await msg(base(5, `0x${'77'.repeat(32)}`))],
  });
  t.is(bad.accepted, 0);
  t.is(bad.refused.length, 2);
  t.regex(bad.refused.join('\n'), /signature: recovers to/);
  t.regex(bad.refused.join('\n'), /gatewayKey: no attested instance/);

  // the job controller meters GPU time beside them (every 2 s here): the counted requests stay
  const metered = await eventually(
    'usage metered after the receipts',
    async () => {
      const j = getJob();
      return (j.status?.usage?.gpuSeconds ?? 0) >= 4 ? j : undefined;
    },
    60_000,
    500,
  );
  t.is(metered.status?.usage?.requests, 3);
  t.is(metered.status?.usage?.deviceTimeMs, 7);
  t.is(metered.status?.usage?.inputTokens, 60, 'receipts 1–3 once: 10 + 20 + 30');
  t.is(metered.status?.usage?.outputTokens, 6);

  // debug-mode GPU evidence: recorded as refused, naming the claim, and Attested turns False
  const fresh = await call<object, { nonce: string }>('Challenge', { job: jobRef, instance });
  const debug = await attester.issue({
    nonce: fresh.nonce,
    teePubKey,
    initData,
    gpus: 1,
    instance,
    faults: { debugGpu: 0 },
  });
  const refused = await call<object, { verified: boolean; message: string }>('Attest', attest(fresh.nonce, debug));
  t.false(refused.verified);
  t.regex(refused.message, /dbgstat/);
  const failed = await eventually('Attested=False', async () => {
    const j = getJob();
    return cond(j, 'Attested')?.status === 'False' ? j : undefined;
  });
  t.is(cond(failed, 'Attested')?.reason, 'AttestationFailed');
  t.is(failed.status?.attestations?.find((a) => a.instance === instance)?.verified, false);
  t.is(failed.status?.usage?.requests, 3, 'what was counted stays counted');

  // the gateway's own scheme: a capability the provider signed names the Ed25519 key it signs receipts with
  const teeKey2 = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const receiptKeys = generateKeyPairSync('ed25519');
  const rawReceiptKey = `0x${Buffer.from(receiptKeys.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString('hex')}`;
  const cap = {
    provider: provider.address,
    job: hubJobId({ namespace: jobsNs, name: 'secret' }),
    modelHash: `0x${'cd'.repeat(32)}`,
    pricePerRequest: '1000',
    gatewayKey: gatewayKeyHash(teeKey2),
    receiptKey: rawReceiptKey,
    nonce: `0x${'01'.repeat(32)}`,
    evidenceHash: `0x${'02'.repeat(32)}`,
    issuedAt: Date.now(),
    expiresAt: Date.now() + 600_000,
  };
  const capDomain = capabilityDomain(CHAIN_ID, SETTLEMENT);
  const withCap = async (c: typeof cap, signer: Wallet) => {
    const n = await call<object, { nonce: string }>('Challenge', { job: jobRef, instance });
    const b = await attester.issue({ nonce: n.nonce, teePubKey: teeKey2, initData, gpus: 1, instance });
    return {
      job: jobRef,
      instance,
      nonce: n.nonce,
      teePubKeyJson: JSON.stringify(teeKey2),
      ear: b.ear,
      nrasJson: b.nras ? JSON.stringify(b.nras) : '',
      capabilityJson: JSON.stringify(c),
      capabilitySignature: await signCapability(signer, capDomain, c),
    };
  };
  // a capability signed by someone else is refused before anything is recorded
  const notProvider = await t.throwsAsync(
    call('Attest', await withCap({ ...cap, provider: stranger.address }, stranger)),
  );
  t.regex((notProvider as grpc.ServiceError).details, /capability provider: is 0x/);
  const capped = await call<object, { verified: boolean }>('Attest', await withCap(cap, provider));
  t.true(capped.verified);
  const ed = (i: number, key = receiptKeys.privateKey) => {
    const s = signReceiptEd25519(key, base(i, gatewayKeyHash(teeKey2)));
    return { receiptJson: JSON.stringify(s.receipt), signature: s.signature, scheme: 'ed25519' };
  };
  const edOut = await call<object, { accepted: number; duplicates: number; refused: string[] }>('Receipts', {
    job: jobRef,
    receipts: [ed(10), ed(11), ed(12, generateKeyPairSync('ed25519').privateKey)],
  });
  t.is(edOut.accepted, 2);
  t.is(edOut.refused.length, 1);
  t.regex(edOut.refused[0] ?? '', /signature: does not verify under the capability's receipt key/);
  const after = await eventually('ed25519 receipts counted', async () => {
    const j = getJob();
    return j.status?.usage?.requests === 5 ? j : undefined;
  });
  t.is(after.status?.attestations?.find((a) => a.instance === instance)?.receiptKey, rawReceiptKey);
  t.is(cond(after, 'Attested')?.status, 'True');
});

test.serial(
  'a Distributed training workload reports signed progress and checkpoints; the lineage is checked',
  async (t) => {
    const tj = { kind: 'TrainingJob', namespace: jobsNs, name: 'ft' };
    apply('hub', [
      {
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'TrainingJob',
        metadata: { name: 'ft', namespace: jobsNs, labels: label },
        spec: {
          mode: 'Distributed',
          // kwok finishes a batch Job's pods 1-6 s after Ready: this one trains until the test is done
          runtime: {
            engine: 'PyTorch',
            image: `ghcr.io/nvdax/ft@sha256:${'ab'.repeat(32)}`,
            env: [{ ...SIM_RUN_ENV }],
          },
          workers: 1,
          resources: { gpus: 1 },
          confidential: { required: true, teeTypes: ['snp'] },
          sla: { priceCap: '50' },
          payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
        },
      },
    ]);
    const getTj = () => getJson<TrainingJob>('hub', ['-n', jobsNs, 'get', 'tj', 'ft']);
    await eventually('ft Running', async () => getTj().status?.phase === 'Running', 120_000, 250);
    const pod = getJson<{ items: Array<{ metadata: { name: string; annotations?: Record<string, string> } }> }>(
      'gpu-a',
      ['-n', tenant, 'get', 'pods', '-l', 'nvdax.io/job-kind=TrainingJob'],
    ).items[0]!;
    const instance = pod.metadata.name;
    const initData = pod.metadata.annotations?.['io.katacontainers.config.hypervisor.cc_init_data'] ?? '';
    // the workload attests its Ed25519 signing key; its reports are then checked against it
    const key = generateSigningKey();
    const jwk = signingJwk(key.publicKey);
    const { nonce } = await call<object, { nonce: string }>('Challenge', { job: tj, instance });
    const bundle = await attester.issue({ nonce, teePubKey: jwk, initData, gpus: 1, instance });
    const att = await call<object, { verified: boolean }>('Attest', {
      job: tj,
      instance,
      nonce,
      teePubKeyJson: JSON.stringify(jwk),
      ear: bundle.ear,
      nrasJson: bundle.nras ? JSON.stringify(bundle.nras) : '',
    });
    t.true(att.verified);

    const jobKey = `${jobsNs}/ft`;
    const progress = (k: typeof key, step: number, checkpoint?: object) => {
      const time = Date.now();
      const signer = k.publicKey.toString('base64url');
      const payload = `nvdax-progress/v1\n${jobKey}\n${instance}\n${step}\n100\n${time}`;
      return call<object, { accepted: boolean; head: string }>('Progress', {
        job: tj,
        instance,
        step,
        totalSteps: 100,
        timeUnixMs: time,
        signer,
        signature: signWith(k, payload).toString('base64url'),
        checkpointJson: checkpoint ? JSON.stringify(checkpoint) : '',
      });
    };
    const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
    const first = signCheckpoint(jobKey, key, { step: 10, uri: 's3://ckpt/ft/10', sha256: sha('w10'), parent: '' });
    const r1 = await progress(key, 10, first);
    t.true(r1.accepted);
    t.is(r1.head, recordHash(jobKey, first));

    // a broken link, an altered record and another key are refused, naming why
    const orphan = signCheckpoint(jobKey, key, {
      step: 20,
      uri: 's3://ckpt/ft/20',
      sha256: sha('w20'),
      parent: sha('x'),
    });
    const broken = await t.throwsAsync(progress(key, 20, orphan));
    t.regex((broken as grpc.ServiceError).details, /^BrokenLineage: checkpoint 20 names parent/);
    const next = signCheckpoint(jobKey, key, { step: 20, uri: 's3://ckpt/ft/20', sha256: sha('w20'), parent: r1.head });
    const altered = await t.throwsAsync(progress(key, 20, { ...next, sha256: sha('tampered') }));
    t.regex((altered as grpc.ServiceError).details, /^BadSignature: checkpoint 20/);
    const other = generateSigningKey();
    const foreign = await t.throwsAsync(progress(other, 20));
    t.regex((foreign as grpc.ServiceError).details, /signer: not a key .* attested/);

    const r2 = await progress(key, 20, next);
    t.true(r2.accepted);
    const st = await eventually('lineage in status', async () => {
      const j = getTj();
      return j.status?.checkpoints?.entries?.length === 2 ? j.status : undefined;
    });
    t.is(st.step, 20);
    t.is(st.progress, '20%');
    t.is(st.lastCheckpoint?.step, 20);
    t.is(st.lastCheckpoint?.sha256, sha('w20'));
    // anyone can check the lineage from the object alone
    t.notThrows(() => verifyLineage(st.checkpoints as never));
    const tampered = structuredClone(st.checkpoints) as { entries: Array<{ uri: string }> };
    tampered.entries[0]!.uri = 's3://elsewhere';
    t.throws(() => verifyLineage(tampered as never), { message: /not signed by/ });
  },
);
