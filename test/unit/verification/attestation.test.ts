// Attestation checks against bundles from the development attester: the good bundle passes with every field
// of the result filled in, and every fault the issue names is refused with the claim that failed.
import { createHash } from 'node:crypto';
import test from 'ava';
import { initData } from '../../../operator/materialize/initdata.ts';
import { canonical } from '../../../operator/runtime/canonical.ts';
import {
  type AttestationPolicy,
  AttestationError,
  type EvidenceBundle,
  type ExpectedEvidence,
  evidenceHash,
  initDataDigestOf,
  newNonce,
  refusedAttestation,
  statusAttestation,
  verifyEvidence,
} from '../../../operator/verification/attestation.ts';
import {
  createDevAttester,
  DEV_GPU,
  type DevAttester,
  type DevFaults,
  devPolicy,
  type IssueRequest,
} from '../../../provider-runtime/attester/attester.ts';

const teePubKey = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};
const nonce = 'vJ0tJ4Vd2Q9mHk3qGdP0Lw';
const init = initData({ kbsUrl: 'http://kbs.nvdax-system:8080' });

let dev: DevAttester;
let other: DevAttester;
test.before(async () => {
  dev = await createDevAttester();
  other = await createDevAttester();
});

const request = (over: Partial<IssueRequest> = {}, faults?: DevFaults): IssueRequest => ({
  nonce,
  teePubKey,
  initData: init.annotation,
  gpus: 2,
  instance: 'team-a/llama-0',
  ...over,
  ...(faults ? { faults } : {}),
});
const expected = (over: Partial<ExpectedEvidence> = {}): ExpectedEvidence => ({
  nonce,
  teePubKey,
  initDataDigest: init.digest,
  ...over,
});

async function refused(
  t: import('ava').ExecutionContext,
  bundle: EvidenceBundle,
  claim: string,
  where: string | RegExp,
  exp: ExpectedEvidence = expected(),
  policy: AttestationPolicy = devPolicy(dev),
) {
  const e = await t.throwsAsync(verifyEvidence(bundle, exp, policy), { instanceOf: AttestationError });
  t.is(e?.claim, claim, e?.message);
  if (typeof where === 'string') t.is(e?.where, where, e?.message);
  else t.regex(e?.where ?? '', where);
  t.true(e!.message.includes(claim));
}

test('a good development bundle verifies: TEE, GPUs, evidence hash, time, instance', async (t) => {
  const now = new Date('2026-11-28T12:00:00Z');
  const a = await createDevAttester({ now: () => now });
  const bundle = await a.issue(request());
  const r = await verifyEvidence(bundle, expected(), devPolicy(a, { now: () => new Date(now.getTime() + 1000) }));
  t.true(r.verified);
  t.is(r.teeType, 'sample');
  t.true(r.development);
  t.true(r.gpuAttested);
  t.true(r.initDataChecked);
  t.is(r.instance, 'team-a/llama-0');
  t.is(r.verifiedTime, '2026-11-28T12:00:01.000Z');
  t.is(r.expiresAt.toISOString(), '2026-11-28T12:05:00.000Z'); // the EAR's 5 minutes, sooner than NRAS's hour
  t.deepEqual(
    r.gpus.map((g) => [g.index, g.hwmodel, g.driverVersion, g.vbiosVersion]),
    [0, 1].map((i) => [i, DEV_GPU.hwmodel, DEV_GPU.driverVersion, DEV_GPU.vbiosVersion]),
  );
  t.not(r.gpus[0]!.ueid, r.gpus[1]!.ueid);
  t.regex(r.evidenceHash, /^0x[0-9a-f]{64}$/);
  t.is(r.evidenceHash, `0x${createHash('sha256').update(canonical(bundle)).digest('hex')}`);
  t.regex(r.message, /development/);
  // The status shape: the CRD's TeeType has no `sample`, so it is left out.
  t.deepEqual(statusAttestation(r, 'chat-a1-0'), {
    instance: 'chat-a1-0',
    verified: true,
    development: true,
    gpuAttested: true,
    evidenceHash: r.evidenceHash,
    verifiedTime: r.verifiedTime,
    expiryTime: r.expiresAt.toISOString(),
    message: r.message,
  });
});

