// The participant entrypoint: one process per participant (or, for benchmarks, several in one process), each
// training on its own generated shard of the task and speaking the federated protocol to the coordinator.
//
//   node provider-runtime/participant/main.ts --coordinator 127.0.0.1:7443 --job team-a/fl --id p-0 --index 0 \
//     --dev-attester-keys keys.json --init-data init.toml [--checkpoint-root /mnt/pvc]
//
// In a participant pod --coordinator, --job, --id and --index come from the environment the operator sets
// (NVDAX_COORDINATOR, NVDAX_JOB, NVDAX_PARTICIPANT_ID, NVDAX_PARTICIPANT_INDEX). A new attempt's pods also get
// NVDAX_RESUME_URI, _SHA256, _STEP and _PARENT: the first round must start right after that checkpoint, from a
// model hashing to it, or the participant stops with ResumeMismatch (exit 1).
// Evidence: with --dev-attester-keys (simulated clusters only) the development attester issues it; in a
// confidential pod it comes from the attestation agent, which this entrypoint does not reach yet.
// Test-only flags: --drop-at <round>:<stage> stops answering there; --tamper-checkpoint reports a wrong hash;
// --reveal <file> writes each round's plain update as JSON lines (so a test can compare it with what the
// coordinator received). The last stdout line is the result as JSON; exit 0 Completed, 3 Refused, 4 Dropped.
import { appendFileSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../../operator/runtime/log.ts';
import { FileStore } from '../../operator/training/store.ts';
import { createDevAttester, type DevAttesterKeys, devPolicy } from '../attester/attester.ts';
import { DEFAULT_TASK, shard } from './data.ts';
import { type DropStage, type ParticipantResult, runParticipant } from './participant.ts';
import { resumeFromEnv } from './resume.ts';
import { LocalSgdTrainer, SoftmaxRegression } from './trainer.ts';

const { values: a } = parseArgs({
  options: {
    coordinator: { type: 'string' },
    job: { type: 'string' },
    id: { type: 'string' },
    index: { type: 'string', default: process.env['NVDAX_PARTICIPANT_INDEX'] ?? '0' },
    count: { type: 'string', default: '1' },
    samples: { type: 'string', default: '200' },
    'task-seed': { type: 'string', default: String(DEFAULT_TASK.seed) },
    features: { type: 'string', default: String(DEFAULT_TASK.features) },
    classes: { type: 'string', default: String(DEFAULT_TASK.classes) },
    noise: { type: 'string', default: String(DEFAULT_TASK.noise) },
    epochs: { type: 'string', default: '2' },
    lr: { type: 'string', default: '0.1' },
    batch: { type: 'string', default: '16' },
    'dev-attester-keys': { type: 'string' },
    'init-data': { type: 'string' },
    'checkpoint-root': { type: 'string' },
    'drop-at': { type: 'string' },
    'tamper-checkpoint': { type: 'boolean', default: false },
    reveal: { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
  },
});

function need(name: string, v: string | undefined): string {
  if (!v) {
    console.error(`participant: --${name} is required`);
    process.exit(2);
  }
  return v;
}

// in a participant pod the operator sets these (operator/materialize/training.ts); flags win
const env = process.env;
const address = need('coordinator', a.coordinator ?? env['NVDAX_COORDINATOR']);
const job = need('job', a.job ?? env['NVDAX_JOB']);
const id = need('id', a.id ?? env['NVDAX_PARTICIPANT_ID']);
const keysFile = need('dev-attester-keys', a['dev-attester-keys']);
const initData = readFileSync(need('init-data', a['init-data']), 'utf8');
const attester = await createDevAttester({ keys: JSON.parse(readFileSync(keysFile, 'utf8')) as DevAttesterKeys });
const task = {
  seed: Number(a['task-seed']),
  features: Number(a.features),
  classes: Number(a.classes),
  noise: Number(a.noise),
};
const model = new SoftmaxRegression(task.features, task.classes);
const count = Number(a.count);
const first = Number(a.index);
let dropAt: { round: number; stage: DropStage } | undefined;
if (a['drop-at']) {
  const [r, stage] = a['drop-at'].split(':');
  dropAt = { round: Number(r), stage: stage as DropStage };
}
const log = createLogger({ name: 'nvdax-participant', level: a['log-level'] as 'warn' });
const store = new FileStore(a['checkpoint-root'] ? { pvcRoot: a['checkpoint-root'] } : {});
// a new attempt of the job: the checkpoint its first round must start from (NVDAX_RESUME_*, from the operator)
let resume: ReturnType<typeof resumeFromEnv>;
try {
  resume = resumeFromEnv(env);
} catch (e) {
  console.error(`participant: ${(e as Error).message}`);
  process.exit(2);
}

const results: ParticipantResult[] = await Promise.all(
  Array.from({ length: count }, (_, i) => {
    const index = first + i;
    const pid = count === 1 ? id : `${id}-${String(index).padStart(3, '0')}`;
    return runParticipant({
      address,
      id: pid,
      job,
      trainer: new LocalSgdTrainer(model, shard(task, index, Number(a.samples)), {
        epochs: Number(a.epochs),
        learningRate: Number(a.lr),
        batch: Number(a.batch),
        seed: index + 1,
      }),
      evidence: (nonce, teePubKey) => attester.issue({ nonce, teePubKey, initData, instance: pid }),
      store,
      ...(resume ? { resume } : {}),
      // In simulation the peers' evidence comes from the same development attester.
      peers: { policy: devPolicy(attester), expected: { initData } },
      faults: { ...(dropAt ? { dropAt } : {}), tamperCheckpoint: a['tamper-checkpoint'] },
      ...(a.reveal
        ? {
            onUpdate: (round: number, v: Float64Array) =>
              appendFileSync(a.reveal as string, `${JSON.stringify({ id: pid, round, vector: [...v] })}\n`),
          }
        : {}),
      log,
    });
  }),
);
const summary = results.map((r) => ({ outcome: r.outcome, message: r.message, rounds: r.rounds }));
process.stdout.write(`${JSON.stringify(count === 1 ? summary[0] : summary)}\n`);
const outcome = results[0]?.outcome;
process.exit(
  results.every((r) => r.outcome === 'Completed') ? 0 : outcome === 'Refused' ? 3 : outcome === 'Dropped' ? 4 : 1,
);
