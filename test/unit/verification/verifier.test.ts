// The verifier: deterministic sampling at the configured share, replay through an injected reference backend,
// and slashing evidence for replay mismatches, bad signatures and failed attestations, with reputation counts.
import test from 'ava';
import { keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { initData } from '../../../operator/materialize/initdata.ts';
import { evidenceHash } from '../../../operator/verification/attestation.ts';
import { canonical } from '../../../operator/runtime/canonical.ts';
import { hubJobId } from '../../../operator/settlement/task.ts';
import {
  contentHash,
  gatewayKeyHash,
  type Receipt,
  receiptDomain,
  signReceipt,
} from '../../../operator/verification/receipt.ts';
import {
  isSampled,
  type ReplayRecord,
  Reputation,
  slashAmounts,
  slashEvidence,
  slashEvidenceHash,
  Verifier,
} from '../../../operator/verification/verifier.ts';
import { createDevAttester, devPolicy } from '../../../provider-runtime/attester/attester.ts';

const provider = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const domain = receiptDomain(31337, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
const job = hubJobId({ namespace: 'team-a', name: 'echo' });
const teePubKey = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };

/** The reference model: upper-cases its input. */
const reference = (input: Uint8Array | string) =>
  (typeof input === 'string' ? input : Buffer.from(input).toString()).toUpperCase();

async function served(i: number, output?: string): Promise<ReplayRecord> {
  const input = `request number ${i}`;
  const r: Receipt = {
    provider: provider.address,
    job,
    modelHash: contentHash('upper-case model'),
    inputHash: contentHash(input),
    outputHash: contentHash(output ?? reference(input)),
    latencyUs: 1000 + i,
    deviceTimeUs: 500 + i,
    price: '1000',
    requestId: contentHash(`request-${i}`),
    gatewayKey: gatewayKeyHash(teePubKey),
    time: 1_795_000_000_000 + i,
    inputTokens: 0,
    outputTokens: 0,
  };
  return { receipt: await signReceipt(provider, domain, r), input };
}

const requestIds = (n: number) => Array.from({ length: n }, (_, i) => ({ job, requestId: contentHash(`r-${i}`) }));

test('sampling: deterministic per seed, at the configured share, 0 and 1 exact', (t) => {
  const ids = requestIds(10_000);
  const picked = ids.filter((r) => isSampled('seed-a', r, 0.1));
  t.true(picked.length > 880 && picked.length < 1_120, `${picked.length} of 10000 at 10%`);
  t.deepEqual(
    ids.filter((r) => isSampled('seed-a', r, 0.1)),
    picked,
  );
  const other = ids.filter((r) => isSampled('seed-b', r, 0.1));
  const pickedSet = new Set(picked);
  const overlap = other.filter((r) => pickedSet.has(r)).length;
  t.true(overlap < 200, `another seed picks other receipts (overlap ${overlap}, ~100 by chance)`);
  t.is(ids.filter((r) => isSampled('seed-a', r, 0)).length, 0);
  t.is(ids.filter((r) => isSampled('seed-a', r, 1)).length, ids.length);
  const half = ids.filter((r) => isSampled('seed-a', r, 0.5)).length;
  t.true(half > 4_800 && half < 5_200, `${half} at 50%`);
  // A higher share keeps every receipt a lower share picked (same hash, larger threshold).
  t.true(picked.every((r) => isSampled('seed-a', r, 0.5)));
  t.throws(() => isSampled('s', ids[0]!, 1.5), { instanceOf: RangeError });
  t.throws(() => new Verifier({ domain, share: -0.1, seed: 's', infer: reference }), { instanceOf: RangeError });
});

test('a replay mismatch produces slashing evidence with a recomputable hash; matches pass', async (t) => {
  const v = new Verifier({ domain, share: 1, seed: 'seed', infer: reference });
  const good = await served(1);
  t.deepEqual(await v.check(good), { status: 'ok', provider: provider.address, sampled: true });
  const bad = await served(2, 'a cheaper model answered');
  const out = await v.check(bad);
  t.is(out.status, 'evidence');
  if (out.status !== 'evidence') return;
  const e = out.evidence;
  t.is(e.kind, 'replay-mismatch');
  t.is(e.provider, provider.address);
  t.is(e.receipt, bad.receipt);
  t.deepEqual(e.detail, {
    inputHash: bad.receipt.receipt.inputHash,
    receiptOutputHash: contentHash('a cheaper model answered'),
    replayedOutputHash: contentHash('REQUEST NUMBER 2'),
  });
  // keccak256 of the canonical JSON of {provider, kind, receipt, detail}: anyone can recompute it.
  t.is(
    e.evidenceHash,
    keccak256(toUtf8Bytes(canonical({ detail: e.detail, kind: e.kind, provider: e.provider, receipt: e.receipt }))),
  );
  t.is(slashEvidenceHash(e), e.evidenceHash);
  t.not(slashEvidenceHash({ ...e, detail: { ...e.detail, replayedOutputHash: '0x00' } }), e.evidenceHash);
  t.deepEqual(v.reputation.of(provider.address), {
    provider: provider.address,
    receipts: 2,
    replays: 2,
    replayMismatches: 1,
    attestationFailures: 0,
    badSignatures: 0,
    modelMismatches: 0,
  });
});

test('only sampled receipts are replayed: at share 0 a wrong output goes unseen and infer is never called', async (t) => {
  let calls = 0;
  const v = new Verifier({
    domain,
    share: 0,
    seed: 'seed',
    infer: (x) => {
      calls++;
      return reference(x);
    },
  });
  t.deepEqual(await v.check(await served(3, 'wrong')), { status: 'ok', provider: provider.address, sampled: false });
  t.is(calls, 0);
  // At a 30% share, exactly the receipts the sampler picks are replayed.
  const w = new Verifier({ domain, share: 0.3, seed: 'seed-x', infer: reference });
  const records = await Promise.all(Array.from({ length: 60 }, (_, i) => served(100 + i, 'wrong')));
  const { outcomes, evidence } = await w.checkAll(records);
  const picked = records.filter((r) => isSampled('seed-x', r.receipt.receipt, 0.3)).length;
  t.true(picked > 5 && picked < 35, `${picked} of 60 sampled`);
  t.is(evidence.length, picked);
  t.is(outcomes.filter((o) => o.status === 'ok').length, 60 - picked);
  t.is(w.reputation.of(provider.address).replayMismatches, picked);
  t.is(w.reputation.of(provider.address).receipts, 60);
});

test('a bad receipt signature produces evidence and counts as a bad signature', async (t) => {
  const v = new Verifier({ domain, share: 1, seed: 'seed', infer: reference });
  const rec = await served(4);
  const altered = { ...rec, receipt: { ...rec.receipt, receipt: { ...rec.receipt.receipt, price: '1' } } };
  const out = await v.check(altered);
  t.is(out.status, 'evidence');
  if (out.status !== 'evidence') return;
  t.is(out.evidence.kind, 'bad-signature');
  t.is(out.evidence.detail['field'], 'signature');
  t.is(v.reputation.of(provider.address).badSignatures, 1);
});

test('a failed attestation in the record produces evidence naming the claim', async (t) => {
  const dev = await createDevAttester();
  const init = initData({ kbsUrl: 'http://kbs:8080' });
  const v = new Verifier({ domain, share: 1, seed: 'seed', infer: reference, attestationPolicy: devPolicy(dev) });
  const bundle = await dev.issue({ nonce: 'n', teePubKey, initData: init.toml, gpus: 1, faults: { debugGpu: 0 } });
  const rec = await served(5);
  const out = await v.check({
    ...rec,
    attestation: { bundle, expected: { nonce: 'n', teePubKey, initDataDigest: init.digest } },
  });
  t.is(out.status, 'evidence');
  if (out.status !== 'evidence') return;
  t.is(out.evidence.kind, 'attestation-failed');
  t.is(out.evidence.detail['claim'], 'dbgstat');
  t.is(out.evidence.detail['where'], 'nras/GPU-0');
  t.is(out.evidence.detail['bundleHash'], evidenceHash(bundle));
  const good = await dev.issue({ nonce: 'n', teePubKey, initData: init.toml, gpus: 1 });
  const ok = await v.check({
    ...rec,
    attestation: { bundle: good, expected: { nonce: 'n', teePubKey, initDataDigest: init.digest } },
  });
  t.is(ok.status, 'ok');
  const rep = v.reputation.of(provider.address);
  t.is(rep.attestationFailures, 1);
  t.is(rep.receipts, 2);
  // A record carrying attestation needs a policy.
  const noPolicy = new Verifier({ domain, share: 1, seed: 'seed', infer: reference });
  await t.throwsAsync(noPolicy.check({ ...rec, attestation: { bundle: good, expected: { nonce: 'n', teePubKey } } }));
});

test('a record whose input is not the receipt’s is skipped, not held against the provider', async (t) => {
  const v = new Verifier({ domain, share: 1, seed: 'seed', infer: reference });
  const rec = await served(6);
  const out = await v.check({ ...rec, input: 'something else' });
  t.is(out.status, 'skipped');
  const noProvider = { ...rec, receipt: { ...rec.receipt, receipt: { ...rec.receipt.receipt, provider: 'nobody' } } };
  t.is((await v.check(noProvider)).status, 'skipped');
  const rep = v.reputation.of(provider.address);
  t.is(rep.replayMismatches + rep.badSignatures + rep.attestationFailures, 0);
});

test('reputation: counters per provider, zeros for one never seen', (t) => {
  const r = new Reputation();
  const other = Wallet.createRandom().address;
  r.record(provider.address, { replayed: true, found: 'replay-mismatch' });
  r.record(provider.address.toLowerCase(), { replayed: false });
  r.recordAttestationFailure(other);
  t.deepEqual(r.of(provider.address), {
    provider: provider.address,
    receipts: 2,
    replays: 1,
    replayMismatches: 1,
    attestationFailures: 0,
    badSignatures: 0,
    modelMismatches: 0,
  });
  t.is(r.of(other).attestationFailures, 1);
  t.is(r.all().length, 2);
  t.is(r.of(Wallet.createRandom().address).receipts, 0);
});

test('the slash split: verifier share by bps, the rest over requesters to the wei', (t) => {
  t.deepEqual(slashAmounts(1000n, 1000n, ['a', 'b', 'c']), {
    verifierAmount: 100n,
    requesterAmounts: [300n, 300n, 300n],
  });
  t.deepEqual(slashAmounts(1001n, 1000n, ['a', 'b']), { verifierAmount: 100n, requesterAmounts: [451n, 450n] });
  t.throws(() => slashAmounts(10n, 1000n, []), { instanceOf: RangeError });
  t.throws(() => slashEvidence('replay-mismatch', { receipt: { provider: 'x' } as Receipt, signature: '0x' }, {}));
});
