// nvdax watch ij|tj NAME: follow a job through Pending → Scheduled → Running (→ Succeeded
// or Failed) on a real watch of that one object, reconnecting as kubectl does (resume at
// the last resourceVersion; re-read the object when the server says 410 Gone). On a
// terminal a progress display (cli-progress); piped, one line per change.
import cliProgress from 'cli-progress';
import type { InferenceJobObject } from '../../operator/api/resources.ts';
import type { Condition } from '../../operator/api/types.gen.ts';
import { parseCommandArgs, parseDuration } from '../args.ts';
import type { JobObject } from '../format.ts';
import { conditionOf, humanDuration, isoSeconds, keyOf, orDash } from '../format.ts';
import {
  UsageError,
  explainError,
  hubOptions,
  hubOptionsOf,
  kubeReason,
  objectPhrase,
  openHub,
  resolveType,
  resourceOf,
  typeChoices,
} from '../hub.ts';
import type { Hub, JobKind } from '../hub.ts';
import type { Command, Io } from '../io.ts';

/** Condition types in lifecycle order: the order lines are printed in when several change at once. */
const lifecycle = ['Escrowed', 'Scheduled', 'Preempted', 'Attested', 'Ready', 'Complete', 'Failed'];

/** The condition that says most about the phase the job is in. */
export function summaryCondition(job: JobObject): Condition | undefined {
  const c = (t: string) => conditionOf(job, t);
  switch (job.status?.phase) {
    case 'Failed':
      return c('Failed') ?? c('Ready');
    case 'Succeeded':
      return c('Complete') ?? c('Ready');
    case 'Running':
      return c('Ready');
    case 'Scheduled':
      return c('Ready') ?? c('Scheduled');
    case 'Suspended':
      return c('Ready') ?? c('Scheduled');
    default:
      return c('Scheduled') ?? c('Escrowed') ?? c('Preempted');
  }
}

function line(now: number, job: JobObject, c: Condition | undefined): string {
  const head = `${isoSeconds(now)} ${job.status?.phase ?? 'Pending'}`;
  if (!c) return job.status ? head : `${head} (not yet seen by the operator)`;
  return c.message ? `${head} ${c.reason}: ${c.message}` : `${head} ${c.reason}`;
}

const same = (a: Condition | undefined, b: Condition): boolean =>
  a !== undefined && a.status === b.status && a.reason === b.reason && a.message === b.message;

/**
 * The lines for a change, `<time> <phase> <condition reason>: <message>`: the first sight
 * gives one line (the condition that explains the phase); later, one line per condition
 * that changed status, reason or message, in lifecycle order, or one for a bare phase change.
 */
export function watchLines(prev: JobObject | undefined, next: JobObject, now: number): string[] {
  if (!prev) return [line(now, next, summaryCondition(next))];
  const rank = (t: string) => (lifecycle.indexOf(t) + lifecycle.length + 1) % (lifecycle.length + 1);
  const changed = (next.status?.conditions ?? [])
    .filter((c) => !same(conditionOf(prev, c.type), c))
    .sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type));
  if (changed.length) return changed.map((c) => line(now, next, c));
  if (prev.status?.phase !== next.status?.phase) return [line(now, next, summaryCondition(next))];
  return [];
}

export type Outcome = 'succeeded' | 'failed';

/** Done watching? InferenceJob: Running with Ready=True; TrainingJob: Succeeded; either: Failed. */
export function outcomeOf(job: JobObject): Outcome | undefined {
  const phase = job.status?.phase;
  if (phase === 'Failed') return 'failed';
  if (phase === 'Succeeded') return 'succeeded';
  if (job.kind !== 'TrainingJob' && phase === 'Running' && conditionOf(job, 'Ready')?.status === 'True') {
    return 'succeeded';
  }
  return undefined;
}

export interface Progress {
  /** Stages reached, 0…total. */
  value: number;
  total: number;
  /** The phase, or Ready once an InferenceJob serves. */
  stage: string;
  /** `reason: message` of the condition that explains the stage. */
  detail: string;
}

/** Stages: Pending, Scheduled, Running, then Ready (InferenceJob) or Succeeded (TrainingJob). */
export function progressOf(job: JobObject): Progress {
  const phase = job.status?.phase ?? 'Pending';
  const placed = conditionOf(job, 'Scheduled')?.status === 'True';
  const ready = conditionOf(job, 'Ready')?.status === 'True';
  let value: number;
  if (outcomeOf(job) === 'succeeded') value = 3;
  else if (phase === 'Running') value = 2;
  else if (phase === 'Scheduled') value = 1;
  else if (phase === 'Pending' || phase === 'Suspended') value = 0;
  else value = ready ? 2 : placed ? 1 : 0; // Failed: as far as it got
  const stage = job.kind !== 'TrainingJob' && value === 3 && phase === 'Running' ? 'Ready' : phase;
  const c = summaryCondition(job);
  return { value, total: 3, stage, detail: c ? `${c.reason}${c.message ? `: ${c.message}` : ''}` : '' };
}

