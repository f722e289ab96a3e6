// The participant runtime: dials the coordinator, proves its attestation (evidence binding the coordinator's
// nonce and this workload's Ed25519 key), then for each round trains locally on its own shard and sends its
// update — in the clear for FedAvg, masked for secure aggregation — and, when asked, writes the round's
// checkpoint and reports it signed. It runs next to the training workload inside the TEE; the key never leaves.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../operator/runtime/log.ts';
import { updateVector } from '../../operator/training/aggregate.ts';
import { encode, encodeBound } from '../../operator/training/fixedpoint.ts';
import { generateSigningKey, type SigningKey, signingJwk } from '../../operator/training/keys.ts';
import { type ResumeFrom, signCheckpoint } from '../../operator/training/lineage.ts';
import {
  CHANNEL_OPTIONS,
  type CoordinatorMessage__Output,
  type FederatedCoordinatorClient,
  federatedProto,
  type ParticipantMessage,
} from '../../operator/training/proto.ts';
import { type MemberKeys, SecAggClient } from '../../operator/training/secagg.ts';
import type { CheckpointStore } from '../../operator/training/store.ts';
import { fromBytes, modelHash, sha256, toBytes } from '../../operator/training/vector.ts';
import {
  type AttestationPolicy,
  type EvidenceBundle,
  type ExpectedEvidence,
  type TeePubKey,
  unverifiedClaims,
  verifyEvidence,
} from '../../operator/verification/attestation.ts';
import type { LocalTrainer } from './trainer.ts';

/** Where a participant stops answering, for dropout tests: before the named stage of round `round`. */
export type DropStage = 'update' | 'shares' | 'masked' | 'consistency' | 'unmask';

export interface ParticipantFaults {
  dropAt?: { round: number; stage: DropStage };
  /** Report a checkpoint whose hash is not that of the bytes written. */
  tamperCheckpoint?: boolean;
}

export interface ParticipantOptions {
  /** host:port of the coordinator. */
  address: string;
  id: string;
  /** namespace/name of the TrainingJob. */
  job: string;
  trainer: LocalTrainer;
  /** Produces evidence binding the nonce and the key (the attestation agent; in simulation the dev attester). */
  evidence: (nonce: string, teePubKey: TeePubKey) => Promise<EvidenceBundle>;
  store?: CheckpointStore;
  /**
   * Check every peer's evidence in the key list before sharing secrets with it, so a coordinator cannot
   * invent members. Evidence is checked as of its issue time (the coordinator checked its freshness) and
   * cached per key.
   */
  peers?: { policy: AttestationPolicy; expected?: Omit<ExpectedEvidence, 'nonce' | 'teePubKey'> };
  /**
   * The checkpoint this attempt resumes from (NVDAX_RESUME_*): the first round the coordinator starts must be
   * the next one after it, from a model whose bytes hash to its signed sha256; otherwise the participant stops
   * (`ResumeMismatch`) before training on it.
   */
  resume?: ResumeFrom;
  /** The workload key (default: a fresh one, generated in the TEE). */
  signingKey?: SigningKey;
  credentials?: grpc.ChannelCredentials;
  faults?: ParticipantFaults;
  /** Sees each round's plain update vector before masking (tests compare it with what the coordinator saw). */
  onUpdate?: (round: number, vector: Float64Array) => void;
  onRound?: (round: number, modelSha256: string) => void;
  log?: Logger;
}

export interface ParticipantResult {
  /** Completed, or why it stopped: Refused, Dropped (fault), Disconnected, a Finished reason, a protocol error. */
  outcome: string;
  message: string;
  rounds: number;
  model?: Float64Array;
}

/** A oneof member the body names; its absence is a protocol error. */
function part<T>(v: T | null | undefined, kind: string): T {
  if (v === null || v === undefined) throw Object.assign(new Error(`empty ${kind}`), { reason: 'ProtocolError' });
  return v;
}

