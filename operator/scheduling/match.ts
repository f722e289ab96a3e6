// Which ProviderPools may take a job, at what price — pure. Each pool answers with its
// cheapest fitting GPU class, or with the single predicate that refused it (the first
// failing one, kube-scheduler's filters); candidates are ranked by price, then latency,
// then spread. The order and the reasons are listed in docs/placement.md.
import { GpuMode as ApiGpuMode, Tier, type TeeType } from '../api/constants.ts';
import { gpuAttestationRequired } from '../api/confidential.ts';
import type { ProviderPoolObject } from '../api/resources.ts';
import type { ConfidentialRuntime, InferenceJobSpec, ProviderPoolSpec, TrainingJobSpec } from '../api/types.gen.ts';
import type { GpuMode, Tee } from '../fleet/capacity.ts';
import {
  DEFAULT_PRICING,
  formatDecimal,
  parsePrice,
  price,
  type PriceBreakdown,
  type PricingParams,
} from './pricing.ts';
import { residencyAllows } from './residency.ts';
import { cmp } from './snapshot.ts';

/** One kind of GPU a pool offers (product, mode, resource, TEE) and how many are free. */
export interface OfferClass {
  product: string;
  mode: GpuMode;
  resourceName: string;
  /** TEE of the CC-ready nodes (confidential mode); absent: such GPUs take no confidential job. */
  tee?: Tee;
  memoryMiB?: number;
  allocatable: number;
  free: number;
  /** Most GPUs free on one node. */
  largestFreeBlock: number;
}

export interface PoolOffer {
  name: string;
  spec: ProviderPoolSpec;
  /** Pool Ready and its member's caches synced; notReady says why when false. */
  ready: boolean;
  notReady?: string;
  /** With settlement on: why the provider may not take paid work (no active stake on chain). */
  unstaked?: string;
  classes: readonly OfferClass[];
  /** RuntimeClasses present in the member (ProviderPool status.runtimeClasses). */
  runtimeClasses: readonly string[];
  /** GPUs used/total over the whole pool, for LoadFactor. */
  utilization: { used: number; total: number };
  observedLatencyMs?: number;
  /** p95 per tier from the pool's signed telemetry (status.latency); a job's tier's is priced, else the worst. */
  latencyByTier?: Partial<Record<Tier, number>>;
}

/** What a job asks of a pool, from its spec (demandOf). */
export interface Demand {
  tier: Tier;
  pods: number;
  gpusPerPod: number;
  gpuProducts: readonly string[];
  minGpuMemoryMiB?: number;
  confidential: { required: boolean; teeTypes: readonly TeeType[]; gpuAttestation: boolean };
  regions: readonly string[];
  dataResidency: readonly string[];
  maxLatencyMs?: number;
  priceCap: string;
  /**
   * Only pools of this provider (an Ethereum address): the job's task on chain pays it alone, so a failover
   * stays with its pools (set by the scheduler from status.settlement.provider).
   */
  provider?: string;
}

export type MatchReason =
  | 'Excluded'
  | 'PoolNotReady'
  | 'NoActiveStake'
  | 'ProviderMismatch'
  | 'Unschedulable'
  | 'TierNotOffered'
  | 'RegionMismatch'
  | 'ResidencyMismatch'
  | 'NoConfidentialRuntime'
  | 'TeeMismatch'
  | 'GpuAttestationUnavailable'
  | 'ModeMismatch'
  | 'ProductMismatch'
  | 'GpuMemoryTooSmall'
  | 'NoBaseRate'
  | 'InsufficientGpus'
  | 'LatencyTooHigh'
  | 'PriceCapExceeded';

export interface Candidate {
  pool: string;
  cls: OfferClass;
  /** The confidential RuntimeClass the pods run with (confidential jobs only). */
  runtimeClassName?: string;
  quote: PriceBreakdown;
  latencyMs?: number;
}

export interface Rejection {
  pool: string;
  reason: MatchReason;
  message: string;
}

export type MatchResult = { candidates: Candidate[]; rejections: Rejection[] };

const allTiers: readonly Tier[] = [Tier.BestEffort, Tier.Reserved, Tier.Premium];
const MiB = 2n ** 20n;

/**
 * A Kubernetes quantity (resource.Quantity's grammar, integer exponents) as an exact
 * fraction num/den; RangeError naming `field` otherwise. A number is read as its decimal form.
 */
