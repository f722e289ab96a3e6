// Signed receipts: for every request it serves, the gateway hands the requester a receipt signed with the
// provider's Ethereum key as EIP-712 typed data (ethers v6). The requester, the verifier and metering check
// it here; `usageFromReceipts` sums receipts into job usage. Pure: no chain access.
//
// Every field is JSON-safe (hashes as 0x hex, amounts as decimal strings, times as integers), so a receipt
// travels as JSON or protobuf unchanged and hashes canonically.
import { createHash } from 'node:crypto';
import { type AbstractSigner, getAddress, type TypedDataDomain, TypedDataEncoder, verifyTypedData } from 'ethers';
import { canonical } from '../runtime/canonical.ts';
import type { TeePubKey } from './attestation.ts';

export const RECEIPT_DOMAIN_NAME = 'NVDAx Receipt';
// 2: the token counts (inputTokens, outputTokens) joined the receipt
export const RECEIPT_DOMAIN_VERSION = '2';

/** EIP-712 types; `Receipt` is the primary type. Field order is part of the signature: never reorder. */
export const RECEIPT_TYPES = {
  Receipt: [
    { name: 'provider', type: 'address' },
    { name: 'job', type: 'bytes32' },
    { name: 'modelHash', type: 'bytes32' },
    { name: 'inputHash', type: 'bytes32' },
    { name: 'outputHash', type: 'bytes32' },
    { name: 'latencyUs', type: 'uint64' },
    { name: 'deviceTimeUs', type: 'uint64' },
    { name: 'price', type: 'uint256' },
    { name: 'requestId', type: 'bytes32' },
    { name: 'gatewayKey', type: 'bytes32' },
    { name: 'time', type: 'uint64' },
    { name: 'inputTokens', type: 'uint64' },
    { name: 'outputTokens', type: 'uint64' },
  ],
};

/** One served request. */
export interface Receipt {
  /** The provider's address: the key that signs (and whose stake answers for) the receipt. */
  provider: string;
  /** The job: `hubJobId({namespace, name})` from operator/settlement/task.ts (keccak256 of "ns/name"). */
  job: string;
  /** The model's hash as the job pins it (bytes32, 0x + 64 hex). */
  modelHash: string;
  /** `contentHash` of the request body the gateway received (after decryption). */
  inputHash: string;
  /** `contentHash` of the response body it returned (before encryption). */
  outputHash: string;
  /** Gateway-measured latency, microseconds (integer). */
  latencyUs: number;
  /** Accelerator time the request used, microseconds (integer). */
  deviceTimeUs: number;
  /** Price charged for this request, wei (decimal string). */
  price: string;
  /** The requester's request id / nonce (bytes32): unique per job, so a receipt is counted once. */
  requestId: string;
  /** `gatewayKeyHash` of the attested TEE public key the request was encrypted to. */
  gatewayKey: string;
  /** When the response was sent, Unix milliseconds. */
  time: number;
  /**
   * Tokens the model server counted in the request (an OpenAI-protocol answer's `usage.prompt_tokens`); 0 where
   * the backend counts none (tensor models) or the answer carried no usage.
   */
  inputTokens: number;
  /** Tokens it generated (`usage.completion_tokens`); 0 where not counted. */
  outputTokens: number;
}

export interface SignedReceipt {
  receipt: Receipt;
  /** EIP-712 signature by `receipt.provider`, 0x + 130 hex. */
  signature: string;
}

/** A receipt refused, naming the field: a receipt field, or `signature`. */
export class ReceiptError extends Error {
  override name = 'ReceiptError';
  readonly field: keyof Receipt | 'signature' | 'receipt';
  constructor(field: ReceiptError['field'], message: string) {
    super(`receipt ${field}: ${message}`);
    this.field = field;
  }
}

/**
 * The domain receipts are signed under: the chain and the settlement contract they are paid through, so a
 * receipt cannot be replayed on another deployment.
 */
export function receiptDomain(chainId: bigint | number, verifyingContract: string): TypedDataDomain {
  return {
    name: RECEIPT_DOMAIN_NAME,
    version: RECEIPT_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: getAddress(verifyingContract),
  };
}

/** The hash receipts use for request and response bodies: `0x` + SHA-256 hex of the bytes (strings as UTF-8). */
export function contentHash(data: Uint8Array | string): string {
  return `0x${createHash('sha256')
    .update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
    .digest('hex')}`;
}

