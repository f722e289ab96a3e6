// A new attempt of a TrainingJob starts from the last verified checkpoint: resumePoint picks it from status
// (Distributed: the newest record written before the attempt was placed; Federated: what the attempt's
// coordinator published), and the builders put it in the pods' env, unchanged as the lineage grows.
import test from 'ava';
import type { TrainingJobSpec, TrainingJobStatus } from '../../../operator/api/types.gen.ts';
import {
  type ContainerEnvVar,
  type JobRef,
  participantObjects,
  type PlacedOn,
  resumeEnv,
  resumePoint,
  trainingObjects,
} from '../../../operator/materialize/index.ts';
import { generateSigningKey } from '../../../operator/training/keys.ts';
import { Lineage, recordHash, signCheckpoint } from '../../../operator/training/lineage.ts';
import { sha256 } from '../../../operator/training/vector.ts';

const ref: JobRef = { kind: 'TrainingJob', namespace: 'research', name: 'ft', uid: 'uid-t' };
const jobKey = 'research/ft';
const spec = (more: Partial<TrainingJobSpec> = {}): TrainingJobSpec => ({
  mode: 'Distributed',
  runtime: { engine: 'PyTorch' },
  workers: 2,
  resources: { gpus: 1 },
  sla: { priceCap: '3' },
  payment: { requester: `0x${'1'.repeat(40)}`, escrowId: `0x${'2'.repeat(64)}` },
  ...more,
});
const on: PlacedOn = { pool: 'p', attempt: 2, mode: 'container', resourceName: 'nvidia.com/gpu', product: 'H100' };
const env = (e: ContainerEnvVar[]) => Object.fromEntries(e.map((x) => [x.name, x.value]));

const key = generateSigningKey();
const lineage = new Lineage(jobKey, 32);
const times = ['2026-01-01T00:01:00.250Z', '2026-01-01T00:02:00.250Z', '2026-01-01T00:09:00.250Z'];
for (const [i, step] of [100, 200, 300].entries()) {
  const r = signCheckpoint(jobKey, key, {
    step,
    uri: `s3://ck/${step}`,
    sha256: sha256(`w${step}`),
    parent: lineage.head,
  });
  lineage.append({ ...r, time: times[i] });
}
const cps = lineage.snapshot();
const status = (attempt: number, scheduledTime: string): TrainingJobStatus => ({
  attempts: attempt,
  placement: { attempt, scheduledTime },
  checkpoints: cps,
});

test('Distributed: attempt 2 resumes from the newest checkpoint recorded before it was placed', (t) => {
  const r = resumePoint(spec(), status(2, '2026-01-01T00:05:00Z'));
  t.deepEqual(r, {
    step: 200,
    uri: 's3://ck/200',
    sha256: sha256('w200'),
    parent: recordHash(jobKey, cps.entries[1]!),
  });
  // the attempt's own later checkpoint (step 300, after its placement) does not move it
  const e = env(trainingObjects(ref, spec(), on, r).job.spec.template.spec.containers[0]!.env ?? []);
  t.is(e['NVDAX_RESUME_URI'], 's3://ck/200');
  t.is(e['NVDAX_RESUME_SHA256'], sha256('w200'));
  t.is(e['NVDAX_RESUME_STEP'], '200');
  t.is(e['NVDAX_RESUME_PARENT'], recordHash(jobKey, cps.entries[1]!));
});

test('Distributed: no resume on the first attempt, without checkpoints, or from a lineage that does not verify', (t) => {
  t.is(resumePoint(spec(), status(1, '2026-01-01T00:30:00Z')), undefined);
  t.is(
    resumePoint(spec(), { attempts: 2, placement: { attempt: 2, scheduledTime: '2026-01-01T00:30:00Z' } }),
    undefined,
  );
  t.is(resumePoint(spec(), status(2, '2025-12-31T00:00:00Z')), undefined, 'every checkpoint is newer');
  const forged = structuredClone(status(2, '2026-01-01T00:30:00Z'));
  forged.checkpoints!.entries![2]!.sha256 = sha256('forged');
  t.is(resumePoint(spec(), forged), undefined);
  const e = env(trainingObjects(ref, spec(), on).job.spec.template.spec.containers[0]!.env ?? []);
  t.false('NVDAX_RESUME_URI' in e);
  t.deepEqual(resumeEnv(undefined), []);
});

test('Federated: participants get what the attempt’s coordinator resumed from, only for that attempt', (t) => {
  const fed = spec({ mode: 'Federated', federated: { rounds: 5 } });
  const resumedFrom = { step: 3, uri: 'file:///ck/a1/round-00003.ckpt', sha256: sha256('m3'), parent: sha256('p') };
  const st: TrainingJobStatus = { placement: { attempt: 2 }, federation: { attempt: 2, resumedFrom } };
  t.deepEqual(resumePoint(fed, st), resumedFrom);
  t.is(resumePoint(fed, { ...st, federation: { attempt: 1, resumedFrom } }), undefined, 'an earlier attempt’s');
  const e = env(
    participantObjects(ref, fed, on, 0, resumePoint(fed, st)).job.spec.template.spec.containers[0]!.env ?? [],
  );
  t.is(e['NVDAX_RESUME_STEP'], '3');
  t.is(e['NVDAX_RESUME_SHA256'], sha256('m3'));
  t.is(e['NVDAX_RESUME_PARENT'], sha256('p'));
});

test('Distributed: the point chosen at placement stays, even once the attempt’s checkpoints fold it out of status', (t) => {
  const chosen = { step: 200, uri: 's3://ck/200', sha256: sha256('w200'), parent: recordHash(jobKey, cps.entries[1]!) };
  // 40 checkpoints of the new attempt: a lineage keeping 32 has folded step 200 away
  const long = new Lineage(jobKey, 32);
  for (const e of cps.entries) long.append(e);
  for (let i = 1; i <= 40; i++) {
    const r = signCheckpoint(jobKey, key, {
      step: 300 + i,
      uri: `s3://ck/${300 + i}`,
      sha256: sha256(`v${i}`),
      parent: long.head,
    });
    long.append({ ...r, time: '2026-01-01T01:00:00Z' });
  }
  const st: TrainingJobStatus = {
    attempts: 2,
    placement: { attempt: 2, scheduledTime: '2026-01-01T00:05:00Z', resumeFrom: chosen },
    checkpoints: long.snapshot(),
  };
  t.false(
    (st.checkpoints?.entries ?? []).some((e) => e.step === 200),
    'step 200 is no longer kept in status',
  );
  t.deepEqual(resumePoint(spec(), st), chosen);
  // without the recorded point the same status gives nothing to resume from: the env would change
  const { resumeFrom: _r, ...bare } = st.placement ?? {};
  t.is(resumePoint(spec(), { ...st, placement: bare }), undefined);
});
