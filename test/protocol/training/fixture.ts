// A federated job on loopback: the coordinator in this process, each participant a separate node process
// (provider-runtime/participant/main.ts) speaking the real gRPC protocol, attested by the development attester.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Aggregation } from '../../../operator/api/constants.ts';
import { initData } from '../../../operator/materialize/initdata.ts';
import { attestedAdmission } from '../../../operator/training/admission.ts';
import {
  Coordinator,
  type CoordinatorOptions,
  type ParticipantEvent,
  type RoundFailure,
  type RoundRecord,
  type RunResult,
} from '../../../operator/training/coordinator.ts';
import type { CheckpointRecord } from '../../../operator/training/lineage.ts';
import type { ParticipantMessage__Output } from '../../../operator/training/proto.ts';
import { createDevAttester, devPolicy } from '../../../provider-runtime/attester/attester.ts';
import { DEFAULT_TASK } from '../../../provider-runtime/participant/data.ts';
import { SoftmaxRegression } from '../../../provider-runtime/participant/trainer.ts';

export const JOB = 'team-a/federated';
const MAIN = join(import.meta.dirname, '..', '..', '..', 'provider-runtime', 'participant', 'main.ts');

export interface RunOptions {
  participants: number;
  aggregation: Aggregation;
  minParticipants: number;
  rounds: number;
  roundTimeoutMs?: number;
  samples?: number;
  epochs?: number;
  /** Extra participant flags by index (e.g. ['--drop-at', '1:masked']). */
  flags?: Record<number, string[]>;
  /** Indices whose evidence comes from an attester the coordinator does not trust. */
  untrusted?: number[];
  checkpoint?: boolean;
  dir?: string;
  /** Extra environment of every participant process (e.g. a pod's NVDAX_RESUME_*). */
  env?: Record<string, string>;
  coordinator?: Partial<CoordinatorOptions>;
}

export interface ChildOutput {
  id: string;
  code: number | null;
  result: { outcome: string; message: string; rounds: number } | undefined;
  stderr: string;
}

export interface Run {
  result: RunResult;
  rounds: RoundRecord[];
  /** The global model after each round, by round. */
  models: Map<number, Float64Array>;
  failures: RoundFailure[];
  events: ParticipantEvent[];
  checkpoints: CheckpointRecord[];
  rejected: Array<{ round: number; participant: string; reason: string; message: string }>;
  received: Array<{ from: string; m: ParticipantMessage__Output }>;
  children: ChildOutput[];
  /** Each participant's plain update vectors, by round (written by the participant with --reveal). */
  reveals: Map<string, Map<number, Float64Array>>;
  dir: string;
  ids: string[];
}

export const model = new SoftmaxRegression(DEFAULT_TASK.features, DEFAULT_TASK.classes);

export async function federatedRun(o: RunOptions): Promise<Run> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'nvdax-fl-'));
  const attester = await createDevAttester();
  const rogue = await createDevAttester();
  const init = initData({ kbsUrl: 'http://trustee.nvdax-system:8080' });
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(attester.keys));
  writeFileSync(join(dir, 'rogue-keys.json'), JSON.stringify(rogue.keys));
  writeFileSync(join(dir, 'init.toml'), init.toml);
  const run: Omit<Run, 'result' | 'children'> = {
    rounds: [],
    models: new Map(),
    failures: [],
    events: [],
    checkpoints: [],
    rejected: [],
    received: [],
    reveals: new Map(),
    dir,
    ids: Array.from({ length: o.participants }, (_, i) => `p-${i}`),
  };
  const coordinator = new Coordinator({
    job: JOB,
    federated: {
      rounds: o.rounds,
      minParticipants: o.minParticipants,
      aggregation: o.aggregation,
      roundTimeoutMs: o.roundTimeoutMs ?? 20_000,
    },
    initialModel: model.init(),
    admit: attestedAdmission({ policy: devPolicy(attester), expected: { initData: init.toml } }),
    expectedParticipants: o.participants - (o.untrusted?.length ?? 0),
    joinTimeoutMs: 20_000,
    ...(o.checkpoint ? { checkpoint: { uri: `file://${dir}/ckpt`, keep: 3 } } : {}),
    onRound: (r) => {
      run.rounds.push(r);
      run.models.set(r.round, Float64Array.from(coordinator.model));
    },
    onRoundFailed: (f) => run.failures.push(f),
    onParticipant: (e) => run.events.push(e),
    onCheckpoint: (r) => run.checkpoints.push(r),
    onCheckpointRejected: (r) => run.rejected.push(r),
    tap: (from, m) => run.received.push({ from, m }),
    ...o.coordinator,
  });
  const port = await coordinator.start();
  try {
    const children = run.ids.map((id, i) =>
      spawnParticipant(
        id,
        [
          '--coordinator',
          `127.0.0.1:${port}`,
          '--job',
          JOB,
          '--id',
          id,
          '--index',
          String(i),
          '--samples',
          String(o.samples ?? 150),
          '--epochs',
          String(o.epochs ?? 1),
          '--dev-attester-keys',
          join(dir, o.untrusted?.includes(i) ? 'rogue-keys.json' : 'keys.json'),
          '--init-data',
          join(dir, 'init.toml'),
          '--reveal',
          join(dir, `reveal-${id}.jsonl`),
          ...(o.flags?.[i] ?? []),
        ],
        o.env,
      ),
    );
    const result = await coordinator.run();
    const outputs = await Promise.all(children);
    for (const id of run.ids) {
      const f = join(dir, `reveal-${id}.jsonl`);
      if (!existsSync(f)) continue;
      const byRound = new Map<number, Float64Array>();
      for (const line of readFileSync(f, 'utf8').trim().split('\n')) {
        const r = JSON.parse(line) as { round: number; vector: number[] };
        byRound.set(r.round, Float64Array.from(r.vector));
      }
      run.reveals.set(id, byRound);
    }
    return { ...run, result, children: outputs };
  } finally {
    await coordinator.close();
  }
}

function spawnParticipant(id: string, args: string[], env: Record<string, string> = {}): Promise<ChildOutput> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        NODE_COMPILE_CACHE: join(tmpdir(), 'nvdax-node-compile-cache'),
        ...process.env,
        ...env,
        NODE_NO_WARNINGS: '1',
      },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1);
      let result: ChildOutput['result'];
      try {
        result = last ? JSON.parse(last) : undefined;
      } catch {
        result = undefined;
      }
      resolve({ id, code, result, stderr: err });
    });
  });
}
