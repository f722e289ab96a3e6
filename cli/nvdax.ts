#!/usr/bin/env node
// nvdax: the NVDAx command line (also usable as the kubectl plugin `kubectl nvdax`).
// yargs writes the help and answers shell completion; each command parses its own arguments.
import { complete, completionKey, topHelp } from './args.ts';
import { commands } from './commands/index.ts';
import { processIo } from './io.ts';
import type { Io } from './io.ts';

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv[0] === completionKey) return complete(commands, argv, io);
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help'], io);
  const cmd = commands.find((c) => c.name === name);
  if (cmd) return cmd.run(rest, io);
  const help = await topHelp(commands);
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.err : io.out)(help);
    return name === undefined ? 2 : 0;
  }
  io.err(`nvdax: unknown command "${name}"\n\n${help}`);
  return 2;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2), processIo);