export async function runParticipant(o: ParticipantOptions): Promise<ParticipantResult> {
  const proto = federatedProto().nvdax.training.v1;
  const client: FederatedCoordinatorClient = new proto.FederatedCoordinator(
    o.address,
    o.credentials ?? grpc.credentials.createInsecure(),
    CHANNEL_OPTIONS,
  );
  const key = o.signingKey ?? generateSigningKey();
  const call = client.join();
  const send = (m: ParticipantMessage) => call.write(m);
  const drops = (round: number, stage: DropStage) =>
    o.faults?.dropAt?.round === round && o.faults.dropAt.stage === stage;
  let rounds = 0;
  let started = false;
  let model: Float64Array | undefined;
  let update: Float64Array | undefined;
  let sec: SecAggClient | undefined;
  let bound = 0;
  const attestedPeers = new Set<string>();
  /** The first reason a member of the key list is not an attested workload, or undefined. */
  const unattested = async (keys: readonly { id: string; signingKey: Buffer; evidence: Buffer; nonce: string }[]) => {
    if (!o.peers) return undefined;
    if (new Set(keys.map((k) => k.signingKey.toString('base64'))).size !== keys.length)
      return 'two members present the same key';
    for (const k of keys) {
      const kid = k.signingKey.toString('base64');
      if (attestedPeers.has(kid)) continue;
      try {
        const bundle = JSON.parse(k.evidence.toString('utf8')) as EvidenceBundle;
        const iat = Number(unverifiedClaims(bundle.ear).iat);
        await verifyEvidence(
          bundle,
          { ...o.peers.expected, nonce: k.nonce, teePubKey: signingJwk(k.signingKey) },
          { ...o.peers.policy, now: () => new Date(iat * 1000) },
        );
      } catch (e) {
        return `${k.id}: ${(e as Error).message}`;
      }
      attestedPeers.add(kid);
    }
    return undefined;
  };
  const done = (outcome: string, message = ''): ParticipantResult => {
    call.cancel();
    client.close();
    return { outcome, message, rounds, ...(model ? { model } : {}) };
  };

  send({ hello: { participantId: o.id, job: o.job } });
  try {
    for await (const m of call as AsyncIterable<CoordinatorMessage__Output>) {
      switch (m.body) {
        case 'challenge': {
          const evidence = await o.evidence(m.challenge?.nonce ?? '', signingJwk(key.publicKey));
          send({ attest: { evidence: Buffer.from(JSON.stringify(evidence)), signingKey: key.publicKey } });
          break;
        }
        case 'admitted':
          o.log?.info({ participant: o.id }, 'federated participant admitted');
          break;
        case 'refused':
          return done('Refused', `${m.refused?.reason}: ${m.refused?.message}`);
        case 'roundStart': {
          const r = part(m.roundStart, 'roundStart');
          if (drops(r.round, 'update')) return done('Dropped', `before the update of round ${r.round}`);
          const global = fromBytes(r.model, o.trainer.size);
          if (o.resume && !started) {
            const mismatch = resumeMismatch(o.resume, r.round, modelHash(global));
            if (mismatch) return done('ResumeMismatch', mismatch);
          }
          started = true;
          update = updateVector(await o.trainer.fit(global, r.round));
          o.onUpdate?.(r.round, update);
          if (r.aggregation === 'SecureAggregation') {
            sec = new SecAggClient({ job: o.job, round: r.round }, o.id, key);
            send({ advertiseKeys: { round: r.round, ...sec.advertise() } });
          } else {
            sec = undefined;
            send({ plainUpdate: { round: r.round, vector: toBytes(update) } });
          }
          break;
        }
        case 'keyList': {
          const k = part(m.keyList, 'keyList');
          if (drops(k.round, 'shares')) return done('Dropped', `before sharing keys in round ${k.round}`);
          if (!sec) return done('ProtocolError', 'key list outside a secure round');
          const refused = await unattested(k.keys);
          if (refused) return done('UnattestedPeer', refused);
          const members: MemberKeys[] = k.keys.map((x) => ({ ...x }));
          send({ shareKeys: { round: k.round, shares: sec.shareKeys(members, k.threshold) } });
          bound = encodeBound(members.length);
          break;
        }
        case 'shareDelivery': {
          const d = part(m.shareDelivery, 'shareDelivery');
          if (drops(d.round, 'masked')) return done('Dropped', `before the masked input of round ${d.round}`);
          if (!sec || !update) return done('ProtocolError', 'shares outside a secure round');
          const masked = sec.maskedInput(d.shares, encode(update, bound));
          update = undefined;
          send({ maskedInput: { round: d.round, masked: toBytes(masked) } });
          break;
        }
        case 'consistencyRequest': {
          const c = part(m.consistencyRequest, 'consistencyRequest');
          if (drops(c.round, 'consistency')) return done('Dropped', `before the consistency check of round ${c.round}`);
          if (!sec) return done('ProtocolError', 'consistency check outside a secure round');
          send({ consistency: { round: c.round, signature: sec.signSurvivors(c.survivors) } });
          break;
        }
        case 'unmaskRequest': {
          const u = part(m.unmaskRequest, 'unmaskRequest');
          if (drops(u.round, 'unmask')) return done('Dropped', `before unmasking in round ${u.round}`);
          if (!sec) return done('ProtocolError', 'unmask request outside a secure round');
          send({ unmask: { round: u.round, ...sec.unmask(u.survivors, u.signatures) } });
          break;
        }
        case 'roundResult': {
          const r = part(m.roundResult, 'roundResult');
          const next = fromBytes(r.model, o.trainer.size);
          if (modelHash(next) !== r.modelSha256)
            return done('ProtocolError', 'the round result does not match its hash');
          model = next;
          rounds = r.round;
          sec = undefined;
          o.onRound?.(r.round, r.modelSha256);
          if (r.checkpointUri) {
            if (!o.store) return done('ProtocolError', 'asked to checkpoint without a store');
            const bytes = toBytes(next);
            await o.store.put(r.checkpointUri, bytes);
            const hash = o.faults?.tamperCheckpoint ? sha256(Buffer.concat([bytes, Buffer.from('x')])) : sha256(bytes);
            const rec = signCheckpoint(o.job, key, {
              step: r.round,
              uri: r.checkpointUri,
              sha256: hash,
              parent: r.checkpointParent,
            });
            send({
              checkpoint: {
                step: rec.step,
                uri: rec.uri,
                sha256: rec.sha256,
                parent: rec.parent,
                signature: Buffer.from(rec.signature, 'base64url'),
              },
            });
          }
          break;
        }
        case 'finished':
          return done(m.finished?.reason || 'Finished', m.finished?.message ?? '');
        default:
          return done('ProtocolError', `unexpected message ${m.body}`);
      }
    }
    return done('Disconnected', 'the coordinator ended the stream');
  } catch (e) {
    const err = e as { code?: number; reason?: string; message: string };
    if (err.code === grpc.status.CANCELLED) return done('Disconnected', err.message);
    return done(err.reason ?? 'Error', err.message);
  }
}

/**
 * Why the first round of a resumed attempt does not start from its resume checkpoint (the round after it, from a
 * model hashing to its sha256), or undefined.
 */
export function resumeMismatch(resume: ResumeFrom, round: number, modelSha256: string): string | undefined {
  if (round !== resume.step + 1)
    return `the coordinator started round ${round}; this attempt resumes from step ${resume.step} (${resume.uri}), so round ${resume.step + 1} comes next`;
  if (modelSha256 !== resume.sha256)
    return `round ${round} starts from a model hashing to ${modelSha256}, not the resume checkpoint ${resume.uri} (${resume.sha256})`;
  return undefined;
}