export function parseQuantity(q: number | string, field: string): { num: bigint; den: bigint } {
  const s = typeof q === 'number' ? String(q) : q;
  const m = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([KMGTPE]i)|([numkMGTPE])|[eE]([+-]?[0-9]+))?$/.exec(s);
  if (!m || (typeof q === 'number' && !Number.isFinite(q))) {
    throw new RangeError(`${field} must be a Kubernetes quantity such as 80Gi or 40G: got ${JSON.stringify(q)}`);
  }
  const [, sign, digits = '', binary, decimal, exponent] = m;
  const [int = '', frac = ''] = digits.split('.');
  let num = BigInt(`${int}${frac}` || '0') * (sign === '-' ? -1n : 1n);
  let den = 10n ** BigInt(frac.length);
  let exp10 = 0;
  if (binary) num *= 2n ** (10n * BigInt('KMGTPE'.indexOf(binary[0] ?? '') + 1));
  if (decimal) exp10 = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 }[decimal] ?? 0;
  if (exponent) exp10 = Number(exponent);
  if (Math.abs(exp10) > 1000) throw new RangeError(`${field} is out of range: ${JSON.stringify(q)}`);
  if (exp10 >= 0) num *= 10n ** BigInt(exp10);
  else den *= 10n ** BigInt(-exp10);
  return { num, den };
}

