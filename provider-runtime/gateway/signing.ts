// What the gateway signs and how anyone checks it: the capability statement (EIP-712, the provider's
// Ethereum key, once per GetCapability) and the per-answer receipts.
//
// Receipts are the fields of operator/verification/receipt.ts. Signing each one with the provider's
// secp256k1 key as EIP-712 costs ~0.45 ms here (typed-data hash ~0.12 ms + ethers' ECDSA ~0.35 ms), more than the
// whole latency budget of the encrypted path, so by default the gateway signs receipts with an Ed25519 key
// (node:crypto, ~40 µs) made at start; the capability statement, signed by the provider's key, names that key
// (`receiptKey`) next to the attested gateway key. A receipt is then the provider's when its Ed25519 signature
// verifies under the receipt key of a capability whose EIP-712 signature recovers to the provider. The
// `eip712` scheme (receipt.ts's signReceipt) stays available for deployments that want one signature per receipt.
import { type KeyObject, createHash, hash, sign as edSign, verify as edVerify } from 'node:crypto';
import { type AbstractSigner, type TypedDataDomain, getAddress, verifyTypedData } from 'ethers';
import {
  type Receipt,
  ReceiptError,
  type SignedReceipt as Eip712Receipt,
  checkReceiptShape,
  verifyReceipt as verifyEip712Receipt,
} from '../../operator/verification/receipt.ts';
import { ed25519Public } from './envelope.ts';

export type { Receipt } from '../../operator/verification/receipt.ts';

export const CAPABILITY_DOMAIN_NAME = 'NVDAx Gateway';
export const CAPABILITY_DOMAIN_VERSION = '1';

/** EIP-712 types of the capability statement; field order is part of the signature. */
export const CAPABILITY_TYPES = {
  GatewayCapability: [
    { name: 'provider', type: 'address' },
    { name: 'job', type: 'bytes32' },
    { name: 'modelHash', type: 'bytes32' },
    { name: 'pricePerRequest', type: 'uint256' },
    { name: 'gatewayKey', type: 'bytes32' },
    { name: 'receiptKey', type: 'bytes32' },
    { name: 'nonce', type: 'bytes32' },
    { name: 'evidenceHash', type: 'bytes32' },
    { name: 'issuedAt', type: 'uint64' },
    { name: 'expiresAt', type: 'uint64' },
  ],
};

/** What the provider's key signs in GetCapability (all hex fields 0x + 64 hex). */
export interface CapabilityStatement {
  provider: string;
  /** hubJobId of the job. */
  job: string;
  modelHash: string;
  /** wei, decimal text. */
  pricePerRequest: string;
  /** gatewayKeyHash (receipt.ts) of the gateway key's JWK: what receipts name. */
  gatewayKey: string;
  /** The raw Ed25519 receipt key. */
  receiptKey: string;
  /** The requester's 32-byte nonce. */
  nonce: string;
  /** evidenceHash (attestation.ts) of the evidence bundle. */
  evidenceHash: string;
  /** Unix milliseconds. */
  issuedAt: number;
  expiresAt: number;
}

/** The capability's domain: the chain and settlement contract receipts are paid through (as receiptDomain). */
export function capabilityDomain(chainId: bigint | number | string, verifyingContract: string): TypedDataDomain {
  return {
    name: CAPABILITY_DOMAIN_NAME,
    version: CAPABILITY_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: getAddress(verifyingContract),
  };
}

export function signCapability(
  signer: AbstractSigner,
  domain: TypedDataDomain,
  s: CapabilityStatement,
): Promise<string> {
  return signer.signTypedData(domain, CAPABILITY_TYPES, s);
}

/** A capability statement refused; `field` names what failed. */
export class CapabilityError extends Error {
  override name = 'CapabilityError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`capability ${field}: ${message}`);
    this.field = field;
  }
}

/** Checks the statement's EIP-712 signature recovers to `statement.provider`; throws a CapabilityError. */
export function verifyCapability(domain: TypedDataDomain, s: CapabilityStatement, signature: string): void {
  let signer: string;
  try {
    signer = verifyTypedData(domain, CAPABILITY_TYPES, s, signature);
  } catch (e) {
    throw new CapabilityError('signature', `malformed (${e instanceof Error ? e.message.split(' (')[0] : String(e)})`);
  }
  if (signer !== getAddress(s.provider))
    throw new CapabilityError('signature', `recovers to ${signer}, not the provider ${s.provider}: forged or altered`);
}

