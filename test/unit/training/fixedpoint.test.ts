import test from 'ava';
import {
  addInto,
  decode,
  encode,
  encodeBound,
  FRAC_BITS,
  MOD,
  subInto,
} from '../../../operator/training/fixedpoint.ts';

test('encode then decode is within half a resolution step, negatives included', (t) => {
  const xs = [0, 1.5, -1.5, Math.PI, -2000.000001, 1e-7, -123456.789];
  const back = decode(encode(xs, 1e6));
  for (const [i, x] of xs.entries()) t.true(Math.abs(back[i]! - x) <= 2 ** -(FRAC_BITS + 1), `${x} → ${back[i]}`);
});

test('sums modulo 2^52 decode to the real sum, even when the parts wrap', (t) => {
  const parts = [
    [5, -7.25, 1000],
    [-9.5, 2, -3000.5],
    [0.25, 0.125, 1.5],
  ];
  const sum = new Float64Array(3);
  for (const p of parts) addInto(sum, encode(p, 1e6));
  const got = decode(sum);
  t.deepEqual([...got], [5 - 9.5 + 0.25, -7.25 + 2 + 0.125, 1000 - 3000.5 + 1.5]);
  // and subtraction undoes addition exactly
  const e = encode([1, 2, 3], 10);
  subInto(sum, e);
  addInto(sum, e);
  t.deepEqual([...decode(sum)], [...got]);
  t.true(sum.every((x) => x >= 0 && x < MOD && Number.isInteger(x)));
});

test('values beyond the bound for the number of parties are refused', (t) => {
  const bound = encodeBound(50);
  t.true(bound * 50 * 2 ** FRAC_BITS <= 2 ** 51);
  t.throws(() => encode([bound], bound), { instanceOf: RangeError, message: /outside/ });
  t.throws(() => encode([Number.NaN], bound), { instanceOf: RangeError });
  t.notThrows(() => encode([bound * 0.99], bound));
});