/** Bytes in MiB, rounded up (`ceil`: a minimum) or down (`floor`: what a GPU has); RangeError if negative. */
export function mebibytes(q: number | string, round: 'ceil' | 'floor', field: string): number {
  const { num, den } = parseQuantity(q, field);
  if (num < 0n) throw new RangeError(`${field} must not be negative: got ${JSON.stringify(q)}`);
  const d = den * MiB;
  const mib = round === 'ceil' ? (num + d - 1n) / d : num / d;
  if (mib > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${field} is out of range: ${JSON.stringify(q)}`);
  return Number(mib);
}

/**
 * What a job asks for. Pods: InferenceJob replicas, else autoscaling.minReplicas, at least 1
 * (a scaled-to-zero job is placed with one); TrainingJob Distributed: workers; Federated: 1
 * (one participant; the caller places participants one by one on distinct pools).
 * RangeError on a malformed priceCap or minGpuMemory.
 */
export function demandOf(spec: InferenceJobSpec | TrainingJobSpec, kind: 'InferenceJob' | 'TrainingJob'): Demand {
  const { sla, resources, confidential } = spec;
  let pods: number;
  if (kind === 'InferenceJob') {
    const s = spec as InferenceJobSpec;
    pods = Math.max(1, s.replicas ?? s.autoscaling?.minReplicas ?? 1);
  } else {
    const s = spec as TrainingJobSpec;
    pods = s.mode === 'Federated' ? 1 : Math.max(1, s.workers ?? 1);
  }
  parsePrice(sla.priceCap, 'spec.sla.priceCap');
  const required = confidential?.required === true;
  const demand: Demand = {
    tier: sla.tier ?? Tier.BestEffort,
    pods,
    gpusPerPod: resources.gpus,
    gpuProducts: resources.gpuProducts ?? [],
    confidential: {
      required,
      teeTypes: required ? (confidential?.teeTypes ?? []) : [],
      gpuAttestation: gpuAttestationRequired(confidential),
    },
    regions: sla.regions ?? [],
    dataResidency: sla.dataResidency ?? [],
    priceCap: sla.priceCap,
  };
  if (resources.minGpuMemory !== undefined) {
    demand.minGpuMemoryMiB = mebibytes(resources.minGpuMemory, 'ceil', 'spec.resources.minGpuMemory');
  }
  // sla.maxLatencyMs is InferenceJob only (the schema refuses it on a TrainingJob)
  if (kind === 'InferenceJob' && sla.maxLatencyMs !== undefined) demand.maxLatencyMs = sla.maxLatencyMs;
  return demand;
}

/**
 * A pool's offer from its object. Classes from status.capacity unless given: available →
 * free, gpuMemory → memoryMiB, one class per TEE type when a confidential entry lists several
 * (each with the entry's counts, which the status does not split). Utilization is used/total
 * GPUs over the classes (allocatable − free of allocatable, each status entry once). Ready
 * from status.phase unless given.
 */
export function offerFromPool(
  pool: ProviderPoolObject,
  extra: {
    classes?: readonly OfferClass[];
    ready?: boolean;
    notReady?: string;
    unstaked?: string;
    observedLatencyMs?: number;
  } = {},
): PoolOffer {
  const status = pool.status ?? {};
  let classes: readonly OfferClass[];
  let utilization: { used: number; total: number };
  if (extra.classes) {
    classes = extra.classes;
    utilization = usage(classes);
  } else {
    const entries = (status.capacity ?? []).map((c) => {
      let memoryMiB: number | undefined;
      try {
        if (c.gpuMemory !== undefined) memoryMiB = mebibytes(c.gpuMemory, 'floor', 'gpuMemory');
      } catch {
        memoryMiB = undefined; // status is the operator's own; a bad value just leaves memory unknown
      }
      const base: OfferClass = {
        product: c.gpuProduct,
        mode: c.mode === ApiGpuMode.Confidential ? 'confidential' : 'container',
        resourceName: c.resourceName,
        ...(memoryMiB !== undefined ? { memoryMiB } : {}),
        allocatable: c.allocatable ?? 0,
        free: c.available ?? 0,
        largestFreeBlock: c.largestFreeBlock ?? 0,
      };
      return { base, tees: base.mode === 'confidential' ? [...new Set(c.teeTypes ?? [])].sort(cmp) : [] };
    });
    classes = entries.flatMap(({ base, tees }) => (tees.length ? tees.map((tee) => ({ ...base, tee })) : [base]));
    utilization = usage(entries.map((e) => e.base));
  }
  const ready = extra.ready ?? status.phase === 'Ready';
  const offer: PoolOffer = {
    name: pool.metadata?.name ?? '',
    spec: pool.spec,
    ready,
    classes,
    runtimeClasses: status.runtimeClasses ?? [],
    utilization,
  };
  if (!ready) offer.notReady = extra.notReady ?? `phase ${status.phase ?? 'Pending'}`;
  if (extra.unstaked !== undefined) offer.unstaked = extra.unstaked;
  if (extra.observedLatencyMs !== undefined) offer.observedLatencyMs = extra.observedLatencyMs;
  const lat = status.latency ?? [];
  if (lat.length) offer.latencyByTier = Object.fromEntries(lat.map((l) => [l.tier, l.p95Ms ?? 0]));
  return offer;
}

function usage(classes: readonly OfferClass[]): { used: number; total: number } {
  let used = 0;
  let total = 0;
  for (const c of classes) {
    const alloc = Math.max(0, c.allocatable);
    total += alloc;
    used += Math.max(0, alloc - Math.max(0, c.free));
  }
  return { used, total };
}

const toApiMode = (m: GpuMode) => (m === 'confidential' ? ApiGpuMode.Confidential : ApiGpuMode.Container);
const names = (xs: Iterable<string>) => [...new Set(xs)].sort(cmp).join(', ');

/** A class that passed every class predicate up to the price. */
interface Fit {
  candidate: Candidate;
  price: bigint;
}
/** How far a class got: its stage index and why it stopped. */
interface Stop {
  stage: number;
  reason: MatchReason;
  message: string;
}
/** Stages reached by a class that passes mode, product, memory and base rate (capacity is next). */
const CAPACITY_STAGE = 5;

interface PoolVerdict {
  rejection?: Rejection;
  fit?: Fit;
  /** Classes that pass every predicate before capacity. */
  eligible: OfferClass[];
}

function judge(demand: Demand, offer: PoolOffer, params: PricingParams, cap: bigint, exclude?: string): PoolVerdict {
  const pool = offer.name;
  const no = (reason: MatchReason, message: string): PoolVerdict => ({
    rejection: { pool, reason, message },
    eligible: [],
  });
  const { spec } = offer;
  if (exclude !== undefined) return no('Excluded', exclude);
  if (!offer.ready) return no('PoolNotReady', offer.notReady ?? 'pool not ready');
  if (offer.unstaked !== undefined) return no('NoActiveStake', offer.unstaked);
  if (spec.unschedulable) return no('Unschedulable', 'pool is unschedulable (spec.unschedulable)');
  if (demand.provider !== undefined && spec.provider?.address?.toLowerCase() !== demand.provider.toLowerCase()) {
    return no(
      'ProviderMismatch',
      `provider ${spec.provider?.address ?? 'none'}, the job's open task pays ${demand.provider} only`,
    );
  }
  const tiers = spec.tiers ?? allTiers;
  if (!tiers.includes(demand.tier)) return no('TierNotOffered', `tier ${demand.tier} not offered (${names(tiers)})`);
  if (demand.regions.length && !demand.regions.includes(spec.region)) {
    return no('RegionMismatch', `region ${spec.region} not in ${names(demand.regions)}`);
  }
  if (!residencyAllows(demand.dataResidency, spec.jurisdiction)) {
    return no('ResidencyMismatch', `jurisdiction ${spec.jurisdiction} not in ${names(demand.dataResidency)}`);
  }
  let runtimes: ConfidentialRuntime[] = [];
  const conf = demand.confidential;
  if (conf.required) {
    const declared = spec.confidentialRuntimes ?? [];
    runtimes = declared.filter((r) => offer.runtimeClasses.includes(r.runtimeClassName));
    if (!runtimes.length) {
      return no(
        'NoConfidentialRuntime',
        declared.length
          ? `confidential runtime ${names(declared.map((r) => r.runtimeClassName))} not present in the member cluster`
          : 'offers no confidential runtime',
      );
    }
    if (conf.teeTypes.length) {
      const offered = names(runtimes.map((r) => r.teeType));
      runtimes = runtimes.filter((r) => conf.teeTypes.includes(r.teeType));
      if (!runtimes.length) return no('TeeMismatch', `offers ${offered} not ${names(conf.teeTypes)}`);
    }
    if (conf.gpuAttestation) {
      const attesting = runtimes.filter((r) => r.gpuAttestation !== false);
      if (!attesting.length) {
        return no(
          'GpuAttestationUnavailable',
          `no GPU attestation on ${names(runtimes.map((r) => r.runtimeClassName))}`,
        );
      }
      runtimes = attesting;
    }
  }
  if (!offer.classes.length) return no('InsufficientGpus', 'no GPUs');
  let furthest: Stop | undefined;
  let best: Fit | undefined;
  const eligible: OfferClass[] = [];
  for (const cls of offer.classes) {
    const r = judgeClass(demand, offer, cls, runtimes, params, cap);
    if ('candidate' in r) {
      eligible.push(cls);
      const better = !best || r.price < best.price || (r.price === best.price && cls.free > best.candidate.cls.free);
      if (better) best = r;
      continue;
    }
    if (r.stage >= CAPACITY_STAGE) eligible.push(cls);
    if (!furthest || r.stage > furthest.stage) furthest = r;
  }
  if (best) return { fit: best, eligible };
  const stop = furthest as Stop;
  return { rejection: { pool, reason: stop.reason, message: stop.message }, eligible };
}

