// FedAvg (McMahan et al. 2017): the global model is the example-weighted mean of the participants' models.
// Each participant sends one vector, [n·w₀ … n·w_{d−1}, n, n·loss, correct], so that FedAvg and secure
// aggregation need the same thing, the element-wise sum, and the coordinator learns round metrics only as
// totals.

/** Elements after the model: examples, loss × examples, correct predictions. */
export const TRAILER = 3;

export interface LocalResult {
  weights: Float64Array;
  examples: number;
  /** Mean training loss over the local examples. */
  loss: number;
  /** Local examples predicted right (after training). */
  correct: number;
}

/** One participant's contribution. */
export function updateVector(r: LocalResult): Float64Array {
  if (!Number.isInteger(r.examples) || r.examples < 1)
    throw new RangeError('update: examples must be a positive integer');
  const d = r.weights.length;
  const v = new Float64Array(d + TRAILER);
  for (let i = 0; i < d; i++) v[i] = (r.weights[i] as number) * r.examples;
  v[d] = r.examples;
  v[d + 1] = r.loss * r.examples;
  v[d + 2] = r.correct;
  return v;
}

/** Element-wise sum of plain update vectors. */
export function sumVectors(vs: readonly Float64Array[], length: number): Float64Array {
  const s = new Float64Array(length);
  for (const v of vs) {
    if (v.length !== length) throw new RangeError(`update: expected ${length} elements, got ${v.length}`);
    for (let i = 0; i < length; i++) s[i] = (s[i] as number) + (v[i] as number);
  }
  return s;
}

export interface RoundAggregate {
  model: Float64Array;
  examples: number;
  /** Example-weighted mean training loss. */
  loss: number;
  /** Training accuracy over all participants' examples. */
  accuracy: number;
}

/** The global model and metrics from a sum of update vectors. */
export function fromSum(sum: Float64Array): RoundAggregate {
  const d = sum.length - TRAILER;
  const examples = Math.round(sum[d] as number);
  if (!(examples > 0)) throw new RangeError('aggregate: no examples');
  const model = new Float64Array(d);
  for (let i = 0; i < d; i++) model[i] = (sum[i] as number) / examples;
  return { model, examples, loss: (sum[d + 1] as number) / examples, accuracy: (sum[d + 2] as number) / examples };
}

/** Plain FedAvg over local results. */
export function fedAvg(results: readonly LocalResult[]): RoundAggregate {
  const first = results[0];
  if (!first) throw new RangeError('fedAvg: no results');
  return fromSum(sumVectors(results.map(updateVector), first.weights.length + TRAILER));
}
