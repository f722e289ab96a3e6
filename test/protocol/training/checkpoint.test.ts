// Checkpoint provenance over the protocol: each round's checkpoint is written and signed by an attested
// participant and checked by the coordinator against the aggregate it computed; the bounded lineage verifies
// and rebuilds; a tampered report, a tampered file or a broken lineage is caught; a retry resumes from the
// last verified checkpoint.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { LineageError, recordHash, verifyHistory, verifyLineage } from '../../../operator/training/lineage.ts';
import { FileStore } from '../../../operator/training/store.ts';
import { sha256 } from '../../../operator/training/vector.ts';
import { federatedRun, JOB } from './fixture.ts';

const store = new FileStore();

test.serial(
  'checkpoints are signed, match the aggregate, form a bounded lineage, and a retry resumes from the last verified one',
  async (t) => {
    const first = await federatedRun({
      participants: 3,
      aggregation: 'FedAvg',
      minParticipants: 2,
      rounds: 4,
      checkpoint: true,
    });
    t.is(first.result.state, 'Succeeded', first.result.message);
    t.deepEqual(
      first.checkpoints.map((c) => c.step),
      [1, 2, 3, 4],
    );
    const admitted = new Map(
      first.events.flatMap((e) => (e.type === 'Admitted' ? [[e.participant, e.evidenceHash] as const] : [])),
    );
    for (const c of first.checkpoints) {
      const round = first.rounds.find((r) => r.round === c.step)!;
      t.is(c.sha256, round.aggregateHash);
      t.is(sha256((await store.get(c.uri))!), c.sha256);
      t.true([...admitted.values()].includes(c.evidenceHash!), 'signed by an admitted participant');
    }
    const lineage = first.result.lineage!;
    t.is(lineage.entries.length, 3);
    t.is(lineage.folded.count, 1);
    t.notThrows(() => verifyLineage(lineage));
    t.notThrows(() => verifyHistory(lineage, first.checkpoints));

    // Tamper with the newest checkpoint's bytes; the retry skips it and resumes from round 3.
    const newest = lineage.entries.at(-1)!;
    const path = store.path(newest.uri);
    const bytes = readFileSync(path);
    bytes.writeDoubleLE(bytes.readDoubleLE(0) + 1, 0);
    writeFileSync(path, bytes);
    const retry = await federatedRun({
      participants: 3,
      aggregation: 'FedAvg',
      minParticipants: 2,
      rounds: 6,
      checkpoint: true,
      dir: first.dir,
      coordinator: { resume: { lineage, load: (uri) => store.get(uri) } },
    });
    t.is(retry.result.state, 'Succeeded', retry.result.message);
    t.deepEqual(retry.result.resumedFrom, { step: 3, skipped: [{ step: 4, reason: 'ContentHashMismatch' }] });
    t.deepEqual(
      retry.rounds.map((r) => r.round),
      [4, 5, 6],
    );
    const step3 = lineage.entries.find((e) => e.step === 3)!;
    t.is(retry.checkpoints[0]!.parent, recordHash(JOB, step3));
    t.notThrows(() => verifyLineage(retry.result.lineage!));
    t.deepEqual(
      retry.result.lineage!.entries.map((e) => e.step),
      [4, 5, 6],
    );
    t.is(retry.result.lineage!.folded.count, 3);

    // A broken lineage (a checkpoint cut out of it) is refused outright.
    const broken = structuredClone(lineage);
    broken.entries.splice(1, 1);
    const e = await t.throwsAsync(
      federatedRun({
        participants: 2,
        aggregation: 'FedAvg',
        minParticipants: 2,
        rounds: 5,
        checkpoint: true,
        dir: first.dir,
        coordinator: { resume: { lineage: broken, load: (uri) => store.get(uri) }, joinTimeoutMs: 2000 },
      }),
      { instanceOf: LineageError },
    );
    t.is(e.reason, 'BrokenLineage');
  },
);

test.serial(
  'a checkpoint report whose hash is not the aggregate is rejected and kept out of the lineage',
  async (t) => {
    const run = await federatedRun({
      participants: 3,
      aggregation: 'FedAvg',
      minParticipants: 2,
      rounds: 2,
      checkpoint: true,
      // p-0 is the first contributor, so it is asked to write every checkpoint.
      flags: { 0: ['--tamper-checkpoint'] },
    });
    t.is(run.result.state, 'Succeeded', run.result.message);
    t.deepEqual(
      run.rejected.map((r) => [r.round, r.participant, r.reason]),
      [
        [1, 'p-0', 'ContentHashMismatch'],
        [2, 'p-0', 'ContentHashMismatch'],
      ],
    );
    t.deepEqual(run.checkpoints, []);
    t.deepEqual(run.result.lineage!.entries, []);
    t.true(readFileSync(join(run.dir, 'ckpt', 'round-00001.ckpt')).length > 0, 'it did write the file');
  },
);
