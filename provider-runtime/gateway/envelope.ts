// The crypto envelope, shared by the gateway and the requester SDK (node:crypto only, no I/O).
//
// Once per session: X25519 between the requester's session key and the gateway's attested key, then
// HKDF-SHA256 → two AES-256-GCM keys, one per direction. Per request: AES-256-GCM alone, the nonce built from
// the direction and the request's sequence number, the additional data binding the session and the number;
// the gateway keeps a sliding replay window of sequence numbers per session (as IPsec and WireGuard do).
//
//   salt  = SHA-256("nvdax-gateway/v1 salt" ‖ gateway public key ‖ requester public key)
//   okm   = HKDF-SHA256(X25519(own private, peer public), salt, "nvdax-gateway/v1 keys" ‖ session id, 64)
//   keys  = okm[0:32] requester → gateway, okm[32:64] gateway → requester
//   nonce = direction (1 request, 2 answer, 3 sealed error) ‖ 0x000000 ‖ seq (8 bytes big-endian)
//   aad   = "nvdax-gateway/v1" ‖ direction ‖ session id ‖ seq (8 bytes big-endian)
// A streamed answer's chunks (direction 4) put their index (0, 1, 2… below 2^24) in the nonce's three middle
// bytes and append it to the additional data (4 bytes big-endian): each chunk has its own nonce, and a chunk
// moved to another place, or to another request, does not open.
import {
  type KeyObject,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import { createHash } from 'node:crypto';

export const SESSION_ID_BYTES = 16;
export const KEY_BYTES = 32;
export const TAG_BYTES = 16;
export const PUBLIC_KEY_BYTES = 32;
/** Sequence numbers a session remembers below the highest seen; older ones are refused. */
export const REPLAY_WINDOW = 1024;

export const Direction = { request: 1, answer: 2, error: 3, chunk: 4 } as const;
/** Chunks one streamed answer may have (the index's 24 bits). */
export const MAX_CHUNKS = 2 ** 24;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** Why an envelope was refused; `reason` names what failed. */
export type EnvelopeFailure = 'malformed' | 'public-key' | 'authentication' | 'replay' | 'too-old' | 'sequence';

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
  readonly reason: EnvelopeFailure;
  constructor(reason: EnvelopeFailure, message: string) {
    super(`envelope ${reason}: ${message}`);
    this.reason = reason;
  }
}

export const isEnvelopeError = (e: unknown): e is EnvelopeError => e instanceof EnvelopeError;

/** An X25519 key pair; `publicKey` is the raw 32 bytes. */
export interface X25519KeyPair {
  publicKey: Buffer;
  privateKey: KeyObject;
}

export function x25519KeyPair(): X25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublicKey(publicKey), privateKey };
}

/** The raw 32 bytes of an X25519 or Ed25519 public key object. */
export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('not an OKP public key');
  return Buffer.from(jwk.x, 'base64url');
}

/** The JWK the gateway binds into its evidence as Trustee's "tee-pubkey": `{crv, kty, x}`. */
export function x25519Jwk(raw: Uint8Array): { crv: 'X25519'; kty: 'OKP'; x: string } {
  if (raw.length !== PUBLIC_KEY_BYTES)
    throw new EnvelopeError('public-key', `an X25519 key is 32 bytes, not ${raw.length}`);
  return { crv: 'X25519', kty: 'OKP', x: Buffer.from(raw).toString('base64url') };
}

function x25519Public(raw: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: x25519Jwk(raw), format: 'jwk' });
  } catch (e) {
    if (isEnvelopeError(e)) throw e;
    throw new EnvelopeError('public-key', 'not an X25519 public key');
  }
}

