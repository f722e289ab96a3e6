// Model vectors on the wire and in checkpoints: little-endian float64, hashed as `sha256:<hex>`.
import { createHash } from 'node:crypto';

/** The bytes of a vector (little-endian float64; a copy, so it survives the array's reuse). */
export function toBytes(v: Float64Array): Buffer {
  const b = Buffer.allocUnsafe(v.length * 8);
  for (let i = 0; i < v.length; i++) b.writeDoubleLE(v[i] as number, i * 8);
  return b;
}

/** A vector from its bytes; throws RangeError when the length is not a multiple of 8 or `length` differs. */
export function fromBytes(b: Uint8Array, length?: number): Float64Array {
  if (b.byteLength % 8 !== 0) throw new RangeError(`vector: ${b.byteLength} bytes is not a whole number of float64`);
  const n = b.byteLength / 8;
  if (length !== undefined && n !== length) throw new RangeError(`vector: expected ${length} elements, got ${n}`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}

/** `sha256:<hex>` of some bytes. */
export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `sha256:<hex>` of a model vector's bytes: the aggregate hash of a round and the content hash of its checkpoint. */
export function modelHash(v: Float64Array): string {
  return sha256(toBytes(v));
}
