// The whitepaper's price rule, exactly — pure. P = BaseRate × LatencyFactor × LoadFactor +
// VerifierFee, in NVDAx per GPU-hour. Amounts are 18-decimal fixed point (ethers'
// parseUnits/formatUnits, bigint); no float ever touches a price. The curves and the
// rounding are stated in docs/placement.md.
import { formatUnits, parseUnits } from 'ethers';
import { patterns } from '../api/patterns.ts';

/** NVDAx has 18 decimals, like ether. */
export const DECIMALS = 18;
const ONE = 10n ** 18n;
/** Factors are rounded to 4 decimals, prices to 6. */
const FACTOR_DIGITS = 4;
const PRICE_DIGITS = 6;

export const DEFAULT_VERIFIER_FEE = '0.05';

export interface PricingParams {
  /** The network verifier fee added to every price, NVDAx per GPU-hour (default DEFAULT_VERIFIER_FEE). */
  verifierFee: string;
}

export const DEFAULT_PRICING: PricingParams = Object.freeze({ verifierFee: DEFAULT_VERIFIER_FEE });

export interface PriceInput {
  /** The pool's base rate for the product and mode, NVDAx per GPU-hour. */
  baseRate: string;
  /** GPUs in use and in all over the pool, for the LoadFactor. */
  utilization: { used: number; total: number };
  /** The pool's observed p95 latency; unknown: LatencyFactor 1. */
  observedLatencyMs?: number | undefined;
  /** The job's sla.maxLatencyMs; unset: LatencyFactor 1. */
  maxLatencyMs?: number | undefined;
}

/** Every part as a canonical decimal string (see formatDecimal). */
export interface PriceBreakdown {
  baseRate: string;
  latencyFactor: string;
  loadFactor: string;
  verifierFee: string;
  price: string;
}

const pricePattern = new RegExp(patterns.price.pattern);

/** A decimal NVDAx amount as 18-decimal fixed point; RangeError naming `field` on anything else. */
export function parsePrice(s: string, field: string): bigint {
  if (typeof s !== 'string' || !pricePattern.test(s)) {
    throw new RangeError(
      `${field} must be ${patterns.price.hint} (${patterns.price.pattern}): got ${JSON.stringify(s)}`,
    );
  }
  return parseUnits(s, DECIMALS);
}

/**
 * The canonical form of an amount: trailing zeros stripped but at least 2 decimals ("4.10",
 * "4.00", "0.05", "1.0625"); always matches the API's price pattern. RangeError past 18 integer digits.
 */
export function formatDecimal(v: bigint): string {
  if (v < 0n || v >= 10n ** 18n * ONE) throw new RangeError(`amount out of range: ${v} wei`);
  const [int = '0', frac = ''] = formatUnits(v, DECIMALS).split('.');
  return `${int}.${frac.replace(/0+$/, '').padEnd(2, '0')}`;
}

/** Exact comparison of two decimal amounts: -1, 0 or 1. RangeError on a malformed one. */
export function compareDecimal(a: string, b: string): number {
  const x = parsePrice(a, 'a');
  const y = parsePrice(b, 'b');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** n / d rounded half-up, for n >= 0 and d > 0. */
const roundDiv = (n: bigint, d: bigint): bigint => (2n * n + d) / (2n * d);

/** A count as a bigint; RangeError unless a non-negative safe integer. */
function gpuCount(n: number, field: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${field} must be a non-negative integer: got ${n}`);
  return BigInt(n);
}

/** Milliseconds as 18-decimal fixed point, from the number's shortest decimal form (123.4 stays 123.4). */
function millis(n: number, field: string): bigint {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${field} must be a non-negative number: got ${n}`);
  let s = String(n);
  if (/e/i.test(s)) s = n.toFixed(DECIMALS);
  if (/e/i.test(s)) throw new RangeError(`${field} is out of range: ${n}`);
  const [int = '0', frac = ''] = s.split('.');
  return parseUnits(frac ? `${int}.${frac.slice(0, DECIMALS)}` : int, DECIMALS);
}

/** Scales a 4-decimal factor (in units of 10^-4) to 18-decimal fixed point. */
const factorUnits = (f4: bigint) => f4 * 10n ** BigInt(DECIMALS - FACTOR_DIGITS);

/**
 * LoadFactor, 18-decimal: 1 while u = used/total <= 0.5, then 1 + (u - 0.5) up to 1.5 at u = 1
 * (u above 1 counts as 1), rounded half-up to 4 decimals; total 0: 1.
 */
export function loadFactor(utilization: { used: number; total: number }): bigint {
  let u = gpuCount(utilization.used, 'utilization.used');
  const total = gpuCount(utilization.total, 'utilization.total');
  if (total === 0n) return ONE;
  if (u > total) u = total;
  // 10^4 × (0.5 + used/total), only when u > 0.5, i.e. 2·used > total
  if (2n * u <= total) return ONE;
  return factorUnits(5000n + roundDiv(10_000n * u, total));
}

/**
 * LatencyFactor, 18-decimal: 1 without an observed latency or a maxLatencyMs; else with r =
 * observed/max capped at 1, 1 + 0.25 × r, rounded half-up to 4 decimals (1 to 1.25): a pool whose
 * latency history runs close to the job's limit costs more, so price ranks it below one with headroom.
 * r > 1 disqualifies the pool in the matcher; here it is capped, giving 1.25.
 */
export function latencyFactor(observedLatencyMs?: number, maxLatencyMs?: number): bigint {
  if (observedLatencyMs === undefined || maxLatencyMs === undefined) return ONE;
  let obs = millis(observedLatencyMs, 'observedLatencyMs');
  const max = millis(maxLatencyMs, 'maxLatencyMs');
  if (max === 0n) return ONE;
  if (obs > max) obs = max; // capped: the matcher rejects the pool anyway
  // 10^4 × (1 + 0.25·obs/max) = 2500 · (4·max + obs) / max
  return factorUnits(roundDiv(2500n * (4n * max + obs), max));
}

/**
 * The quote: base × latencyFactor × loadFactor + verifierFee, computed exactly and rounded
 * half-up to 6 decimals. RangeError on a malformed amount or a price past 18 integer digits.
 */
export function price(input: PriceInput, params: PricingParams = DEFAULT_PRICING): PriceBreakdown {
  const base = parsePrice(input.baseRate, 'baseRate');
  const fee = parsePrice(params.verifierFee, 'verifierFee');
  const lat = latencyFactor(input.observedLatencyMs, input.maxLatencyMs);
  const load = loadFactor(input.utilization);
  // scale 10^54 = base (10^18) × lat (10^18) × load (10^18); fee lifted to it
  const exact = base * lat * load + fee * ONE * ONE;
  const rounded = roundDiv(exact, 10n ** BigInt(3 * DECIMALS - PRICE_DIGITS));
  return {
    baseRate: formatDecimal(base),
    latencyFactor: formatDecimal(lat),
    loadFactor: formatDecimal(load),
    verifierFee: formatDecimal(fee),
    price: formatDecimal(rounded * 10n ** BigInt(DECIMALS - PRICE_DIGITS)),
  };
}
