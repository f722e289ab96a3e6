// Operator configuration from flags, then environment (NVDAX_<FLAG_NAME>), then
// defaults — parsed once in main.ts from values passed in (never read at import
// time), with errors that name the flag or variable at fault.
import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';
import { defaultBurst, defaultQps } from '../kube/options.ts';

/** Configuration of the runtime (the manager and its clients). */
export interface RuntimeConfig {
  /** kubeconfig file of the hub ('' = in-cluster, else the default loading rules). */
  kubeconfig: string;
  /** kubeconfig context ('' = current). */
  context: string;
  leaderElection: {
    enabled: boolean;
    namespace: string;
    id: string;
    identity: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  ops: { host: string; port: number };
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  maxConcurrentReconciles: number;
  resyncPeriodMs: number;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Client-side limit of each cluster's client, requests/s (0 = off) and burst: KubeClient's qps and burst. */
  kubeApiQps: number;
  kubeApiBurst: number;
}

/** Reads a program's own flags with the runtime's rules: flag, then NVDAX_<FLAG> (empty = unset), then the default. */
export interface ExtraReader {
  str(flag: string, def: string): string;
  /** A duration > 0 in ms; throws ConfigError naming the flag or variable. */
  duration(flag: string, def: string): number;
  /** true/false (also 1/0, yes/no); throws ConfigError naming the flag or variable. */
  bool(flag: string, def: boolean): boolean;
  /** A number > 0 (e.g. a rate: 10, 0.5); throws ConfigError naming the flag or variable. */
  positive(flag: string, def: number): number;
}

/** A configuration value was refused; the message names the flag or variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The runtime's flags (for --help and for merging with a program's own flags). */
export const runtimeFlags = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'leader-elect': { type: 'boolean' },
  'leader-election-namespace': { type: 'string' },
  'leader-election-id': { type: 'string' },
  identity: { type: 'string' },
  'lease-duration': { type: 'string' },
  'renew-deadline': { type: 'string' },
  'retry-period': { type: 'string' },
  'ops-bind-address': { type: 'string' },
  'log-level': { type: 'string' },
  'max-concurrent-reconciles': { type: 'string' },
  'resync-period': { type: 'string' },
  'request-timeout': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'kube-api-qps': { type: 'string' },
  'kube-api-burst': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration ('500ms', '15s', '1m30s', '90000000000ns') into ms; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g))
    ms += Number(m[1]) * (unitMs[m[2] as string] as number);
  return ms;
}

