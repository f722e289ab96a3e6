// nvdax quote -f job.yaml: what the scheduler would do with a job now, without creating
// it: the manifest is validated offline, the ProviderPools are read from the hub, and the
// operator's own matcher (operator/scheduling/match.ts) ranks the pools that fit and says
// why the others do not.
import type { ProviderPoolObject } from '../../operator/api/resources.ts';
import { parseCommandArgs } from '../args.ts';
import type { JobObject } from '../format.ts';
import { keyOf, orDash, table } from '../format.ts';
import { CliError, explainError, hubOptions, hubOptionsOf, kubeReason, openHub, resourceOf } from '../hub.ts';
import type { Hub } from '../hub.ts';
import type { Command, Io } from '../io.ts';
import { jobsOfManifest, readManifest } from '../manifest.ts';

/** A ranked candidate as the matcher returns it (the fields the report shows). */
export interface QuoteCandidate {
  pool: string;
  cls: { product: string; mode: string; resourceName?: string; tee?: string; free: number; largestFreeBlock?: number };
  runtimeClassName?: string;
  quote: {
    baseRate: string | number;
    latencyFactor: string | number;
    loadFactor: string | number;
    verifierFee: string | number;
    price: string | number;
  };
  latencyMs?: number;
}

export interface QuoteRejection {
  pool: string;
  reason: string;
  message?: string;
}

export interface QuoteResult {
  candidates: readonly QuoteCandidate[];
  rejections: readonly QuoteRejection[];
}

/** Prices as the API writes them: decimal strings kept as they are, numbers to at most 4 places. */
function num(v: string | number | undefined): string {
  if (v === undefined) return '-';
  return typeof v === 'number' ? String(Number(v.toFixed(4))) : v;
}

/** `Container`, `Confidential/snp`: the API's spelling of the mode, the TEE after a slash. */
function modeTee(mode: string, tee: string | undefined): string {
  const m = mode.charAt(0).toUpperCase() + mode.slice(1);
  return tee ? `${m}/${tee}` : m;
}

/**
 * The report for one job: a headline, the candidates in rank order (POOL, REGION, GPU,
 * MODE/TEE, FREE, BASE, LATENCYx, LOADx, FEE, PRICE), the rejections (POOL, REASON,
 * MESSAGE), and `noFit` (the matcher's summary) when no pool fits.
 */
export function quoteReport(
  job: string,
  result: QuoteResult,
  pools: readonly ProviderPoolObject[],
  noFit?: string,
): string {
  const region = new Map(pools.map((p) => [p.metadata?.name ?? '', p.spec.region]));
  const out: string[] = [];
  const best = result.candidates[0];
  if (best) {
    const n = result.candidates.length;
    out.push(
      `${job}: ${n} of ${pools.length} pool${pools.length === 1 ? '' : 's'} fit; ` +
        `the scheduler would choose ${best.pool} at ${num(best.quote.price)} NVDAx/GPU-hour`,
    );
    out.push(
      table(
        ['POOL', 'REGION', 'GPU', 'MODE/TEE', 'FREE', 'BASE', 'LATENCYx', 'LOADx', 'FEE', 'PRICE'],
        result.candidates.map((c) => [
          c.pool,
          orDash(region.get(c.pool)),
          c.cls.product,
          modeTee(c.cls.mode, c.cls.tee),
          c.cls.free,
          num(c.quote.baseRate),
          num(c.quote.latencyFactor),
          num(c.quote.loadFactor),
          num(c.quote.verifierFee),
          num(c.quote.price),
        ]),
      ),
    );
  } else {
    out.push(`${job}: no pool fits${noFit ? `: ${noFit}` : ''}`);
  }
  if (result.rejections.length) {
    out.push('', 'Rejected:');
    out.push(
      table(
        ['POOL', 'REASON', 'MESSAGE'],
        result.rejections.map((r) => [r.pool, r.reason, orDash(r.message)]),
      ),
    );
  }
  return out.join('\n');
}

/**
 * Runs the operator's matcher for one job against the pools as their status shows them (the
 * scheduler decides on its live snapshot, so this is what it would do at that status).
 * match.ts is loaded on first use.
 */
