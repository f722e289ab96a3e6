import test from 'ava';
import { age, gpusOf, humanDuration, isoSeconds, jobReason, readyText, table } from '../../../cli/format.ts';
import { parseDuration } from '../../../cli/args.ts';
import { UsageError, resolveType, typeChoices } from '../../../cli/hub.ts';
import { NOW, ago, servingJob, trainingJob, waitingJob } from './fixtures.ts';

test('humanDuration prints ages as kubectl does', (t) => {
  const cases: Array<[number, string]> = [
    [-5_000, '<invalid>'],
    [-1_000, '0s'],
    [0, '0s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [125_000, '2m5s'],
    [600_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3_600_000, '3h'],
    [7 * 3_600_000 + 59 * 60_000, '7h59m'],
    [47 * 3_600_000, '47h'],
    [48 * 3_600_000, '2d'],
    [(7 * 24 + 5) * 3_600_000, '7d5h'],
    [400 * 86_400_000, '400d'],
    [(3 * 365 + 10) * 86_400_000, '3y10d'],
    [10 * 365 * 86_400_000, '10y'],
  ];
  for (const [ms, want] of cases) t.is(humanDuration(ms), want, `${ms} ms`);
  t.is(age(ago(90), NOW), '90s');
  t.is(age(undefined, NOW), '-');
  t.is(age('not a time', NOW), '-');
  t.is(isoSeconds(NOW + 123), '2026-03-01T12:00:00Z');
});

test('table: header, columns three spaces apart, no trailing blanks, one line per row', (t) => {
  const out = table(
    ['NAME', 'MESSAGE', 'X'],
    [
      ['a', 'two\n  lines', ''],
      ['longer-name', 'm', 7],
    ],
    '  ',
  );
  t.is(out, ['  NAME          MESSAGE     X', '  a             two lines', '  longer-name   m           7'].join('\n'));
});

test('job facts: reason while unplaced is the Scheduled one, else Ready; ready counts; GPUs held or asked', (t) => {
  t.is(jobReason(waitingJob()), 'NoMatchingPool');
  t.is(jobReason(servingJob()), 'WorkloadReady');
  t.is(jobReason(trainingJob()), 'WorkloadNotReady');
  const fresh = { ...servingJob(), status: undefined };
  t.is(jobReason(fresh), '');
  t.is(readyText(servingJob()), '2/2');
  t.is(readyText(trainingJob()), '1/3');
  t.is(readyText(fresh), '0/2'); // autoscaling minReplicas
  t.is(gpusOf(servingJob()), 2); // placement.gpus
  t.is(gpusOf(waitingJob()), 8); // 8 per replica × 1
  t.is(gpusOf({ ...trainingJob(), status: {} }), 6); // 2 per worker × 3
});

test('resource types: short names, plurals, singulars, any case; others are named in the error', (t) => {
  const all = ['InferenceJob', 'TrainingJob', 'ProviderPool'] as const;
  t.is(resolveType('ij', all, typeChoices.all), 'InferenceJob');
  t.is(resolveType('TrainingJobs', all, typeChoices.all), 'TrainingJob');
  t.is(resolveType('providerpool', all, typeChoices.all), 'ProviderPool');
  t.is(resolveType('inferencejobs.nvdax.io', all, typeChoices.all), 'InferenceJob');
  const e = t.throws(() => resolveType('pp', ['InferenceJob', 'TrainingJob'], typeChoices.jobs), {
    instanceOf: UsageError,
  });
  t.is(e?.message, 'unknown resource type "pp"; use one of: ij, tj, inferencejobs, trainingjobs');
});

test('durations: units, sums, bare seconds; nonsense is a usage error', (t) => {
  t.is(parseDuration('5m'), 300_000);
  t.is(parseDuration('1h30m'), 5_400_000);
  t.is(parseDuration('250ms'), 250);
  t.is(parseDuration('90'), 90_000);
  t.is(parseDuration('0'), 0);
  t.throws(() => parseDuration('5 minutes'), { instanceOf: UsageError, message: /invalid duration "5 minutes"/ });
  t.throws(() => parseDuration('m'), { instanceOf: UsageError });
});
