// Reputation over a sliding window (pure), and signed telemetry (EIP-712 with the provider's key).
import test from 'ava';
import { Wallet } from 'ethers';
import { DEFAULT_REPUTATION, latencyForTier, reputation } from '../../../operator/scheduling/reputation.ts';
import {
  signTelemetry,
  type TelemetryReport,
  telemetryDomain,
  TELEMETRY_TYPES,
  verifyTelemetry,
} from '../../../operator/verification/telemetry.ts';

const now = 1_800_000_000_000;
const tier = (t: number, requests: number, slaViolations: number, p95Ms: number) => ({
  tier: t,
  requests,
  slaViolations,
  p50Ms: Math.floor(p95Ms / 2),
  p95Ms,
  p99Ms: p95Ms * 2,
});

test('the window: request-weighted latency per tier, violations summed, old reports forgotten', (t) => {
  const r = reputation(
    [
      { time: now - 10_000, tiers: [tier(0, 300, 3, 100)] },
      { time: now - 20_000, tiers: [tier(0, 100, 1, 300), tier(2, 50, 0, 40)] },
      { time: now - DEFAULT_REPUTATION.windowMs - 1, tiers: [tier(0, 10_000, 10_000, 9_000)] }, // outside
    ],
    { failedAttestations: 0, replayMismatches: 0 },
    now,
  );
  t.deepEqual(
    r.latency.map((x) => [x.tier, x.requests, x.slaViolations, x.p95Ms]),
    [
      [0, 400, 4, 150], // (300 × 100 + 100 × 300) / 400
      [2, 50, 0, 40],
    ],
  );
  t.is(r.violationRate, 4 / 450);
  t.is(r.score, '0.995'); // 1 − 0.5 × 4/450 = 0.99555… → 0.995
});

test('the score: violations, failed attestations and replay mismatches each cost; clamped to [0, 1]', (t) => {
  const clean = reputation(
    [{ time: now, tiers: [tier(0, 10, 0, 50)] }],
    { failedAttestations: 0, replayMismatches: 0 },
    now,
  );
  t.is(clean.score, '1');
  const none = reputation([], { failedAttestations: 0, replayMismatches: 0 }, now);
  t.is(none.score, '1');
  t.deepEqual(none.latency, []);
  t.is(reputation([], { failedAttestations: 2, replayMismatches: 0 }, now).score, '0.8');
  t.is(reputation([], { failedAttestations: 0, replayMismatches: 1 }, now).score, '0.75');
  t.is(
    reputation([{ time: now, tiers: [tier(0, 10, 10, 50)] }], { failedAttestations: 9, replayMismatches: 9 }, now)
      .score,
    '0',
  );
});

test('LatencyFactor reads the job tier, else the worst tier, else nothing', (t) => {
  const lat = [tier(0, 1, 0, 80), tier(2, 1, 0, 30)];
  t.is(latencyForTier(lat, 2), 30);
  t.is(latencyForTier(lat, 1), 80);
  t.is(latencyForTier([], 0), undefined);
  t.is(latencyForTier(undefined, 0), undefined);
});

const provider = new Wallet(`0x${'61'.repeat(32)}`);
const stranger = new Wallet(`0x${'62'.repeat(32)}`);
const domain = telemetryDomain(31337n, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
const report = (o: Partial<TelemetryReport> = {}): TelemetryReport => ({
  provider: provider.address,
  pool: 'gpu-a',
  sequence: 7,
  time: now,
  windowSeconds: 60,
  gpusTotal: 8,
  gpusUsed: 3,
  tiers: [tier(0, 100, 2, 120)],
  ...o,
});

test('telemetry signed by the pool provider verifies; forged, altered or misnamed reports are refused by field', async (t) => {
  const s = await signTelemetry(provider, domain, report());
  t.deepEqual(verifyTelemetry(domain, s, { provider: provider.address, pool: 'gpu-a' }), report());
  // signed by someone else over the provider's report
  const forged = { report: report(), signature: await stranger.signTypedData(domain, TELEMETRY_TYPES, report()) };
  t.throws(() => verifyTelemetry(domain, forged, { provider: provider.address, pool: 'gpu-a' }), {
    message: /telemetry signature: recovers to 0x/,
  });
  // altered after signing
  const altered = { ...s, report: { ...s.report, tiers: [tier(0, 100, 0, 120)] } };
  t.throws(() => verifyTelemetry(domain, altered, { provider: provider.address, pool: 'gpu-a' }), {
    message: /telemetry signature/,
  });
  t.throws(() => verifyTelemetry(domain, s, { provider: provider.address, pool: 'gpu-b' }), {
    message: /telemetry pool: is gpu-a, expected gpu-b/,
  });
  t.throws(() => verifyTelemetry(domain, s, { provider: stranger.address, pool: 'gpu-a' }), {
    message: /telemetry provider/,
  });
  await t.throwsAsync(signTelemetry(provider, domain, report({ tiers: [{ ...tier(0, 1, 0, 50), p99Ms: 10 }] })), {
    message: /telemetry tiers\[0\]: percentiles must not decrease/,
  });
  await t.throwsAsync(signTelemetry(provider, domain, report({ gpusUsed: 9 })), {
    message: /telemetry gpusUsed: above gpusTotal/,
  });
});
