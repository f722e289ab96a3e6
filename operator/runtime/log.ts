// Structured JSON logs (pino): constant messages, data in fields, errors under `err`,
// and every line about one object carries its key, so `grep key=ns/name` tells its story.
import { pino } from 'pino';
import type { DestinationStream, Level, Logger } from 'pino';

export type { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LogOptions {
  level?: Level | 'silent';
  /** The `name` field of every line (default 'nvdax-operator'). */
  name?: string;
  /** Where lines go (default stdout). */
  destination?: DestinationStream;
  /** Write synchronously to stdout (no lines lost on a crash; default false). */
  sync?: boolean;
}

/** A JSON logger with ISO timestamps and string levels. */
export function createLogger(opts: LogOptions = {}): Logger {
  const dest = opts.destination ?? pino.destination({ dest: 1, sync: opts.sync ?? false });
  return pino(
    {
      level: opts.level ?? 'info',
      name: opts.name ?? 'nvdax-operator',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** The fields identifying an object key (`namespace/name` or `name`) in log lines. */
export function keyFields(key: string): { key: string; namespace?: string; name: string } {
  const slash = key.lastIndexOf('/');
  if (slash < 0) return { key, name: key };
  const ns = key.slice(0, slash);
  return { key, namespace: ns.includes('/') ? ns.slice(ns.lastIndexOf('/') + 1) : ns, name: key.slice(slash + 1) };
}

/** A logger that discards everything (the default when none is injected). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
