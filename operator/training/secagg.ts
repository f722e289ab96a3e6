// Secure aggregation after Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine
// Learning" (CCS 2017), with the stages Flower's SecAgg+ names: advertise keys, share keys, masked input,
// consistency check, unmasking. Each stage is a pure step over messages; the coordinator and the participant
// runtime only move them. Nothing here does I/O.
//
// Per round, participant u holds two fresh X25519 key pairs (c for encrypting shares, s for masks) and a
// random 32-byte seed b_u. It Shamir-shares s_sk and b_u among the members that advertised keys (U1), and sends
// y_u = x_u + PRG(b_u) + Σ_{v ∈ U2, v ≠ u} ±PRG(KA(s_u, s_v)) mod 2^52 (+ when u < v): the pairwise masks
// cancel in the sum over U2. For every member still present at unmasking (U3) the coordinator reconstructs b
// and removes PRG(b); for every member that dropped after sharing (U2 \ U3) it reconstructs s_sk and removes
// the pairwise masks the survivors added with it. No honest participant ever reveals both b_u and s_sk of the
// same u, so one masked input always keeps a mask the coordinator cannot remove.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { addInto, isElementVector, subInto } from './fixedpoint.ts';
import {
  type AgreementKey,
  agree,
  agreementKeyFromSecret,
  generateAgreementKey,
  type SigningKey,
  signWith,
  verifySignature,
} from './keys.ts';
import { combine, type Share, shareFromBytes, shareToBytes, split } from './shamir.ts';

/** What every signature and derived key of one round is bound to. */
export interface RoundContext {
  job: string;
  round: number;
}

/** A protocol violation or an impossible stage (too few members). `reason` is PascalCase. */
export class SecAggError extends Error {
  override name = 'SecAggError';
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

const label = (c: RoundContext) => `nvdax-secagg/v1|${c.job}|${c.round}`;

/** The bytes a member signs to advertise its round keys. */
export function advertisePayload(c: RoundContext, id: string, cPk: Uint8Array, sPk: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from(`${label(c)}|advertise|${id}|`),
    Buffer.from(cPk),
    Buffer.from('|'),
    Buffer.from(sPk),
  ]);
}

/** The bytes a member signs in the consistency check: the survivor list, sorted. */
export function survivorsPayload(c: RoundContext, survivors: readonly string[]): Buffer {
  return Buffer.from(`${label(c)}|survivors|${[...survivors].sort().join(',')}`);
}

/**
 * Shares needed to reconstruct, given the members that advertised keys: a majority of them and never fewer than
 * the job's minParticipants. Every later stage needs at least this many members, or the round fails.
 */
export function thresholdFor(advertised: number, minParticipants: number): number {
  return Math.max(minParticipants, Math.floor(advertised / 2) + 1);
}

/** PRG: AES-256-CTR keystream under HKDF(seed), read as `length` elements of Z_{2^52}. */
export function prg(seed: Uint8Array, length: number): Float64Array {
  const key = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), 'nvdax-secagg/v1|prg', 32));
  const stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length * 8));
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const hi = stream.readUInt32LE(i * 8) & 0xfffff;
    out[i] = hi * 0x1_0000_0000 + stream.readUInt32LE(i * 8 + 4);
  }
  return out;
}

function pairSeed(c: RoundContext, shared: Buffer, a: string, b: string): Buffer {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return Buffer.from(hkdfSync('sha256', shared, Buffer.from(label(c)), `mask|${lo}|${hi}`, 32));
}

function shareCipherKey(c: RoundContext, shared: Buffer, from: string, to: string): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.from(label(c)), `share|${from}|${to}`, 32));
}

/** Adds (sign +1) or subtracts the pairwise mask of u and v to `into`, as u does. */
function applyPairMask(into: Float64Array, c: RoundContext, shared: Buffer, u: string, v: string): void {
  const p = prg(pairSeed(c, shared, u, v), into.length);
  if (u < v) addInto(into, p);
  else subInto(into, p);
}

/** One member's advertised keys, as the coordinator relays them. */
export interface MemberKeys {
  id: string;
  cPk: Uint8Array;
  sPk: Uint8Array;
  signature: Uint8Array;
  /** The member's attested Ed25519 key. */
  signingKey: Uint8Array;
}

export interface EncryptedShareMsg {
  peer: string;
  ciphertext: Buffer;
}

export interface ShareOf {
  of: string;
  share: Buffer;
}

/** The participant's side of one round. Create one per round; call the stages in order. */
export class SecAggClient {
  readonly #c: RoundContext;
  readonly #id: string;
  readonly #signing: SigningKey;
  readonly #cKey: AgreementKey = generateAgreementKey();
  readonly #sKey: AgreementKey = generateAgreementKey();
  readonly #seed = randomBytes(32);
  #members = new Map<string, MemberKeys>();
  #threshold = 0;
  /** Shares I hold, by whose secret they are: [s_sk share, b share]. */
  #held = new Map<string, { s: Share; b: Share }>();
  #u2: string[] = [];
  #u3: string[] | undefined;

