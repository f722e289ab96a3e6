// The lineage anchor the settler puts on chain (recomputable from status.checkpoints alone, and changed by
// any record, fold or step), the resume point a new attempt is given (the newest record written before it
// was placed, from a lineage that verifies), the byte check a resuming worker does, the resume env it reads,
// and the participant's check of the first round of a resumed attempt.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '../../../operator/training/keys.ts';
import {
  anchorPayload,
  checkResume,
  Lineage,
  LineageError,
  type LineageSnapshot,
  lineageAnchor,
  recordHash,
  resumeFrom,
  signCheckpoint,
} from '../../../operator/training/lineage.ts';
import { FileStore } from '../../../operator/training/store.ts';
import { sha256 } from '../../../operator/training/vector.ts';
import { resumeMismatch } from '../../../provider-runtime/participant/participant.ts';
import { loadResume, resumeFromEnv } from '../../../provider-runtime/participant/resume.ts';

const job = 'team-a/ft';
const key = generateSigningKey();
const t0 = Date.parse('2026-01-01T00:00:00Z');

/** A lineage of checkpoints at the given steps, one a minute from t0, keeping `keep`. */
function lineage(steps: number[], keep = 32): LineageSnapshot {
  const l = new Lineage(job, keep);
  for (const [i, step] of steps.entries()) {
    const r = signCheckpoint(job, key, { step, uri: `s3://ck/${step}`, sha256: sha256(`w${step}`), parent: l.head });
    l.append({ ...r, time: new Date(t0 + i * 60_000 + 500).toISOString() });
  }
  return l.snapshot();
}

test('the anchor is sha256 over the folded part and the head record, and anyone recomputes it', (t) => {
  const s = lineage([10, 20, 30, 40], 2);
  const a = lineageAnchor(s);
  if (!a) return t.fail();
  const head = recordHash(job, s.entries.at(-1)!);
  t.is(a.head, head);
  t.is(a.step, 40);
  t.is(a.records, 4);
  t.is(s.folded.count, 2);
  t.regex(a.anchor, /^0x[0-9a-f]{64}$/);
  t.is(`sha256:${a.anchor.slice(2)}`, sha256(anchorPayload(s, head, 40)));
  t.deepEqual(lineageAnchor(structuredClone(s)), a, 'deterministic');
  t.is(lineageAnchor(lineage([])), undefined, 'nothing to anchor');
  t.is(lineageAnchor(undefined), undefined);
});

test('the anchor changes with any record, the folded hash, and the extent of the lineage', (t) => {
  const s = lineage([10, 20, 30, 40], 2);
  const a = lineageAnchor(s)?.anchor;
  const other = (f: (x: LineageSnapshot) => void) => {
    const x = structuredClone(s);
    f(x);
    return lineageAnchor(x)?.anchor;
  };
  t.not(
    other((x) => (x.entries.at(-1)!.sha256 = sha256('other weights'))),
    a,
    'head content',
  );
  t.not(
    other((x) => (x.entries.at(-1)!.uri = 's3://elsewhere')),
    a,
    'head uri',
  );
  t.not(
    other((x) => (x.folded.accumulator = sha256('x'))),
    a,
    'folded running hash',
  );
  t.not(
    other((x) => (x.folded.count += 1)),
    a,
    'folded count',
  );
  t.not(
    other((x) => x.entries.shift()),
    a,
    'a kept record fewer',
  );
  t.not(lineageAnchor(lineage([10, 20, 30], 2))?.anchor, a, 'a shorter lineage');
  t.not(lineageAnchor(lineage([10, 20, 30, 40], 3))?.anchor, a, 'folded differently');
});

