// Federated rounds on loopback: round time and coordinator memory for 3, 10 and 50 participants, FedAvg
// against SecureAggregation in the same run (the secure protocol's overhead as a ratio). The coordinator runs
// here; the participants run in separate processes (several per process, each with its own gRPC channel,
// attested by the development attester), training multinomial logistic regression on their own generated
// shards. Writes bench/out/training.json and training.md.
//
//   node --expose-gc bench/training.ts        (make bench-training)
//   BENCH_TRAINING_SIZES=3,10,50 BENCH_TRAINING_ROUNDS=3 BENCH_TRAINING_FEATURES=256 BENCH_TRAINING_CLASSES=10
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Aggregation } from '../operator/api/constants.ts';
import { initData } from '../operator/materialize/initdata.ts';
import { attestedAdmission } from '../operator/training/admission.ts';
import { Coordinator, type RoundRecord } from '../operator/training/coordinator.ts';
import { createDevAttester, devPolicy } from '../provider-runtime/attester/attester.ts';
import { SoftmaxRegression } from '../provider-runtime/participant/trainer.ts';
import { fmt, heapUsed, report } from './kit.ts';

/** Heap plus external memory (ArrayBuffers: vectors and gRPC buffers live there), after two full GCs. */
const live = () => heapUsed() + process.memoryUsage().external;
const now = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const SIZES = (process.env['BENCH_TRAINING_SIZES'] ?? '3,10,50').split(',').map(Number);
const ROUNDS = Number(process.env['BENCH_TRAINING_ROUNDS'] ?? 3);
const FEATURES = Number(process.env['BENCH_TRAINING_FEATURES'] ?? 256);
const CLASSES = Number(process.env['BENCH_TRAINING_CLASSES'] ?? 10);
const SAMPLES = 100;
const AGGREGATIONS: Aggregation[] = ['FedAvg', 'SecureAggregation'];
const MAIN = join(import.meta.dirname, '..', 'provider-runtime', 'participant', 'main.ts');
const JOB = 'bench/federated';

const model = new SoftmaxRegression(FEATURES, CLASSES);
const dir = mkdtempSync(join(tmpdir(), 'nvdax-bench-training-'));
const attester = await createDevAttester();
const init = initData({ kbsUrl: 'http://trustee.nvdax-system:8080' });
writeFileSync(join(dir, 'keys.json'), JSON.stringify(attester.keys));
writeFileSync(join(dir, 'init.toml'), init.toml);

