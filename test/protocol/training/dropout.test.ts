// Participants that drop mid-round (their processes end after sharing their keys, before sending the masked
// input) are recovered from while at least minParticipants remain; below that the round fails with a reason.
import test from 'ava';
import { fromSum, sumVectors } from '../../../operator/training/aggregate.ts';
import { federatedRun, type Run } from './fixture.ts';

const drop = (stage: string) => ['--drop-at', `1:${stage}`];

function checkRecovered(t: any, run: Run, dropped: string[]) {
  t.is(run.result.state, 'Succeeded', run.result.message);
  const r1 = run.rounds[0]!;
  t.deepEqual(r1.dropped, dropped);
  t.deepEqual(
    r1.contributors,
    run.ids.filter((id) => !dropped.includes(id)),
  );
  const vs = r1.contributors.map((id) => run.reveals.get(id)!.get(1)!);
  const plain = fromSum(sumVectors(vs, vs[0]!.length)).model;
  const got = run.models.get(1)!;
  const d = got.reduce((m, x, i) => Math.max(m, Math.abs(x - plain[i]!)), 0);
  t.true(d < 1e-6, `recovered sum differs from the survivors' FedAvg by ${d}`);
  // The dropped processes really ended mid-round, after sharing their keys.
  for (const id of dropped) {
    const c = run.children.find((x) => x.id === id)!;
    t.is(c.code, 4);
    t.is(c.result?.outcome, 'Dropped');
    t.true(
      run.received.some(({ from, m }) => from === id && m.shareKeys),
      `${id} shared its keys`,
    );
    t.false(run.received.some(({ from, m }) => from === id && m.maskedInput));
  }
  // The job carried on without them.
  t.deepEqual(run.rounds[1]!.participants, r1.contributors);
}

test.serial('one participant dropping after sharing its keys is recovered from', async (t) => {
  const run = await federatedRun({
    participants: 5,
    aggregation: 'SecureAggregation',
    minParticipants: 3,
    rounds: 2,
    flags: { 2: drop('masked') },
  });
  checkRecovered(t, run, ['p-2']);
});

test.serial('two participants dropping after sharing their keys are recovered from', async (t) => {
  const run = await federatedRun({
    participants: 5,
    aggregation: 'SecureAggregation',
    minParticipants: 3,
    rounds: 2,
    flags: { 1: drop('masked'), 4: drop('masked') },
  });
  checkRecovered(t, run, ['p-1', 'p-4']);
});

test.serial('a participant leaving after its masked input is still counted (its mask seed is rebuilt)', async (t) => {
  const run = await federatedRun({
    participants: 4,
    aggregation: 'SecureAggregation',
    minParticipants: 3,
    rounds: 1,
    flags: { 0: drop('unmask') },
  });
  t.is(run.result.state, 'Succeeded', run.result.message);
  t.deepEqual(run.rounds[0]!.contributors, ['p-0', 'p-1', 'p-2', 'p-3']);
  const vs = run.ids.map((id) => run.reveals.get(id)!.get(1)!);
  const plain = fromSum(sumVectors(vs, vs[0]!.length)).model;
  t.true(run.models.get(1)!.every((x, i) => Math.abs(x - plain[i]!) < 1e-6));
});

test.serial('a round with fewer than minParticipants left fails with a reason', async (t) => {
  const run = await federatedRun({
    participants: 5,
    aggregation: 'SecureAggregation',
    minParticipants: 3,
    rounds: 2,
    flags: { 0: drop('masked'), 1: drop('masked'), 3: drop('masked') },
  });
  t.is(run.result.state, 'Failed');
  t.is(run.result.reason, 'InsufficientParticipants');
  t.regex(run.result.message!, /round 1: 2 participants sent masked inputs within roundTimeout; 3 needed/);
  t.deepEqual(run.rounds, []);
  t.is(run.failures.length, 1);
  t.is(run.failures[0]!.reason, 'InsufficientParticipants');
  // The survivors were told why.
  for (const id of ['p-2', 'p-4']) {
    const c = run.children.find((x) => x.id === id)!;
    t.is(c.result?.outcome, 'InsufficientParticipants');
  }
});