test('the token shapes are Trustee’s and NRAS’s', async (t) => {
  const bundle = await dev.issue(request());
  const [header, payload] = bundle.ear
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
  t.is(header.alg, 'ES256');
  t.is(header.jwk.crv, 'P-256');
  t.is(header.kid, undefined);
  t.is(payload.eat_profile, 'tag:github.com,2024:confidential-containers/Trustee');
  t.deepEqual(Object.keys(payload.submods).sort(), ['cpu0', 'gpu0', 'gpu1']);
  const ev = payload.submods.cpu0['ear.veraison.annotated-evidence'];
  t.deepEqual(Object.keys(ev).sort(), [
    'init_data',
    'init_data_claims',
    'report_data',
    'runtime_data_claims',
    'sample',
  ]);
  t.is(Buffer.from(ev.init_data, 'hex').length, 48);
  t.is(ev.init_data_claims.algorithm, 'sha384');
  const [[jwt, overall], perGpu] = bundle.nras!;
  t.is(jwt, 'JWT');
  t.deepEqual(Object.keys(perGpu), ['GPU-0', 'GPU-1']);
  const o = JSON.parse(Buffer.from(overall.split('.')[1]!, 'base64url').toString());
  t.deepEqual(o.submods['GPU-1'], ['DIGEST', ['SHA-256', createHash('sha256').update(perGpu['GPU-1']!).digest('hex')]]);
  t.is(JSON.parse(Buffer.from(overall.split('.')[0]!, 'base64url').toString()).alg, 'ES384');
});

test('init-data: the TOML, the annotation and the digest are the same expectation; sha256 TOML works', async (t) => {
  const bundle = await dev.issue(request({ initData: init.toml }));
  for (const exp of [
    expected(),
    expected({ initDataDigest: undefined, initData: init.toml }),
    expected({ initDataDigest: undefined, initData: init.annotation }),
  ]) {
    t.true((await verifyEvidence(bundle, exp, devPolicy(dev))).initDataChecked);
  }
  const i256 = initData({ kbsUrl: 'http://kbs:8080', algorithm: 'sha256' });
  t.deepEqual(initDataDigestOf(i256.annotation), { algorithm: 'sha256', digest: i256.digest });
  const b256 = await dev.issue(request({ initData: i256.annotation }));
  t.true((await verifyEvidence(b256, expected({ initDataDigest: i256.digest }), devPolicy(dev))).verified);
  await refused(t, b256, 'init_data', 'ear/cpu0', expected({ initDataDigest: init.digest }));
});

test('legacy single `cpu` submod is accepted', async (t) => {
  const bundle = await dev.issue(request({}, { legacyCpuSubmod: true }));
  t.true((await verifyEvidence(bundle, expected(), devPolicy(dev))).verified);
});

test('SNP evidence binds 32 bytes of init-data (HOST_DATA), TDX 48 (MRCONFIGID); both pass without development', async (t) => {
  const policy = devPolicy(dev, { allowDevelopment: false });
  const snp = await dev.issue(request({ gpus: 1 }, { emulateTee: 'snp' }));
  const r = await verifyEvidence(snp, expected({ teeType: 'snp' }), policy);
  t.is(r.teeType, 'snp');
  t.false(r.development);
  t.is(statusAttestation(r, 'x').teeType, 'snp');
  const claims = JSON.parse(Buffer.from(snp.ear.split('.')[1]!, 'base64url').toString());
  t.is(claims.submods.cpu0['ear.veraison.annotated-evidence'].init_data, init.digest.slice(0, 64));
  t.deepEqual(Object.keys(claims.submods.gpu0['ear.veraison.annotated-evidence']).sort(), ['nvidia']);
  const i256 = initData({ kbsUrl: 'http://kbs:8080', algorithm: 'sha256' });
  const tdx = await dev.issue(request({ gpus: 0, initData: i256.toml }, { emulateTee: 'tdx' }));
  t.is((await verifyEvidence(tdx, expected({ initDataDigest: i256.digest }), policy)).teeType, 'tdx');
  const tdxClaims = JSON.parse(Buffer.from(tdx.ear.split('.')[1]!, 'base64url').toString());
  t.is(tdxClaims.submods.cpu0['ear.veraison.annotated-evidence'].init_data, i256.digest + '0'.repeat(32));
  // A TEE type the policy does not list.
  await refused(t, tdx, 'tee', 'ear/cpu0', expected({ initDataDigest: i256.digest }), { ...policy, teeTypes: ['snp'] });
});