function judgeClass(
  demand: Demand,
  offer: PoolOffer,
  cls: OfferClass,
  runtimes: readonly ConfidentialRuntime[],
  params: PricingParams,
  cap: bigint,
): Fit | Stop {
  const stop = (stage: number, reason: MatchReason, message: string): Stop => ({ stage, reason, message });
  let runtime: ConfidentialRuntime | undefined;
  if (demand.confidential.required) {
    if (cls.mode !== 'confidential') return stop(0, 'ModeMismatch', `no confidential GPUs (has ${cls.mode})`);
    if (!cls.tee) return stop(0, 'ModeMismatch', `confidential ${cls.product} GPUs not CC-ready`);
    runtime = runtimes.find((r) => r.teeType === cls.tee);
    if (!runtime) {
      return stop(1, 'TeeMismatch', `GPUs on ${cls.tee} nodes, runtimes for ${names(runtimes.map((r) => r.teeType))}`);
    }
  } else if (cls.mode !== 'container') {
    return stop(0, 'ModeMismatch', `no container GPUs (has ${cls.mode})`);
  }
  if (demand.gpuProducts.length && !demand.gpuProducts.includes(cls.product)) {
    return stop(2, 'ProductMismatch', `${cls.product} not in ${names(demand.gpuProducts)}`);
  }
  const min = demand.minGpuMemoryMiB;
  if (min !== undefined && (cls.memoryMiB === undefined || cls.memoryMiB < min)) {
    const has = cls.memoryMiB === undefined ? 'unknown' : `${cls.memoryMiB}Mi`;
    return stop(3, 'GpuMemoryTooSmall', `${cls.product} memory ${has} below ${min}Mi`);
  }
  const mode = toApiMode(cls.mode);
  const rate = offer.spec.baseRates.find((b) => b.gpuProduct === cls.product && (b.mode ?? 'Container') === mode);
  if (!rate) return stop(4, 'NoBaseRate', `no base rate for ${cls.product} (${mode})`);
  try {
    parsePrice(rate.pricePerGpuHour, `base rate for ${cls.product} (${mode})`);
  } catch (e) {
    return stop(4, 'NoBaseRate', (e as Error).message);
  }
  const need = demand.pods * demand.gpusPerPod;
  if (cls.largestFreeBlock < demand.gpusPerPod) {
    return stop(5, 'InsufficientGpus', `no node with ${demand.gpusPerPod} free ${cls.product}`);
  }
  if (cls.free < need) {
    return stop(5, 'InsufficientGpus', `needs ${demand.pods} × ${demand.gpusPerPod} GPUs, ${cls.free} free`);
  }
  const byTier = offer.latencyByTier;
  const tiered = byTier ? (byTier[demand.tier] ?? Math.max(...Object.values(byTier).map((v) => v ?? 0))) : undefined;
  const observed = tiered ?? offer.observedLatencyMs;
  if (observed !== undefined && demand.maxLatencyMs !== undefined && observed > demand.maxLatencyMs) {
    return stop(6, 'LatencyTooHigh', `p95 latency ${observed}ms above ${demand.maxLatencyMs}ms`);
  }
  let quote: PriceBreakdown;
  try {
    quote = price(
      {
        baseRate: rate.pricePerGpuHour,
        utilization: offer.utilization,
        observedLatencyMs: observed,
        maxLatencyMs: demand.maxLatencyMs,
      },
      params,
    );
  } catch (e) {
    return stop(7, 'PriceCapExceeded', `price not computable (${(e as Error).message})`);
  }
  const p = parsePrice(quote.price, 'price');
  if (p > cap) return stop(7, 'PriceCapExceeded', `price ${quote.price} above cap ${formatDecimal(cap)}`);
  const candidate: Candidate = { pool: offer.name, cls, quote };
  if (runtime) candidate.runtimeClassName = runtime.runtimeClassName;
  if (observed !== undefined) candidate.latencyMs = observed;
  return { candidate, price: p };
}

