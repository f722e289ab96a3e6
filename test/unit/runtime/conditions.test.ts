import test from 'ava';
import {
  conditionsEqual,
  findCondition,
  isConditionTrue,
  removeCondition,
  setCondition,
} from '../../../operator/runtime/conditions.ts';

const t0 = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
const t1 = t0 + 60_000;

test('a new condition gets the current time, without milliseconds', (t) => {
  const cs = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending', observedGeneration: 1 }, t0);
  t.deepEqual(cs, [
    {
      type: 'Ready',
      status: 'False',
      reason: 'Pending',
      message: '',
      lastTransitionTime: '2026-01-01T12:00:00Z',
      observedGeneration: 1,
    },
  ]);
});

test('lastTransitionTime stays when the status does not change, but reason, message and generation update', (t) => {
  const a = setCondition(
    [],
    { type: 'Ready', status: 'False', reason: 'Pending', message: 'x', observedGeneration: 1 },
    t0,
  );
  const b = setCondition(
    a,
    { type: 'Ready', status: 'False', reason: 'NoCapacity', message: 'y', observedGeneration: 2 },
    t1,
  );
  t.is(findCondition(b, 'Ready')?.lastTransitionTime, '2026-01-01T12:00:00Z');
  t.is(findCondition(b, 'Ready')?.reason, 'NoCapacity');
  t.is(findCondition(b, 'Ready')?.message, 'y');
  t.is(findCondition(b, 'Ready')?.observedGeneration, 2);
});

test('lastTransitionTime moves when the status changes', (t) => {
  const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending' }, t0);
  const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Placed' }, t1);
  t.is(findCondition(b, 'Ready')?.lastTransitionTime, '2026-01-01T12:01:00Z');
  t.true(isConditionTrue(b, 'Ready'));
});

test('setCondition is pure and keeps the other conditions in place', (t) => {
  const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending' }, t0);
  const b = setCondition(a, { type: 'Degraded', status: 'False', reason: 'AsExpected' }, t0);
  const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Placed' }, t1);
  t.is(a.length, 1);
  t.false(isConditionTrue(b, 'Ready'));
  t.deepEqual(
    c.map((x) => x.type),
    ['Ready', 'Degraded'],
  );
  t.deepEqual(
    removeCondition(c, 'Ready').map((x) => x.type),
    ['Degraded'],
  );
});

test('malformed reasons and types are refused', (t) => {
  t.throws(() => setCondition([], { type: 'Ready', status: 'True', reason: 'not pascal case' }, t0), {
    instanceOf: TypeError,
  });
  t.throws(() => setCondition([], { type: 'Ready', status: 'True', reason: '' }, t0), { instanceOf: TypeError });
  t.throws(() => setCondition([], { type: 'bad type!', status: 'True', reason: 'Ok' }, t0), { instanceOf: TypeError });
  t.notThrows(() => setCondition([], { type: 'nvdax.io/Attested', status: 'True', reason: 'TokenVerified' }, t0));
});

test('conditionsEqual ignores order and detects any field change', (t) => {
  const a = setCondition(
    setCondition([], { type: 'A', status: 'True', reason: 'R' }, t0),
    { type: 'B', status: 'False', reason: 'S' },
    t0,
  );
  const b = [...a].reverse();
  t.true(conditionsEqual(a, b));
  t.false(conditionsEqual(a, setCondition(a, { type: 'A', status: 'True', reason: 'R', message: 'changed' }, t0)));
  t.true(conditionsEqual(undefined, []));
});