/** The last line: how it ended. */
export function finalLine(job: JobObject, outcome: Outcome): string {
  const p = job.status?.placement;
  const where = p?.pool ? ` on ${p.pool}${p.price ? ` at ${p.price} NVDAx/GPU-hour` : ''}` : '';
  const what = `${job.kind} ${keyOf(job)}`;
  if (outcome === 'failed') {
    const c = summaryCondition(job);
    return `${what} failed${c ? `: ${c.reason}${c.message ? `: ${c.message}` : ''}` : ''}`;
  }
  if (job.status?.phase === 'Succeeded') return `${what} succeeded${where}`;
  const ready = (job as InferenceJobObject).status?.readyReplicas;
  return `${what} is running and ready${where}${ready !== undefined ? ` (${ready} replicas ready)` : ''}`;
}

export interface FollowOptions {
  kind: JobKind;
  name: string;
  namespace: string;
  /** Aborting ends the follow with 'aborted' (the timeout). */
  signal: AbortSignal;
  /** Each version of the object as it is seen; true stops following ('done'). */
  onObject(job: JobObject): boolean;
  /** A watch broke and is being reopened. */
  onReconnect?(why: string): void;
  /** Wait before reopening after the n-th failure in a row, ms (default 0.5 s doubling to 8 s). */
  backoffMs?(n: number): number;
  /** Server-side length of one watch, s (default 300). */
  watchSeconds?: number;
}

export type FollowEnd = 'done' | 'deleted' | 'aborted';

/** Reasons retrying cannot fix: stop and say so. */
const fatal = new Set(['Forbidden', 'Unauthorized', 'BadRequest', 'Invalid', 'MethodNotAllowed', 'NotFound', 'Closed']);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Reads the job, then watches it (fieldSelector metadata.name=NAME) from that version on,
 * reopening the watch when the server ends it or it breaks, until onObject says done, the
 * job is deleted, or the signal aborts. A NotFound at the start throws.
 */
export async function follow(hub: Hub, o: FollowOptions): Promise<FollowEnd> {
  const res = resourceOf[o.kind];
  const withKind = (j: JobObject): JobObject => ({ ...j, kind: o.kind }) as JobObject;
  const read = async (): Promise<JobObject | 'aborted'> => {
    try {
      return withKind(await hub.get<JobObject>(res, o.name, o.namespace, o.signal));
    } catch (e) {
      if (o.signal.aborted) return 'aborted';
      throw e;
    }
  };
  const first = await read();
  if (first === 'aborted') return 'aborted';
  if (o.onObject(first)) return 'done';
  let rv = first.metadata?.resourceVersion;
  let failures = 0;
  while (!o.signal.aborted) {
    let events = 0;
    try {
      for await (const ev of hub.watch<JobObject>(res, {
        namespace: o.namespace,
        fieldSelector: `metadata.name=${o.name}`,
        ...(rv ? { resourceVersion: rv } : {}),
        timeoutSeconds: o.watchSeconds ?? 300,
        signal: o.signal,
      })) {
        events++;
        failures = 0;
        rv = ev.object.metadata?.resourceVersion ?? rv;
        if (ev.type === 'BOOKMARK') continue;
        if (ev.type === 'DELETED') return 'deleted';
        if (o.onObject(withKind(ev.object))) return 'done';
      }
      if (events > 0 || o.signal.aborted) continue; // the server ended the watch: reopen at once
      failures++; // ended at once with nothing: do not spin
      await sleep(o.backoffMs?.(failures) ?? Math.min(8000, 500 * 2 ** (failures - 1)), o.signal);
    } catch (e) {
      if (o.signal.aborted) break;
      const reason = kubeReason(e);
      if (reason === 'Gone') {
        // our resourceVersion is too old: read the object again and watch from there
        let again: JobObject | 'aborted';
        try {
          again = await read();
        } catch (e2) {
          if (kubeReason(e2) === 'NotFound') return 'deleted';
          throw e2;
        }
        if (again === 'aborted') break;
        if (o.onObject(again)) return 'done';
        rv = again.metadata?.resourceVersion;
        continue;
      }
      if (reason !== undefined && fatal.has(reason)) throw e;
      failures++;
      o.onReconnect?.(e instanceof Error ? e.message : String(e));
      await sleep(o.backoffMs?.(failures) ?? Math.min(8000, 500 * 2 ** (failures - 1)), o.signal);
    }
  }
  return 'aborted';
}

/** Draws the stages on a terminal: a bar and the current reason; changes scroll above it. */
class StageDisplay {
  readonly #multi: cliProgress.MultiBar;
  readonly #bar: cliProgress.SingleBar;

