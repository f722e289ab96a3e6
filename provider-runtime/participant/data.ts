// A classification task the project makes itself, so federated tests train for real and need no download:
// a hidden linear "teacher" with Gaussian noise labels Gaussian inputs. Every participant generates only its
// own shard (its stream of the same task); the pooled data set is the union of the shards.

export interface Task {
  seed: number;
  features: number;
  classes: number;
  /** Label noise: standard deviation added to the teacher's logits. */
  noise: number;
}

export const DEFAULT_TASK: Task = { seed: 17, features: 16, classes: 4, noise: 1.0 };

export interface Dataset {
  /** Row-major, n × features. */
  x: Float64Array;
  y: Uint8Array;
  n: number;
  features: number;
  classes: number;
}

/** mulberry32: a small, fast, seeded PRNG in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function teacher(task: Task): Float64Array {
  const g = gaussian(rng(task.seed));
  return Float64Array.from({ length: task.classes * (task.features + 1) }, () => g());
}

/** `samples` examples of the task from stream `stream` (distinct streams give disjoint samples). */
export function generate(task: Task, samples: number, stream: number): Dataset {
  const w = teacher(task);
  const { features: f, classes: k } = task;
  const g = gaussian(rng((task.seed * 1_000_003 + stream * 7919) >>> 0));
  const x = new Float64Array(samples * f);
  const y = new Uint8Array(samples);
  for (let i = 0; i < samples; i++) {
    for (let j = 0; j < f; j++) x[i * f + j] = g();
    let best = 0;
    let bestLogit = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      let z = (w[c * (f + 1) + f] as number) + task.noise * g();
      for (let j = 0; j < f; j++) z += (w[c * (f + 1) + j] as number) * (x[i * f + j] as number);
      if (z > bestLogit) [best, bestLogit] = [c, z];
    }
    y[i] = best;
  }
  return { x, y, n: samples, features: f, classes: k };
}

/** Participant `index`'s shard: sizes differ (base × 1, 1.5, 2, …) so that FedAvg's weighting matters. */
export function shard(task: Task, index: number, base: number): Dataset {
  return generate(task, Math.round(base * (1 + (index % 3) * 0.5)), 1 + index);
}

/** The union of shards 0..count−1: what training on pooled data sees. */
export function pooled(task: Task, count: number, base: number): Dataset {
  const parts = Array.from({ length: count }, (_, i) => shard(task, i, base));
  const n = parts.reduce((s, p) => s + p.n, 0);
  const x = new Float64Array(n * task.features);
  const y = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at * task.features);
    y.set(p.y, at);
    at += p.n;
  }
  return { x, y, n, features: task.features, classes: task.classes };
}

/** A held-out test set (a stream no participant uses). */
export function testSet(task: Task, samples: number): Dataset {
  return generate(task, samples, 0x7e57);
}