/**
 * Every pool judged against the demand: at most one candidate per pool (its cheapest fitting
 * class, ties: more free GPUs), ranked by price, latency (known, lower first), free GPUs in the
 * class (more first), pool name; every other pool with its first failing predicate, by pool
 * name. Pools in `exclude` are rejected as Excluded (a Map gives the message per pool).
 */
export function match(
  demand: Demand,
  offers: readonly PoolOffer[],
  params: PricingParams = DEFAULT_PRICING,
  opts: { exclude?: ReadonlySet<string> | ReadonlyMap<string, string> } = {},
): MatchResult {
  const cap = parsePrice(demand.priceCap, 'priceCap');
  const fits: Fit[] = [];
  const rejections: Rejection[] = [];
  for (const offer of offers) {
    const v = judge(demand, offer, params, cap, excluded(opts.exclude, offer.name));
    if (v.fit) fits.push(v.fit);
    else if (v.rejection) rejections.push(v.rejection);
  }
  fits.sort(
    (a, b) =>
      (a.price < b.price ? -1 : a.price > b.price ? 1 : 0) ||
      latencyOrder(a.candidate.latencyMs, b.candidate.latencyMs) ||
      b.candidate.cls.free - a.candidate.cls.free ||
      cmp(a.candidate.pool, b.candidate.pool),
  );
  return { candidates: fits.map((f) => f.candidate), rejections: rejections.sort(byPool) };
}

/**
 * The classes of a pool that pass every predicate before capacity (pool filters, mode, TEE,
 * product, memory, base rate): what a preemption may make room in. Empty when the pool fails
 * before its classes.
 */
export function eligibleClasses(
  demand: Demand,
  offer: PoolOffer,
  params: PricingParams = DEFAULT_PRICING,
): OfferClass[] {
  return judge(demand, offer, params, parsePrice(demand.priceCap, 'priceCap')).eligible;
}

function excluded(set: ReadonlySet<string> | ReadonlyMap<string, string> | undefined, pool: string) {
  if (!set?.has(pool)) return undefined;
  const why = set instanceof Map ? (set.get(pool) as string | undefined) : undefined;
  return why ?? 'excluded (already holds a participant of this job, or lost in an earlier attempt)';
}

function latencyOrder(a: number | undefined, b: number | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return a - b;
}

const byPool = (a: Rejection, b: Rejection) => cmp(a.pool, b.pool) || cmp(a.reason, b.reason);

/**
 * kube-scheduler's summary: `0/3 pools: 2 <message>, 1 <message>`, equal messages counted
 * together, by count (most first) then message.
 */
export function noFitMessage(rejections: readonly Rejection[], totalPools: number): string {
  if (totalPools === 0) return '0/0 pools: no ProviderPool exists';
  const counts = new Map<string, number>();
  for (const r of rejections) counts.set(r.message, (counts.get(r.message) ?? 0) + 1);
  const parts = [...counts].sort(([a, x], [b, y]) => y - x || cmp(a, b)).map(([message, n]) => `${n} ${message}`);
  return `0/${totalPools} pools: ${parts.length ? parts.join(', ') : 'none matched'}`;
}

/** At most `max` rejections, by pool name (then reason), for status.rejections. */
export function boundedRejections(rejections: readonly Rejection[], max = 16): Rejection[] {
  return [...rejections].sort(byPool).slice(0, Math.max(0, max));
}
