import test from 'ava';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { ExponentialBackoff, MaxOfRateLimiter, TokenBucket } from '../../../operator/runtime/backoff.ts';

test('exponential backoff doubles from the base and stops at the max', (t) => {
  const b = new ExponentialBackoff({ baseMs: 5, maxMs: 100, jitter: 0 });
  t.deepEqual(
    Array.from({ length: 8 }, () => b.when('k')),
    [5, 10, 20, 40, 80, 100, 100, 100],
  );
  t.is(b.numRequeues('k'), 8);
});

test('keys back off independently and forget resets one key', (t) => {
  const b = new ExponentialBackoff({ baseMs: 10, jitter: 0 });
  b.when('a');
  b.when('a');
  t.is(b.when('b'), 10);
  t.is(b.when('a'), 40);
  b.forget('a');
  t.is(b.numRequeues('a'), 0);
  t.is(b.when('a'), 10);
  t.is(b.numRequeues('b'), 1);
});

test('jitter stays within [delay, delay × (1 + jitter)] and never passes the max', (t) => {
  for (const r of [0, 0.25, 0.5, 0.999999]) {
    const b = new ExponentialBackoff({ baseMs: 100, maxMs: 1000, jitter: 0.5, random: () => r });
    const delays = Array.from({ length: 6 }, () => b.when('k'));
    const plain = [100, 200, 400, 800, 1000, 1000];
    delays.forEach((d, i) => {
      const p = plain[i] as number;
      t.true(d >= p, `${d} >= ${p}`);
      t.true(d <= Math.min(1000, p * 1.5), `${d} <= ${p * 1.5} and <= max`);
    });
  }
  const mid = new ExponentialBackoff({ baseMs: 100, jitter: 0.5, random: () => 0.5 });
  t.is(mid.when('k'), 125);
});

test('huge failure counts do not overflow past the max', (t) => {
  const b = new ExponentialBackoff({ baseMs: 5, maxMs: 60_000, jitter: 0.2, random: () => 0.9 });
  t.is(b.delayFor(5000), 60_000);
});

test('invalid backoff options are refused', (t) => {
  t.throws(() => new ExponentialBackoff({ baseMs: 0 }), { instanceOf: RangeError });
  t.throws(() => new ExponentialBackoff({ baseMs: 10, maxMs: 5 }), { instanceOf: RangeError });
  t.throws(() => new ExponentialBackoff({ jitter: -1 }), { instanceOf: RangeError });
});

test('token bucket allows a burst, then paces at qps, and refills with time', (t) => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ qps: 10, burst: 3, clock });
  t.deepEqual([bucket.when('a'), bucket.when('b'), bucket.when('c')], [0, 0, 0]);
  t.is(Math.round(bucket.when('d')), 100);
  t.is(Math.round(bucket.when('e')), 200);
  clock.advance(1000);
  t.is(bucket.when('f'), 0);
});

test('max-of limiter takes the longest delay and forgets in all', (t) => {
  const clock = new FakeClock();
  const limiter = new MaxOfRateLimiter(
    new ExponentialBackoff({ baseMs: 50, jitter: 0 }),
    new TokenBucket({ qps: 1, burst: 1, clock }),
  );
  t.is(limiter.when('k'), 50);
  t.is(limiter.when('k'), 1000);
  t.is(limiter.numRequeues('k'), 2);
  limiter.forget('k');
  t.is(limiter.numRequeues('k'), 0);
});
