// Federated TrainingJobs, hub side (leader only): once a Federated job is placed, a coordinator
// (operator/training) runs its rounds for that attempt on its own port; participants — one per placed
// pool — find it at status.federation.coordinator, prove their attestation, train locally and send (masked)
// updates. Each completed round lands in status (currentRound, rounds, progress, federation) with this
// controller's field manager, nvdax-federated, and so does each checked checkpoint (status.checkpoints,
// lastCheckpoint). A new attempt (failover) gets a new coordinator, which resumes from the newest checkpoint of
// the lineage whose bytes still hash to its record (published as status.federation.resumedFrom before the
// participants start, so they can check it); a job finished, deleted or re-placed has its coordinator closed.
import { join } from 'node:path';
import { Aggregation, FederationState } from '../../api/constants.ts';
import type { ProviderPoolObject } from '../../api/resources.ts';
import type {
  CheckpointLineage,
  CheckpointStatus,
  FederationStatus,
  ResumePoint,
  RoundStatus,
  TrainingJobStatus,
} from '../../api/types.gen.ts';
import type { KubeClient } from '../../kube/client.ts';
import { participantName } from '../../materialize/names.ts';
import { type Clock, sleep } from '../../runtime/clock.ts';
import { parseDuration } from '../../runtime/config.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/log.ts';
import { attestedAdmission } from '../../training/admission.ts';
import { Coordinator, type CoordinatorOptions, type RoundRecord, type RunResult } from '../../training/coordinator.ts';
import { type CheckpointRecord, type LineageSnapshot, lastVerified, recordHash } from '../../training/lineage.ts';
import { type CheckpointStore, FileStore } from '../../training/store.ts';
import type { AttestationPolicy } from '../../verification/attestation.ts';
import { DEFAULT_TASK } from '../../../provider-runtime/participant/data.ts';
import { SoftmaxRegression } from '../../../provider-runtime/participant/trainer.ts';
import { attemptsOf, isFederated, isFinished, isPlaced, type JobObject, resourceOf } from '../jobs/model.ts';

export const federatedManager = 'nvdax-federated';

export interface FederatedOptions {
  hub: KubeClient;
  clock: Clock;
  log: Logger;
  jobs: Informer<JobObject>;
  pools: Informer<ProviderPoolObject>;
  /** What participants' evidence is checked against; development evidence only when every pool is a development pool. */
  policy: Omit<AttestationPolicy, 'allowDevelopment'>;
  /** Interface the coordinators listen on (each on its own port). */
  bindHost: string;
  /** Host participants are told to dial (default bindHost). */
  advertiseHost?: string;
  /** Where checkpoints go: file://<dir>/<namespace>/<name> (optional). */
  checkpointRoot?: string;
  /** Reads checkpoints back to resume a new attempt (default: file:// and pvc:// URIs on this machine). */
  store?: CheckpointStore;
  intervalMs?: number;
}

interface Running {
  uid: string;
  attempt: number;
  coordinator: Coordinator;
  done: Promise<unknown>;
}

const fixed = (n: number) => (Number.isFinite(n) ? n.toFixed(4) : '0');

export class FederatedRunner {
  readonly #o: FederatedOptions;
  readonly #running = new Map<string, Running>();