export async function matchJob(
  job: JobObject,
  pools: readonly ProviderPoolObject[],
  verifierFee?: string,
): Promise<{ result: QuoteResult; noFit: string }> {
  const m = await import('../../operator/scheduling/match.ts');
  const { DEFAULT_PRICING } = await import('../../operator/scheduling/pricing.ts');
  const kind = job.kind === 'TrainingJob' ? 'TrainingJob' : 'InferenceJob';
  const demand = m.demandOf(job.spec, kind);
  const offers = pools.map((p) => m.offerFromPool(p));
  const result = m.match(demand, offers, { ...DEFAULT_PRICING, ...(verifierFee ? { verifierFee } : {}) });
  return { result, noFit: result.candidates.length ? '' : m.noFitMessage(result.rejections, pools.length) };
}

const usage = 'nvdax quote -f FILE';

export const quoteCommand: Command = {
  name: 'quote',
  summary: 'rank the live pools for a job manifest, with their price quotes',
  usage,
  builder: (y) =>
    hubOptions(
      y
        .option('filename', {
          alias: 'f',
          type: 'string',
          demandOption: true,
          requiresArg: true,
          describe: 'InferenceJob or TrainingJob manifest (- reads standard input)',
        })
        .option('verifier-fee', {
          type: 'string',
          default: '0.05',
          requiresArg: true,
          describe: "the network verifier fee per GPU-hour (the operator's --verifier-fee)",
        }),
    )
      .example('nvdax quote -f job.yaml', 'which pools fit the job now, at what price')
      .epilog(
        'The manifest is validated first, as by nvdax validate. The pools come from the hub and are ranked\n' +
          "by the operator's matcher; a price is P = baseRate × latencyFactor × loadFactor + verifierFee.\n" +
          'Exit codes: 0 some pool fits (each job, when the file holds several); 1 none fits, the manifest\n' +
          '  is invalid, or the hub cannot be read; 2 wrong arguments.',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(quoteCommand, args, io);
    if ('code' in parsed) return parsed.code;
    const a = parsed.argv;
    const file = a['filename'] as string;
    let text: string;
    let jobs: JobObject[];
    try {
      text = await readManifest(file, io);
    } catch (e) {
      io.err((e as Error).message);
      return 1;
    }
    const fee = a['verifier-fee'] as string;
    if (!/^\d+(\.\d+)?$/.test(fee)) {
      io.err(`nvdax quote: invalid --verifier-fee "${fee}": a decimal such as 0.05\nUsage: ${usage}`);
      return 2;
    }
    try {
      jobs = jobsOfManifest(text, file, io, 'quote', 'nothing quoted') as JobObject[];
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      io.err(e.message);
      return 1;
    }
    let hub: Hub;
    try {
      hub = await openHub(io, hubOptionsOf(a));
    } catch (e) {
      io.err(`nvdax quote: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    try {
      return await quoteJobs(hub, io, jobs, a['verifier-fee'] as string);
    } finally {
      await hub.close();
    }
  },
};

/** Lists the pools and prints one report per job; 0 when every job fits somewhere. */
export async function quoteJobs(hub: Hub, io: Io, jobs: readonly JobObject[], verifierFee?: string): Promise<number> {
  let pools: ProviderPoolObject[];
  try {
    ({ items: pools } = await hub.listAll<ProviderPoolObject>(resourceOf.ProviderPool));
  } catch (e) {
    const why =
      kubeReason(e) === 'NotFound'
        ? `the hub (context "${hub.context}") has no providerpools: are the NVDAx CRDs installed?`
        : explainError(e, 'ProviderPools', hub);
    io.err(`nvdax quote: ${why}`);
    return 1;
  }
  let code = 0;
  for (const [i, job] of jobs.entries()) {
    let quoted: Awaited<ReturnType<typeof matchJob>>;
    try {
      quoted = await matchJob(job, pools, verifierFee);
    } catch (e) {
      // demandOf and the pricing refuse what the schema cannot (a malformed quantity or price)
      io.err(`nvdax quote: ${job.kind}/${keyOf(job)}: ${e instanceof Error ? e.message : String(e)}`);
      code = 1;
      continue;
    }
    const { result, noFit } = quoted;
    if (i > 0) io.out('');
    io.out(quoteReport(`${job.kind}/${keyOf(job)}`, result, pools, noFit));
    if (!result.candidates.length) code = 1;
  }
  return code;
}
