// The hub side of federated training: a gRPC server participants dial, and the round driver. It admits
// participants that prove their attestation, then runs the job's rounds — select the connected admitted
// participants (at least minParticipants), send the global model, collect updates within roundTimeout,
// aggregate (FedAvg, or secure aggregation so it learns only the sum), advance the round and record it — and
// has one participant write and sign each checkpoint, which it checks against the aggregate it computed
// before extending the lineage. A controller drives it through `run()` and the `on*` callbacks.
import * as grpc from '@grpc/grpc-js';
import type { Aggregation } from '../api/constants.ts';
import type { Logger } from '../runtime/log.ts';
import { newNonce } from '../verification/attestation.ts';
import type { AdmissionError, Admit } from './admission.ts';
import { fromSum, sumVectors, TRAILER } from './aggregate.ts';
import { decode, isElementVector } from './fixedpoint.ts';
import { verifySignature } from './keys.ts';
import { type CheckpointRecord, Lineage, type LineageSnapshot, lastVerified } from './lineage.ts';
import { CHANNEL_OPTIONS, type CoordinatorMessage, federatedProto, type ParticipantMessage__Output } from './proto.ts';
import {
  advertisePayload,
  type RoundContext,
  SecAggError,
  survivorsPayload,
  thresholdFor,
  unmaskSum,
} from './secagg.ts';
import { checkpointUri } from './store.ts';
import { fromBytes, modelHash, toBytes } from './vector.ts';

export interface FederatedSettings {
  rounds: number;
  minParticipants: number;
  aggregation: Aggregation;
  /** spec.federated.roundTimeout, in milliseconds. */
  roundTimeoutMs: number;
}

export interface CoordinatorOptions {
  /** namespace/name of the TrainingJob. */
  job: string;
  federated: FederatedSettings;
  /** The model to start from (round 1's global model). */
  initialModel: Float64Array;
  admit: Admit;
  /** Participants to wait for before round 1 (spec.workers); default minParticipants. */
  expectedParticipants?: number;
  /** Longest wait for them; then the run starts with those admitted, if at least minParticipants. Default roundTimeoutMs. */
  joinTimeoutMs?: number;
  /** Most participants one round selects (the rest wait). Default all. */
  maxParticipants?: number;
  /** Checkpoints: written under `uri` every `everyRounds` rounds (default 1); lineage keeps `keep` records (default 32). */
  checkpoint?: { uri: string; everyRounds?: number; keep?: number };
  /** Resume: the lineage of an earlier attempt and a reader for its checkpoints. */
  resume?: { lineage: LineageSnapshot; load: (uri: string) => Promise<Uint8Array | undefined> };
  onRound?: (r: RoundRecord) => void;
  onRoundFailed?: (f: RoundFailure) => void;
  onCheckpoint?: (r: CheckpointRecord, lineage: LineageSnapshot) => void;
  onCheckpointRejected?: (r: { round: number; participant: string; reason: string; message: string }) => void;
  onParticipant?: (e: ParticipantEvent) => void;
  /** Sees every message the coordinator receives, as received (audit logs; the privacy tests read it). */
  tap?: (from: string, m: ParticipantMessage__Output) => void;
  log?: Logger;
  now?: () => Date;
}

export interface RoundRecord {
  round: number;
  aggregation: Aggregation;
  /** Selected for the round, sorted. */
  participants: string[];
  /** Whose updates are in the aggregate (secure aggregation: U3). */
  contributors: string[];
  /** Selected but not in the aggregate (left, timed out, or dropped mid-round and recovered from). */
  dropped: string[];
  /** Secure aggregation: shares needed to reconstruct a secret. */
  threshold?: number;
  /** sha256:<hex> of the new global model's bytes. */
  aggregateHash: string;
  examples: number;
  /** Example-weighted mean training loss, and accuracy, as totals over the contributors. */
  loss: number;
  accuracy: number;
  startedAt: string;
  durationMs: number;
  /** Milliseconds per stage, in order (FedAvg: updates, aggregate; secure: advertise … unmask, aggregate). */
  stagesMs: Record<string, number>;
}