/** The receipt's `gatewayKey`: `0x` + SHA-256 hex of the canonical JSON of the TEE public key. */
export function gatewayKeyHash(teePubKey: TeePubKey): string {
  return `0x${createHash('sha256').update(canonical(teePubKey), 'utf8').digest('hex')}`;
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const UINT64_MAX = 2n ** 64n - 1n;

/** Checks every field's shape, naming the first bad one; returns the receipt with the address checksummed. */
export function checkReceiptShape(r: Receipt): Receipt {
  if (typeof r !== 'object' || r === null) throw new ReceiptError('receipt', 'not an object');
  let provider: string;
  try {
    provider = getAddress(r.provider);
  } catch {
    throw new ReceiptError('provider', `${JSON.stringify(r.provider)} is not an Ethereum address`);
  }
  for (const f of ['job', 'modelHash', 'inputHash', 'outputHash', 'requestId', 'gatewayKey'] as const) {
    if (typeof r[f] !== 'string' || !BYTES32.test(r[f])) throw new ReceiptError(f, 'must be 0x + 64 hex');
  }
  for (const f of ['latencyUs', 'deviceTimeUs', 'time', 'inputTokens', 'outputTokens'] as const) {
    const v = r[f];
    if (!Number.isSafeInteger(v) || v < 0 || BigInt(v) > UINT64_MAX)
      throw new ReceiptError(f, `${JSON.stringify(v)} is not a non-negative integer`);
  }
  if (typeof r.price !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(r.price) || BigInt(r.price) >= 2n ** 256n)
    throw new ReceiptError('price', `${JSON.stringify(r.price)} is not a decimal wei amount`);
  return { ...r, provider };
}

/** The EIP-712 digest of a receipt under `domain`. */
export function receiptDigest(domain: TypedDataDomain, r: Receipt): string {
  return TypedDataEncoder.hash(domain, RECEIPT_TYPES, checkReceiptShape(r));
}

/** Signs a receipt with the provider's key; the signer must be `receipt.provider`. */
export async function signReceipt(signer: AbstractSigner, domain: TypedDataDomain, r: Receipt): Promise<SignedReceipt> {
  const receipt = checkReceiptShape(r);
  const me = getAddress(await signer.getAddress());
  if (me !== receipt.provider) throw new ReceiptError('provider', `the signer is ${me}, not ${receipt.provider}`);
  return { receipt, signature: await signer.signTypedData(domain, RECEIPT_TYPES, receipt) };
}

/** The address that signed the receipt, or undefined when the signature is malformed. */
export function recoverReceiptSigner(domain: TypedDataDomain, s: SignedReceipt): string | undefined {
  try {
    return verifyTypedData(domain, RECEIPT_TYPES, checkReceiptShape(s.receipt), s.signature);
  } catch {
    return undefined;
  }
}

/**
 * Verifies a signed receipt: every field well formed; each field of `expect` (what the checker knows on its
 * own: the job, model, its input hash, its request id, the quoted price, the attested gateway key, the
 * provider) equal; and the signature recovering to `receipt.provider`. Throws a {@link ReceiptError} naming
 * the field: an expected field that differs is named itself; any other change (or another key's signature)
 * fails as `signature`, since a signature cannot tell which field was altered.
 */
export function verifyReceipt(domain: TypedDataDomain, s: SignedReceipt, expect: Partial<Receipt> = {}): Receipt {
  if (typeof s !== 'object' || s === null) throw new ReceiptError('receipt', 'not a signed receipt');
  const receipt = checkReceiptShape(s.receipt);
  for (const [k, want] of Object.entries(expect) as Array<[keyof Receipt, unknown]>) {
    if (want === undefined) continue;
    const got = receipt[k];
    const same =
      k === 'provider'
        ? getAddress(String(want)) === got
        : typeof want === 'string' && typeof got === 'string'
          ? want.toLowerCase() === got.toLowerCase()
          : want === got;
    if (!same) throw new ReceiptError(k, `is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  if (typeof s.signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(s.signature))
    throw new ReceiptError('signature', 'must be 0x + 130 hex');
  const signer = recoverReceiptSigner(domain, s);
  if (signer !== receipt.provider)
    throw new ReceiptError(
      'signature',
      `recovers to ${signer ?? 'nothing'}, not the provider ${receipt.provider}: forged, or a field was altered after signing`,
    );
  return receipt;
}

/** Usage summed from receipts (for status.usage and metering). */
export interface ReceiptUsage {
  /** Distinct requests (a (job, requestId) pair counts once). */
  requests: number;
  /** Sum of deviceTimeUs over those requests. */
  deviceTimeUs: number;
  /** Sums of inputTokens and outputTokens over those requests. */
  inputTokens: number;
  outputTokens: number;
  /** Sum of price over those requests, wei. */
  amount: bigint;
}

/**
 * Sums receipts (signed or bare) into usage. Pure; does not check signatures (verify first). A receipt whose
 * (job, requestId) was already counted is skipped, so a duplicate cannot be billed twice.
 */
export function usageFromReceipts(receipts: Iterable<Receipt | SignedReceipt>): ReceiptUsage {
  const seen = new Set<string>();
  let requests = 0;
  let deviceTimeUs = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  let amount = 0n;
  for (const x of receipts) {
    const r = 'receipt' in x ? x.receipt : x;
    const key = `${r.job.toLowerCase()}/${r.requestId.toLowerCase()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    requests++;
    deviceTimeUs += r.deviceTimeUs;
    inputTokens += r.inputTokens;
    outputTokens += r.outputTokens;
    amount += BigInt(r.price);
  }
  return { requests, deviceTimeUs, inputTokens, outputTokens, amount };
}
