#!/usr/bin/env node
// nvdax: the NVDAx command line (also usable as the kubectl plugin `kubectl nvdax`).
import { commands } from './commands/index.ts';
import { processIo } from './io.ts';
import type { Io } from './io.ts';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: nvdax COMMAND [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "nvdax COMMAND --help" for a command's options.`;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.err : io.out)(help());
    return name === undefined ? 2 : 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`nvdax: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  return cmd.run(rest, io);
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2), processIo);
