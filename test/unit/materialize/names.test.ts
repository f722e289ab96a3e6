import test from 'ava';
import { createHash } from 'node:crypto';
import {
  attemptOf,
  hubKeyOf,
  type JobRef,
  jobAnnotations,
  jobLabels,
  labelValue,
  participantName,
  tenantNamespace,
  workloadName,
} from '../../../operator/materialize/index.ts';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const h8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

// a 253-character DNS subdomain with dots, as hub names may be
const longDotted = `${'llama.serving.'.repeat(17)}${'x'.repeat(253 - 14 * 17)}`;

test('short names are kept as they are', (t) => {
  t.is(tenantNamespace('team-a'), 'nvdax-team-a');
  t.is(workloadName('llama', 3), 'llama-a3');
  t.is(participantName('fl', 2, 7), 'fl-a2-p7');
});

test('a long hub namespace is cut and hash-suffixed to a valid label', (t) => {
  const ns = 'n'.repeat(63);
  const got = tenantNamespace(ns);
  t.is(got.length, 63);
  t.regex(got, dns1123Label);
  t.is(got, `nvdax-${'n'.repeat(48)}-${h8(ns)}`);
  t.is(tenantNamespace(ns), got, 'deterministic');
  t.not(tenantNamespace(`${'n'.repeat(62)}m`), got);
});

test('long dotted hub names give bounded, valid, deterministic workload names', (t) => {
  t.is(longDotted.length, 253);
  const w = workloadName(longDotted, 12);
  t.true(w.length <= 52, w);
  t.regex(w, dns1035Label);
  t.true(w.endsWith(`-${h8(longDotted)}-a12`), w);
  t.is(workloadName(longDotted, 12), w);
  t.not(workloadName(longDotted, 13), w);
  const p = participantName(longDotted, 12, 31);
  t.true(p.length <= 52, p);
  t.regex(p, dns1035Label);
  t.true(p.endsWith(`-${h8(longDotted)}-a12-p31`), p);
  // names differing only after the cut still differ
  t.not(workloadName(`${longDotted.slice(0, 252)}y`, 12), w);
});

test('dots never make two hub names collide', (t) => {
  const dotted = workloadName('a.b', 1);
  t.regex(dotted, dns1035Label);
  t.is(dotted, `a-b-${h8('a.b')}-a1`);
  t.is(workloadName('a-b', 1), 'a-b-a1');
});

test('a hub name starting with a digit still gives a Service-valid name', (t) => {
  const w = workloadName('1st-model', 1);
  t.regex(w, dns1035Label);
  t.is(w, `j-1st-model-${h8('1st-model')}-a1`);
});

test('bad attempts and indexes are refused', (t) => {
  t.throws(() => workloadName('x', -1), { instanceOf: RangeError });
  t.throws(() => workloadName('x', 1.5), { instanceOf: RangeError });
  t.throws(() => participantName('x', 1, -2), { instanceOf: RangeError });
});

const job: JobRef = {
  kind: 'InferenceJob',
  namespace: 'team-a',
  name: 'llama',
  uid: '0f9c2a4e-1111-4222-8333-444455556666',
};

test('job labels name the job, attempt and pool', (t) => {
  t.deepEqual(jobLabels(job, 4, 'pool-eu'), {
    'app.kubernetes.io/managed-by': 'nvdax',
    'nvdax.io/job-kind': 'InferenceJob',
    'nvdax.io/job-namespace': 'team-a',
    'nvdax.io/job-name': 'llama',
    'nvdax.io/job-uid': '0f9c2a4e-1111-4222-8333-444455556666',
    'nvdax.io/attempt': '4',
    'nvdax.io/pool': 'pool-eu',
  });
});

test('labels of a long hub name are label-safe, and the hub key round-trips through the annotation', (t) => {
  const long: JobRef = { ...job, kind: 'TrainingJob', name: longDotted };
  const labels = jobLabels(long, 2, `pool.${'p'.repeat(100)}`);
  for (const [k, v] of Object.entries(labels)) {
    t.true(v.length <= 63, k);
    t.regex(v, labelValueRe, k);
  }
  t.is(labels['nvdax.io/job-name'], labelValue(longDotted));
  t.true(labels['nvdax.io/job-name']!.endsWith(`-${h8(longDotted)}`));
  const obj = { metadata: { labels, annotations: jobAnnotations(long) } };
  t.is(hubKeyOf(obj), `team-a/${longDotted}`);
  t.is(attemptOf(obj), 2);
});

test('hubKeyOf and attemptOf return undefined for foreign objects', (t) => {
  t.is(hubKeyOf({}), undefined);
  t.is(hubKeyOf({ metadata: { annotations: { 'nvdax.io/job': 'no-slash' } } }), undefined);
  t.is(attemptOf({ metadata: { labels: { 'nvdax.io/attempt': 'x1' } } }), undefined);
  t.is(attemptOf({ metadata: { labels: { 'nvdax.io/attempt': '-1' } } }), undefined);
  t.is(attemptOf({ metadata: { labels: { 'nvdax.io/attempt': '0' } } }), 0);
});
