// What a command may touch, passed in so commands run in tests without a process.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import type { Hub, HubOptions } from './hub.ts';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Writes text as it comes, no newline added (a streamed answer); unset: such text goes out as one line. */
  write?(text: string): void;
  readFile(path: string): string;
  readStdin(): Promise<string>;
  /** Manifest files of a directory (.yaml, .yml, .json), sorted; undefined when path is not a directory. */
  listManifests(path: string): string[] | undefined;
  /** Opens the hub (commands that read the cluster); unset: the kubeconfig, through cli/kube.ts. */
  connect?(opts: HubOptions): Promise<Hub>;
  /** Environment variables (e.g. $NVDAX_REQUESTER_KEY); unset: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The time, ms since the epoch; unset: Date.now. */
  now?(): number;
  /** Standard output is a terminal: `watch` draws a progress display instead of lines. Unset: false. */
  isTTY?: boolean;
  /** Where a progress display draws (a terminal); unset: process.stdout. */
  tty?: NodeJS.WritableStream;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Positionals after the name, in yargs syntax (`<type> <name>`, `[name]`), for help and completion. */
  positionals?: string;
  /** Declares the options (and positionals) on a yargs instance: the command's own parse, top-level help and completion. */
  builder?: (y: Argv) => Argv;
  run(args: string[], io: Io): Promise<number>;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return text;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  write: (text) => process.stdout.write(text),
  readFile: (path) => readFileSync(path, 'utf8'),
  readStdin: () => readAll(process.stdin),
  listManifests(path) {
    if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) return undefined;
    return readdirSync(path)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort()
      .map((f) => join(path, f));
  },
  get isTTY() {
    return process.stdout.isTTY === true;
  },
};
