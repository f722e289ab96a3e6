// What a command may touch, passed in so commands run in tests without a process.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  readFile(path: string): string;
  readStdin(): Promise<string>;
  /** Manifest files of a directory (.yaml, .yml, .json), sorted; undefined when path is not a directory. */
  listManifests(path: string): string[] | undefined;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
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
  readFile: (path) => readFileSync(path, 'utf8'),
  readStdin: () => readAll(process.stdin),
  listManifests(path) {
    if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) return undefined;
    return readdirSync(path)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort()
      .map((f) => join(path, f));
  },
};