interface Measure {
  participants: number;
  aggregation: Aggregation;
  /** Median round time, ms (every round: select, send the model, local training, collect, aggregate). */
  roundMs: number;
  roundsMs: number[];
  /** Peak coordinator heap + external memory above its idle baseline during the rounds, bytes. */
  memoryPeak: number;
  /** Coordinator heap + external memory retained after the run with every participant still connected, above the baseline. */
  memoryRetained: number;
  wallMs: number;
  /** Coordinator CPU (user + system) per round, ms, from the first round's end to the last's. */
  coordinatorCpuMs: number;
  /** Median milliseconds per protocol stage. */
  stagesMs: Record<string, number>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function measure(n: number, aggregation: Aggregation): Promise<Measure> {
  const base = live();
  const rounds: RoundRecord[] = [];
  const cpuAt: number[] = [];
  let peak = 0;
  const min = Math.max(3, Math.ceil(n * 0.6));
  const coordinator = new Coordinator({
    job: JOB,
    federated: { rounds: ROUNDS, minParticipants: Math.min(min, n), aggregation, roundTimeoutMs: 60_000 },
    initialModel: model.init(),
    admit: attestedAdmission({ policy: devPolicy(attester), expected: { initData: init.toml } }),
    expectedParticipants: n,
    joinTimeoutMs: 60_000,
    onRound: (r) => {
      rounds.push(r);
      const c = process.cpuUsage();
      cpuAt.push((c.user + c.system) / 1000);
    },
  });
  const port = await coordinator.start();
  const procs = Math.min(n, Math.max(2, Math.min(4, cpus().length)));
  const children = Array.from({ length: procs }, (_, p) => {
    const first = Math.floor((p * n) / procs);
    const count = Math.floor(((p + 1) * n) / procs) - first;
    const child = spawn(
      process.execPath,
      [
        MAIN,
        ...['--coordinator', `127.0.0.1:${port}`, '--job', JOB, '--id', 'p', '--index', String(first)],
        ...['--count', String(count), '--samples', String(SAMPLES), '--epochs', '1'],
        ...['--features', String(FEATURES), '--classes', String(CLASSES)],
        ...['--dev-attester-keys', join(dir, 'keys.json'), '--init-data', join(dir, 'init.toml')],
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { NODE_COMPILE_CACHE: join(tmpdir(), 'nvdax-node-compile-cache'), ...process.env },
      },
    );
    return new Promise<number | null>((resolve) => child.on('close', resolve));
  });
  const sampler = setInterval(() => {
    peak = Math.max(peak, now() - base);
  }, 2);
  const t0 = performance.now();
  const result = await coordinator.run().finally(() => clearInterval(sampler));
  const wallMs = performance.now() - t0;
  if (result.state !== 'Succeeded') throw new Error(`${n} ${aggregation}: ${result.reason} ${result.message}`);
  const memoryRetained = live() - base;
  await coordinator.close();
  await Promise.all(children);
  const roundsMs = rounds.map((r) => r.durationMs);
  const stagesMs = Object.fromEntries(
    Object.keys(rounds[0]?.stagesMs ?? {}).map((k) => [k, median(rounds.map((x) => x.stagesMs[k] ?? 0))]),
  );
  return {
    coordinatorCpuMs: ((cpuAt.at(-1) as number) - (cpuAt[0] as number)) / Math.max(1, cpuAt.length - 1),
    stagesMs,
    participants: n,
    aggregation,
    roundMs: median(roundsMs),
    roundsMs,
    memoryPeak: Math.max(peak, memoryRetained),
    memoryRetained,
    wallMs,
  };
}

const r = report('training');
const results: Measure[] = [];
try {
  for (const n of SIZES)
    for (const aggregation of AGGREGATIONS) {
      const m = await measure(n, aggregation);
      results.push(m);
      console.log(
        `${n} participants, ${aggregation}: round ${fmt(m.roundMs, 1)} ms (${m.roundsMs.map((x) => fmt(x, 0)).join(', ')}), ` +
          `coordinator memory peak ${fmt(m.memoryPeak / 2 ** 20, 1)} MiB; ${fmt(m.wallMs / 1000, 1)} s; stages ${Object.entries(
            m.stagesMs,
          )
            .map(([k, v]) => `${k} ${fmt(v, 0)}`)
            .join(', ')} ms`,
      );
    }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const get = (n: number, a: Aggregation) => results.find((x) => x.participants === n && x.aggregation === a) as Measure;
r.say(`# Federated rounds on loopback (${cpus().length} CPUs, Node ${process.version})`);
r.say();
r.say(
  `Model: multinomial logistic regression, ${FEATURES} features × ${CLASSES} classes = ${model.size} parameters; ` +
    `${SAMPLES}–${SAMPLES * 2} examples and one local epoch per participant per round; ${ROUNDS} rounds, median shown. ` +
    'Round time is the coordinator’s: model out, local training, every protocol stage, aggregation. ' +
    'Memory is the coordinator process’s heap plus external memory (ArrayBuffers: vectors, gRPC buffers) above ' +
    'its idle baseline, the peak sampled every 2 ms during the rounds (garbage included). ' +
    'Every participant runs on this machine too, so round time at 50 includes their O(n) key agreement and ' +
    'masking serialized on its CPUs; on real pools they run in parallel, and the coordinator’s own CPU per ' +
    'round is the column that scales with the hub.',
);
r.say();
r.table(
  [
    'participants',
    'FedAvg round (ms)',
    'SecureAggregation round (ms)',
    'time ratio',
    'FedAvg coordinator CPU (ms/round)',
    'SecureAggregation coordinator CPU (ms/round)',
    'FedAvg memory (MiB)',
    'SecureAggregation memory (MiB)',
    'memory ratio',
  ],
  SIZES.map((n) => {
    const f = get(n, 'FedAvg');
    const s = get(n, 'SecureAggregation');
    return [
      n,
      fmt(f.roundMs, 1),
      fmt(s.roundMs, 1),
      `${fmt(s.roundMs / f.roundMs, 2)}×`,
      fmt(f.coordinatorCpuMs, 1),
      fmt(s.coordinatorCpuMs, 1),
      fmt(f.memoryPeak / 2 ** 20, 1),
      fmt(s.memoryPeak / 2 ** 20, 1),
      `${fmt(s.memoryPeak / f.memoryPeak, 2)}×`,
    ];
  }),
);
r.say('Secure aggregation stages, median ms per round:');
r.say();
const stageNames = Object.keys(get(SIZES[0] as number, 'SecureAggregation').stagesMs);
r.table(
  ['participants', ...stageNames],
  SIZES.map((n) => [n, ...stageNames.map((k) => fmt(get(n, 'SecureAggregation').stagesMs[k] ?? 0, 1))]),
);
r.save();
const out = {
  unit: {
    roundMs: 'milliseconds (median over rounds)',
    memory: 'bytes of heap + external memory above the idle baseline',
  },
  model: { kind: 'softmax regression', features: FEATURES, classes: CLASSES, parameters: model.size },
  rounds: ROUNDS,
  cpus: cpus().length,
  sizes: Object.fromEntries(
    SIZES.map((n) => {
      const f = get(n, 'FedAvg');
      const s = get(n, 'SecureAggregation');
      const row = (m: Measure) => ({
        roundMs: m.roundMs,
        roundsMs: m.roundsMs,
        memoryPeak: m.memoryPeak,
        memoryRetained: m.memoryRetained,
        coordinatorCpuMs: m.coordinatorCpuMs,
        stagesMs: m.stagesMs,
      });
      return [
        n,
        {
          FedAvg: row(f),
          SecureAggregation: row(s),
          overhead: {
            time: s.roundMs / f.roundMs,
            coordinatorCpu: s.coordinatorCpuMs / f.coordinatorCpuMs,
            memory: s.memoryPeak / f.memoryPeak,
          },
        },
      ];
    }),
  ),
};
mkdirSync(join(import.meta.dirname, 'out'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'out', 'training.json'), `${JSON.stringify(out, null, 2)}\n`);
