// Signed telemetry: what a provider reports about its pool (capacity, and latency and SLA violations per
// tier over a window), as EIP-712 typed data signed with the provider's key, so the hub counts it for
// placement and reputation only when the pool's provider address signed it. Pure: no I/O.
import { getAddress, type Signer, type TypedDataDomain, verifyTypedData } from 'ethers';

export const TELEMETRY_DOMAIN_NAME = 'NVDAx Telemetry';
export const TELEMETRY_DOMAIN_VERSION = '1';

export const TELEMETRY_TYPES = {
  TelemetryReport: [
    { name: 'provider', type: 'address' },
    { name: 'pool', type: 'string' },
    { name: 'sequence', type: 'uint64' },
    { name: 'time', type: 'uint64' },
    { name: 'windowSeconds', type: 'uint32' },
    { name: 'gpusTotal', type: 'uint32' },
    { name: 'gpusUsed', type: 'uint32' },
    { name: 'tiers', type: 'TierLatency[]' },
  ],
  TierLatency: [
    { name: 'tier', type: 'uint8' },
    { name: 'requests', type: 'uint64' },
    { name: 'slaViolations', type: 'uint32' },
    { name: 'p50Ms', type: 'uint32' },
    { name: 'p95Ms', type: 'uint32' },
    { name: 'p99Ms', type: 'uint32' },
  ],
};

/** Tier numbers as the settlement task has them: 0 BestEffort, 1 Reserved, 2 Premium. */
export const TELEMETRY_TIERS = ['BestEffort', 'Reserved', 'Premium'] as const;

export interface TierLatency {
  tier: number;
  requests: number;
  slaViolations: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface TelemetryReport {
  provider: string;
  /** The ProviderPool's name on the hub. */
  pool: string;
  /** Grows by at least one per report: an older or repeated one is refused. */
  sequence: number;
  /** When the window ended, Unix ms. */
  time: number;
  windowSeconds: number;
  gpusTotal: number;
  gpusUsed: number;
  tiers: TierLatency[];
}

export interface SignedTelemetry {
  report: TelemetryReport;
  signature: string;
}

/** A refused report: `field` names what failed. */
export class TelemetryError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`telemetry ${field}: ${message}`);
    this.name = 'TelemetryError';
    this.field = field;
  }
}

/** Bound to the settlement deployment, as receipts and tasks are. */
export function telemetryDomain(chainId: bigint | number, settlement: string): TypedDataDomain {
  return {
    name: TELEMETRY_DOMAIN_NAME,
    version: TELEMETRY_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: getAddress(settlement),
  };
}

const uint = (field: string, v: unknown, bits: number): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || (bits < 53 && v >= 2 ** bits)) {
    throw new TelemetryError(field, `must be a whole number in [0, 2^${bits})`);
  }
  return v;
};

/** The report's fields checked for shape (names the first bad one). */
export function checkTelemetryShape(r: TelemetryReport): TelemetryReport {
  if (typeof r !== 'object' || r === null) throw new TelemetryError('report', 'not an object');
  try {
    getAddress(String(r.provider));
  } catch {
    throw new TelemetryError('provider', 'must be an Ethereum address');
  }
  if (typeof r.pool !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(r.pool)) {
    throw new TelemetryError('pool', 'must be a ProviderPool name');
  }
  uint('sequence', r.sequence, 53);
  uint('time', r.time, 53);
  uint('windowSeconds', r.windowSeconds, 32);
  uint('gpusTotal', r.gpusTotal, 32);
  uint('gpusUsed', r.gpusUsed, 32);
  if (r.gpusUsed > r.gpusTotal) throw new TelemetryError('gpusUsed', 'above gpusTotal');
  if (!Array.isArray(r.tiers) || r.tiers.length > 3) throw new TelemetryError('tiers', 'at most one entry per tier');
  const seen = new Set<number>();
  for (const [i, t] of r.tiers.entries()) {
    uint(`tiers[${i}].tier`, t.tier, 2);
    if (t.tier > 2 || seen.has(t.tier)) throw new TelemetryError(`tiers[${i}].tier`, 'must be 0, 1 or 2, once each');
    seen.add(t.tier);
    uint(`tiers[${i}].requests`, t.requests, 53);
    uint(`tiers[${i}].slaViolations`, t.slaViolations, 32);
    if (t.slaViolations > t.requests) throw new TelemetryError(`tiers[${i}].slaViolations`, 'above requests');
    for (const k of ['p50Ms', 'p95Ms', 'p99Ms'] as const) uint(`tiers[${i}].${k}`, t[k], 32);
    if (!(t.p50Ms <= t.p95Ms && t.p95Ms <= t.p99Ms)) {
      throw new TelemetryError(`tiers[${i}]`, 'percentiles must not decrease (p50 ≤ p95 ≤ p99)');
    }
  }
  return r;
}

export async function signTelemetry(
  signer: Signer,
  domain: TypedDataDomain,
  report: TelemetryReport,
): Promise<SignedTelemetry> {
  checkTelemetryShape(report);
  return { report, signature: await signer.signTypedData(domain, TELEMETRY_TYPES, report) };
}

/**
 * Checks the signature recovers to `provider` (the pool's provider address) and that the report names the
 * pool and that provider; throws a TelemetryError naming the field otherwise.
 */
export function verifyTelemetry(
  domain: TypedDataDomain,
  s: SignedTelemetry,
  expect: { provider: string; pool: string },
): TelemetryReport {
  const r = checkTelemetryShape(s.report);
  if (r.pool !== expect.pool) throw new TelemetryError('pool', `is ${r.pool}, expected ${expect.pool}`);
  if (getAddress(r.provider) !== getAddress(expect.provider)) {
    throw new TelemetryError('provider', `is ${r.provider}, the pool's provider is ${expect.provider}`);
  }
  if (typeof s.signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(s.signature)) {
    throw new TelemetryError('signature', 'must be 0x + 130 hex');
  }
  let signer: string;
  try {
    signer = verifyTypedData(domain, TELEMETRY_TYPES, r, s.signature);
  } catch (e) {
    throw new TelemetryError('signature', `unreadable (${(e as Error).message})`);
  }
  if (signer !== getAddress(expect.provider)) {
    throw new TelemetryError('signature', `recovers to ${signer}, not the pool's provider ${expect.provider}`);
  }
  return r;
}
