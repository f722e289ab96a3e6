import { randomBytes } from 'node:crypto';
import test from 'ava';
import { combine, PRIME, shareFromBytes, shareToBytes, split } from '../../../operator/training/shamir.ts';

test('any threshold-sized subset of shares reconstructs the secret', (t) => {
  const secret = randomBytes(32);
  const shares = split(secret, 3, [1, 2, 3, 4, 5]);
  for (const subset of [
    [0, 1, 2],
    [0, 2, 4],
    [4, 3, 1],
    [1, 2, 3, 4],
  ])
    t.deepEqual(
      combine(
        subset.map((i) => shares[i]!),
        3,
        32,
      ),
      secret,
    );
});

test('fewer shares than the threshold do not give the secret back', (t) => {
  const secret = randomBytes(32);
  const shares = split(secret, 4, [1, 2, 3, 4, 5, 6]);
  // Interpolating three shares of a degree-3 polynomial as if the threshold were 3 gives something else.
  let wrong: Buffer | undefined;
  try {
    wrong = combine(shares.slice(0, 3), 3, 32);
  } catch {
    wrong = undefined;
  }
  t.notDeepEqual(wrong, secret);
  t.throws(() => combine(shares.slice(0, 3), 4, 32), { instanceOf: RangeError, message: /3 shares, 4 needed/ });
});

test('a share round-trips through its bytes and the value stays in the field', (t) => {
  const [s] = split(randomBytes(32), 2, [7, 9]);
  const b = shareToBytes(s!);
  t.is(b.length, 68);
  t.deepEqual(shareFromBytes(b), s);
  const out = Buffer.alloc(68, 0xff);
  t.throws(() => shareFromBytes(out), { message: /outside the field/ });
  t.true(s!.y < PRIME);
});

test('split refuses bad thresholds and points', (t) => {
  t.throws(() => split(randomBytes(32), 4, [1, 2, 3]), { message: /threshold 4/ });
  t.throws(() => split(randomBytes(32), 2, [1, 1, 3]), { message: /distinct/ });
  t.throws(() => split(randomBytes(32), 2, [0, 1, 3]), { message: /distinct/ });
});