/** An Ed25519 public key object from its raw 32 bytes. */
export function ed25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { crv: 'Ed25519', kty: 'OKP', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** A private key object back from a JWK (tests, persisted development keys). */
export const privateKeyOf = (jwk: Record<string, string>): KeyObject => createPrivateKey({ key: jwk, format: 'jwk' });

/** The two directions' AES-256-GCM keys of one session. */
export interface SessionKeys {
  sessionId: Buffer;
  toGateway: KeyObject;
  toRequester: KeyObject;
}

/** Derives the session keys; either side calls it with its own private key and the other's public key. */
export function deriveSessionKeys(
  ownPrivate: KeyObject,
  peerPublic: Uint8Array,
  gatewayPublic: Uint8Array,
  requesterPublic: Uint8Array,
  sessionId: Uint8Array,
): SessionKeys {
  if (sessionId.length !== SESSION_ID_BYTES) throw new EnvelopeError('malformed', 'a session id is 16 bytes');
  const peer = x25519Public(peerPublic);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: ownPrivate, publicKey: peer });
  } catch {
    // OpenSSL refuses the all-zero secret a low-order key gives (RFC 7748 §6.1)
    throw new EnvelopeError('public-key', 'the X25519 key is of low order');
  }
  if (shared.every((b) => b === 0)) throw new EnvelopeError('public-key', 'the X25519 key is of low order');
  const salt = createHash('sha256')
    .update('nvdax-gateway/v1 salt')
    .update(gatewayPublic)
    .update(requesterPublic)
    .digest();
  const info = Buffer.concat([Buffer.from('nvdax-gateway/v1 keys'), sessionId]);
  const okm = Buffer.from(hkdfSync('sha256', shared, salt, info, 2 * KEY_BYTES));
  return {
    sessionId: Buffer.from(sessionId),
    toGateway: createSecretKey(okm.subarray(0, KEY_BYTES)),
    toRequester: createSecretKey(okm.subarray(KEY_BYTES)),
  };
}

export const newSessionId = (): Buffer => randomBytes(SESSION_ID_BYTES);

const AAD_PREFIX = Buffer.from('nvdax-gateway/v1');

function nonceAndAad(
  direction: Direction,
  sessionId: Uint8Array,
  seq: number,
  index?: number,
): { nonce: Buffer; aad: Buffer } {
  if (!Number.isSafeInteger(seq) || seq < 1)
    throw new EnvelopeError('sequence', `sequence number ${seq} is not a positive integer`);
  const chunk = direction === Direction.chunk;
  if (chunk !== (index !== undefined)) throw new Error('a chunk, and only a chunk, has an index');
  if (chunk && !(Number.isInteger(index) && (index as number) >= 0 && (index as number) < MAX_CHUNKS))
    throw new EnvelopeError('sequence', `chunk index ${index} is not within 0..2^24-1`);
  // one allocation for both: the nonce, then the additional data (seq < 2^53: two 32-bit halves, no BigInt)
  const at = AAD_PREFIX.length + 1 + sessionId.length;
  const both = Buffer.alloc(12 + at + 8 + (chunk ? 4 : 0));
  both[0] = direction;
  if (chunk) both.writeUIntBE(index as number, 1, 3);
  both.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 4);
  both.writeUInt32BE(seq >>> 0, 8);
  const aad = both.subarray(12);
  AAD_PREFIX.copy(aad, 0);
  aad[AAD_PREFIX.length] = direction;
  aad.set(sessionId, AAD_PREFIX.length + 1);
  both.copy(aad, at, 4, 12);
  if (chunk) aad.writeUInt32BE(index as number, at + 8);
  return { nonce: both.subarray(0, 12), aad };
}

/** AES-256-GCM: ciphertext ‖ 16-byte tag. */
export function seal(
  key: KeyObject,
  direction: Direction,
  sessionId: Uint8Array,
  seq: number,
  plaintext: Uint8Array,
): Buffer {
  return sealer(key, direction, sessionId, seq)(plaintext);
}

/**
 * {@link seal} made ready before its plaintext is there: the cipher keyed, the nonce and the additional data
 * set (most of a small seal's cost). The gateway makes its answer's right after the open, before the backend
 * runs; the SDK its next request's while it waits for an answer. Seals once.
 */
