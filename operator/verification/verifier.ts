// The verifier: checks receipts, samples a share of them (deterministically, from a seed) and replays their
// inputs through a reference backend, comparing output hashes. A receipt whose signature fails, whose
// instance's attestation fails, or whose replay differs becomes slashing evidence; `submitSlash` takes it to
// the provider registry's `slash`. Per-provider counters (`Reputation`) record what was found.
//
// Replay only proves something for deterministic serving (same model, same input, same output bytes): the
// reference backend is injected, and the caller chooses which jobs it replays.
import {
  type Contract,
  concat,
  type ContractTransactionResponse,
  getAddress,
  keccak256,
  type TypedDataDomain,
  toUtf8Bytes,
} from 'ethers';
import { canonical } from '../runtime/canonical.ts';
import { gasWithHeadroom } from '../settlement/contracts.ts';
import {
  type AttestationPolicy,
  type EvidenceBundle,
  type ExpectedEvidence,
  evidenceHash,
  isAttestationError,
  verifyEvidence,
} from './attestation.ts';
import { contentHash, type Receipt, ReceiptError, type SignedReceipt, verifyReceipt } from './receipt.ts';

// ------------------------------------------------------------------------------------------------ evidence

/**
 * What a receipt proves against its provider: a bad signature, a failed attestation, an answer the reference
 * backend does not give, or a model other than the one the job's signed task names (model-hash.ts).
 */
export type SlashKind = 'bad-signature' | 'attestation-failed' | 'replay-mismatch' | 'model-mismatch';

/** What a slash is for. `evidenceHash` is what goes on chain (the `Slashed` event's `evidence`). */
export interface SlashEvidence {
  /** The provider the receipt names (checksummed). */
  provider: string;
  kind: SlashKind;
  /** keccak256 of the UTF-8 canonical JSON of `{provider, kind, receipt, detail}` (keys sorted, no spaces). */
  evidenceHash: string;
  receipt: SignedReceipt;
  /** What was found: for a replay the two output hashes, for an attestation the failed claim, … */
  detail: Record<string, string | number | boolean>;
}

/** Builds a slashing-evidence record with its hash. */
export function slashEvidence(
  kind: SlashKind,
  receipt: SignedReceipt,
  detail: Record<string, string | number | boolean>,
): SlashEvidence {
  let provider: string;
  try {
    provider = getAddress(receipt.receipt.provider);
  } catch {
    throw new ReceiptError('provider', 'slashing evidence needs the provider address the receipt names');
  }
  const body = { provider, kind, receipt, detail };
  return { ...body, evidenceHash: slashEvidenceHash(body) };
}

/** keccak256 of the canonical JSON of the evidence body; anyone holding the record can recompute it. */
export function slashEvidenceHash(e: Pick<SlashEvidence, 'provider' | 'kind' | 'receipt' | 'detail'>): string {
  return keccak256(
    toUtf8Bytes(canonical({ provider: e.provider, kind: e.kind, receipt: e.receipt, detail: e.detail })),
  );
}

// ------------------------------------------------------------------------------------------------ sampling

const SAMPLE_SCALE = 1_000_000n;

/**
 * Whether the receipt is replayed: keccak256(seed ‖ job ‖ requestId) mod 10^6 < share × 10^6. Deterministic
 * for a seed, independent per request, and unpredictable to a provider that does not know the seed.
 */
export function isSampled(seed: string, receipt: Pick<Receipt, 'job' | 'requestId'>, share: number): boolean {
  if (!(share >= 0 && share <= 1)) throw new RangeError('share must be in 0..1');
  const h = BigInt(keccak256(concat([toUtf8Bytes(seed), receipt.job, receipt.requestId])));
  return h % SAMPLE_SCALE < BigInt(Math.round(share * Number(SAMPLE_SCALE)));
}

// ------------------------------------------------------------------------------------------------ reputation

/** Per-provider counters the operator reads. */
export interface ProviderReputation {
  provider: string;
  /** Receipts checked. */
  receipts: number;
  /** Receipts replayed (sampled and checked against the reference backend). */
  replays: number;
  replayMismatches: number;
  attestationFailures: number;
  badSignatures: number;
  /** Receipts naming another model than the job's signed task. */
  modelMismatches: number;
}

const zeroReputation = (provider: string): ProviderReputation => ({
  provider,
  receipts: 0,
  replays: 0,
  replayMismatches: 0,
  attestationFailures: 0,
  badSignatures: 0,
  modelMismatches: 0,
});

/** Counters of what the verifier found, per provider. In memory; the operator reads `of` or `all`. */
export class Reputation {
  readonly #by = new Map<string, ProviderReputation>();

