// A pool's reputation over a sliding window (pure): its signed telemetry (latency and SLA violations per tier)
// and what verification found (failed attestations, replay mismatches) → a score in [0, 1] and the latency
// per tier that LatencyFactor prices (docs/placement.md#reputation).

export interface TierSample {
  tier: number;
  requests: number;
  slaViolations: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/** One verified report: when its window ended (Unix ms) and what it said per tier. */
export interface TelemetrySample {
  time: number;
  tiers: readonly TierSample[];
}

export interface ReputationParams {
  /** Reports older than this are forgotten (default 1 h). */
  windowMs: number;
  /** Score lost at a 100% SLA-violation rate (default 0.5). */
  violationWeight: number;
  /** Score lost per failed attestation in the window (default 0.1). */
  attestationWeight: number;
  /** Score lost per replay mismatch in the window (default 0.25). */
  replayWeight: number;
}

export const DEFAULT_REPUTATION: ReputationParams = {
  windowMs: 3_600_000,
  violationWeight: 0.5,
  attestationWeight: 0.1,
  replayWeight: 0.25,
};

export interface TierLatencySummary {
  tier: number;
  requests: number;
  slaViolations: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface Reputation {
  /** In [0, 1], 3 decimals, as status.reputation holds it. */
  score: string;
  /** Per tier seen in the window: requests and violations summed, percentiles request-weighted. */
  latency: TierLatencySummary[];
  violationRate: number;
}

/**
 * The window's reputation. Percentiles of different windows cannot be merged exactly; each tier's p50/p95/p99
 * is the request-weighted mean of the reports' (a report with no requests counts once), rounded up to a ms.
 * score = 1 − violationWeight × violations/requests − attestationWeight × failedAttestations
 * − replayWeight × replayMismatches, clamped to [0, 1]; 1 with nothing against the pool.
 */
export function reputation(
  samples: readonly TelemetrySample[],
  found: { failedAttestations: number; replayMismatches: number },
  now: number,
  params: ReputationParams = DEFAULT_REPUTATION,
): Reputation {
  const recent = samples.filter((s) => s.time > now - params.windowMs && s.time <= now);
  const byTier = new Map<
    number,
    { requests: number; violations: number; w: number; p50: number; p95: number; p99: number }
  >();
  for (const s of recent) {
    for (const t of s.tiers) {
      const a = byTier.get(t.tier) ?? { requests: 0, violations: 0, w: 0, p50: 0, p95: 0, p99: 0 };
      const w = Math.max(1, t.requests);
      a.requests += t.requests;
      a.violations += t.slaViolations;
      a.w += w;
      a.p50 += w * t.p50Ms;
      a.p95 += w * t.p95Ms;
      a.p99 += w * t.p99Ms;
      byTier.set(t.tier, a);
    }
  }
  const latency = [...byTier.entries()]
    .sort(([x], [y]) => x - y)
    .map(([tier, a]) => ({
      tier,
      requests: a.requests,
      slaViolations: a.violations,
      p50Ms: Math.ceil(a.p50 / a.w),
      p95Ms: Math.ceil(a.p95 / a.w),
      p99Ms: Math.ceil(a.p99 / a.w),
    }));
  const requests = latency.reduce((n, t) => n + t.requests, 0);
  const violations = latency.reduce((n, t) => n + t.slaViolations, 0);
  const violationRate = requests ? violations / requests : 0;
  const raw =
    1 -
    params.violationWeight * violationRate -
    params.attestationWeight * found.failedAttestations -
    params.replayWeight * found.replayMismatches;
  const score = Math.min(1, Math.max(0, Math.floor(raw * 1000 + 1e-9) / 1000));
  return { score: score === 1 ? '1' : score === 0 ? '0' : score.toFixed(3).replace(/0+$/, ''), latency, violationRate };
}

/** The p95 LatencyFactor prices for a job of `tier`: that tier's, else the worst tier's, else none. */
export function latencyForTier(latency: readonly TierLatencySummary[] | undefined, tier: number): number | undefined {
  if (!latency?.length) return undefined;
  const own = latency.find((t) => t.tier === tier);
  if (own) return own.p95Ms;
  return Math.max(...latency.map((t) => t.p95Ms));
}