export function sealer(
  key: KeyObject,
  direction: Direction,
  sessionId: Uint8Array,
  seq: number,
  index?: number,
): (plaintext: Uint8Array) => Buffer {
  const { nonce, aad } = nonceAndAad(direction, sessionId, seq, index);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  let used = false;
  return (plaintext) => {
    // a GCM nonce seals one message: a second call is a bug, never a second ciphertext under the same nonce
    if (used) throw new Error('a sealer seals one message');
    used = true;
    const head = c.update(plaintext);
    const tail = c.final();
    return Buffer.concat([head, tail, c.getAuthTag()]);
  };
}

/** Opens what {@link seal} made; an {@link EnvelopeError} `authentication` when anything was changed. */
export function open(
  key: KeyObject,
  direction: Direction,
  sessionId: Uint8Array,
  seq: number,
  sealed: Uint8Array,
): Buffer {
  if (sealed.length < TAG_BYTES)
    throw new EnvelopeError('malformed', `ciphertext shorter than its ${TAG_BYTES}-byte tag`);
  return opener(key, direction, sessionId, seq)(sealed);
}

/**
 * {@link open} made ready before the envelope arrives (the decipher keyed, nonce and additional data set):
 * the SDK makes its answer's while the request is on its way. Opens once.
 */
export function opener(
  key: KeyObject,
  direction: Direction,
  sessionId: Uint8Array,
  seq: number,
  index?: number,
): (sealed: Uint8Array) => Buffer {
  const { nonce, aad } = nonceAndAad(direction, sessionId, seq, index);
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(aad);
  let used = false;
  return (sealed) => {
    if (sealed.length < TAG_BYTES)
      throw new EnvelopeError('malformed', `ciphertext shorter than its ${TAG_BYTES}-byte tag`);
    if (used) throw new Error('an opener opens one envelope');
    used = true;
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const head = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      const tail = d.final();
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      throw new EnvelopeError(
        'authentication',
        'the AES-GCM tag does not verify: the ciphertext was altered or sealed with another key',
      );
    }
  };
}

/**
 * The sequence numbers a session has accepted: any number above the highest seen, or one within
 * {@link REPLAY_WINDOW} below it not seen before. `check` before decrypting, `accept` after the tag verified,
 * so a forged envelope cannot burn a number.
 */
export class ReplayWindow {
  #top = 0;
  readonly #bits = new Uint32Array(REPLAY_WINDOW / 32);

  check(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 1)
      throw new EnvelopeError('sequence', `sequence number ${seq} is not a positive integer`);
    if (seq > this.#top) return;
    if (this.#top - seq >= REPLAY_WINDOW)
      throw new EnvelopeError(
        'too-old',
        `sequence number ${seq} is more than ${REPLAY_WINDOW} below the highest seen (${this.#top})`,
      );
    const i = seq % REPLAY_WINDOW;
    if (((this.#bits[i >>> 5] ?? 0) >>> (i & 31)) & 1)
      throw new EnvelopeError('replay', `sequence number ${seq} was already used in this session`);
  }

  accept(seq: number): void {
    this.check(seq);
    if (seq > this.#top) {
      // forget the numbers that fall out of the window
      const clear = Math.min(seq - this.#top, REPLAY_WINDOW);
      for (let k = 1; k <= clear; k++) {
        const i = (this.#top + k) % REPLAY_WINDOW;
        this.#bits[i >>> 5] = (this.#bits[i >>> 5] ?? 0) & ~(1 << (i & 31));
      }
      this.#top = seq;
    }
    const i = seq % REPLAY_WINDOW;
    this.#bits[i >>> 5] = (this.#bits[i >>> 5] ?? 0) | (1 << (i & 31));
  }

  get highest(): number {
    return this.#top;
  }
}

/** Seals chunk `index` of request `seq`'s streamed answer (gateway → requester key). */
export const sealChunk = (key: KeyObject, sessionId: Uint8Array, seq: number, index: number, plaintext: Uint8Array) =>
  sealer(key, Direction.chunk, sessionId, seq, index)(plaintext);

/** Opens chunk `index` of request `seq`'s streamed answer; `authentication` when moved or altered. */
export const openChunk = (key: KeyObject, sessionId: Uint8Array, seq: number, index: number, sealed: Uint8Array) =>
  opener(key, Direction.chunk, sessionId, seq, index)(sealed);