  constructor(c: RoundContext, id: string, signing: SigningKey) {
    this.#c = c;
    this.#id = id;
    this.#signing = signing;
  }

  /** Round 0: this round's public keys, signed. */
  advertise(): { cPk: Buffer; sPk: Buffer; signature: Buffer } {
    const { publicKey: cPk } = this.#cKey;
    const { publicKey: sPk } = this.#sKey;
    return { cPk, sPk, signature: signWith(this.#signing, advertisePayload(this.#c, this.#id, cPk, sPk)) };
  }

  /** Round 1: checks every member's signed keys, then shares s_sk and b among them, encrypted per member. */
  shareKeys(members: readonly MemberKeys[], threshold: number): EncryptedShareMsg[] {
    const ids = members.map((m) => m.id);
    if (new Set(ids).size !== ids.length) throw new SecAggError('DuplicateMember', 'a member is listed twice');
    if (!ids.includes(this.#id)) throw new SecAggError('NotAMember', 'the key list does not include this member');
    if (threshold < 2 || threshold > members.length || threshold <= members.length / 2)
      throw new SecAggError('BadThreshold', `threshold ${threshold} for ${members.length} members`);
    for (const m of members)
      if (!verifySignature(m.signingKey, advertisePayload(this.#c, m.id, m.cPk, m.sPk), m.signature))
        throw new SecAggError('BadSignature', `the keys of ${m.id} are not signed by its attested key`);
    const sorted = [...ids].sort();
    this.#members = new Map(members.map((m) => [m.id, m]));
    this.#threshold = threshold;
    const xs = sorted.map((_, i) => i + 1);
    const sShares = split(this.#sKey.secret, threshold, xs);
    const bShares = split(this.#seed, threshold, xs);
    const out: EncryptedShareMsg[] = [];
    for (const [i, v] of sorted.entries()) {
      const s = sShares[i] as Share;
      const b = bShares[i] as Share;
      if (v === this.#id) {
        this.#held.set(v, { s, b });
        continue;
      }
      const m = this.#members.get(v) as MemberKeys;
      const key = shareCipherKey(this.#c, agree(this.#cKey, m.cPk), this.#id, v);
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(`${label(this.#c)}|${this.#id}|${v}`));
      const body = Buffer.concat([shareToBytes(s), shareToBytes(b)]);
      const ct = Buffer.concat([cipher.update(body), cipher.final()]);
      out.push({ peer: v, ciphertext: Buffer.concat([nonce, ct, cipher.getAuthTag()]) });
    }
    return out;
  }

  /**
   * Round 2: decrypts the shares delivered (their senders and this member are U2) and masks `x`, already
   * encoded as elements of Z_{2^52}.
   */
  maskedInput(delivered: readonly EncryptedShareMsg[], x: Float64Array): Float64Array {
    if (!isElementVector(x)) throw new SecAggError('BadInput', 'the input must be encoded fixed point');
    const senders = new Set<string>();
    for (const d of delivered) {
      const m = this.#members.get(d.peer);
      if (!m || d.peer === this.#id || senders.has(d.peer))
        throw new SecAggError('UnexpectedShare', `a share from ${d.peer}, not a distinct other member`);
      if (d.ciphertext.length !== 12 + 2 * 68 + 16) throw new SecAggError('BadShare', `the share from ${d.peer}`);
      const key = shareCipherKey(this.#c, agree(this.#cKey, m.cPk), d.peer, this.#id);
      const decipher = createDecipheriv('aes-256-gcm', key, d.ciphertext.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${label(this.#c)}|${d.peer}|${this.#id}`));
      decipher.setAuthTag(d.ciphertext.subarray(-16));
      let body: Buffer;
      try {
        body = Buffer.concat([decipher.update(d.ciphertext.subarray(12, -16)), decipher.final()]);
      } catch {
        throw new SecAggError('BadShare', `the share from ${d.peer} does not decrypt`);
      }
      this.#held.set(d.peer, { s: shareFromBytes(body.subarray(0, 68)), b: shareFromBytes(body.subarray(68)) });
      senders.add(d.peer);
    }
    this.#u2 = [...senders, this.#id].sort();
    if (this.#u2.length < this.#threshold)
      throw new SecAggError('TooFewMembers', `${this.#u2.length} members shared keys, ${this.#threshold} needed`);
    const y = Float64Array.from(x);
    addInto(y, prg(this.#seed, x.length));
    for (const v of this.#u2) {
      if (v === this.#id) continue;
      const m = this.#members.get(v) as MemberKeys;
      applyPairMask(y, this.#c, agree(this.#sKey, m.sPk), this.#id, v);
    }
    return y;
  }

  /** Round 3: signs the survivor list (U3) after checking it against U2. */
  signSurvivors(survivors: readonly string[]): Buffer {
    const u3 = [...new Set(survivors)].sort();
    if (u3.length !== survivors.length) throw new SecAggError('DuplicateMember', 'the survivor list repeats a member');
    if (!u3.includes(this.#id)) throw new SecAggError('NotAMember', 'the survivor list omits this member');
    if (u3.some((v) => !this.#u2.includes(v)))
      throw new SecAggError('UnknownSurvivor', 'a survivor did not share keys with this member');
    if (u3.length < this.#threshold)
      throw new SecAggError('TooFewMembers', `${u3.length} survivors, ${this.#threshold} needed`);
    this.#u3 = u3;
    return signWith(this.#signing, survivorsPayload(this.#c, u3));
  }

  /**
   * Round 4: after checking that at least `threshold` members of U2 signed the same survivor list, reveals the
   * mask-seed shares of the survivors and the key shares of those that dropped — never both for one member.
   */
  unmask(survivors: readonly string[], signatures: ReadonlyArray<{ id: string; signature: Uint8Array }>) {
    const u3 = this.#u3;
    if (!u3) throw new SecAggError('OutOfOrder', 'unmask before the consistency check');
    const asked = [...survivors].sort();
    if (asked.length !== u3.length || asked.some((v, i) => v !== u3[i]))
      throw new SecAggError('InconsistentSurvivors', 'the survivor list differs from the one signed');
    const payload = survivorsPayload(this.#c, u3);
    const valid = new Set<string>();
    for (const s of signatures) {
      const m = this.#members.get(s.id);
      if (m && this.#u2.includes(s.id) && verifySignature(m.signingKey, payload, s.signature)) valid.add(s.id);
    }
    if (valid.size < this.#threshold)
      throw new SecAggError(
        'InconsistentSurvivors',
        `${valid.size} members signed the survivor list, ${this.#threshold} needed`,
      );
    const seedShares: ShareOf[] = [];
    const keyShares: ShareOf[] = [];
    for (const v of this.#u2) {
      const h = this.#held.get(v);
      if (!h) continue;
      if (u3.includes(v)) seedShares.push({ of: v, share: shareToBytes(h.b) });
      else keyShares.push({ of: v, share: shareToBytes(h.s) });
    }
    return { seedShares, keyShares };
  }
}

/** What the coordinator has at the end of a round. */
export interface UnmaskInput {
  context: RoundContext;
  threshold: number;
  length: number;
  /** U1's signed keys (the coordinator keeps what it relayed). */
  members: ReadonlyMap<string, Pick<MemberKeys, 'sPk'>>;
  /** Members whose shares were delivered (U2). */
  shared: readonly string[];
  /** Masked inputs of the survivors (U3). */
  masked: ReadonlyMap<string, Float64Array>;
  /** Shares revealed in round 4, by whose secret they are. */
  seedShares: ReadonlyMap<string, readonly Buffer[]>;
  keyShares: ReadonlyMap<string, readonly Buffer[]>;
}

function reconstruct(
  of: string,
  shares: readonly Buffer[] | undefined,
  t: number,
  what: string,
  coefficients: Map<string, bigint[]>,
): Buffer {
  // Sorted by x, so every secret shared at the same points reuses one set of Lagrange coefficients.
  const parsed = (shares ?? []).map(shareFromBytes).sort((a, b) => a.x - b.x);
  if (parsed.length < t)
    throw new SecAggError('TooFewShares', `${parsed.length} ${what} shares of ${of}, ${t} needed to reconstruct`);
  if (new Set(parsed.map((s) => s.x)).size !== parsed.length)
    throw new SecAggError('BadShares', `${what} shares of ${of} repeat an evaluation point`);
  return combine(parsed, t, 32, coefficients);
}

/** The coordinator's unmasking: Σ_{u ∈ U3} x_u mod 2^52, and nothing else. */
export function unmaskSum(input: UnmaskInput): Float64Array {
  const { context: c, threshold: t, length } = input;
  const u3 = [...input.masked.keys()].sort();
  if (u3.length < t) throw new SecAggError('TooFewMembers', `${u3.length} masked inputs, ${t} needed`);
  const dropped = input.shared.filter((v) => !input.masked.has(v));
  const sum = new Float64Array(length);
  const coefficients = new Map<string, bigint[]>();
  for (const u of u3) {
    const y = input.masked.get(u) as Float64Array;
    if (y.length !== length || !isElementVector(y)) throw new SecAggError('BadInput', `the masked input of ${u}`);
    addInto(sum, y);
    subInto(sum, prg(reconstruct(u, input.seedShares.get(u), t, 'mask-seed', coefficients), length));
  }
  for (const v of dropped) {
    const key = agreementKeyFromSecret(reconstruct(v, input.keyShares.get(v), t, 'key', coefficients));
    const advertised = input.members.get(v)?.sPk;
    if (!advertised || !key.publicKey.equals(Buffer.from(advertised)))
      throw new SecAggError('BadShares', `the key shares of ${v} do not reconstruct its advertised key`);
    for (const u of u3) {
      const su = input.members.get(u)?.sPk;
      if (!su) throw new SecAggError('UnknownSurvivor', `${u} advertised no keys`);
      // u added +p when u < v and −p otherwise: take the same mask off again.
      const p = prg(pairSeed(c, agree(key, su), u, v), length);
      if (u < v) subInto(sum, p);
      else addInto(sum, p);
    }
  }
  return sum;
}
