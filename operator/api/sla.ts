// The service level a requester buys. One schema for both job kinds: fields that make
// sense for one kind only (maxLatencyMs) are refused on the other by a CEL rule, so the
// error explains why instead of calling the field unknown.
import { Tier } from './constants.ts';
import { patterns } from './patterns.ts';
import { int, list, obj, oneOf, str } from './schema.ts';
import type { Schema } from './schema.ts';

/** A positive NVDAx amount; the pattern admits "0", the rule refuses it with a clear message. */
export function positivePrice(description: string): Schema {
  return str(description, {
    pattern: patterns.price,
    rules: [{ rule: "!self.matches('^0([.]0+)?$')", message: 'must be greater than 0' }],
  });
}

/** A duration where zero makes no sense; the pattern admits "0s", the rule refuses it with a clear message. */
export function positiveDuration(description: string, dflt?: string): Schema {
  return str(description, {
    pattern: patterns.duration,
    ...(dflt !== undefined ? { default: dflt } : {}),
    rules: [{ rule: "duration(self) > duration('0s')", message: 'must be greater than 0' }],
  });
}

export const sla: Schema = obj(
  'SLA',
  'Service level: tier, latency and price limits, and where the job may run.',
  {
    tier: oneOf(
      'Tier',
      'Service tier. BestEffort: cheapest, may be preempted by higher tiers. Reserved: capacity held for the job, ' +
        'not preempted. Premium: Reserved plus a latency guarantee (needs maxLatencyMs) and a higher provider stake at risk.',
      Object.values(Tier),
      Tier.BestEffort,
    ),
    maxLatencyMs: int(
      'InferenceJob only: the p95 request latency, in milliseconds, the pool must sustain. Pools whose measured ' +
        'latency exceeds it are not chosen, and a breach counts against the provider.',
      { minimum: 1, maximum: 600000 },
    ),
    maxDuration: positiveDuration(
      'Longest the job may run (e.g. 2h, 30m); it is stopped and settled when reached. Unset: no limit. Once the ' +
        'job has been placed it may only grow or be removed.',
    ),
    priceCap: positivePrice(
      'Highest price accepted, in NVDAx per GPU-hour, as a decimal string (e.g. "2.5"). A pool is chosen only if ' +
        'its quoted price, P = BaseRate x LatencyFactor x LoadFactor + VerifierFee, is at most this.',
    ),
    regions: list(
      'Regions the job may be placed in (pool spec.region, e.g. eu-west). Empty: any region.',
      str('A region name.', { pattern: patterns.region }),
      { maxItems: 16, listType: 'set' },
    ),
    dataResidency: list(
      'Jurisdictions where the workload and its data may be processed: ISO 3166-1 alpha-2 country codes, or EU for ' +
        'any EU member state. A pool qualifies only if its spec.jurisdiction is listed. Empty: no restriction.',
      str('A country code (ISO 3166-1 alpha-2) or EU.', { pattern: patterns.country }),
      { maxItems: 32, listType: 'set' },
    ),
  },
  { required: ['priceCap'] },
);