test('refused: development (sample) evidence unless the policy allows it', async (t) => {
  const bundle = await dev.issue(request());
  await refused(t, bundle, 'tee', 'ear/cpu0', expected(), devPolicy(dev, { allowDevelopment: false }));
  t.true((await verifyEvidence(bundle, expected(), devPolicy(dev, { allowDevelopment: true }))).development);
});

test('refused: expired EAR, expired NRAS tokens, and an EAR past its time on the verifier’s clock', async (t) => {
  await refused(t, await dev.issue(request({}, { expired: 'ear' })), 'exp', 'ear');
  await refused(t, await dev.issue(request({}, { expired: 'nras' })), 'exp', 'nras');
  const bundle = await dev.issue(request());
  const later = devPolicy(dev, { now: () => new Date(Date.now() + 301_000) });
  await refused(t, bundle, 'exp', 'ear', expected(), later);
  // A token without `exp` never expires, so it is refused.
  await refused(t, await dev.issue(request({}, { omitExp: 'ear' })), 'exp', 'ear');
  await refused(t, await dev.issue(request({}, { omitExp: 'nras' })), 'exp', 'nras');
  // The tolerance is respected, and only as far as it goes.
  t.true((await verifyEvidence(bundle, expected(), { ...later, clockToleranceSeconds: 10 })).verified);
});

test('refused: tokens signed by another key', async (t) => {
  const forged = await other.issue(request());
  await refused(t, forged, 'signature', 'ear');
  // The NRAS answer of another signer under a genuine EAR: its kid is unknown …
  const genuine = await dev.issue(request());
  await refused(t, { ...genuine, nras: forged.nras! }, 'kid', 'nras');
  // … and under a known kid, its signature fails.
  const kid = other.jwks.nras.keys[0]!.kid;
  const trick = devPolicy(dev, { nrasJwks: { keys: [{ ...dev.jwks.nras.keys[0]!, kid }] } });
  await refused(t, { ...genuine, nras: forged.nras! }, 'signature', 'nras', expected(), trick);
});

test('refused: wrong issuer (EAR when the policy names one, NRAS always)', async (t) => {
  const policy = devPolicy(dev, { earIssuer: 'https://trustee.nvdax.io' });
  await refused(
    t,
    await dev.issue(request({}, { earIssuer: 'https://evil.example' })),
    'iss',
    'ear',
    expected(),
    policy,
  );
  await refused(t, await dev.issue(request()), 'iss', 'ear', expected(), policy); // missing iss
  t.true(
    (await verifyEvidence(await dev.issue(request({}, { earIssuer: 'https://trustee.nvdax.io' })), expected(), policy))
      .verified,
  );
  await refused(t, await dev.issue(request({}, { nrasIssuer: 'https://nras.evil.example' })), 'iss', 'nras');
});

test('refused: report_data not binding the nonce or the key (a replayed or substituted bundle)', async (t) => {
  const bundle = await dev.issue(request());
  await refused(t, bundle, 'report_data', 'ear/cpu0', expected({ nonce: 'a-fresh-nonce' }));
  await refused(t, bundle, 'report_data', 'ear/cpu0', expected({ teePubKey: { ...teePubKey, x: 'other' } }));
  // GPU evidence made for another nonce under an EAR for this one.
  const elsewhere = await dev.issue(request({ nonce: 'another' }));
  await refused(t, { ...bundle, nras: elsewhere.nras! }, 'eat_nonce', 'nras');
  // One GPU's own token for another nonce, under a correct overall token.
  await refused(t, await dev.issue(request({}, { staleGpuNonce: 1 })), 'eat_nonce', 'nras/GPU-1');
});