  constructor(o: FederatedOptions) {
    this.#o = o;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#sync();
      } catch (e) {
        if (signal.aborted) break;
        this.#o.log.error({ err: e }, 'Federated sync failed');
      }
      await sleep(this.#o.clock, this.#o.intervalMs ?? 1_000, signal).catch(() => {});
    }
    await Promise.all([...this.#running.values()].map((r) => r.coordinator.close().catch(() => {})));
    this.#running.clear();
  }

  async #sync(): Promise<void> {
    const want = new Map<string, JobObject>();
    for (const job of this.#o.jobs.list()) {
      if (!isFederated(job) || !isPlaced(job) || isFinished(job) || job.metadata?.deletionTimestamp) continue;
      // rounds over for this attempt: its result stays; a new attempt (failover) starts a new federation
      const f = (job.status as TrainingJobStatus | undefined)?.federation;
      const over = f?.state === FederationState.Succeeded || f?.state === FederationState.Failed;
      if (over && f?.attempt === attemptsOf(job)) continue;
      want.set(`${job.metadata?.namespace}/${job.metadata?.name}`, job);
    }
    for (const [key, r] of this.#running) {
      const job = want.get(key);
      if (!job || job.metadata?.uid !== r.uid || attemptsOf(job) !== r.attempt) {
        this.#running.delete(key);
        await r.coordinator.close().catch(() => {});
      }
    }
    for (const [key, job] of want) if (!this.#running.has(key)) await this.#start(key, job);
  }

  async #start(key: string, job: JobObject): Promise<void> {
    const o = this.#o;
    const spec = (job as JobObject & { spec: { federated?: Record<string, unknown>; workers?: number } }).spec;
    const fed = spec.federated ?? {};
    const attempt = attemptsOf(job);
    const workers = spec.workers ?? 1;
    const pools = (job.status as TrainingJobStatus | undefined)?.participants?.map((p) => p.pool ?? '') ?? [];
    const development = pools.length > 0 && pools.every((p) => o.pools.get(p)?.spec.development === true);
    const placement = job.status?.placement;
    const initDataDigest = placement?.initDataDigest;
    const model = new SoftmaxRegression(DEFAULT_TASK.features, DEFAULT_TASK.classes);
    const roundTimeoutMs = parseDuration(String(fed['roundTimeout'] ?? '30m')) ?? 1_800_000;
    const rounds = Number(fed['rounds'] ?? 1);
    const uid = job.metadata?.uid ?? '';
    const { resume, resumedFrom } = await this.#resume(key, job);
    const coordinator = new Coordinator({
      job: key,
      federated: {
        rounds,
        minParticipants: Number(fed['minParticipants'] ?? 2),
        aggregation: (fed['aggregation'] as Aggregation | undefined) ?? Aggregation.FedAvg,
        roundTimeoutMs,
      },
      initialModel: model.init(),
      admit: attestedAdmission({
        policy: { ...o.policy, allowDevelopment: development, ...(initDataDigest ? {} : { initDataOptional: true }) },
        expected: initDataDigest ? { initDataDigest } : {},
      }),
      expectedParticipants: workers,
      joinTimeoutMs: roundTimeoutMs,
      ...(o.checkpointRoot ? { checkpoint: { uri: `file://${join(o.checkpointRoot, key)}/a${attempt}` } } : {}),
      ...(resume ? { resume } : {}),
      onRound: (r) => {
        void this.#record(key, uid, (s) => this.#withRound(s, r, rounds));
      },
      onCheckpoint: (r, lineage) => {
        void this.#record(key, uid, (s) => ({
          ...s,
          checkpoints: lineage as CheckpointLineage,
          lastCheckpoint: lastCheckpointOf(r),
        }));
      },
      log: o.log.child({ job: key }),
    });
    const port = await coordinator.start(`${o.bindHost}:0`);
    const endpoint = `${o.advertiseHost ?? o.bindHost}:${port}`;
    o.log.info({ job: key, attempt, endpoint, participants: workers }, 'Federated coordinator started');
    await this.#record(key, job.metadata?.uid ?? '', () => ({
      federation: {
        coordinator: endpoint,
        attempt,
        state: FederationState.Waiting,
        admitted: 0,
        ...(resumedFrom ? { resumedFrom } : {}),
        message: `waiting for ${workers} participants (${Array.from({ length: workers }, (_, i) => participantName(job.metadata?.name ?? '', attempt, i)).join(', ')})`,
      },
      currentRound: 0,
      rounds: [],
    }));
    const done = coordinator.run().then(
      (res) => this.#finish(key, job.metadata?.uid ?? '', res),
      (e: unknown) =>
        this.#record(key, job.metadata?.uid ?? '', (s) => ({
          ...s,
          federation: {
            ...s.federation,
            state: FederationState.Failed,
            reason: 'ProtocolError',
            message: (e instanceof Error ? e.message : String(e)).slice(0, 1024),
          },
        })),
    );
    this.#running.set(key, { uid: job.metadata?.uid ?? '', attempt, coordinator, done });
  }

  /**
   * A job with checkpoints in status resumes: the coordinator gets the lineage and a reader, and the newest
   * checkpoint whose bytes hash to its record is what the participants are told to expect. A lineage that does
   * not verify is not resumed from (the run starts over, logged).
   */
  async #resume(
    key: string,
    job: JobObject,
  ): Promise<{ resume?: CoordinatorOptions['resume']; resumedFrom?: ResumePoint }> {
    const lineage = (job.status as TrainingJobStatus | undefined)?.checkpoints as LineageSnapshot | undefined;
    if (!lineage?.entries?.length) return {};
    const store = this.#o.store ?? new FileStore();
    const load = (uri: string) => store.get(uri);
    let point: Awaited<ReturnType<typeof lastVerified>>;
    try {
      point = await lastVerified(lineage, load);
    } catch (e) {
      this.#o.log.warn({ job: key, err: e }, 'Checkpoint lineage does not verify; the run starts over');
      return {};
    }
    if (point?.skipped.length) this.#o.log.warn({ job: key, skipped: point.skipped }, 'Newer checkpoints skipped');
    const r = point?.record;
    return {
      resume: { lineage, load },
      ...(r ? { resumedFrom: { step: r.step, uri: r.uri, sha256: r.sha256, parent: recordHash(key, r) } } : {}),
    };
  }

  #withRound(s: Owned, r: RoundRecord, rounds: number): Owned {
    const entry: RoundStatus = {
      round: r.round,
      participants: r.participants.length,
      contributors: r.contributors.length,
      dropped: r.dropped.slice(0, 64),
      aggregateHash: r.aggregateHash,
      examples: r.examples,
      loss: fixed(r.loss),
      accuracy: fixed(r.accuracy),
      startTime: r.startedAt.replace(/\.\d+Z$/, 'Z'),
      durationMs: Math.round(r.durationMs),
    };
    return {
      ...s,
      currentRound: r.round,
      progress: `${Math.min(100, Math.floor((100 * r.round) / rounds))}%`,
      rounds: [...(s.rounds ?? []).filter((x) => x.round !== r.round), entry].slice(-64),
      federation: {
        ...s.federation,
        // a result already written stays (writes are ordered, so this is only a guard)
        state:
          s.federation?.state === FederationState.Succeeded || s.federation?.state === FederationState.Failed
            ? s.federation.state
            : FederationState.Running,
        admitted: r.participants.length,
        message: `round ${r.round} of ${rounds}: ${r.contributors.length} contributors, accuracy ${fixed(r.accuracy)}`,
      },
    };
  }

  async #finish(key: string, uid: string, res: RunResult): Promise<void> {
    await this.#record(key, uid, (s) => ({
      ...s,
      federation: {
        ...s.federation,
        state: res.state === 'Succeeded' ? FederationState.Succeeded : FederationState.Failed,
        ...(res.reason ? { reason: res.reason } : {}),
        message: (res.message ?? `finished after round ${res.round}`).slice(0, 1024),
      },
    }));
    const r = this.#running.get(key);
    if (r?.uid === uid) {
      this.#running.delete(key);
      await r.coordinator.close().catch(() => {});
    }
  }

  /** Status writes per job, one after another: a round's write can never land after the run's result. */
  readonly #writes = new Map<string, Promise<void>>();

  #record(key: string, uid: string, change: (s: Owned) => Owned): Promise<unknown> {
    const next = (this.#writes.get(key) ?? Promise.resolve()).then(() => this.#apply(key, uid, change));
    const settled = next.catch((e: unknown) =>
      this.#o.log.error({ err: e, job: key }, 'Federated status write failed'),
    );
    this.#writes.set(key, settled);
    void settled.then(() => {
      if (this.#writes.get(key) === settled) this.#writes.delete(key);
    });
    return settled; // never rejects: a failed write is logged, and the next round's write carries the state
  }

  /** Applies this controller's fields (all of them, from a fresh read), retried on conflict. */
  async #apply(key: string, uid: string, change: (s: Owned) => Owned): Promise<void> {
    const [ns = '', name = ''] = key.split('/');
    const r = await this.#o.hub.updateStatus<JobObject>(
      resourceOf('TrainingJob'),
      { name, namespace: ns, uid },
      (job) => {
        const st = (job.status ?? {}) as TrainingJobStatus;
        return change({
          ...(st.federation ? { federation: st.federation } : {}),
          ...(st.currentRound !== undefined ? { currentRound: st.currentRound } : {}),
          ...(st.rounds ? { rounds: st.rounds } : {}),
          ...(st.progress ? { progress: st.progress } : {}),
          ...(st.checkpoints ? { checkpoints: st.checkpoints } : {}),
          ...(st.lastCheckpoint ? { lastCheckpoint: st.lastCheckpoint } : {}),
        });
      },
      { fieldManager: federatedManager },
    );
    if (r === 'conflicted')
      this.#o.log.warn({ job: key }, 'Federated status kept conflicting; the next round writes it');
  }
}

interface Owned {
  federation?: FederationStatus;
  currentRound?: number;
  rounds?: RoundStatus[];
  progress?: string;
  checkpoints?: CheckpointLineage;
  lastCheckpoint?: CheckpointStatus;
}

function lastCheckpointOf(r: CheckpointRecord): CheckpointStatus {
  return {
    uri: r.uri,
    step: r.step,
    ...(r.time ? { time: r.time.replace(/\.\d+Z$/, 'Z') } : {}),
    sha256: r.sha256,
    parent: r.parent,
    signer: r.signer,
  };
}