test('resumeFrom: the newest record written no later than the placement (whole seconds)', (t) => {
  const s = lineage([10, 20, 30]); // written at t0+0.5 s, t0+60.5 s, t0+120.5 s
  const at = (ms: number) => resumeFrom(s, ms)?.step;
  t.is(at(Number.POSITIVE_INFINITY), 30);
  t.is(at(t0 + 120_000), 30, 'the same second as the placement counts');
  t.is(at(t0 + 119_999), 20);
  t.is(at(t0 + 60_000), 20);
  t.is(at(t0 + 59_000), 10);
  t.is(at(t0 - 1_000), undefined, 'nothing before');
  const r = resumeFrom(s, t0 + 61_000);
  t.deepEqual(r, { step: 20, uri: 's3://ck/20', sha256: sha256('w20'), parent: recordHash(job, s.entries[1]!) });
  t.is(resumeFrom(undefined), undefined);
  t.is(resumeFrom(lineage([])), undefined);
});

test('resumeFrom refuses a lineage that does not verify', (t) => {
  const s = lineage([10, 20]);
  s.entries[0]!.sha256 = sha256('tampered');
  const e = t.throws(() => resumeFrom(s), { instanceOf: LineageError });
  t.is(e?.reason, 'BadSignature');
  const broken = lineage([10, 20]);
  broken.entries[1]!.parent = sha256('x');
  t.throws(() => resumeFrom(broken), { instanceOf: LineageError });
});

test('checkResume and loadResume: the bytes must hash to the signed record, or the worker refuses them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new FileStore();
  const uri = `file://${dir}/round-00002.ckpt`;
  const bytes = Buffer.from('weights of step 2');
  await store.put(uri, bytes);
  const r = { step: 2, uri, sha256: sha256(bytes), parent: sha256('parent') };
  t.deepEqual(Buffer.from(await loadResume(r, store)), bytes);
  t.deepEqual(Buffer.from(checkResume(r, bytes)), bytes);

  await store.put(uri, Buffer.from('weights of step 2, altered'));
  const bad = await t.throwsAsync(loadResume(r, store), { instanceOf: LineageError });
  t.is(bad?.reason, 'ResumeContentMismatch');
  t.true(bad?.message.includes(uri) && bad.message.includes(r.sha256), bad?.message);
  t.regex(bad?.message ?? '', /refusing to resume/);

  const missing = await t.throwsAsync(loadResume({ ...r, uri: `file://${dir}/none.ckpt` }, store));
  t.is((missing as LineageError).reason, 'ResumeMissing');
});

test('resumeFromEnv: all four NVDAX_RESUME_* or none; malformed values are named', (t) => {
  const env = {
    NVDAX_RESUME_URI: 's3://ck/20',
    NVDAX_RESUME_SHA256: sha256('w20'),
    NVDAX_RESUME_STEP: '20',
    NVDAX_RESUME_PARENT: sha256('p'),
  };
  t.deepEqual(resumeFromEnv(env), { uri: 's3://ck/20', sha256: sha256('w20'), step: 20, parent: sha256('p') });
  t.is(resumeFromEnv({ PATH: '/bin' }), undefined);
  t.throws(() => resumeFromEnv({ ...env, NVDAX_RESUME_PARENT: undefined }), { message: /go together/ });
  t.throws(() => resumeFromEnv({ ...env, NVDAX_RESUME_SHA256: 'abc' }), { message: /NVDAX_RESUME_SHA256/ });
  t.throws(() => resumeFromEnv({ ...env, NVDAX_RESUME_STEP: '-1' }), { message: /NVDAX_RESUME_STEP/ });
});

test('a resumed participant trains only on the round after its checkpoint, from that model', (t) => {
  const r = { step: 3, uri: 'file:///ck/round-00003.ckpt', sha256: sha256('m3'), parent: sha256('p') };
  t.is(resumeMismatch(r, 4, sha256('m3')), undefined);
  t.regex(resumeMismatch(r, 1, sha256('m3')) ?? '', /started round 1; this attempt resumes from step 3/);
  t.regex(resumeMismatch(r, 4, sha256('m0')) ?? '', /not the resume checkpoint file:\/\/\/ck\/round-00003\.ckpt/);
});
