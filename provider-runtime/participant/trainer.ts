// Local training. The runtime asks a `LocalTrainer` for one thing per round — start from these global weights,
// train on your own data, return the new weights, how many examples and the training metrics — so any
// framework plugs in behind it (docs/training.md: PyTorch or Flower's NumPyClient over a local socket). The
// built-in trainer is multinomial logistic regression with mini-batch SGD, small enough for tests and
// benchmarks and real enough to learn.
import type { LocalResult } from '../../operator/training/aggregate.ts';
import { type Dataset, rng } from './data.ts';

export interface LocalTrainer {
  /** Parameters in the flattened model. */
  readonly size: number;
  fit(global: Float64Array, round: number): Promise<LocalResult>;
}

export interface SgdOptions {
  epochs: number;
  learningRate: number;
  batch: number;
  /** Shuffling seed. */
  seed: number;
}

export const DEFAULT_SGD: SgdOptions = { epochs: 2, learningRate: 0.1, batch: 16, seed: 1 };

/** Softmax regression: parameters are W (classes × features, row-major) then b (classes). */
export class SoftmaxRegression {
  readonly features: number;
  readonly classes: number;
  constructor(features: number, classes: number) {
    this.features = features;
    this.classes = classes;
  }

  get size(): number {
    return this.classes * this.features + this.classes;
  }

  init(): Float64Array {
    return new Float64Array(this.size);
  }

  #probs(p: Float64Array, d: Dataset, i: number, out: Float64Array): void {
    const { features: f, classes: k } = this;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      let z = p[k * f + c] as number;
      for (let j = 0; j < f; j++) z += (p[c * f + j] as number) * (d.x[i * f + j] as number);
      out[c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((out[c] as number) - max);
      out[c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) out[c] = (out[c] as number) / sum;
  }

  /** Mean cross-entropy, correct predictions and accuracy on `d`. */
  evaluate(p: Float64Array, d: Dataset): { loss: number; correct: number; accuracy: number } {
    const pr = new Float64Array(this.classes);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < d.n; i++) {
      this.#probs(p, d, i, pr);
      const yi = d.y[i] as number;
      loss -= Math.log(Math.max(pr[yi] as number, 1e-12));
      let best = 0;
      for (let c = 1; c < this.classes; c++) if ((pr[c] as number) > (pr[best] as number)) best = c;
      if (best === yi) correct++;
    }
    return { loss: loss / d.n, correct, accuracy: correct / d.n };
  }

  /** Mini-batch SGD from `start`; returns new parameters. */
  sgd(start: Float64Array, d: Dataset, o: SgdOptions): Float64Array {
    const { features: f, classes: k } = this;
    const p = Float64Array.from(start);
    const grad = new Float64Array(this.size);
    const pr = new Float64Array(k);
    const order = Uint32Array.from({ length: d.n }, (_, i) => i);
    const r = rng(o.seed);
    for (let e = 0; e < o.epochs; e++) {
      for (let i = d.n - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [order[i], order[j]] = [order[j] as number, order[i] as number];
      }
      for (let b0 = 0; b0 < d.n; b0 += o.batch) {
        const b1 = Math.min(d.n, b0 + o.batch);
        grad.fill(0);
        for (let bi = b0; bi < b1; bi++) {
          const i = order[bi] as number;
          this.#probs(p, d, i, pr);
          const yi = d.y[i] as number;
          for (let c = 0; c < k; c++) {
            const g = (pr[c] as number) - (c === yi ? 1 : 0);
            grad[k * f + c] = (grad[k * f + c] as number) + g;
            for (let j = 0; j < f; j++) grad[c * f + j] = (grad[c * f + j] as number) + g * (d.x[i * f + j] as number);
          }
        }
        const step = o.learningRate / (b1 - b0);
        for (let q = 0; q < p.length; q++) p[q] = (p[q] as number) - step * (grad[q] as number);
      }
    }
    return p;
  }
}

/** The built-in trainer: `epochs` of SGD on the local shard per round. */
export class LocalSgdTrainer implements LocalTrainer {
  readonly #model: SoftmaxRegression;
  readonly #data: Dataset;
  readonly #o: SgdOptions;
  constructor(model: SoftmaxRegression, data: Dataset, o: Partial<SgdOptions> = {}) {
    this.#model = model;
    this.#data = data;
    this.#o = { ...DEFAULT_SGD, ...o };
  }

  get size(): number {
    return this.#model.size;
  }

  async fit(global: Float64Array, round: number): Promise<LocalResult> {
    if (global.length !== this.size)
      throw new RangeError(`trainer: model has ${global.length} parameters, expected ${this.size}`);
    const weights = this.#model.sgd(global, this.#data, { ...this.#o, seed: this.#o.seed * 1000 + round });
    const m = this.#model.evaluate(weights, this.#data);
    return { weights, examples: this.#data.n, loss: m.loss, correct: m.correct };
  }
}
