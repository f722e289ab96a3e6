// The hub as the commands see it: the few reads they make (get, list, watch), the
// resource names they accept, and errors in words. Loading a kubeconfig pulls in
// client-node, so the real connection lives in kube.ts and is imported only when a
// command needs the cluster (`nvdax validate` stays quick).
import type { Argv } from 'yargs';
import { inferenceJobs, providerPools, trainingJobs } from '../operator/api/resources.ts';
import type { ListOptions, WatchOptions } from '../operator/kube/options.ts';
import type { KubeObject, ResourceType } from '../operator/kube/types.ts';
import type { WatchEvent } from '../operator/kube/watch.ts';
import type { Io } from './io.ts';

export interface HubOptions {
  /** kubeconfig file; unset: $KUBECONFIG, then ~/.kube/config. */
  kubeconfig?: string | undefined;
  /** kubeconfig context; unset: its current context. */
  context?: string | undefined;
  /** Namespace; unset: the context's, else `default`. */
  namespace?: string | undefined;
}

/** The reads commands make (and submit's create); KubeClient does them for real, tests pass a fake. */
export interface Hub {
  /** The namespace to use: --namespace, else the context's, else `default`. */
  readonly namespace: string;
  /** The kubeconfig context in use, for messages. */
  readonly context: string;
  get<T extends KubeObject>(res: ResourceType, name: string, namespace?: string, signal?: AbortSignal): Promise<T>;
  listAll<T extends KubeObject>(
    res: ResourceType,
    opts?: Omit<ListOptions, 'continue'>,
  ): Promise<{ items: T[]; resourceVersion: string }>;
  watch<T extends KubeObject>(res: ResourceType, opts?: WatchOptions): AsyncIterable<WatchEvent<T>>;
  /** Creates `obj` in its metadata.namespace (`nvdax submit`). */
  create<T extends KubeObject>(res: ResourceType, obj: T): Promise<T>;
  close(): Promise<void>;
}

/** The connection flags every hub command takes. */
export function hubOptions(y: Argv): Argv {
  return y
    .option('kubeconfig', {
      type: 'string',
      describe: 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)',
      requiresArg: true,
    })
    .option('context', { type: 'string', describe: 'kubeconfig context (default: its current one)', requiresArg: true })
    .option('namespace', {
      alias: 'n',
      type: 'string',
      describe: "namespace (default: the context's, else default)",
      requiresArg: true,
    })
    .group(['kubeconfig', 'context', 'namespace'], 'Hub:');
}

/** The HubOptions of parsed arguments. */
export function hubOptionsOf(argv: Record<string, unknown>): HubOptions {
  const s = (k: string): string | undefined => (typeof argv[k] === 'string' ? (argv[k] as string) : undefined);
  return { kubeconfig: s('kubeconfig'), context: s('context'), namespace: s('namespace') };
}

/** Opens the hub through io.connect, else the kubeconfig. */
export async function openHub(io: Pick<Io, 'connect'> | undefined, opts: HubOptions): Promise<Hub> {
  if (io?.connect) return io.connect(opts);
  const { connectHub } = await import('./kube.ts');
  return connectHub(opts);
}

export type JobKind = 'InferenceJob' | 'TrainingJob';
export type KindName = JobKind | 'ProviderPool';

/** Every spelling of a type the commands accept, as kubectl knows them (short name, plural, singular, kind). */
export const typeNames: Record<string, KindName> = {
  ij: 'InferenceJob',
  inferencejob: 'InferenceJob',
  inferencejobs: 'InferenceJob',
  tj: 'TrainingJob',
  trainingjob: 'TrainingJob',
  trainingjobs: 'TrainingJob',
  pp: 'ProviderPool',
  providerpool: 'ProviderPool',
  providerpools: 'ProviderPool',
};

/** The spellings shown in help and completion. */
export const typeChoices = {
  jobs: ['ij', 'tj', 'inferencejobs', 'trainingjobs'],
  all: ['ij', 'tj', 'pp', 'inferencejobs', 'trainingjobs', 'providerpools'],
} as const;

export const resourceOf: Record<KindName, ResourceType> = {
  InferenceJob: inferenceJobs,
  TrainingJob: trainingJobs,
  ProviderPool: providerPools,
};

/** The kind a type argument names, or an Error naming the allowed ones. */
export function resolveType<K extends KindName>(word: string, allowed: readonly K[], spellings: readonly string[]): K {
  const kind = typeNames[word.toLowerCase()] ?? typeNames[word.toLowerCase().replace(/\.nvdax\.io$/, '')];
  if (kind === undefined || !(allowed as readonly string[]).includes(kind)) {
    throw new UsageError(`unknown resource type "${word}"; use one of: ${spellings.join(', ')}`);
  }
  return kind as K;
}

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the command explains itself: printed as is, exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** The KubeError reason of a thrown value (NotFound, Forbidden, Gone, …); read off the object, so no client-node import. */
export function kubeReason(e: unknown): string | undefined {
  const r = (e as { reason?: unknown } | null)?.reason;
  return e instanceof Error && typeof r === 'string' ? r : undefined;
}

/** `InferenceJob "chat" in namespace "team-a"`, or `ProviderPool "pool-a"`. */
export function objectPhrase(kind: KindName, name: string, namespace?: string): string {
  return kind === 'ProviderPool' || !namespace ? `${kind} "${name}"` : `${kind} "${name}" in namespace "${namespace}"`;
}

/** One line saying what went wrong talking to the hub, for `what` (e.g. objectPhrase). */
export function explainError(e: unknown, what: string, hub?: Pick<Hub, 'context'>): string {
  const reason = kubeReason(e);
  const msg = e instanceof Error ? e.message : String(e);
  const ctx = hub?.context ? ` (context "${hub.context}")` : '';
  switch (reason) {
    case 'NotFound':
      return `${what} not found`;
    case 'Forbidden':
      return `not allowed to read ${what}${ctx}: ${msg}`;
    case 'Unauthorized':
      return `the hub refused the credentials${ctx}: ${msg}`;
    case 'Network':
    case 'Timeout':
    case 'Unavailable':
      return `cannot reach the hub${ctx}: ${msg}`;
    default:
      return msg;
  }
}
