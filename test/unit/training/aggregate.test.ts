import test from 'ava';
import { fedAvg, fromSum, sumVectors, updateVector } from '../../../operator/training/aggregate.ts';

test('FedAvg weights each model by its examples and totals the metrics', (t) => {
  const agg = fedAvg([
    { weights: Float64Array.from([1, 0]), examples: 100, loss: 0.5, correct: 80 },
    { weights: Float64Array.from([4, 3]), examples: 300, loss: 0.1, correct: 150 },
  ]);
  t.deepEqual([...agg.model], [(100 * 1 + 300 * 4) / 400, (300 * 3) / 400]);
  t.is(agg.examples, 400);
  t.is(agg.loss, (0.5 * 100 + 0.1 * 300) / 400);
  t.is(agg.accuracy, 230 / 400);
});

test('the sum of update vectors is what FedAvg averages', (t) => {
  const rs = [
    { weights: Float64Array.from([2, -2, 1]), examples: 10, loss: 1, correct: 5 },
    { weights: Float64Array.from([0, 6, 1]), examples: 30, loss: 2, correct: 6 },
  ];
  const viaSum = fromSum(sumVectors(rs.map(updateVector), 6));
  t.deepEqual([...viaSum.model], [...fedAvg(rs).model]);
  t.throws(() => updateVector({ weights: new Float64Array(1), examples: 0, loss: 0, correct: 0 }), {
    message: /positive integer/,
  });
  t.throws(() => sumVectors([new Float64Array(3)], 4), { message: /expected 4/ });
});
