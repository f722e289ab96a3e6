// Checkpoint provenance. Every checkpoint is a record — step, URI, sha256 of its bytes, the hash of its parent
// record — signed by the attested workload that wrote it. The lineage keeps the newest `keep` records; older
// ones are folded into a running hash (accumulator_i = sha256(accumulator_{i−1} ‖ recordHash_i)), so it stays
// bounded while anyone holding the full history can rebuild it and compare, and anyone holding only the
// lineage can check every kept signature and link. A retry resumes from the newest kept checkpoint whose
// bytes still hash to what was signed.
import { canonical } from '../runtime/canonical.ts';
import { signWith, type SigningKey, verifySignature } from './keys.ts';
import { sha256 } from './vector.ts';

export interface CheckpointRecord {
  /** Training step (federated: the round) the checkpoint holds. */
  step: number;
  uri: string;
  /** sha256:<hex> of the checkpoint's bytes. */
  sha256: string;
  /** recordHash of the parent record; '' for the first checkpoint of the job. */
  parent: string;
  /** The signer's Ed25519 public key, base64url of its 32 bytes (the attested workload key). */
  signer: string;
  /** Ed25519 over checkpointPayload, base64url. */
  signature: string;
  /** evidenceHash of the attestation that admitted the signer, when known. */
  evidenceHash?: string;
  /** When it was recorded (RFC 3339). */
  time?: string;
}

export interface LineageSnapshot {
  job: string;
  /** Records kept before folding. */
  keep: number;
  /** Records folded away: how many, the running hash over them, and the hash of the newest folded record. */
  folded: { count: number; accumulator: string; head: string };
  /** The newest records, oldest first. */
  entries: CheckpointRecord[];
}

/** A checkpoint or lineage that does not verify; `reason` is PascalCase, `step` the record it concerns. */
export class LineageError extends Error {
  override name = 'LineageError';
  readonly reason: string;
  readonly step: number | undefined;
  constructor(reason: string, message: string, step?: number) {
    super(message);
    this.reason = reason;
    this.step = step;
  }
}

const HASH = /^sha256:[0-9a-f]{64}$/;

/** The bytes the workload signs. */
export function checkpointPayload(
  job: string,
  r: Pick<CheckpointRecord, 'step' | 'uri' | 'sha256' | 'parent'>,
): string {
  return `nvdax-checkpoint/v1\n${job}\n${r.step}\n${r.uri}\n${r.sha256}\n${r.parent}`;
}

/** The hash a record is known by (its children's `parent`): over the signed fields and the signer. */
export function recordHash(job: string, r: CheckpointRecord): string {
  return sha256(canonical({ job, step: r.step, uri: r.uri, sha256: r.sha256, parent: r.parent, signer: r.signer }));
}

/** Signs a checkpoint record with the workload key. */
export function signCheckpoint(
  job: string,
  key: SigningKey,
  r: Pick<CheckpointRecord, 'step' | 'uri' | 'sha256' | 'parent'>,
): CheckpointRecord {
  return {
    ...r,
    signer: key.publicKey.toString('base64url'),
    signature: signWith(key, checkpointPayload(job, r)).toString('base64url'),
  };
}

export const genesis = (job: string) => sha256(`nvdax-lineage/v1|${job}`);

/** Checks one record on its own: shape and signature. */
export function verifyRecord(job: string, r: CheckpointRecord): void {
  if (!Number.isSafeInteger(r.step) || r.step < 0) throw new LineageError('BadStep', `step ${r.step}`, r.step);
  if (!HASH.test(r.sha256)) throw new LineageError('BadContentHash', `sha256 ${JSON.stringify(r.sha256)}`, r.step);
  if (r.parent !== '' && !HASH.test(r.parent))
    throw new LineageError('BadParent', `parent ${JSON.stringify(r.parent)}`, r.step);
  const ok = verifySignature(
    Buffer.from(r.signer, 'base64url'),
    checkpointPayload(job, r),
    Buffer.from(r.signature, 'base64url'),
  );
  if (!ok) throw new LineageError('BadSignature', `checkpoint ${r.step} is not signed by ${r.signer}`, r.step);
}