/** 0x + SHA-256 hex: the request id of sequence number `seq` in a session (unique per job). */
export function requestIdOf(sessionId: Uint8Array, seq: number): string {
  if (!Number.isInteger(seq) || seq < 0 || seq >= 2 ** 64)
    throw new RangeError(`sequence number ${seq} is not a 64-bit unsigned integer`);
  // two 32-bit halves, exact for any integer a number holds (a BigInt costs more than hashing these bytes)
  const b = Buffer.allocUnsafe(REQUEST_PREFIX.length + sessionId.length + 8);
  REQUEST_PREFIX.copy(b, 0);
  b.set(sessionId, REQUEST_PREFIX.length);
  b.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), b.length - 8);
  b.writeUInt32BE(seq >>> 0, b.length - 4);
  return `0x${hash('sha256', b, 'hex')}`;
}

const REQUEST_PREFIX = Buffer.from('nvdax-gateway/v1 request');

/**
 * receipt.ts's contentHash of bytes (0x + SHA-256 hex), with node:crypto's one-shot hash: the same text, without
 * a Hash object per call (the gateway and the SDK hash each request and answer on the hot path).
 */
export const contentHashOf = (data: Uint8Array): string => `0x${hash('sha256', data, 'hex')}`;

/**
 * A streamed answer's output hash, as its receipt says it: 0x + SHA-256 over the chunks, each as its length
 * (4 bytes big-endian) then its bytes, so the receipt pins where one chunk ends and the next begins too.
 */
export function streamHash(): { add(chunk: Uint8Array): void; digest(): string } {
  const h = createHash('sha256');
  const n = Buffer.alloc(4);
  return {
    add(chunk) {
      n.writeUInt32BE(chunk.length);
      h.update(n).update(chunk);
    },
    digest: () => `0x${h.digest('hex')}`,
  };
}

/** A receipt with its signature and the scheme that made it. */
export interface GatewaySignedReceipt {
  receipt: Receipt;
  scheme: 'ed25519' | 'eip712';
  /** 0x + hex. */
  signature: string;
}

// v2: the token counts joined the receipt
const RECEIPT_PREFIX = 'nvdax-receipt/v2\n';

/**
 * The bytes an Ed25519 receipt signature covers: the prefix and the receipt's canonical JSON
 * (operator/runtime/canonical.ts: keys sorted, no whitespace), built here with the keys already in order
 * because the receipt is flat: the same text, without canonical()'s sorting on the hot path.
 */
export function receiptSigningInput(r: Receipt): Buffer {
  const sorted = {
    deviceTimeUs: r.deviceTimeUs,
    gatewayKey: r.gatewayKey,
    inputHash: r.inputHash,
    inputTokens: r.inputTokens,
    job: r.job,
    latencyUs: r.latencyUs,
    modelHash: r.modelHash,
    outputHash: r.outputHash,
    outputTokens: r.outputTokens,
    price: r.price,
    provider: r.provider,
    requestId: r.requestId,
    time: r.time,
  };
  return Buffer.from(RECEIPT_PREFIX + JSON.stringify(sorted), 'utf8');
}

/** Signs a receipt with the gateway's Ed25519 receipt key (no shape check: the gateway builds it). */
export function signReceiptEd25519(key: KeyObject, receipt: Receipt): GatewaySignedReceipt {
  return {
    receipt,
    scheme: 'ed25519',
    signature: `0x${edSign(null, receiptSigningInput(receipt), key).toString('hex')}`,
  };
}

/** What a checker knows about the gateway that signed: from a capability it verified. */
export interface ReceiptAuthority {
  provider: string;
  /** Raw Ed25519 receipt key (32 bytes) from the capability. */
  receiptKey: Uint8Array | KeyObject;
  /** The EIP-712 receipt domain (eip712 scheme only). */
  receiptDomain?: TypedDataDomain;
}

