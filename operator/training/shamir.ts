// Shamir's secret sharing over the prime field GF(2^521 − 1) (a Mersenne prime, so every 32-byte secret is a
// field element). A secret is the constant term of a random polynomial of degree threshold − 1; share i is the
// polynomial at x = i (1-based). Any `threshold` shares give the secret back by Lagrange interpolation at 0;
// fewer give no information about it.
import { randomBytes } from 'node:crypto';

export const PRIME = 2n ** 521n - 1n;
const Y_BYTES = 66;

export interface Share {
  /** The evaluation point, 1..65535. */
  x: number;
  y: bigint;
}

const mod = (a: bigint) => {
  const r = a % PRIME;
  return r < 0n ? r + PRIME : r;
};

function randomField(): bigint {
  // 66 random bytes reduced: the bias is below 2^-7, and none of it reaches the secret.
  return mod(BigInt(`0x${randomBytes(Y_BYTES).toString('hex')}`));
}

function inverse(a: bigint): bigint {
  // Extended Euclid.
  let [r0, r1] = [mod(a), PRIME];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('shamir: not invertible');
  return mod(s0);
}

/** Splits `secret` (at most 64 bytes) into shares at x = xs[i], any `threshold` of which reconstruct it. */
export function split(secret: Uint8Array, threshold: number, xs: readonly number[]): Share[] {
  if (secret.byteLength === 0 || secret.byteLength > 64) throw new RangeError('shamir: the secret must be 1..64 bytes');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > xs.length)
    throw new RangeError(`shamir: threshold ${threshold} must be 1..${xs.length}`);
  if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isInteger(x) || x < 1 || x > 65535))
    throw new RangeError('shamir: evaluation points must be distinct integers 1..65535');
  const coeffs = [BigInt(`0x${Buffer.from(secret).toString('hex')}`)];
  for (let i = 1; i < threshold; i++) coeffs.push(randomField());
  return xs.map((x) => {
    const bx = BigInt(x);
    let y = 0n;
    for (let i = coeffs.length - 1; i >= 0; i--) y = mod(y * bx + (coeffs[i] as bigint));
    return { x, y };
  });
}

/**
 * Lagrange coefficients at 0 for the evaluation points `xs`: the secret is Σ yᵢ·cᵢ. One modular inversion for
 * the whole set (the denominators are multiplied first), and reusable for every secret shared at the same points.
 */
export function lagrangeAtZero(xs: readonly number[]): bigint[] {
  if (new Set(xs).size !== xs.length) throw new RangeError('shamir: duplicate evaluation points');
  const nums: bigint[] = [];
  const dens: bigint[] = [];
  for (const [i, xi] of xs.entries()) {
    let num = 1n;
    let den = 1n;
    for (const [j, xj] of xs.entries()) {
      if (i === j) continue;
      num = mod(num * -BigInt(xj));
      den = mod(den * (BigInt(xi) - BigInt(xj)));
    }
    nums.push(num);
    dens.push(den);
  }
  // Montgomery's trick: invert the product once, then peel each inverse off.
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const d of dens) {
    prefix.push(acc);
    acc = mod(acc * d);
  }
  let inv = inverse(acc);
  const out: bigint[] = new Array(xs.length);
  for (let i = xs.length - 1; i >= 0; i--) {
    out[i] = mod((nums[i] as bigint) * mod(inv * (prefix[i] as bigint)));
    inv = mod(inv * (dens[i] as bigint));
  }
  return out;
}

/**
 * The secret of `length` bytes from at least `threshold` shares (distinct x); the first `threshold` are used.
 * With fewer, or with shares of different secrets, the result is garbage: callers check it (a key against its
 * public half, say). `coefficients` caches lagrangeAtZero by point set across calls.
 */
export function combine(
  shares: readonly Share[],
  threshold: number,
  length: number,
  coefficients?: Map<string, bigint[]>,
): Buffer {
  const use = shares.slice(0, threshold);
  if (use.length < threshold) throw new RangeError(`shamir: ${use.length} shares, ${threshold} needed`);
  const xs = use.map((s) => s.x);
  const key = xs.join(',');
  let c = coefficients?.get(key);
  if (!c) {
    c = lagrangeAtZero(xs);
    coefficients?.set(key, c);
  }
  let secret = 0n;
  for (const [i, s] of use.entries()) secret += s.y * (c[i] as bigint);
  secret = mod(secret);
  const hex = secret.toString(16);
  if (hex.length > length * 2) throw new RangeError('shamir: the shares do not reconstruct a secret of that length');
  return Buffer.from(hex.padStart(length * 2, '0'), 'hex');
}

/** A share as bytes: x (2 bytes, big-endian) then y (66 bytes, big-endian). */
export function shareToBytes(s: Share): Buffer {
  const b = Buffer.alloc(2 + Y_BYTES);
  b.writeUInt16BE(s.x, 0);
  Buffer.from(s.y.toString(16).padStart(Y_BYTES * 2, '0'), 'hex').copy(b, 2);
  return b;
}

export function shareFromBytes(b: Uint8Array): Share {
  if (b.byteLength !== 2 + Y_BYTES)
    throw new RangeError(`shamir: a share is ${2 + Y_BYTES} bytes, got ${b.byteLength}`);
  const buf = Buffer.from(b);
  const y = BigInt(`0x${buf.subarray(2).toString('hex')}`);
  if (y >= PRIME) throw new RangeError('shamir: share value outside the field');
  return { x: buf.readUInt16BE(0), y };
}
