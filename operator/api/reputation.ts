// What the operator makes of a pool's signed telemetry and of verification (ProviderPool status, written by
// the report intake with its own field manager): latency per tier, the reports kept for the sliding window,
// and incidents (failed attestations, replay mismatches). status.reputation is the score they give
// (operator/scheduling/reputation.ts).
import { IncidentKind, Tier } from './constants.ts';
import { int, list, obj, oneOf, str, time } from './schema.ts';

const ms = (what: string) => int(`${what}, milliseconds.`, { minimum: 0 });

export const tierLatency = obj(
  'TierLatency',
  'Latency of one tier over the reputation window, from the signed telemetry.',
  {
    tier: oneOf('Tier', 'The service tier.', Object.values(Tier)),
    requests: int('Requests served in the window.', { minimum: 0, format: 'int64' }),
    slaViolations: int('Requests over their latency SLA in the window.', { minimum: 0, format: 'int64' }),
    p50Ms: ms('Median latency'),
    p95Ms: ms('95th percentile latency (what LatencyFactor prices)'),
    p99Ms: ms('99th percentile latency'),
  },
  { required: ['tier'] },
);

const reportTier = obj(
  'TelemetryTier',
  'One tier of one report.',
  {
    tier: int('0 BestEffort, 1 Reserved, 2 Premium.', { minimum: 0, maximum: 2 }),
    requests: int('Requests.', { minimum: 0, format: 'int64' }),
    slaViolations: int('Requests over their SLA.', { minimum: 0, format: 'int64' }),
    p50Ms: ms('p50'),
    p95Ms: ms('p95'),
    p99Ms: ms('p99'),
  },
  { required: ['tier'] },
);

const report = obj(
  'TelemetryRecord',
  'A verified telemetry report, kept for the window.',
  {
    sequence: int("The provider's sequence number.", { minimum: 0, format: 'int64' }),
    time: time('When its window ended.'),
    tiers: list('Per tier.', reportTier, { maxItems: 3 }),
  },
  { required: ['sequence', 'time'] },
);

export const telemetryStatus = obj('PoolTelemetry', "The provider's signed telemetry as the hub verified it.", {
  lastSequence: int('Sequence of the newest report accepted; older and repeated ones are refused.', {
    minimum: 0,
    format: 'int64',
  }),
  lastReportTime: time('When the newest accepted report was received.'),
  refused: int('Reports refused (bad signature, unknown provider, stale sequence) since the pool was created.', {
    minimum: 0,
    format: 'int64',
  }),
  reports: list('Reports within the reputation window, newest last (at most 120).', report, { maxItems: 120 }),
});

const incident = obj(
  'PoolIncident',
  'Something verification found against the pool.',
  {
    time: time('When it was found.'),
    kind: oneOf('IncidentKind', 'What it was.', Object.values(IncidentKind)),
    job: str('The job (namespace/name) it concerned.', { maxLength: 317 }),
    message: str('What failed.', { maxLength: 512 }),
  },
  { required: ['time', 'kind'] },
);

export const incidents = list('Incidents within the reputation window, newest last (at most 64).', incident, {
  maxItems: 64,
});
