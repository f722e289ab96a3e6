// nvdax describe ij|tj NAME: one job in words, like kubectl describe: what it asks for,
// where it runs and how its price was made, its conditions, why pools refused it, the
// GPU time of each attempt, and the recent Events about it.
import type { InferenceJobObject, TrainingJobObject } from '../../operator/api/resources.ts';
import type { Placement } from '../../operator/api/types.gen.ts';
import { resources } from '../../operator/kube/types.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { parseCommandArgs } from '../args.ts';
import type { JobObject } from '../format.ts';
import { age, isoSeconds, orDash, readyText, table } from '../format.ts';
import {
  explainError,
  hubOptions,
  hubOptionsOf,
  objectPhrase,
  openHub,
  resolveType,
  resourceOf,
  typeChoices,
} from '../hub.ts';
import type { Hub, JobKind } from '../hub.ts';
import type { Command } from '../io.ts';

/** A core/v1 Event as the API returns it (events.k8s.io ones too: note → message). */
export interface EventObject extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  note?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  series?: { count?: number; lastObservedTime?: string };
  source?: { component?: string };
  reportingComponent?: string;
  reportingController?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

/** Events shown at most (the newest). */
const maxEvents = 20;

/** `key:   value` lines, values aligned, `indent` before each. */
function fields(pairs: ReadonlyArray<readonly [string, string | undefined]>, indent = ''): string[] {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined && p[1] !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length + 1));
  return shown.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)}  ${v}`);
}

const list = (xs: readonly string[] | undefined, empty: string): string => (xs?.length ? xs.join(', ') : empty);

/** `P = baseRate × latencyFactor × loadFactor + verifierFee = price`, `?` for a part not reported. */
export function quoteFormula(p: Placement): string {
  const q = p.quote;
  if (!q) return p.price === undefined ? '-' : `P = ${p.price}`;
  const v = (s: string | undefined) => s ?? '?';
  return `P = ${v(q.baseRate)} × ${v(q.latencyFactor)} × ${v(q.loadFactor)} + ${v(q.verifierFee)} = ${v(p.price)}`;
}

function specLines(job: JobObject): string[] {
  const s = job.spec;
  const r = s.resources;
  const c = s.confidential;
  let gpus: string;
  let workload: Array<readonly [string, string | undefined]>;
  if (job.kind === 'TrainingJob') {
    const t = (job as TrainingJobObject).spec;
    const workers = t.workers ?? 1;
    gpus = `${r.gpus} per worker × ${workers} worker${workers === 1 ? '' : 's'} (${r.gpus * workers})`;
    workload = [
      [
        'Mode',
        t.federated ? `${t.mode}, ${t.federated.rounds} rounds, ${t.federated.aggregation ?? 'FedAvg'}` : t.mode,
      ],
      ['Model', t.model ? `${t.model.id} (${t.model.hash})` : 'from scratch'],
      ['Dataset', t.dataset?.uri],
      ['Engine', t.runtime.engine],
    ];
  } else {
    const i = (job as InferenceJobObject).spec;
    const scale = i.autoscaling
      ? `${i.autoscaling.minReplicas ?? 1} to ${i.autoscaling.maxReplicas} replicas (autoscaling)`
      : `${i.replicas ?? 1} replica${(i.replicas ?? 1) === 1 ? '' : 's'}`;
    gpus = `${r.gpus} per replica × ${scale}`;
    workload = [
      ['Model', `${i.model.id} (${i.model.hash})`],
      ['Engine', i.runtime.engine],
    ];
  }
  const tier = s.sla.tier ?? 'BestEffort';
  return [
    'Spec:',
    ...fields(
      [
        ...workload,
        ['GPUs', gpus],
        [
          'GPU products',
          list(r.gpuProducts, 'any') + (r.minGpuMemory !== undefined ? `, at least ${r.minGpuMemory} each` : ''),
        ],
        ['Tier', s.sla.maxLatencyMs !== undefined ? `${tier}, p95 latency ≤ ${s.sla.maxLatencyMs} ms` : tier],
        ['Price cap', `${s.sla.priceCap} NVDAx/GPU-hour`],
        ['Max duration', s.sla.maxDuration],
        ['Regions', list(s.sla.regions, 'any')],
        ['Data residency', list(s.sla.dataResidency, 'any')],
        [
          'Confidential',
          c?.required
            ? `required (TEE ${list(c.teeTypes, 'snp or tdx')}; GPU attestation ${c.gpuAttestation === false ? 'off' : 'on'})`
            : 'no',
        ],
        ['Suspended', s.suspend ? 'yes' : undefined],
      ],
      '  ',
    ),
  ];
}

function placementLines(job: JobObject): string[] {
  const p = job.status?.placement;
  if (!p?.pool) return ['Placement:  <none>'];
  const where = [p.cluster && `cluster ${p.cluster}`, p.namespace && `namespace ${p.namespace}`].filter(Boolean);
  const how = [p.mode, p.resourceName].filter(Boolean).join(', ');
  return [
    'Placement:',
    ...fields(
      [
        ['Pool', `${p.pool}${where.length ? ` (${where.join(', ')})` : ''}`],
        ['GPUs', `${orDash(p.gpus)} × ${p.gpuProduct ?? 'unknown product'}${how ? ` (${how})` : ''}`],
        ['TEE', p.teeType ? `${p.teeType}${p.runtimeClass ? `, runtime class ${p.runtimeClass}` : ''}` : undefined],
        ['Runtime class', !p.teeType ? p.runtimeClass : undefined],
        ['Attempt', p.attempt === undefined ? undefined : String(p.attempt)],
        ['Price', `${quoteFormula(p)} NVDAx/GPU-hour`],
        ['Quoted', p.quote?.quotedTime],
        ['Scheduled', p.scheduledTime],
        ['Init data', p.initDataDigest ? `${p.initDataAlgorithm ?? 'sha256'}:${p.initDataDigest}` : undefined],
      ],
      '  ',
    ),
  ];
}

function conditionLines(job: JobObject, now: number): string[] {
  const cs = job.status?.conditions ?? [];
  if (!cs.length) return ['Conditions:  <none>'];
  return [
    'Conditions:',
    table(
      ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
      cs.map((c) => [c.type, c.status, c.reason, age(c.lastTransitionTime, now), c.message]),
      '  ',
    ),
  ];
}

function rejectionLines(job: JobObject): string[] {
  const rs = job.status?.rejections ?? [];
  if (job.status?.placement?.pool || !rs.length) return [];
  return [
    'Rejections:',
    table(
      ['POOL', 'REASON', 'MESSAGE'],
      rs.map((r) => [r.pool, r.reason, orDash(r.message)]),
      '  ',
    ),
  ];
}

function usageLines(job: JobObject): string[] {
  const u = job.status?.usage;
  if (!u) return [];
  const total =
    u.gpuSeconds === undefined ? '-' : `${u.gpuSeconds} GPU-seconds (${(u.gpuSeconds / 3600).toFixed(2)} GPU-hours)`;
  const head = `Usage:  ${total}${u.requests !== undefined ? `, ${u.requests} requests` : ''}`;
  if (!u.attempts?.length) return [head];
  return [
    head,
    table(
      ['ATTEMPT', 'POOL', 'PRICE', 'GPU-SECONDS', 'START', 'END', 'REASON'],
      u.attempts.map((a) => [
        a.attempt,
        orDash(a.pool),
        orDash(a.price),
        orDash(a.gpuSeconds),
        orDash(a.startTime),
        a.endTime ?? 'running',
        orDash(a.endReason),
      ]),
      '  ',
    ),
  ];
}

/** The job's money on chain: task, escrow, what was charged and returned, periods settled, transactions. */
function settlementLines(job: JobObject): string[] {
  const s = job.status?.settlement;
  if (!s) return [];
  const periods =
    s.span !== undefined
      ? `${s.settledPeriods ?? 0} of ${s.span} settled (${s.periodSeconds ?? '?'} s each, from period ${orDash(s.startPeriod)})${s.closed ? ', task closed' : ''}`
      : undefined;
  const out = [
    'Settlement:',
    ...fields(
      [
        ['Task', s.task !== undefined ? `${s.task} (${orDash(s.taskHash)})` : undefined],
        ['Provider', s.provider],
        [
          'Escrowed',
          s.escrowed !== undefined ? `${s.escrowed} NVDAx (cap ${orDash(s.capPerPeriod)} per period)` : undefined,
        ],
        ['Charged', s.charged !== undefined ? `${s.charged} NVDAx` : undefined],
        ['Returned', s.refunded !== undefined ? `${s.refunded} NVDAx` : undefined],
        ['Periods', periods],
        ['Status', s.message],
      ],
      '  ',
    ),
  ];
  if (s.transactions?.length) {
    out.push(
      table(
        ['TYPE', 'AMOUNT', 'BLOCK', 'TRANSACTION'],
        s.transactions.slice(-8).map((t) => [t.type, orDash(t.amount), orDash(t.blockNumber), t.txHash]),
        '  ',
      ),
    );
  }
  return out;
}

function lastSeen(e: EventObject): string | undefined {
  return e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? undefined;
}

function eventLines(events: readonly EventObject[] | string, now: number): string[] {
  if (typeof events === 'string') return [`Events:  <unavailable: ${events}>`];
  if (!events.length) return ['Events:  <none>'];
  const sorted = [...events].sort((a, b) => (lastSeen(a) ?? '').localeCompare(lastSeen(b) ?? '')).slice(-maxEvents);
  return [
    'Events:',
    table(
      ['TYPE', 'REASON', 'AGE', 'FROM', 'MESSAGE'],
      sorted.map((e) => {
        const count = e.series?.count ?? e.count ?? 1;
        const first = e.firstTimestamp ?? e.eventTime ?? undefined;
        const when =
          count > 1 && first ? `${age(lastSeen(e), now)} (x${count} over ${age(first, now)})` : age(lastSeen(e), now);
        const from = e.reportingComponent || e.reportingController || e.source?.component;
        return [orDash(e.type), orDash(e.reason), when, orDash(from), e.message ?? e.note ?? ''];
      }),
      '  ',
    ),
  ];
}

/** The report: header, spec, placement and quote, conditions, rejections, usage, settlement, events (or why they could not be read). */
export function describeJob(job: JobObject, events: readonly EventObject[] | string, now: number): string {
  const m = job.metadata ?? {};
  const st = job.status;
  const extra: Array<readonly [string, string | undefined]> =
    job.kind === 'TrainingJob'
      ? [
          ['Workers ready', readyText(job)],
          ['Progress', (job as TrainingJobObject).status?.progress],
        ]
      : [
          ['Replicas ready', readyText(job)],
          ['Latency p95', (job as InferenceJobObject).status?.latencyMs?.toString().concat(' ms')],
          [
            'Endpoints',
            (job as InferenceJobObject).status?.endpoints?.map((e) => `${e.name} ${e.url}`).join(', ') || undefined,
          ],
        ];
  const out = [
    ...fields([
      ['Name', m.name],
      ['Namespace', m.namespace],
      ['Kind', job.kind],
      [
        'Created',
        m.creationTimestamp ? `${isoSeconds(m.creationTimestamp)} (${age(m.creationTimestamp, now)} ago)` : undefined,
      ],
      ['Phase', st?.phase ?? '<not yet observed>'],
      ['Attempts', String(st?.attempts ?? 0)],
      ...extra,
    ]),
    ...specLines(job),
    ...placementLines(job),
    ...conditionLines(job, now),
    ...rejectionLines(job),
    ...usageLines(job),
    ...settlementLines(job),
    ...participantLines(job),
    ...eventLines(events, now),
  ];
  return out.join('\n');
}

function participantLines(job: JobObject): string[] {
  const ps = job.kind === 'TrainingJob' ? (job as TrainingJobObject).status?.participants : undefined;
  if (!ps?.length) return [];
  return [
    'Participants:',
    table(
      ['INDEX', 'POOL', 'PRICE', 'READY', 'ROUNDS'],
      ps.map((p) => [p.index, orDash(p.pool), orDash(p.price), p.ready ? 'yes' : 'no', orDash(p.roundsCompleted)]),
      '  ',
    ),
  ];
}

/** Core/v1 Events about the job (events.k8s.io ones show there too); a string says why none could be read. */
export async function eventsFor(hub: Hub, job: JobObject): Promise<EventObject[] | string> {
  const m = job.metadata ?? {};
  const selector = [`involvedObject.kind=${job.kind}`, `involvedObject.name=${m.name}`];
  if (m.uid) selector.push(`involvedObject.uid=${m.uid}`);
  try {
    const { items } = await hub.listAll<EventObject>(resources.coreEvents, {
      ...(m.namespace ? { namespace: m.namespace } : {}),
      fieldSelector: selector.join(','),
    });
    return items.filter((e) => !m.uid || !e.involvedObject?.uid || e.involvedObject.uid === m.uid);
  } catch (e) {
    return explainError(e, 'events', hub);
  }
}

const usage = 'nvdax describe ij|tj NAME';

export const describeCommand: Command = {
  name: 'describe',
  summary: 'show one job: spec, placement, conditions, usage, settlement, events',
  usage,
  positionals: '<type> <name>',
  builder: (y) =>
    hubOptions(
      y
        .positional('type', { describe: 'the job kind', type: 'string', choices: typeChoices.jobs })
        .positional('name', { describe: 'the job name', type: 'string' }),
    )
      .example('nvdax describe ij chat', 'why the InferenceJob chat is where it is')
      .epilog('Exit codes: 0 described; 1 the job is not there or the hub cannot be read; 2 wrong arguments.'),
  async run(args, io) {
    const parsed = await parseCommandArgs(describeCommand, args, io);
    if ('code' in parsed) return parsed.code;
    const a = parsed.argv;
    let kind: JobKind;
    try {
      kind = resolveType(a['type'] as string, ['InferenceJob', 'TrainingJob'], typeChoices.jobs);
    } catch (e) {
      io.err(`nvdax describe: ${(e as Error).message}`);
      return 2;
    }
    const name = a['name'] as string;
    let hub: Hub;
    try {
      hub = await openHub(io, hubOptionsOf(a));
    } catch (e) {
      io.err(`nvdax describe: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    try {
      let job: JobObject;
      try {
        job = await hub.get<JobObject>(resourceOf[kind], name, hub.namespace);
      } catch (e) {
        io.err(`nvdax describe: ${explainError(e, objectPhrase(kind, name, hub.namespace), hub)}`);
        return 1;
      }
      job = { ...job, kind } as JobObject;
      io.out(describeJob(job, await eventsFor(hub, job), io.now?.() ?? Date.now()));
      return 0;
    } finally {
      await hub.close();
    }
  },
};
