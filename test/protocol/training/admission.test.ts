// Only attested participants join: evidence from an attester the coordinator does not trust is refused before
// the participant sees a model, and the job runs with the others.
import test from 'ava';
import { federatedRun } from './fixture.ts';

test('an unattested participant is refused and the round runs without it', async (t) => {
  const run = await federatedRun({
    participants: 4,
    aggregation: 'FedAvg',
    minParticipants: 3,
    rounds: 1,
    untrusted: [3],
  });
  t.is(run.result.state, 'Succeeded', run.result.message);
  const refused = run.events.find((e) => e.type === 'Refused');
  t.like(refused, { type: 'Refused', participant: 'p-3', reason: 'AttestationFailed' });
  t.regex((refused as { message: string }).message, /ear/);
  t.deepEqual(
    run.events
      .filter((e) => e.type === 'Admitted')
      .map((e) => e.participant)
      .sort(),
    ['p-0', 'p-1', 'p-2'],
  );
  t.deepEqual(run.rounds[0]!.participants, ['p-0', 'p-1', 'p-2']);
  const c = run.children.find((x) => x.id === 'p-3')!;
  t.is(c.code, 3);
  t.is(c.result?.outcome, 'Refused');
  t.regex(c.result!.message, /^AttestationFailed: /);
  // It never got to train: it sent nothing but hello and its evidence.
  t.false(run.reveals.has('p-3'));
  t.false(run.received.some(({ from, m }) => from === 'p-3' && m.body !== 'attest' && m.body !== 'hello'));
});

test('participants check their peers’ evidence: a member the coordinator let in without attestation gets no secrets', async (t) => {
  // A compromised coordinator: it admits anyone, here a participant whose evidence no trusted attester issued.
  const run = await federatedRun({
    participants: 4,
    aggregation: 'SecureAggregation',
    minParticipants: 3,
    rounds: 1,
    untrusted: [3],
    coordinator: {
      expectedParticipants: 4,
      admit: async () => ({ evidenceHash: '0x00', message: 'admitted without checking' }),
    },
  });
  t.is(run.result.state, 'Failed');
  t.is(run.result.reason, 'InsufficientParticipants');
  for (const id of ['p-0', 'p-1', 'p-2']) {
    const c = run.children.find((x) => x.id === id)!;
    t.is(c.result?.outcome, 'UnattestedPeer', id);
    t.regex(c.result!.message, /^p-3: /);
  }
  // No honest participant shared its secrets.
  t.false(run.received.some(({ from, m }) => from !== 'p-3' && m.shareKeys));
});
