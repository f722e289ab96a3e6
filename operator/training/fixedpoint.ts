// Fixed-point arithmetic modulo 2^k for secure aggregation. Elements are integers in [0, 2^52) held in a
// Float64Array: every sum of two such values is below 2^53, so float64 arithmetic on them is exact and needs no
// BigInt. A real x is encoded as round(x · 2^frac) mod 2^52; a sum decodes correctly while its true magnitude
// stays below 2^51 / 2^frac (two's complement over 52 bits).

/** k: the modulus is 2^k. */
export const MOD_BITS = 52;
export const MOD = 2 ** MOD_BITS;
const HALF = 2 ** (MOD_BITS - 1);

/** Fractional bits: 2^-20 ≈ 9.5e-7 resolution. */
export const FRAC_BITS = 20;

/**
 * The largest |x| one party may encode so that the sum of `parties` such values cannot wrap:
 * parties · |x| · 2^frac < 2^51.
 */
export function encodeBound(parties: number, frac = FRAC_BITS): number {
  return HALF / 2 ** frac / Math.max(1, parties);
}

/** Encodes reals into Z_{2^52}; throws RangeError when an element is not finite or exceeds `bound`. */
export function encode(values: ArrayLike<number>, bound: number, frac = FRAC_BITS): Float64Array {
  const out = new Float64Array(values.length);
  const s = 2 ** frac;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    if (!Number.isFinite(x) || Math.abs(x) >= bound)
      throw new RangeError(`fixed point: element ${i} = ${x} is outside ±${bound}`);
    const q = Math.round(x * s);
    out[i] = q < 0 ? q + MOD : q;
  }
  return out;
}

/** Decodes a (sum of) encoded vector(s) back to reals. */
export function decode(v: Float64Array, frac = FRAC_BITS): Float64Array {
  const out = new Float64Array(v.length);
  const s = 2 ** frac;
  for (let i = 0; i < v.length; i++) {
    const q = v[i] as number;
    out[i] = (q >= HALF ? q - MOD : q) / s;
  }
  return out;
}

/** a += b mod 2^52, in place. */
export function addInto(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length !== b.length) throw new RangeError(`fixed point: length ${a.length} ≠ ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const s = (a[i] as number) + (b[i] as number);
    a[i] = s >= MOD ? s - MOD : s;
  }
  return a;
}

/** a -= b mod 2^52, in place. */
export function subInto(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length !== b.length) throw new RangeError(`fixed point: length ${a.length} ≠ ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const s = (a[i] as number) - (b[i] as number);
    a[i] = s < 0 ? s + MOD : s;
  }
  return a;
}

/** True when every element is an integer in [0, 2^52). */
export function isElementVector(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    if (!(x >= 0 && x < MOD && Number.isInteger(x))) return false;
  }
  return true;
}