/**
 * Verifies a gateway receipt: shape, each field of `expect` equal (a different one is named), and the
 * signature (`signature` when forged or when any other field was altered). Throws receipt.ts's ReceiptError.
 */
export function verifyGatewayReceipt(
  s: GatewaySignedReceipt,
  authority: ReceiptAuthority,
  expect: Partial<Receipt> = {},
): Receipt {
  if (s.scheme === 'eip712') {
    if (!authority.receiptDomain) throw new ReceiptError('signature', 'an eip712 receipt needs the receipt domain');
    return verifyEip712Receipt(authority.receiptDomain, s as Eip712Receipt, {
      ...expect,
      provider: authority.provider,
    });
  }
  if (s.scheme !== 'ed25519') throw new ReceiptError('signature', `unknown scheme ${JSON.stringify(s.scheme)}`);
  // the gateway writes the provider checksummed, as the capability does: equal strings need no keccak
  const receipt = s.receipt?.provider === authority.provider ? checkShapeFast(s.receipt) : checkReceiptShape(s.receipt);
  if (receipt.provider !== getAddressCached(authority.provider))
    throw new ReceiptError(
      'provider',
      `is ${JSON.stringify(receipt.provider)}, expected ${JSON.stringify(authority.provider)}`,
    );
  for (const [k, want] of Object.entries(expect) as Array<[keyof Receipt, unknown]>) {
    if (want === undefined || k === 'provider') continue;
    const got = receipt[k];
    const same =
      typeof want === 'string' && typeof got === 'string' ? want.toLowerCase() === got.toLowerCase() : want === got;
    if (!same) throw new ReceiptError(k, `is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  if (typeof s.signature !== 'string' || !/^0x[0-9a-fA-F]{128}$/.test(s.signature))
    throw new ReceiptError('signature', 'an ed25519 signature is 0x + 128 hex');
  const key = authority.receiptKey instanceof Uint8Array ? ed25519Public(authority.receiptKey) : authority.receiptKey;
  if (!edVerify(null, receiptSigningInput(s.receipt), key, Buffer.from(s.signature.slice(2), 'hex')))
    throw new ReceiptError(
      'signature',
      "does not verify under the capability's receipt key: forged, or a field was altered after signing",
    );
  return receipt;
}

/** What OpenSession's requester signs (EIP-191 personal message): binds its session key to this gateway. */
export interface SessionStatement {
  /** hubJobId. */
  job: string;
  gatewayPublicKey: Uint8Array;
  requesterPublicKey: Uint8Array;
  capabilityNonce: Uint8Array;
  requester: string;
  issuedAtMs: number;
}

export function sessionMessage(s: SessionStatement): string {
  const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;
  return [
    'NVDAx gateway session',
    `job: ${s.job.toLowerCase()}`,
    `gateway-key: ${hex(s.gatewayPublicKey)}`,
    `requester-key: ${hex(s.requesterPublicKey)}`,
    `capability-nonce: ${hex(s.capabilityNonce)}`,
    `requester: ${getAddress(s.requester)}`,
    `issued-at: ${s.issuedAtMs}`,
  ].join('\n');
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const checksummed = new Map<string, string>();
function getAddressCached(a: string): string {
  let c = checksummed.get(a);
  if (c === undefined) {
    c = getAddress(a);
    if (checksummed.size < 1024) checksummed.set(a, c);
  }
  return c;
}

/** checkReceiptShape without re-deriving the provider's checksum (the caller compared it already). */
function checkShapeFast(r: Receipt): Receipt {
  for (const f of ['job', 'modelHash', 'inputHash', 'outputHash', 'requestId', 'gatewayKey'] as const)
    if (typeof r[f] !== 'string' || !BYTES32.test(r[f])) throw new ReceiptError(f, 'must be 0x + 64 hex');
  for (const f of ['latencyUs', 'deviceTimeUs', 'time', 'inputTokens', 'outputTokens'] as const)
    if (!Number.isSafeInteger(r[f]) || r[f] < 0)
      throw new ReceiptError(f, `${JSON.stringify(r[f])} is not a non-negative integer`);
  if (typeof r.price !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(r.price))
    throw new ReceiptError('price', `${JSON.stringify(r.price)} is not a decimal wei amount`);
  return r;
}