  #get(provider: string): ProviderReputation {
    const p = getAddress(provider);
    let r = this.#by.get(p);
    if (!r) {
      r = zeroReputation(p);
      this.#by.set(p, r);
    }
    return r;
  }

  /** Counts one checked receipt and what it showed. */
  record(provider: string, what: { replayed?: boolean; found?: SlashKind }): void {
    const r = this.#get(provider);
    r.receipts++;
    if (what.replayed) r.replays++;
    if (what.found === 'replay-mismatch') r.replayMismatches++;
    if (what.found === 'attestation-failed') r.attestationFailures++;
    if (what.found === 'bad-signature') r.badSignatures++;
    if (what.found === 'model-mismatch') r.modelMismatches++;
  }

  /** Counts an attestation failure seen outside a receipt check (the operator's own attestations). */
  recordAttestationFailure(provider: string): void {
    this.#get(provider).attestationFailures++;
  }

  /** A copy of one provider's counters (zeros when never seen). */
  of(provider: string): ProviderReputation {
    const p = getAddress(provider);
    const r = this.#by.get(p);
    return r ? { ...r } : zeroReputation(p);
  }

  /** Copies of all counters, by provider address. */
  all(): ProviderReputation[] {
    return [...this.#by.values()].map((r) => ({ ...r })).sort((a, b) => (a.provider < b.provider ? -1 : 1));
  }
}

// ------------------------------------------------------------------------------------------------ checking

/** The reference backend: the same model, run where the verifier trusts it. */
export type Infer = (input: Uint8Array | string) => Promise<Uint8Array | string> | Uint8Array | string;

/** One served request as the verifier receives it (from the requester or the gateway's log). */
export interface ReplayRecord {
  receipt: SignedReceipt;
  /** The request body whose `contentHash` is the receipt's inputHash. */
  input: Uint8Array | string;
  /** The evidence the instance attested with, and what it was expected to show, to re-check. */
  attestation?: { bundle: EvidenceBundle; expected: ExpectedEvidence };
  /**
   * The model hash the job's signed task names (`modelHashOf(spec.model.hash)`, model-hash.ts): a receipt
   * naming another model is evidence. Unset: not checked.
   */
  modelHash?: string;
}

export interface VerifierOptions {
  /** The receipt domain (receiptDomain(chainId, settlement)). */
  domain: TypedDataDomain;
  /** Share of receipts replayed, 0..1. */
  share: number;
  /** Sampling seed: keep it from providers. */
  seed: string;
  infer: Infer;
  /** Needed to re-check records that carry attestation evidence. */
  attestationPolicy?: AttestationPolicy;
  /** Counters to update (default a new one, at `verifier.reputation`). */
  reputation?: Reputation;
  /**
   * Checks a receipt's signature, throwing a ReceiptError (default: EIP-712 by the provider under `domain`).
   * The operator passes its intake's check, which also takes the gateway's Ed25519 receipts.
   */
  verifySignature?: (signed: SignedReceipt) => void;
}

export type CheckOutcome =
  /** Passed: signature (and attestation, when given) good, and the replay matched when sampled. */
  | { status: 'ok'; provider: string; sampled: boolean }
  /** Not judged: the record itself is inconsistent (its input is not the receipt's input). */
  | { status: 'skipped'; provider: string; reason: string }
  | { status: 'evidence'; provider: string; sampled: boolean; evidence: SlashEvidence };

export class Verifier {
  readonly reputation: Reputation;
  readonly #o: VerifierOptions;

  constructor(o: VerifierOptions) {
    if (!(o.share >= 0 && o.share <= 1)) throw new RangeError('share must be in 0..1');
    this.#o = o;
    this.reputation = o.reputation ?? new Reputation();
  }