/** A bounded lineage that only accepts records that verify and extend its head. */
export class Lineage {
  readonly #s: LineageSnapshot;

  constructor(job: string, keep = 32, from?: LineageSnapshot) {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError('lineage: keep must be a positive integer');
    if (from) {
      if (from.job !== job) throw new LineageError('WrongJob', `the lineage is of ${from.job}, not ${job}`);
      verifyLineage(from);
    }
    this.#s = from
      ? structuredClone(from)
      : { job, keep, folded: { count: 0, accumulator: genesis(job), head: '' }, entries: [] };
  }

  /** recordHash of the newest record; '' when there is none. */
  get head(): string {
    const last = this.#s.entries.at(-1);
    return last ? recordHash(this.#s.job, last) : this.#s.folded.head;
  }

  get latest(): CheckpointRecord | undefined {
    return this.#s.entries.at(-1);
  }

  /** Appends a record after checking its signature, its parent (the head) and that its step advances. */
  append(r: CheckpointRecord): void {
    verifyRecord(this.#s.job, r);
    if (r.parent !== this.head)
      throw new LineageError(
        'BrokenLineage',
        `checkpoint ${r.step} names parent ${r.parent}, the head is ${this.head}`,
        r.step,
      );
    const last = this.#s.entries.at(-1);
    if (last && r.step <= last.step)
      throw new LineageError('StepNotIncreasing', `checkpoint ${r.step} after ${last.step}`, r.step);
    this.#s.entries.push(structuredClone(r));
    while (this.#s.entries.length > this.#s.keep) {
      const old = this.#s.entries.shift() as CheckpointRecord;
      const h = recordHash(this.#s.job, old);
      this.#s.folded = {
        count: this.#s.folded.count + 1,
        accumulator: sha256(`${this.#s.folded.accumulator}|${h}`),
        head: h,
      };
    }
  }

  /** Drops kept records newer than `step` (they did not verify on resume); the head becomes `step`'s record. */
  rollbackTo(step: number): void {
    this.#s.entries = this.#s.entries.filter((r) => r.step <= step);
  }

  snapshot(): LineageSnapshot {
    return structuredClone(this.#s);
  }
}

/** Checks every kept record's signature, that each names the one before as parent, and that steps advance. */
export function verifyLineage(s: LineageSnapshot): void {
  if (s.folded.count === 0 && (s.folded.head !== '' || s.folded.accumulator !== genesis(s.job)))
    throw new LineageError('BrokenLineage', 'nothing folded, yet the folded hashes are not the genesis');
  let parent = s.folded.head;
  let step = -1;
  for (const r of s.entries) {
    verifyRecord(s.job, r);
    if (r.parent !== parent)
      throw new LineageError(
        'BrokenLineage',
        `checkpoint ${r.step} names parent ${r.parent}, expected ${parent}`,
        r.step,
      );
    if (r.step <= step) throw new LineageError('StepNotIncreasing', `checkpoint ${r.step} after ${step}`, r.step);
    parent = recordHash(s.job, r);
    step = r.step;
  }
}

/** Rebuilds the lineage from a full history and checks it equals `s` (folded part included). */
export function verifyHistory(s: LineageSnapshot, history: readonly CheckpointRecord[]): void {
  const l = new Lineage(s.job, s.keep);
  for (const r of history) l.append(r);
  const rebuilt = l.snapshot();
  if (canonical(rebuilt.folded) !== canonical(s.folded))
    throw new LineageError('FoldedHashMismatch', 'the history does not fold to the lineage’s running hash');
  if (canonical(rebuilt.entries) !== canonical(s.entries))
    throw new LineageError('BrokenLineage', 'the history’s newest records differ from the lineage’s');
}

export interface ResumePoint {
  record: CheckpointRecord;
  bytes: Uint8Array;
  /** Newer checkpoints passed over, and why (missing, content hash mismatch). */
  skipped: Array<{ step: number; reason: string }>;
}

/**
 * The newest kept checkpoint whose bytes (read with `load`) hash to its record, after verifying the lineage;
 * undefined when none does.
 */
export async function lastVerified(
  s: LineageSnapshot,
  load: (uri: string) => Promise<Uint8Array | undefined>,
): Promise<ResumePoint | undefined> {
  verifyLineage(s);
  const skipped: ResumePoint['skipped'] = [];
  for (let i = s.entries.length - 1; i >= 0; i--) {
    const r = s.entries[i] as CheckpointRecord;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await load(r.uri);
    } catch (e) {
      skipped.push({ step: r.step, reason: `unreadable: ${(e as Error).message}` });
      continue;
    }
    if (!bytes) skipped.push({ step: r.step, reason: 'missing' });
    else if (sha256(bytes) !== r.sha256) skipped.push({ step: r.step, reason: 'ContentHashMismatch' });
    else return { record: r, bytes, skipped };
  }
  return undefined;
}

/** What a finished job's lineage is anchored on chain as; anyone recomputes it from the snapshot alone. */
export interface LineageAnchor {
  /** 0x-prefixed 32 bytes: sha256 of anchorPayload (what Settlement.anchorLineages stores for the task). */
  anchor: string;
  /** recordHash of the newest record (the lineage's head). */
  head: string;
  /** The newest record's step. */
  step: number;
  /** Records in the lineage: folded and kept. */
  records: number;
}

/** The text the anchor hashes: the folded part (count, running hash), the kept count, the head and its step. */
export function anchorPayload(s: LineageSnapshot, head: string, step: number): string {
  return `nvdax-lineage-anchor/v1\n${s.job}\n${s.folded.count}\n${s.folded.accumulator}\n${s.entries.length}\n${head}\n${step}`;
}

/**
 * The anchor of a lineage: sha256 over its folded running hash and its head record's hash (which names its
 * parent, and so on back to the first checkpoint); undefined when it holds no record. It does not check the
 * lineage (verifyLineage does).
 */
export function lineageAnchor(s: LineageSnapshot | undefined): LineageAnchor | undefined {
  if (!s) return undefined;
  const last = s.entries.at(-1);
  if (!last) return undefined;
  const head = recordHash(s.job, last);
  const hex = sha256(anchorPayload(s, head, last.step)).slice('sha256:'.length);
  return { anchor: `0x${hex}`, head, step: last.step, records: s.folded.count + s.entries.length };
}

/** The checkpoint a new attempt starts from: where its bytes are, their hash, and the parent its next checkpoint names. */
export interface ResumeFrom {
  step: number;
  uri: string;
  sha256: string;
  /** recordHash of the record: the `parent` of the new attempt's first checkpoint. */
  parent: string;
}

/**
 * The newest kept checkpoint recorded at or before `before` (ms since the epoch; records of a later attempt
 * come after its placement), after verifying the lineage's signatures and links; undefined when there is
 * none. Records are compared at whole seconds (placement times are). Bytes are the reader's to check
 * (checkResume).
 */
export function resumeFrom(s: LineageSnapshot | undefined, before = Number.POSITIVE_INFINITY): ResumeFrom | undefined {
  if (!s?.entries.length) return undefined;
  verifyLineage(s);
  const cut = Math.floor(before / 1000);
  for (let i = s.entries.length - 1; i >= 0; i--) {
    const r = s.entries[i] as CheckpointRecord;
    const at = r.time ? Math.floor(Date.parse(r.time) / 1000) : Number.NEGATIVE_INFINITY;
    if (at <= cut) return { step: r.step, uri: r.uri, sha256: r.sha256, parent: recordHash(s.job, r) };
  }
  return undefined;
}

/**
 * Checks checkpoint bytes a new attempt loaded against the record it resumes from; throws a LineageError
 * (`ResumeContentMismatch`, `ResumeMissing`) naming the URI and both hashes otherwise.
 */
export function checkResume(r: ResumeFrom, bytes: Uint8Array | undefined): Uint8Array {
  if (!bytes)
    throw new LineageError('ResumeMissing', `resume checkpoint ${r.uri} (step ${r.step}) is not there`, r.step);
  const got = sha256(bytes);
  if (got !== r.sha256)
    throw new LineageError(
      'ResumeContentMismatch',
      `resume checkpoint ${r.uri} (step ${r.step}) hashes to ${got}, its signed record says ${r.sha256}: refusing to resume from it`,
      r.step,
    );
  return bytes;
}