export interface RoundFailure {
  round: number;
  /** PascalCase: InsufficientParticipants, ProtocolError. */
  reason: string;
  message: string;
  participants: string[];
}

export type ParticipantEvent =
  | { type: 'Admitted'; participant: string; evidenceHash: string }
  | { type: 'Refused'; participant: string; reason: string; message: string }
  | { type: 'Left'; participant: string; reason: string };

export interface RunResult {
  state: 'Succeeded' | 'Failed';
  /** The last round completed. */
  round: number;
  model: Float64Array;
  reason?: string;
  message?: string;
  lineage?: LineageSnapshot;
  /** Set when the run resumed from a checkpoint. */
  resumedFrom?: { step: number; skipped: Array<{ step: number; reason: string }> };
}

type Body = NonNullable<ParticipantMessage__Output['body']>;
type Payload<K extends Body> = NonNullable<ParticipantMessage__Output[K]>;

const ID = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

class RoundFailed extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** One participant's stream. Messages queue until the round driver asks for the next one. */
class Session {
  id = '';
  signingKey = Buffer.alloc(0);
  evidenceHash = '';
  evidence = Buffer.alloc(0);
  nonce = '';
  admitted = false;
  closed = false;
  readonly #call: grpc.ServerDuplexStream<ParticipantMessage__Output, CoordinatorMessage>;
  #queue: ParticipantMessage__Output[] = [];
  #waiter: ((m: ParticipantMessage__Output | undefined) => void) | undefined;
  onClose: (() => void) | undefined;

  constructor(call: grpc.ServerDuplexStream<ParticipantMessage__Output, CoordinatorMessage>) {
    this.#call = call;
  }

  push(m: ParticipantMessage__Output): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w(m);
    } else this.#queue.push(m);
  }

  /** The next message, or undefined when the stream closed or `deadline` (epoch ms) passed first. */
  next(deadline: number): Promise<ParticipantMessage__Output | undefined> {
    const q = this.#queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#waiter = undefined;
          resolve(undefined);
        },
        Math.max(0, deadline - Date.now()),
      );
      this.#waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  send(m: CoordinatorMessage): void {
    if (!this.closed) this.#call.write(m);
  }

  /** Marks the session closed (the stream ended or failed); wakes a waiting stage. */
  closedByPeer(): void {
    if (this.closed) return;
    this.closed = true;
    this.#waiter?.(undefined);
    this.#waiter = undefined;
    this.onClose?.();
  }

  /** Ends the stream from our side, after a final message. */
  finish(reason: string, message = ''): void {
    if (this.closed) return;
    this.#call.write({ finished: { reason, message } });
    this.#call.end();
    this.closedByPeer();
  }
}

export class Coordinator {
  readonly #o: CoordinatorOptions;
  readonly #server = new grpc.Server(CHANNEL_OPTIONS);
  /** Admitted participants, by id. */
  readonly #members = new Map<string, Session>();
  readonly #sessions = new Set<Session>();
  #joinWaiters: Array<() => void> = [];
  #model: Float64Array;
  #round = 0;
  #lineage: Lineage | undefined;
  #running = false;

