// A retry of a federated job resumes from the last verified checkpoint end to end: the participant processes
// get the resume point in their environment exactly as the operator's pods do (resumeEnv of what the
// coordinator resumed from), check that the coordinator's first round starts right after it from a model
// hashing to it, and the retry's first checkpoint names it as parent, so the lineage continues unbroken. A
// coordinator that starts elsewhere is refused by every participant (ResumeMismatch) and trains nothing.
import test from 'ava';
import { resumeEnv } from '../../../operator/materialize/training.ts';
import { Lineage, lastVerified, recordHash, verifyLineage } from '../../../operator/training/lineage.ts';
import { FileStore } from '../../../operator/training/store.ts';
import { federatedRun, JOB } from './fixture.ts';

const store = new FileStore();
const load = (uri: string) => store.get(uri);
const envOf = (r: { step: number; uri: string; sha256: string; parent: string }) =>
  Object.fromEntries(resumeEnv(r).map((e) => [e.name, e.value ?? '']));

test.serial(
  'participants told the resume point follow a coordinator that resumes from it, and refuse one that does not',
  async (t) => {
    const base = { participants: 3, aggregation: 'FedAvg' as const, minParticipants: 2, checkpoint: true };
    const first = await federatedRun({ ...base, rounds: 3 });
    t.is(first.result.state, 'Succeeded', first.result.message);
    const lineage = first.result.lineage!;

    // what the operator's federated runner publishes (status.federation.resumedFrom) and the pods get
    const point = await lastVerified(lineage, load);
    const rec = point!.record;
    const resume = { step: rec.step, uri: rec.uri, sha256: rec.sha256, parent: recordHash(JOB, rec) };
    t.is(resume.step, 3);

    const retry = await federatedRun({
      ...base,
      rounds: 5,
      dir: first.dir,
      env: envOf(resume),
      coordinator: { resume: { lineage, load } },
    });
    t.is(retry.result.state, 'Succeeded', retry.result.message);
    t.deepEqual(
      retry.children.map((c) => c.result?.outcome),
      ['Completed', 'Completed', 'Completed'],
    );
    t.deepEqual(
      retry.rounds.map((r) => r.round),
      [4, 5],
    );
    t.is(retry.checkpoints[0]?.parent, resume.parent, 'the first checkpoint of the retry names the resume point');
    t.notThrows(() => verifyLineage(retry.result.lineage!));

    // a coordinator resuming from an older checkpoint than the pods were told
    const older = new Lineage(JOB, lineage.keep, lineage);
    older.rollbackTo(2);
    const wrong = await federatedRun({
      ...base,
      rounds: 5,
      dir: first.dir,
      env: envOf(resume),
      roundTimeoutMs: 5_000,
      coordinator: { resume: { lineage: older.snapshot(), load }, joinTimeoutMs: 5_000 },
    });
    t.is(wrong.result.state, 'Failed');
    t.is(wrong.result.reason, 'InsufficientParticipants');
    for (const c of wrong.children) {
      t.is(c.result?.outcome, 'ResumeMismatch');
      t.regex(c.result?.message ?? '', /started round 3; this attempt resumes from step 3/);
    }
    t.deepEqual(wrong.checkpoints, [], 'no checkpoint from the wrong start');
  },
);
