// The keys of the protocol, all from node:crypto: the workload's Ed25519 signing key (attested: it is the TEE
// public key bound into the participant's evidence; it signs key advertisements, survivor lists and
// checkpoints) and the per-round X25519 key pairs of secure aggregation, moved as 32 raw bytes.
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface SigningKey {
  privateKey: KeyObject;
  /** The Ed25519 public key, 32 raw bytes. */
  publicKey: Buffer;
}

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32) };
}

/** The signing key's public half as the TEE public key bound into evidence: an OKP JWK. */
export function signingJwk(publicKey: Uint8Array): { kty: 'OKP'; crv: 'Ed25519'; x: string } {
  return { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') };
}

export function signWith(key: SigningKey, data: Uint8Array | string): Buffer {
  return sign(null, typeof data === 'string' ? Buffer.from(data) : data, key.privateKey);
}

/** False for a bad signature or a malformed key, never throws. */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array | string, signature: Uint8Array): boolean {
  if (publicKey.byteLength !== 32 || signature.byteLength !== 64) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI, publicKey]), format: 'der', type: 'spki' });
    return verify(null, typeof data === 'string' ? Buffer.from(data) : data, key, signature);
  } catch {
    return false;
  }
}

export interface AgreementKey {
  privateKey: KeyObject;
  /** 32 raw bytes: what is Shamir-shared when the key must be recoverable. */
  secret: Buffer;
  /** 32 raw bytes. */
  publicKey: Buffer;
}

export function generateAgreementKey(): AgreementKey {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    privateKey,
    secret: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32),
  };
}

/** The key pair of a 32-byte X25519 secret (one reconstructed from shares). */
export function agreementKeyFromSecret(secret: Uint8Array): AgreementKey {
  if (secret.byteLength !== 32) throw new RangeError('x25519: the secret must be 32 bytes');
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, secret]),
    format: 'der',
    type: 'pkcs8',
  });
  return {
    privateKey,
    secret: Buffer.from(secret),
    publicKey: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32),
  };
}

/** X25519(own private, their public): 32 bytes. Throws on a malformed public key. */
export function agree(own: AgreementKey, theirPublic: Uint8Array): Buffer {
  if (theirPublic.byteLength !== 32) throw new RangeError('x25519: a public key is 32 bytes');
  const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI, theirPublic]), format: 'der', type: 'spki' });
  return diffieHellman({ privateKey: own.privateKey, publicKey });
}
