// Names, labels and annotations of member objects. Every name is a function of the hub job
// and the attempt only, so a second pass, a restart or a retry of a write finds the object
// it made before instead of creating another one.
import { createHash } from 'node:crypto';
import { slotGroupLabel } from '../scheduling/snapshot.ts';
import type { JobRef } from './common.ts';

export const MANAGED_BY = 'nvdax';

export const labelKeys = {
  managedBy: 'app.kubernetes.io/managed-by',
  jobKind: 'nvdax.io/job-kind',
  jobNamespace: 'nvdax.io/job-namespace',
  jobName: 'nvdax.io/job-name',
  jobUid: 'nvdax.io/job-uid',
  attempt: 'nvdax.io/attempt',
  pool: 'nvdax.io/pool',
  /** Pods only: the workload's name; the snapshot matches pods to reservations by it. */
  slotGroup: slotGroupLabel,
  /** Federated participants: the participant index. */
  participant: 'nvdax.io/participant',
  /** Tenant namespaces: the hub namespace they serve. */
  hubNamespace: 'nvdax.io/hub-namespace',
  /** Pods behind the in-pod confidential gateway: the tenant's gateway policy lets in its port only. */
  gateway: 'nvdax.io/gateway',
} as const;

export const annotationKeys = {
  /** `<namespace>/<name>` of the hub job, exact (label values are cut at 63 characters). */
  job: 'nvdax.io/job',
  /** Tenant namespaces: the hub cluster they belong to, when named. */
  hubCluster: 'nvdax.io/hub-cluster',
  /** Kata: base64 of gzip of the init-data TOML. */
  initData: 'io.katacontainers.config.hypervisor.cc_init_data',
} as const;

/** Longest workload name: 63 (a DNS label, e.g. an Indexed Job pod's hostname) less room for pod suffixes. */
export const MAX_WORKLOAD_NAME = 52;
const MAX_LABEL = 63;

/** First 8 hex digits of sha256(s). */
export const hash8 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);

const dns1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * `base` + `tail` as a DNS-1035 label (which is also a DNS-1123 label and a valid Service name)
 * of at most `max` characters. When `base` had to change (dots or other characters replaced,
 * a leading digit) or be cut, the first 8 hex of sha256(`key`) go before `tail`, so two hub
 * names never map to one member name (`a.b` and `a-b` differ).
 */
function boundedName(base: string, tail: string, max: number, key: string): string {
  let s = base.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (!/^[a-z]/.test(s)) s = `j-${s}`;
  const full = `${s}${tail}`;
  if (s === base && full.length <= max && dns1035.test(full)) return full;
  const room = max - tail.length - 9; // '-' + 8 hex
  const head = s.slice(0, room).replace(/-+$/, '');
  return `${head}-${hash8(key)}${tail}`;
}

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
}

/** The member namespace of a hub namespace: `nvdax-<hubNamespace>`, hash-suffixed when too long. */
export function tenantNamespace(hubNamespace: string): string {
  return boundedName(`nvdax-${hubNamespace}`, '', MAX_LABEL, hubNamespace);
}

/** The Deployment / Job / Service name of a hub job's attempt: `<hubName>-a<attempt>`, at most 52 characters. */
export function workloadName(hubName: string, attempt: number): string {
  checkCount('attempt', attempt);
  return boundedName(hubName, `-a${attempt}`, MAX_WORKLOAD_NAME, hubName);
}

/** A federated participant's workload name: `<hubName>-a<attempt>-p<index>`, at most 52 characters. */
export function participantName(hubName: string, attempt: number, index: number): string {
  checkCount('attempt', attempt);
  checkCount('participant index', index);
  return boundedName(hubName, `-a${attempt}-p${index}`, MAX_WORKLOAD_NAME, hubName);
}

const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** `v` as a label value: as is when valid, else cut (and cleaned) with an 8-hex hash of `v` appended. */
export function labelValue(v: string): string {
  if (v.length <= MAX_LABEL && labelValueRe.test(v)) return v;
  const head = v
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .slice(0, MAX_LABEL - 9)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return head ? `${head}-${hash8(v)}` : hash8(v);
}

/** The labels every member object of the job's attempt carries. */
export function jobLabels(job: JobRef, attempt: number, pool: string): Record<string, string> {
  checkCount('attempt', attempt);
  return {
    [labelKeys.managedBy]: MANAGED_BY,
    [labelKeys.jobKind]: job.kind,
    [labelKeys.jobNamespace]: labelValue(job.namespace),
    [labelKeys.jobName]: labelValue(job.name),
    [labelKeys.jobUid]: labelValue(job.uid),
    [labelKeys.attempt]: String(attempt),
    [labelKeys.pool]: labelValue(pool),
  };
}

/** The hub key `<namespace>/<name>` of a job. */
export const hubKey = (job: Pick<JobRef, 'namespace' | 'name'>): string => `${job.namespace}/${job.name}`;

/** The annotations every member object of the job carries (pods included). */
export function jobAnnotations(job: JobRef): Record<string, string> {
  return { [annotationKeys.job]: hubKey(job) };
}

type Annotated = { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };

/** The hub job (`<namespace>/<name>`) a member object belongs to, from its annotation. */
export function hubKeyOf(obj: Annotated): string | undefined {
  const k = obj.metadata?.annotations?.[annotationKeys.job];
  return k && k.indexOf('/') > 0 ? k : undefined;
}

/** The attempt a member object belongs to. */
export function attemptOf(obj: Annotated): number | undefined {
  const a = obj.metadata?.labels?.[labelKeys.attempt];
  if (a === undefined || !/^(0|[1-9]\d{0,8})$/.test(a)) return undefined;
  return Number(a);
}
