import test from 'ava';
import { MeterBudget } from '../../../operator/controllers/jobs/meter-budget.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';

test('metering writes past the budget wait their turn, each key keeping the token it reserved', (t) => {
  const clock = new FakeClock();
  const b = new MeterBudget(2, clock); // 2 a second, a burst of 2
  t.is(b.wait('a'), 0);
  t.is(b.wait('b'), 0);
  t.is(b.wait('c'), 500);
  t.is(b.wait('d'), 1000);
  t.is(b.waiting, 2);
  // asking again is no new reservation: the wait shrinks with time, d stays behind c
  clock.advance(400);
  t.is(b.wait('c'), 100);
  t.is(b.wait('d'), 600);
  clock.advance(100);
  t.is(b.wait('c'), 0);
  // c's write failed: its retry keeps the token, it does not queue behind d again
  clock.advance(50);
  t.is(b.wait('c'), 0);
  b.used('c');
  t.is(b.waiting, 1);
  t.is(b.held, 3, 'a and b hold their tokens until they write');
  // a newcomer queues behind d
  t.is(b.wait('e'), 950);
});

test('a key that wrote for another reason gives its token back', (t) => {
  const clock = new FakeClock();
  const b = new MeterBudget(1, clock);
  t.is(b.wait('a'), 0);
  b.used('a');
  t.is(b.wait('b'), 1000);
  b.release('b');
  t.is(b.waiting, 0);
  t.is(b.held, 0);
  // b's token is free again: the next key waits as b did, not behind it
  t.is(b.wait('c'), 1000);
  // releasing a key that holds nothing changes nothing
  b.release('zzz');
  t.is(b.wait('d'), 2000);
});

test('the budget must be above 0, named by its flag', (t) => {
  const e = t.throws(() => new MeterBudget(0, new FakeClock()));
  t.regex(e?.message ?? '', /--usage-meter-qps: must be above 0/);
});