  constructor(o: CoordinatorOptions) {
    const f = o.federated;
    if (!Number.isInteger(f.rounds) || f.rounds < 1) throw new RangeError('coordinator: rounds must be ≥ 1');
    if (!Number.isInteger(f.minParticipants) || f.minParticipants < 2)
      throw new RangeError('coordinator: minParticipants must be ≥ 2');
    if (f.aggregation === 'SecureAggregation' && f.minParticipants < 3)
      throw new RangeError('coordinator: SecureAggregation needs minParticipants ≥ 3');
    if (!(f.roundTimeoutMs > 0)) throw new RangeError('coordinator: roundTimeoutMs must be positive');
    this.#o = o;
    this.#model = Float64Array.from(o.initialModel);
    if (o.checkpoint) this.#lineage = new Lineage(o.job, o.checkpoint.keep ?? 32);
    this.#server.addService(federatedProto().nvdax.training.v1.FederatedCoordinator.service, {
      join: (call: grpc.ServerDuplexStream<ParticipantMessage__Output, CoordinatorMessage>) => this.#join(call),
    });
  }

  /** Binds the server (default 127.0.0.1, an ephemeral port) and resolves with the port. */
  start(address = '127.0.0.1:0', credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    return new Promise((resolve, reject) =>
      this.#server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /** The round completed last (status.currentRound while a round runs is this + 1). */
  get round(): number {
    return this.#round;
  }

  get model(): Float64Array {
    return this.#model;
  }

  /** Admitted participants connected now, sorted. */
  get participants(): string[] {
    return [...this.#members.keys()].sort();
  }

  lineage(): LineageSnapshot | undefined {
    return this.#lineage?.snapshot();
  }

  /** Ends every stream and stops the server. */
  async close(): Promise<void> {
    for (const s of this.#sessions) s.finish('Shutdown');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 2000);
      this.#server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------------------------------------- sessions

  #join(call: grpc.ServerDuplexStream<ParticipantMessage__Output, CoordinatorMessage>): void {
    const s = new Session(call);
    this.#sessions.add(s);
    s.onClose = () => {
      this.#sessions.delete(s);
      if (this.#members.get(s.id) === s) {
        this.#members.delete(s.id);
        this.#o.onParticipant?.({ type: 'Left', participant: s.id, reason: 'StreamClosed' });
      }
    };
    call.on('data', (m: ParticipantMessage__Output) => {
      this.#o.tap?.(s.id || '(unidentified)', m);
      s.push(m);
    });
    call.on('end', () => {
      s.closedByPeer();
      call.end();
    });
    call.on('error', () => s.closedByPeer());
    call.on('cancelled', () => s.closedByPeer());
    this.#handshake(s).catch((e) => this.#o.log?.warn({ err: e }, 'federated handshake failed'));
  }

  async #handshake(s: Session): Promise<void> {
    const deadline = Date.now() + this.#o.federated.roundTimeoutMs;
    const hello = await s.next(deadline);
    if (!hello?.hello) return s.finish('ProtocolError', 'the first message must be hello');
    const id = hello.hello.participantId;
    if (!ID.test(id)) return this.#refuse(s, id, 'InvalidParticipantId', 'ids are lowercase DNS labels');
    if (hello.hello.job !== this.#o.job)
      return this.#refuse(s, id, 'WrongJob', `this coordinator runs ${this.#o.job}, not ${hello.hello.job}`);
    if (this.#members.has(id)) return this.#refuse(s, id, 'DuplicateParticipant', `${id} is already connected`);
    s.id = id;
    const nonce = newNonce();
    s.send({ challenge: { nonce } });
    const attest = await s.next(deadline);
    if (!attest?.attest) return this.#refuse(s, id, 'AttestationMissing', 'no evidence before the deadline');
    let evidence: unknown;
    try {
      evidence = JSON.parse(attest.attest.evidence.toString('utf8'));
    } catch {
      return this.#refuse(s, id, 'AttestationFailed', 'the evidence is not JSON');
    }
    const signingKey = attest.attest.signingKey;
    if (signingKey.length !== 32) return this.#refuse(s, id, 'AttestationFailed', 'the signing key must be 32 bytes');
    try {
      const a = await this.#o.admit({ participant: id, nonce, evidence, signingKey });
      if (s.closed) return;
      if (this.#members.has(id)) return this.#refuse(s, id, 'DuplicateParticipant', `${id} is already connected`);
      s.signingKey = Buffer.from(signingKey);
      s.evidence = Buffer.from(attest.attest.evidence);
      s.nonce = nonce;
      s.evidenceHash = a.evidenceHash;
      s.admitted = true;
      this.#members.set(id, s);
      s.send({ admitted: { rounds: this.#o.federated.rounds, aggregation: this.#o.federated.aggregation } });
      this.#o.onParticipant?.({ type: 'Admitted', participant: id, evidenceHash: a.evidenceHash });
      this.#o.log?.info({ participant: id, evidenceHash: a.evidenceHash }, 'federated participant admitted');
      for (const w of this.#joinWaiters.splice(0)) w();
    } catch (e) {
      const err = e as AdmissionError;
      return this.#refuse(s, id, err.reason ?? 'AttestationFailed', err.message);
    }
  }

  #refuse(s: Session, id: string, reason: string, message: string): void {
    s.send({ refused: { reason, message } });
    s.finish(reason, message);
    this.#o.onParticipant?.({ type: 'Refused', participant: id, reason, message });
    this.#o.log?.warn({ participant: id, reason, message }, 'federated participant refused');
  }

  #drop(s: Session, reason: string, message: string): void {
    this.#o.log?.warn({ participant: s.id, reason, message }, 'federated participant dropped');
    s.finish(reason, message);
  }

  async #waitForParticipants(): Promise<void> {
    const want = Math.max(this.#o.expectedParticipants ?? 0, this.#o.federated.minParticipants);
    const deadline = Date.now() + (this.#o.joinTimeoutMs ?? this.#o.federated.roundTimeoutMs);
    while (this.#members.size < want && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#joinWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * Collects one message of `kind` for the round from each session by `deadline`. A session that sends
   * anything else, a message `accept` throws on, or nothing in time, is dropped from the job.
   */
  async #collect<K extends Body, T>(
    sessions: readonly Session[],
    kind: K,
    round: number,
    deadline: number,
    accept: (s: Session, m: Payload<K>) => T,
  ): Promise<Map<string, T>> {
    const got = new Map<string, T>();
    await Promise.all(
      sessions.map(async (s) => {
        const m = await s.next(deadline);
        if (!m) {
          if (!s.closed) this.#drop(s, 'RoundTimeout', `no ${kind} within roundTimeout`);
          return;
        }
        const body = m[kind] as Payload<K> | null | undefined;
        if (m.body !== kind || !body) return this.#drop(s, 'ProtocolError', `expected ${kind}, got ${m.body}`);
        if ((body as { round?: number }).round !== round)
          return this.#drop(
            s,
            'ProtocolError',
            `${kind} for round ${(body as { round?: number }).round}, not ${round}`,
          );
        try {
          got.set(s.id, accept(s, body));
        } catch (e) {
          this.#drop(s, 'ProtocolError', `${kind}: ${(e as Error).message}`);
        }
      }),
    );
    return got;
  }

  // ------------------------------------------------------------------------------------------- rounds

  /** Runs the remaining rounds. Resolves with the outcome; a round below minParticipants fails the run. */
  async run(): Promise<RunResult> {
    if (this.#running) throw new Error('coordinator: already running');
    this.#running = true;
    const f = this.#o.federated;
    let resumedFrom: RunResult['resumedFrom'];
    if (this.#o.resume) {
      const point = await lastVerified(this.#o.resume.lineage, this.#o.resume.load);
      this.#lineage = new Lineage(
        this.#o.job,
        this.#o.checkpoint?.keep ?? this.#o.resume.lineage.keep,
        this.#o.resume.lineage,
      );
      // Records newer than the checkpoint resumed from did not verify: the lineage continues from it (or, with
      // none verified, from the folded head, and the run starts over).
      this.#lineage.rollbackTo(point?.record.step ?? -1);
      if (point) {
        this.#model = fromBytes(point.bytes, this.#model.length);
        this.#round = point.record.step;
        resumedFrom = { step: point.record.step, skipped: point.skipped };
        this.#o.log?.info({ step: point.record.step, skipped: point.skipped }, 'federated run resumed');
      }
    }
    await this.#waitForParticipants();
    const finish = (r: Omit<RunResult, 'model' | 'round' | 'lineage'>): RunResult => {
      for (const s of [...this.#members.values()])
        s.finish(r.state === 'Succeeded' ? 'Completed' : (r.reason ?? 'Failed'), r.message);
      this.#running = false;
      const lineage = this.#lineage?.snapshot();
      return {
        ...r,
        round: this.#round,
        model: this.#model,
        ...(lineage ? { lineage } : {}),
        ...(resumedFrom ? { resumedFrom } : {}),
      };
    };
    while (this.#round < f.rounds) {
      const round = this.#round + 1;
      try {
        await this.#runRound(round);
      } catch (e) {
        const reason = e instanceof RoundFailed || e instanceof SecAggError ? e.reason : 'ProtocolError';
        const failure = { round, reason, message: (e as Error).message, participants: this.participants };
        this.#o.onRoundFailed?.(failure);
        this.#o.log?.warn(failure, 'federated round failed');
        return finish({ state: 'Failed', reason, message: `round ${round}: ${failure.message}` });
      }
    }
    return finish({ state: 'Succeeded' });
  }

  #select(round: number): Session[] {
    const min = this.#o.federated.minParticipants;
    const all = [...this.#members.values()].filter((s) => !s.closed).sort((a, b) => (a.id < b.id ? -1 : 1));
    const selected = all.slice(0, this.#o.maxParticipants ?? all.length);
    if (selected.length < min)
      throw new RoundFailed(
        'InsufficientParticipants',
        `${selected.length} attested participants connected at the start of round ${round}; minParticipants is ${min}`,
      );
    return selected;
  }

  #atLeast(n: number, need: number, what: string): void {
    if (n < need)
      throw new RoundFailed(
        'InsufficientParticipants',
        `${n} participants ${what} within roundTimeout; ${need} needed`,
      );
  }

  async #runRound(round: number): Promise<void> {
    const f = this.#o.federated;
    const startedAt = (this.#o.now?.() ?? new Date()).toISOString();
    const t0 = performance.now();
    const deadline = Date.now() + f.roundTimeoutMs;
    const selected = this.#select(round);
    const length = this.#model.length + TRAILER;
    const stagesMs: Record<string, number> = {};
    let mark = performance.now();
    const lap = (stage: string) => {
      const now = performance.now();
      stagesMs[stage] = now - mark;
      mark = now;
    };
    const modelBytes = toBytes(this.#model);
    for (const s of selected) s.send({ roundStart: { round, model: modelBytes, aggregation: f.aggregation } });

    let sum: Float64Array;
    let contributors: string[];
    let threshold: number | undefined;
    if (f.aggregation === 'SecureAggregation') {
      ({ sum, contributors, threshold } = await this.#secureRound(round, selected, length, deadline, lap));
    } else {
      const updates = await this.#collect(selected, 'plainUpdate', round, deadline, (_s, m) => {
        const v = fromBytes(m.vector, length);
        if (!v.every(Number.isFinite)) throw new Error('non-finite update');
        return v;
      });
      this.#atLeast(updates.size, f.minParticipants, 'sent updates');
      lap('updates');
      contributors = [...updates.keys()].sort();
      sum = sumVectors(
        contributors.map((id) => updates.get(id) as Float64Array),
        length,
      );
    }
    const agg = fromSum(sum);
    lap('aggregate');
    this.#model = agg.model;
    this.#round = round;
    const aggregateHash = modelHash(agg.model);
    const record: RoundRecord = {
      round,
      aggregation: f.aggregation,
      participants: selected.map((s) => s.id),
      contributors,
      dropped: selected.map((s) => s.id).filter((id) => !contributors.includes(id)),
      ...(threshold === undefined ? {} : { threshold }),
      aggregateHash,
      examples: agg.examples,
      loss: agg.loss,
      accuracy: agg.accuracy,
      startedAt,
      durationMs: performance.now() - t0,
      stagesMs,
    };
    this.#o.log?.info(
      { round, contributors: contributors.length, dropped: record.dropped, aggregateHash },
      'federated round done',
    );
    this.#o.onRound?.(record);
    await this.#publish(round, agg.model, aggregateHash, contributors);
  }

  async #secureRound(
    round: number,
    selected: Session[],
    length: number,
    deadline: number,
    lap: (stage: string) => void,
  ) {
    const f = this.#o.federated;
    const ctx: RoundContext = { job: this.#o.job, round };
    // Round 0: keys, signed with each member's attested key.
    const adv = await this.#collect(selected, 'advertiseKeys', round, deadline, (s, m) => {
      if (m.cPk.length !== 32 || m.sPk.length !== 32) throw new Error('keys must be 32 bytes');
      if (!verifySignature(s.signingKey, advertisePayload(ctx, s.id, m.cPk, m.sPk), m.signature))
        throw new Error('keys not signed by the attested key');
      return {
        id: s.id,
        cPk: m.cPk,
        sPk: m.sPk,
        signature: m.signature,
        signingKey: s.signingKey,
        evidence: s.evidence,
        nonce: s.nonce,
      };
    });
    this.#atLeast(adv.size, f.minParticipants, 'advertised keys');
    lap('advertise');
    const threshold = thresholdFor(adv.size, f.minParticipants);
    const u1 = selected.filter((s) => adv.has(s.id) && !s.closed);
    const keys = [...adv.values()];
    for (const s of u1) s.send({ keyList: { round, keys, threshold } });

    // Round 1: encrypted shares, one per other member, relayed to their recipients.
    const u1ids = new Set(u1.map((s) => s.id));
    const shares = await this.#collect(u1, 'shareKeys', round, deadline, (s, m) => {
      const peers = m.shares.map((x) => x.peer);
      if (
        new Set(peers).size !== peers.length ||
        peers.length !== u1ids.size - 1 ||
        peers.some((p) => p === s.id || !u1ids.has(p))
      )
        throw new Error('one share for every other member is needed');
      return m.shares;
    });
    this.#atLeast(shares.size, threshold, 'shared keys');
    lap('share');
    const u2 = u1.filter((s) => shares.has(s.id) && !s.closed);
    const u2ids = u2.map((s) => s.id);
    for (const v of u2) {
      const delivered = u2ids
        .filter((u) => u !== v.id)
        .map((u) => ({
          peer: u,
          ciphertext: (shares.get(u) ?? []).find((x) => x.peer === v.id)?.ciphertext ?? Buffer.alloc(0),
        }));
      v.send({ shareDelivery: { round, shares: delivered } });
    }

    // Round 2: masked inputs.
    const masked = await this.#collect(u2, 'maskedInput', round, deadline, (_s, m) => {
      const y = fromBytes(m.masked, length);
      if (!isElementVector(y)) throw new Error('not a vector of Z_2^52');
      return y;
    });
    this.#atLeast(masked.size, threshold, 'sent masked inputs');
    lap('masked');
    const u3ids = [...masked.keys()].sort();

    // Round 3: everyone still here signs the same survivor list.
    const u3 = u2.filter((s) => masked.has(s.id) && !s.closed);
    for (const s of u3) s.send({ consistencyRequest: { round, survivors: u3ids } });
    const payload = survivorsPayload(ctx, u3ids);
    const sigs = await this.#collect(u3, 'consistency', round, deadline, (s, m) => {
      if (!verifySignature(s.signingKey, payload, m.signature)) throw new Error('bad survivor-list signature');
      return m.signature;
    });
    this.#atLeast(sigs.size, threshold, 'signed the survivor list');
    lap('consistency');

    // Round 4: mask-seed shares of survivors, key shares of the dropped.
    const u4 = u3.filter((s) => sigs.has(s.id) && !s.closed);
    const signatures = [...sigs].map(([id, signature]) => ({ id, signature }));
    for (const s of u4) s.send({ unmaskRequest: { round, survivors: u3ids, signatures } });
    const seedShares = new Map<string, Buffer[]>();
    const keyShares = new Map<string, Buffer[]>();
    const revealed = await this.#collect(u4, 'unmask', round, deadline, (_s, m) => {
      if (
        m.seedShares.some((x) => !masked.has(x.of)) ||
        m.keyShares.some((x) => masked.has(x.of) || !u2ids.includes(x.of))
      )
        throw new Error('shares of the wrong members');
      return m;
    });
    this.#atLeast(revealed.size, threshold, 'revealed shares');
    lap('unmask');
    for (const m of revealed.values()) {
      for (const x of m.seedShares) seedShares.set(x.of, [...(seedShares.get(x.of) ?? []), x.share]);
      for (const x of m.keyShares) keyShares.set(x.of, [...(keyShares.get(x.of) ?? []), x.share]);
    }
    const sum = unmaskSum({
      context: ctx,
      threshold,
      length,
      members: adv,
      shared: u2ids,
      masked,
      seedShares,
      keyShares,
    });
    return { sum: decode(sum), contributors: u3ids, threshold };
  }

  /** Sends the new model; asks one contributor to write the checkpoint and checks what it reports. */
  async #publish(round: number, model: Float64Array, hash: string, contributors: string[]): Promise<void> {
    const ck = this.#o.checkpoint;
    const lineage = this.#lineage;
    const writer =
      ck && lineage && round % (ck.everyRounds ?? 1) === 0
        ? contributors.map((id) => this.#members.get(id)).find((s) => s && !s.closed)
        : undefined;
    const bytes = toBytes(model);
    const uri = ck ? checkpointUri(ck.uri, round) : '';
    for (const s of this.#members.values())
      s.send({
        roundResult: {
          round,
          model: bytes,
          modelSha256: hash,
          ...(s === writer ? { checkpointUri: uri, checkpointParent: lineage?.head ?? '' } : {}),
        },
      });
    if (!writer || !lineage) return;
    const deadline = Date.now() + this.#o.federated.roundTimeoutMs;
    const m = await writer.next(deadline);
    const rejected = (reason: string, message: string) => {
      this.#o.onCheckpointRejected?.({ round, participant: writer.id, reason, message });
      this.#o.log?.warn({ round, participant: writer.id, reason, message }, 'federated checkpoint rejected');
    };
    if (!m?.checkpoint) return rejected('NoCheckpoint', 'no checkpoint report within roundTimeout');
    const c = m.checkpoint;
    const record: CheckpointRecord = {
      step: c.step,
      uri: c.uri,
      sha256: c.sha256,
      parent: c.parent,
      signer: c.signature.length ? writer.signingKey.toString('base64url') : '',
      signature: c.signature.toString('base64url'),
      evidenceHash: writer.evidenceHash,
      time: (this.#o.now?.() ?? new Date()).toISOString(),
    };
    if (c.step !== round || c.uri !== uri) return rejected('WrongCheckpoint', `reported step ${c.step} at ${c.uri}`);
    if (c.sha256 !== hash)
      return rejected('ContentHashMismatch', `the checkpoint hashes to ${c.sha256}, the round's model to ${hash}`);
    try {
      lineage.append(record);
    } catch (e) {
      return rejected((e as { reason?: string }).reason ?? 'BadCheckpoint', (e as Error).message);
    }
    this.#o.onCheckpoint?.(record, lineage.snapshot());
  }
}
