import test from 'ava';
import { generateSigningKey } from '../../../operator/training/keys.ts';
import {
  type CheckpointRecord,
  genesis,
  Lineage,
  LineageError,
  lastVerified,
  recordHash,
  signCheckpoint,
  verifyHistory,
  verifyLineage,
} from '../../../operator/training/lineage.ts';
import { sha256 } from '../../../operator/training/vector.ts';

const JOB = 'team-a/fl';
const key = generateSigningKey();
const content = (step: number) => Buffer.from(`model at step ${step}`);

function chain(steps: number, keep = 3) {
  const l = new Lineage(JOB, keep);
  const history: CheckpointRecord[] = [];
  for (let s = 1; s <= steps; s++) {
    const r = signCheckpoint(JOB, key, { step: s, uri: `file:///ck/${s}`, sha256: sha256(content(s)), parent: l.head });
    l.append(r);
    history.push(r);
  }
  return { l, history };
}

test('the lineage keeps the newest records and folds the rest into a running hash', (t) => {
  const { l, history } = chain(5, 3);
  const s = l.snapshot();
  t.deepEqual(
    s.entries.map((r) => r.step),
    [3, 4, 5],
  );
  t.is(s.folded.count, 2);
  t.is(s.folded.head, recordHash(JOB, history[1]!));
  t.not(s.folded.accumulator, genesis(JOB));
  t.notThrows(() => verifyLineage(s));
  t.notThrows(() => verifyHistory(s, history));
});

test('a tampered content hash breaks the signature', (t) => {
  const { l } = chain(4);
  const s = l.snapshot();
  s.entries[1]!.sha256 = sha256('something else');
  const e = t.throws(() => verifyLineage(s), { instanceOf: LineageError });
  t.is(e.reason, 'BadSignature');
  t.is(e.step, 3);
});

test('a record that does not name its predecessor is a broken lineage', (t) => {
  const { l } = chain(3);
  const s = l.snapshot();
  // Re-signed by the same key (so the signature holds) but pointing elsewhere.
  const bad = signCheckpoint(JOB, key, { ...s.entries[2]!, parent: recordHash(JOB, s.entries[0]!) });
  s.entries[2] = bad;
  t.is(t.throws(() => verifyLineage(s), { instanceOf: LineageError }).reason, 'BrokenLineage');
  const fresh = chain(2).l;
  const orphan = signCheckpoint(JOB, key, { step: 3, uri: 'file:///x', sha256: sha256('x'), parent: sha256('nope') });
  t.is(t.throws(() => fresh.append(orphan), { instanceOf: LineageError }).reason, 'BrokenLineage');
  const back = signCheckpoint(JOB, key, { step: 1, uri: 'file:///x', sha256: sha256('x'), parent: fresh.head });
  t.is(t.throws(() => fresh.append(back), { instanceOf: LineageError }).reason, 'StepNotIncreasing');
});

test('a history that differs in a folded record does not rebuild the running hash', (t) => {
  const { l, history } = chain(5, 2);
  const forged = [...history];
  forged[0] = signCheckpoint(JOB, key, { step: 1, uri: 'file:///other', sha256: sha256('other'), parent: '' });
  // re-link the rest so the forged history is itself a valid chain
  const relinked: CheckpointRecord[] = [forged[0]];
  for (const r of history.slice(1))
    relinked.push(signCheckpoint(JOB, key, { ...r, parent: recordHash(JOB, relinked.at(-1)!) }));
  const e = t.throws(() => verifyHistory(l.snapshot(), relinked), { instanceOf: LineageError });
  t.is(e.reason, 'FoldedHashMismatch');
});

test('resume picks the newest checkpoint whose bytes still match, skipping tampered ones', async (t) => {
  const { l } = chain(4, 3);
  const files = new Map([2, 3, 4].map((s) => [`file:///ck/${s}`, content(s)]));
  files.set('file:///ck/4', Buffer.from('tampered'));
  const p = await lastVerified(l.snapshot(), async (uri) => files.get(uri));
  t.is(p?.record.step, 3);
  t.deepEqual(p?.skipped, [{ step: 4, reason: 'ContentHashMismatch' }]);
  files.delete('file:///ck/3');
  t.is((await lastVerified(l.snapshot(), async (uri) => files.get(uri)))?.record.step, 2);
  // and a broken lineage is refused before any content is read
  const s = l.snapshot();
  s.entries[0]!.parent = sha256('nope');
  await t.throwsAsync(
    lastVerified(s, async () => undefined),
    { instanceOf: LineageError },
  );
});