  constructor(stream: NodeJS.WritableStream, label: string) {
    this.#multi = new cliProgress.MultiBar(
      {
        stream,
        format: `${label} {bar} {stage} ({value}/{total}) {detail}`,
        barsize: 24,
        hideCursor: false,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.#bar = this.#multi.create(3, 0, { stage: 'Pending', detail: '' });
  }

  show(job: JobObject, lines: string[]): void {
    for (const l of lines) this.#multi.log(`${l}\n`);
    const p = progressOf(job);
    this.#bar.update(p.value, { stage: p.stage, detail: p.detail });
    this.#multi.update(); // draw now: logged lines wait for a redraw
  }

  /** A line above the display. */
  note(line: string): void {
    this.#multi.log(`${line}\n`);
    this.#multi.update();
  }

  stop(): void {
    this.#multi.update();
    this.#multi.stop();
  }
}

const usage = 'nvdax watch ij|tj NAME [--timeout 5m]';

export const watchCommand: Command = {
  name: 'watch',
  summary: 'follow a job: Pending → Scheduled → Running (→ Succeeded/Failed)',
  usage,
  positionals: '<type> <name>',
  builder: (y) =>
    hubOptions(
      y
        .positional('type', { describe: 'the job kind', type: 'string', choices: typeChoices.jobs })
        .positional('name', { describe: 'the job name', type: 'string' })
        .option('timeout', {
          type: 'string',
          default: '5m',
          describe: 'give up after this long (e.g. 90s, 5m, 1h); 0: never',
          requiresArg: true,
        }),
    )
      .example('nvdax watch ij chat', 'until chat serves (Running, Ready=True)')
      .example('nvdax watch tj finetune --timeout 2h | tee log', 'one line per change when piped')
      .epilog(
        'On a terminal a progress display; piped, one line per change:\n' +
          '  <time> <phase> <condition reason>: <message>\n' +
          'Exit codes: 0 the InferenceJob is Running with Ready=True, or the TrainingJob Succeeded;\n' +
          '  1 the job Failed or was deleted, is not there, or the hub cannot be read;\n' +
          '  2 the timeout passed first (or wrong arguments).',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(watchCommand, args, io);
    if ('code' in parsed) return parsed.code;
    const a = parsed.argv;
    let kind: JobKind;
    let timeoutMs: number;
    try {
      kind = resolveType(a['type'] as string, ['InferenceJob', 'TrainingJob'], typeChoices.jobs);
      timeoutMs = parseDuration(String(a['timeout']));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      io.err(`nvdax watch: ${e.message}`);
      return 2;
    }
    const name = a['name'] as string;
    let hub: Hub;
    try {
      hub = await openHub(io, hubOptionsOf(a));
    } catch (e) {
      io.err(`nvdax watch: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    return watchJob(hub, io, { kind, name, timeoutMs });
  },
};

/** The command's work once the hub is open; closes it. */
export async function watchJob(
  hub: Hub,
  io: Io,
  o: { kind: JobKind; name: string; timeoutMs: number; backoffMs?: (n: number) => number },
): Promise<number> {
  const now = () => io.now?.() ?? Date.now();
  const what = objectPhrase(o.kind, o.name, hub.namespace);
  const timeout = new AbortController();
  const timer = o.timeoutMs > 0 ? setTimeout(() => timeout.abort(), o.timeoutMs) : undefined;
  const display = io.isTTY
    ? new StageDisplay(io.tty ?? process.stdout, `${o.kind} ${hub.namespace}/${o.name}`)
    : undefined;
  let last: JobObject | undefined;
  let outcome: Outcome | undefined;
  try {
    const end = await follow(hub, {
      kind: o.kind,
      name: o.name,
      namespace: hub.namespace,
      signal: timeout.signal,
      ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}),
      onObject(job) {
        const lines = watchLines(last, job, now());
        last = job;
        if (display) display.show(job, lines);
        else for (const l of lines) io.out(l);
        outcome = outcomeOf(job);
        return outcome !== undefined;
      },
      onReconnect(why) {
        const msg = `${isoSeconds(now())} watch interrupted (${why}); reconnecting`;
        if (display) display.note(msg);
        else io.err(msg);
      },
    });
    display?.stop();
    if (end === 'deleted') {
      io.err(`nvdax watch: ${what} was deleted`);
      return 1;
    }
    if (end === 'done' && last && outcome) {
      const final = finalLine(last, outcome);
      if (outcome === 'failed') {
        io.err(final);
        return 1;
      }
      io.out(final);
      return 0;
    }
    const p = last ? progressOf(last) : undefined;
    io.err(
      `nvdax watch: timed out after ${o.timeoutMs < 1000 ? `${o.timeoutMs}ms` : humanDuration(o.timeoutMs)}: ` +
        `${what} is ${orDash(p?.stage)}` +
        (p?.detail ? ` (${p.detail})` : ''),
    );
    return 2;
  } catch (e) {
    display?.stop();
    io.err(`nvdax watch: ${explainError(e, what, hub)}`);
    return 1;
  } finally {
    clearTimeout(timer);
    await hub.close();
  }
}