/** The environment variable read for `flag`: NVDAX_ plus the flag in upper snake case. */
export function envName(flag: string): string {
  return `NVDAX_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * Parses runtime flags (plus a program's `extra` flags) from `args`, falling back to
 * `env` and then to defaults. Throws ConfigError naming the offending flag.
 */
export function parseRuntimeConfig<E extends ParseArgsOptionsConfig = Record<never, never>>(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  opts: { defaultIdentity?: string; extra?: E } = {},
): { config: RuntimeConfig; extra: Record<string, string | boolean | undefined>; read: ExtraReader } {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    const options = { ...opts.extra, ...runtimeFlags };
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false, allowNegative: true }).values;
  } catch (e) {
    throw new ConfigError(e instanceof Error ? e.message : String(e));
  }
  const raw = (flag: string): { text: string; from: string } | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return { text: v, from: `--${flag}` };
    if (typeof v === 'boolean') return { text: String(v), from: `--${flag}` };
    const e = env[envName(flag)];
    return e === undefined || e === '' ? undefined : { text: e, from: envName(flag) };
  };
  const str = (flag: string, def: string): string => raw(flag)?.text ?? def;
  const duration = (flag: string, def: string): number => {
    const r = raw(flag) ?? { text: def, from: `--${flag}` };
    const ms = parseDuration(r.text);
    if (ms === undefined || ms <= 0)
      throw new ConfigError(`${r.from}: invalid duration "${r.text}" (expected e.g. 500ms, 15s, 2m)`);
    return ms;
  };
  const bool = (flag: string, def: boolean): boolean => {
    const r = raw(flag);
    if (r === undefined) return def;
    if (/^(true|1|yes)$/i.test(r.text)) return true;
    if (/^(false|0|no)$/i.test(r.text)) return false;
    throw new ConfigError(`${r.from}: invalid boolean "${r.text}" (expected true or false)`);
  };
  /** A number flag or variable: the default when unset, else its text where `ok` passes it. */
  const numeric = (flag: string, def: number, what: string, ok: (text: string) => boolean, expected: string) => {
    const r = raw(flag);
    if (r === undefined) return def;
    if (!ok(r.text)) throw new ConfigError(`${r.from}: invalid ${what} "${r.text}" (${expected})`);
    return Number(r.text);
  };
  const decimal = (t: string) => /^\d+(\.\d+)?$/.test(t);
  const positiveInt = (flag: string, def: number): number =>
    numeric(flag, def, 'count', (t) => /^\d+$/.test(t) && Number(t) >= 1, 'expected a positive integer');
  const rate = (flag: string, def: number): number =>
    numeric(flag, def, 'rate', decimal, 'expected a number >= 0; 0 = no limit');
  const positive = (flag: string, def: number): number =>
    numeric(flag, def, 'number', (t) => decimal(t) && Number(t) > 0, 'expected a number above 0, e.g. 10 or 0.5');

  const logLevel = str('log-level', 'info');
  if (!(levels as readonly string[]).includes(logLevel)) {
    throw new ConfigError(
      `${raw('log-level')?.from}: invalid level "${logLevel}" (expected one of ${levels.join(', ')})`,
    );
  }
  const bind = str('ops-bind-address', ':8080');
  const m = /^(.*):(\d{1,5})$/.exec(bind);
  if (!m || Number(m[2]) > 65535)
    throw new ConfigError(`${raw('ops-bind-address')?.from}: invalid address "${bind}" (expected host:port or :port)`);
  const leaseDurationMs = duration('lease-duration', '15s');
  const renewDeadlineMs = duration('renew-deadline', '10s');
  const retryPeriodMs = duration('retry-period', '2s');
  if (!(renewDeadlineMs < leaseDurationMs))
    throw new ConfigError('--renew-deadline must be shorter than --lease-duration');
  if (!(retryPeriodMs < renewDeadlineMs)) throw new ConfigError('--retry-period must be shorter than --renew-deadline');

  const config: RuntimeConfig = {
    kubeconfig:
      values['kubeconfig'] === undefined
        ? (env[envName('kubeconfig')] ?? env['KUBECONFIG'] ?? '')
        : String(values['kubeconfig']),
    context: str('context', ''),
    leaderElection: {
      enabled: bool('leader-elect', true),
      namespace: str('leader-election-namespace', env['POD_NAMESPACE'] || 'nvdax-system'),
      id: str('leader-election-id', 'nvdax-operator'),
      identity: str('identity', env['POD_NAME'] || opts.defaultIdentity || 'nvdax-operator'),
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    },
    ops: { host: m[1] || '0.0.0.0', port: Number(m[2]) },
    logLevel: logLevel as RuntimeConfig['logLevel'],
    maxConcurrentReconciles: positiveInt('max-concurrent-reconciles', 4),
    resyncPeriodMs: duration('resync-period', '10m'),
    requestTimeoutMs: duration('request-timeout', '30s'),
    shutdownTimeoutMs: duration('shutdown-timeout', '30s'),
    // Per cluster. client-go's 5/10 (controller-runtime's 20/30) would cap the operator far
    // below what the benchmark writes (~930/s on one cluster); 2000/4000 does not slow that
    // and still stops a runaway loop from flooding an API server (its own APF limits too).
    kubeApiQps: rate('kube-api-qps', defaultQps),
    kubeApiBurst: positiveInt('kube-api-burst', defaultBurst),
  };
  const extra: Record<string, string | boolean | undefined> = {};
  for (const k of Object.keys(opts.extra ?? {})) {
    const v = values[k];
    extra[k] = Array.isArray(v) ? v.map(String).join(',') : v;
  }
  return { config, extra, read: { str, duration, bool, positive } };
}