test('refused: wrong init-data measurement, and no expected digest unless optional', async (t) => {
  await refused(t, await dev.issue(request({}, { wrongMeasurement: true })), 'init_data', 'ear/cpu0');
  const bundle = await dev.issue(request());
  const otherInit = initData({ kbsUrl: 'http://kbs.elsewhere:8080' });
  await refused(t, bundle, 'init_data', 'ear/cpu0', expected({ initDataDigest: otherInit.digest }));
  await refused(t, bundle, 'init_data', 'expected', expected({ initDataDigest: undefined }));
  const r = await verifyEvidence(
    bundle,
    expected({ initDataDigest: undefined }),
    devPolicy(dev, { initDataOptional: true }),
  );
  t.false(r.initDataChecked);
});

test('refused: a submod whose status is not affirming', async (t) => {
  for (const status of ['contraindicated', 'warning', 'none'] as const) {
    await refused(t, await dev.issue(request({}, { cpuStatus: status })), 'ear.status', 'ear/cpu0');
  }
  await refused(
    t,
    await dev.issue(request({}, { gpuStatus: { index: 1, status: 'contraindicated' } })),
    'ear.status',
    'ear/gpu1',
  );
});

test('refused: per-GPU claims (debug, measurements, allow-lists)', async (t) => {
  await refused(t, await dev.issue(request({}, { debugGpu: 1 })), 'dbgstat', 'nras/GPU-1');
  await refused(t, await dev.issue(request({}, { measresFailure: 0 })), 'measres', 'nras/GPU-0');
  await refused(
    t,
    await dev.issue(request({}, { driverVersion: '535.104.05' })),
    'x-nvidia-gpu-driver-version',
    'nras/GPU-0',
  );
  await refused(
    t,
    await dev.issue(request({}, { vbiosVersion: '96.00.5E.00.01' })),
    'x-nvidia-gpu-vbios-version',
    'nras/GPU-0',
  );
  const bundle = await dev.issue(request());
  const h100Only = devPolicy(dev, {
    gpu: {
      driverVersions: [DEV_GPU.driverVersion],
      vbiosVersions: [DEV_GPU.vbiosVersion],
      hwmodels: ['GB100 A01 FSP BROM'],
    },
  });
  await refused(t, bundle, 'hwmodel', 'nras/GPU-0', expected(), h100Only);
});

const gpuClaimFaults: Array<[string, unknown]> = [
  ['secboot', false],
  ['x-nvidia-gpu-arch-check', false],
  ['x-nvidia-gpu-attestation-report-signature-verified', false],
  ['hwmodel', undefined],
  ['ueid', ''],
  ['dbgstat', 'enabled'],
  ['measres', 'fail'],
];
for (const [claim, value] of gpuClaimFaults) {
  test(`refused: GPU claim ${claim} = ${JSON.stringify(value)}`, async (t) => {
    await refused(
      t,
      await dev.issue(request({}, { gpuClaims: { index: 0, claims: { [claim]: value } } })),
      claim,
      'nras/GPU-0',
    );
  });
}

test('refused: two GPUs with one identity; the overall result false; another EAR profile', async (t) => {
  const normal = await dev.issue(request());
  const dup = await dev.issue(request({}, { gpuClaims: { index: 1, claims: { ueid: unverifiedUeid(normal, 0) } } }));
  t.is(unverifiedUeid(dup, 0), unverifiedUeid(dup, 1));
  await refused(t, dup, 'ueid', 'nras/GPU-1');
  await refused(
    t,
    await dev.issue(request({}, { overallClaims: { 'x-nvidia-overall-att-result': false } })),
    'x-nvidia-overall-att-result',
    'nras',
  );
  await refused(
    t,
    await dev.issue(request()),
    'eat_profile',
    'ear',
    expected(),
    devPolicy(dev, { earProfile: 'tag:example.com,2025:other' }),
  );
});

