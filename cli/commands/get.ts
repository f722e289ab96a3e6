// nvdax get [TYPE] [NAME]: jobs and pools as tables (or YAML/JSON), like kubectl get,
// with the columns that matter for placement: phase, pool, price, GPUs, why.
import { stringify } from 'yaml';
import type { ProviderPoolObject } from '../../operator/api/resources.ts';
import { apiVersionOf } from '../../operator/kube/types.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { parseCommandArgs } from '../args.ts';
import type { JobObject } from '../format.ts';
import { age, gpusOf, jobReason, orDash, readyText, table } from '../format.ts';
import {
  CliError,
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
import type { KindName } from '../hub.ts';
import type { Command } from '../io.ts';

export interface TableOptions {
  /** Add a NAMESPACE column (--all-namespaces). */
  allNamespaces?: boolean;
  /** The time ages are measured at, ms. */
  now: number;
}

const byNamespaceName = (a: KubeObject, b: KubeObject): number =>
  (a.metadata?.namespace ?? '').localeCompare(b.metadata?.namespace ?? '') ||
  (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '') ||
  (a.kind ?? '').localeCompare(b.kind ?? '');

/** NAMESPACE (with -A), NAME, KIND, PHASE, POOL, PRICE, GPUS, READY, REASON, AGE. */
export function formatJobsTable(jobs: readonly JobObject[], opts: TableOptions): string {
  const head = ['NAME', 'KIND', 'PHASE', 'POOL', 'PRICE', 'GPUS', 'READY', 'REASON', 'AGE'];
  const rows = [...jobs].sort(byNamespaceName).map((j) => {
    const p = j.status?.placement;
    const row = [
      j.metadata?.name ?? '',
      j.kind ?? '',
      orDash(j.status?.phase),
      orDash(p?.pool),
      orDash(p?.price),
      String(gpusOf(j)),
      readyText(j),
      orDash(jobReason(j)),
      age(j.metadata?.creationTimestamp, opts.now),
    ];
    return opts.allNamespaces ? [j.metadata?.namespace ?? '', ...row] : row;
  });
  return table(opts.allNamespaces ? ['NAMESPACE', ...head] : head, rows);
}

/** `H100-80GB-HBM3=2.10, H100-80GB-HBM3/cc=3.00`: the base rates per GPU-hour, NVIDIA- left off, /cc for Confidential. */
export function priceSummary(pool: ProviderPoolObject): string {
  return (pool.spec.baseRates ?? [])
    .map((r) => `${r.gpuProduct.replace(/^NVIDIA-/, '')}${r.mode === 'Confidential' ? '/cc' : ''}=${r.pricePerGpuHour}`)
    .join(', ');
}

/** NAME, REGION, PHASE, GPUS, AVAILABLE, PRICES. */
export function formatPoolsTable(pools: readonly ProviderPoolObject[]): string {
  const rows = [...pools]
    .sort(byNamespaceName)
    .map((p) => [
      p.metadata?.name ?? '',
      p.spec.region,
      orDash(p.status?.phase),
      orDash(p.status?.totalGpus),
      orDash(p.status?.availableGpus),
      orDash(priceSummary(p)),
    ]);
  return table(['NAME', 'REGION', 'PHASE', 'GPUS', 'AVAILABLE', 'PRICES'], rows);
}

/** The object as sent by the server, without managedFields (as kubectl shows it). */
function clean(obj: KubeObject): KubeObject {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** YAML or JSON of one object, or of a v1 List of them. */
export function formatObjects(objects: readonly KubeObject[], format: 'yaml' | 'json', single: boolean): string {
  const [only] = objects;
  const body =
    single && only && objects.length === 1
      ? clean(only)
      : { apiVersion: 'v1', kind: 'List', items: objects.map(clean) };
  return format === 'json' ? JSON.stringify(body, null, 2) : stringify(body).trimEnd();
}

const allKinds: KindName[] = ['InferenceJob', 'TrainingJob', 'ProviderPool'];
const usage = 'nvdax get [TYPE] [NAME] [-A] [-o table|yaml|json]';

export const getCommand: Command = {
  name: 'get',
  summary: 'list jobs or pools: phase, pool, price, GPUs, why',
  usage,
  positionals: '[type] [name]',
  builder: (y) =>
    hubOptions(
      y
        .positional('type', {
          describe: 'what to list (default: both job kinds)',
          type: 'string',
          choices: typeChoices.all,
        })
        .positional('name', { describe: 'one object by name', type: 'string' })
        .option('all-namespaces', {
          alias: 'A',
          type: 'boolean',
          describe: 'jobs of every namespace, with a NAMESPACE column',
        })
        .option('output', {
          alias: 'o',
          choices: ['table', 'yaml', 'json'],
          default: 'table',
          describe: 'output format',
        }),
    )
      .example('nvdax get', 'the jobs of the current namespace')
      .example('nvdax get ij chat -o yaml', 'one InferenceJob as YAML')
      .example('nvdax get pp', 'the provider pools, their capacity and base rates')
      .epilog(
        'Exit codes: 0 listed; 1 the object is not there or the hub cannot be read; 2 wrong arguments.\n' +
          'REASON is the Scheduled condition reason while a job is not placed, else the Ready reason.',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(getCommand, args, io);
    if ('code' in parsed) return parsed.code;
    const a = parsed.argv;
    const output = a['output'] as 'table' | 'yaml' | 'json';
    const all = a['all-namespaces'] === true;
    const name = a['name'] as string | undefined;
    let kinds: KindName[] = ['InferenceJob', 'TrainingJob'];
    try {
      if (a['type'] !== undefined) kinds = [resolveType(a['type'] as string, allKinds, typeChoices.all)];
    } catch (e) {
      io.err(`nvdax get: ${(e as Error).message}`);
      return 2;
    }
    if (name !== undefined && all && kinds[0] !== 'ProviderPool') {
      io.err('nvdax get: NAME with --all-namespaces: a job is read by name in one namespace (use -n)');
      return 2;
    }
    let hub: Awaited<ReturnType<typeof openHub>>;
    try {
      hub = await openHub(io, hubOptionsOf(a));
    } catch (e) {
      io.err(`nvdax get: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    const now = io.now?.() ?? Date.now();
    try {
      const objects: KubeObject[] = [];
      for (const kind of kinds) {
        const res = resourceOf[kind];
        const namespace = res.namespaced && !all ? hub.namespace : undefined;
        if (name !== undefined) {
          try {
            objects.push(await hub.get(res, name, namespace));
          } catch (e) {
            throw new CliError(explainError(e, objectPhrase(kind, name, namespace), hub));
          }
          continue;
        }
        try {
          const { items } = await hub.listAll(res, namespace ? { namespace } : {});
          // list items carry no kind; the table and -o need it
          objects.push(...items.map((o) => ({ apiVersion: apiVersionOf(res), kind, ...o })));
        } catch (e) {
          if (kubeReason(e) === 'NotFound') {
            throw new CliError(
              `the hub (context "${hub.context}") has no ${res.plural}: are the NVDAx CRDs installed?`,
            );
          }
          throw new CliError(explainError(e, `${res.plural}${namespace ? ` in namespace "${namespace}"` : ''}`, hub));
        }
      }
      if (output !== 'table') io.out(formatObjects(objects, output, name !== undefined));
      else if (objects.length === 0) {
        const where = kinds.includes('ProviderPool')
          ? ''
          : all
            ? ' in any namespace'
            : ` in namespace "${hub.namespace}"`;
        io.err(`No ${kinds.map((k) => `${k}s`).join(' or ')} found${where}.`);
      } else if (kinds[0] === 'ProviderPool') io.out(formatPoolsTable(objects as ProviderPoolObject[]));
      else io.out(formatJobsTable(objects as JobObject[], { allNamespaces: all, now }));
      return 0;
    } catch (e) {
      io.err(`nvdax get: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    } finally {
      await hub.close();
    }
  },
};
