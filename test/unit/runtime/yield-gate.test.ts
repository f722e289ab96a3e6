import test from 'ava';
import { YieldGate } from '../../../operator/runtime/yield-gate.ts';

const settle = () => new Promise((r) => setImmediate(r));

test('while the other class is busy, only slotsWhileBusy enter; the rest wait until it is idle', async (t) => {
  let busy = true;
  const gate = new YieldGate(() => busy, 2);
  const entered: number[] = [];
  const leaves: Array<() => void> = [];
  for (let i = 0; i < 5; i++)
    void gate.enter().then((leave) => {
      entered.push(i);
      leaves.push(leave);
    });
  await settle();
  t.deepEqual(entered, [0, 1]);
  t.is(gate.waiting, 3);
  // a slot given back lets one more in, still busy
  leaves[0]!();
  await settle();
  t.deepEqual(entered, [0, 1, 2]);
  t.is(gate.inside, 2);
  // idle: everyone waiting enters at once
  busy = false;
  gate.wake();
  await settle();
  t.deepEqual(entered, [0, 1, 2, 3, 4]);
  t.is(gate.inside, 4);
  t.is(gate.waiting, 0);
});

test('when the other class is idle nobody waits, however many are inside', async (t) => {
  const gate = new YieldGate(() => false, 1);
  const leaves = await Promise.all(Array.from({ length: 20 }, () => gate.enter()));
  t.is(gate.inside, 20);
  for (const l of leaves) l();
  t.is(gate.inside, 0);
});

test('a slot is given back once, however often its function is called', async (t) => {
  const gate = new YieldGate(() => true, 1);
  const leave = await gate.enter();
  leave();
  leave();
  t.is(gate.inside, 0);
  const again = await gate.enter();
  t.is(gate.inside, 1);
  again();
});

test('an aborted wait rejects and leaves no waiter behind', async (t) => {
  const gate = new YieldGate(() => true, 1);
  const held = await gate.enter();
  const ac = new AbortController();
  const waiting = gate.enter(ac.signal);
  await settle();
  t.is(gate.waiting, 1);
  ac.abort(new Error('stopping'));
  await t.throwsAsync(waiting, { message: 'stopping' });
  t.is(gate.waiting, 0);
  held();
  t.is(gate.inside, 0);
});

test('slotsWhileBusy below 1 is refused, naming the field', (t) => {
  t.throws(() => new YieldGate(() => true, 0), {
    instanceOf: RangeError,
    message: /slotsWhileBusy must be an integer >= 1/,
  });
});