  /** Whether this receipt would be replayed. */
  sampled(receipt: Pick<Receipt, 'job' | 'requestId'>): boolean {
    return isSampled(this.#o.seed, receipt, this.#o.share);
  }

  /**
   * Checks one record: the receipt's signature; the attestation when the record carries one; that the input
   * is the receipt's; then, when sampled, replays it and compares output hashes.
   */
  async check(record: ReplayRecord): Promise<CheckOutcome> {
    const signed = record.receipt;
    let provider: string;
    try {
      provider = getAddress(signed?.receipt?.provider);
    } catch {
      // Nobody to hold it against: the record names no valid provider.
      return {
        status: 'skipped',
        provider: String(signed?.receipt?.provider),
        reason: 'the receipt names no valid provider address',
      };
    }
    try {
      if (this.#o.verifySignature) this.#o.verifySignature(signed);
      else verifyReceipt(this.#o.domain, signed);
    } catch (e) {
      if (!(e instanceof ReceiptError)) throw e;
      return this.#found(
        provider,
        false,
        slashEvidence('bad-signature', signed, { field: e.field, message: e.message }),
      );
    }
    const r = signed.receipt;
    if (record.attestation) {
      if (!this.#o.attestationPolicy)
        throw new Error('verifier: a record carries attestation but no policy is configured');
      try {
        await verifyEvidence(record.attestation.bundle, record.attestation.expected, this.#o.attestationPolicy);
      } catch (e) {
        if (!isAttestationError(e)) throw e;
        return this.#found(
          provider,
          false,
          slashEvidence('attestation-failed', signed, {
            claim: e.claim,
            where: e.where,
            message: e.message,
            bundleHash: evidenceHash(record.attestation.bundle),
          }),
        );
      }
    }
    if (record.modelHash !== undefined && record.modelHash.toLowerCase() !== String(r.modelHash).toLowerCase()) {
      return this.#found(
        provider,
        false,
        slashEvidence('model-mismatch', signed, { taskModelHash: record.modelHash, receiptModelHash: r.modelHash }),
      );
    }
    if (contentHash(record.input).toLowerCase() !== r.inputHash.toLowerCase()) {
      this.reputation.record(provider, {});
      return { status: 'skipped', provider, reason: 'the record input does not hash to the receipt inputHash' };
    }
    if (!this.sampled(r)) {
      this.reputation.record(provider, {});
      return { status: 'ok', provider, sampled: false };
    }
    const replayed = contentHash(await this.#o.infer(record.input));
    if (replayed.toLowerCase() !== r.outputHash.toLowerCase()) {
      return this.#found(
        provider,
        true,
        slashEvidence('replay-mismatch', signed, {
          inputHash: r.inputHash,
          receiptOutputHash: r.outputHash,
          replayedOutputHash: replayed,
        }),
      );
    }
    this.reputation.record(provider, { replayed: true });
    return { status: 'ok', provider, sampled: true };
  }

  /** Checks records in order; returns every outcome and the evidence found. */
  async checkAll(records: Iterable<ReplayRecord>): Promise<{ outcomes: CheckOutcome[]; evidence: SlashEvidence[] }> {
    const outcomes: CheckOutcome[] = [];
    for (const rec of records) outcomes.push(await this.check(rec));
    const evidence = outcomes.flatMap((o) => (o.status === 'evidence' ? [o.evidence] : []));
    return { outcomes, evidence };
  }

  #found(provider: string, replayed: boolean, evidence: SlashEvidence): CheckOutcome {
    this.reputation.record(provider, { replayed, found: evidence.kind });
    return { status: 'evidence', provider, sampled: replayed, evidence };
  }
}

// ------------------------------------------------------------------------------------------------ on chain

/** How much to slash and who is compensated. */
export interface SlashSplit {
  /** Taken from the provider's stake, wei. */
  amount: bigint;
  /**
   * Compensated requesters. What is left after the verifier's share (`slashVerifierBps`) is split equally
   * among them, the remainder wei to the first.
   */
  requesters: readonly string[];
}

export interface SlashSubmission {
  txHash: string;
  blockNumber: number;
  evidenceHash: string;
  amount: bigint;
  verifierAmount: bigint;
  requesters: string[];
  requesterAmounts: bigint[];
}

/** The registry's split for `amount`: the verifier's share, and the rest over the requesters. */
export function slashAmounts(
  amount: bigint,
  verifierBps: bigint,
  requesters: readonly string[],
): { verifierAmount: bigint; requesterAmounts: bigint[] } {
  const verifierAmount = (amount * verifierBps) / 10_000n;
  const rest = amount - verifierAmount;
  if (requesters.length === 0) {
    if (rest !== 0n) throw new RangeError('slash: requesters must be given to receive the non-verifier share');
    return { verifierAmount, requesterAmounts: [] };
  }
  const n = BigInt(requesters.length);
  const each = rest / n;
  const requesterAmounts = requesters.map((_, i) => (i === 0 ? each + (rest - each * n) : each));
  return { verifierAmount, requesterAmounts };
}

/**
 * Slashes the provider on chain: `ProviderRegistry.slash(provider, amount, evidenceHash, requesters, amounts)`,
 * sent through `registry`, which must be connected to a signer holding SLASHER_ROLE (the verifier). Waits for
 * the transaction and throws when it reverts.
 */
export async function submitSlash(
  registry: Contract,
  evidence: SlashEvidence,
  split: SlashSplit,
): Promise<SlashSubmission> {
  if (split.amount <= 0n) throw new RangeError('slash: amount must be positive');
  if (slashEvidenceHash(evidence) !== evidence.evidenceHash)
    throw new Error('slash: the evidence hash does not match the evidence record');
  const bps = BigInt(await registry.getFunction('slashVerifierBps')());
  const requesters = split.requesters.map((a) => getAddress(a));
  const { verifierAmount, requesterAmounts } = slashAmounts(split.amount, bps, requesters);
  const args = [evidence.provider, split.amount, evidence.evidenceHash, requesters, requesterAmounts];
  const f = registry.getFunction('slash');
  // Headroom over the estimate: slash accrues rewards and settles the provider's, which on the block after the
  // estimate may write fresh storage slots (~22,000 gas each) the estimate did not: with a quarter more, a
  // contract test ran out of gas at 190,589 (gasWithHeadroom says why)
  const gas = await f.estimateGas(...args);
  const tx = (await f(...args, { gasLimit: gasWithHeadroom(gas) })) as ContractTransactionResponse;
  const receipt = await tx.wait();
  if (receipt?.status !== 1) throw new Error(`slash: transaction ${tx.hash} reverted`);
  return {
    txHash: tx.hash,
    blockNumber: receipt.blockNumber,
    evidenceHash: evidence.evidenceHash,
    amount: split.amount,
    verifierAmount,
    requesters,
    requesterAmounts,
  };
}