function unverifiedUeid(b: EvidenceBundle, i: number): string {
  return JSON.parse(Buffer.from(b.nras![1][`GPU-${i}`]!.split('.')[1]!, 'base64url').toString()).ueid;
}

test('refused: the overall NRAS token’s GPU digests must match the per-GPU tokens', async (t) => {
  await refused(t, await dev.issue(request({}, { badGpuDigest: 1 })), 'submods', 'nras');
  await refused(t, await dev.issue(request({}, { missingGpuDigest: 0 })), 'submods', 'nras');
  // A per-GPU token swapped for one from another bundle (same signer, same nonce) breaks its digest.
  const a = await dev.issue(request());
  const b = await dev.issue(request({ instance: 'team-a/llama-1' }));
  const [[, overall], perGpu] = a.nras!;
  await refused(t, { ...a, nras: [['JWT', overall], { ...perGpu, 'GPU-0': b.nras![1]['GPU-0']! }] }, 'submods', 'nras');
});

test('refused: GPU count — fewer than expected, none when required, appraised GPUs without NRAS', async (t) => {
  const bundle = await dev.issue(request());
  await refused(t, bundle, 'submods', 'ear', expected({ gpus: 4 }));
  t.is((await verifyEvidence(bundle, expected({ gpus: 2 }), devPolicy(dev))).gpus.length, 2);
  const noGpu = await dev.issue(request({ gpus: 0 }));
  t.false((await verifyEvidence(noGpu, expected(), devPolicy(dev))).gpuAttested);
  await refused(t, noGpu, 'submods', 'ear', expected(), devPolicy(dev, { requireGpu: true }));
  const { nras: _, ...withoutNras } = bundle;
  await refused(t, withoutNras, 'nras', 'bundle');
  await refused(t, { ...noGpu, nras: bundle.nras! }, 'submods', 'ear');
});

test('refused: expected TEE type differs; no EAR at all', async (t) => {
  const bundle = await dev.issue(request());
  await refused(t, bundle, 'tee', 'ear/cpu0', expected({ teeType: 'tdx' }));
  await refused(t, { ...bundle, ear: '' }, 'ear', 'bundle');
  await refused(t, { ...bundle, ear: 'not.a.jwt' }, 'token', 'ear');
});

test('the evidence hash changes with any part of the bundle; a refusal maps to an unverified status', async (t) => {
  const bundle = await dev.issue(request());
  t.not(evidenceHash(bundle), evidenceHash({ ...bundle, instance: 'x' }));
  t.is(evidenceHash(bundle), evidenceHash(JSON.parse(JSON.stringify(bundle))));
  const err = await t.throwsAsync(verifyEvidence(bundle, expected({ nonce: 'x' }), devPolicy(dev)));
  const s = refusedAttestation(bundle, err, 'chat-a1-0', new Date('2026-01-01T00:00:00Z'));
  t.deepEqual(s, {
    instance: 'chat-a1-0',
    verified: false,
    gpuAttested: false,
    evidenceHash: evidenceHash(bundle),
    verifiedTime: '2026-01-01T00:00:00.000Z',
    message: err!.message,
  });
});

test('nonces are fresh: 32 random bytes, base64url', (t) => {
  const a = newNonce();
  t.regex(a, /^[A-Za-z0-9_-]{43}$/);
  t.not(a, newNonce());
});

test('an attester restored from its keys signs tokens the old JWKS verifies', async (t) => {
  const again = await createDevAttester({ keys: dev.keys });
  t.deepEqual(again.jwks, dev.jwks);
  t.true((await verifyEvidence(await again.issue(request()), expected(), devPolicy(dev))).verified);
  t.false(JSON.stringify(dev.jwks).includes('"d"'));
});
