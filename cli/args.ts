// Argument parsing with yargs: each command declares its positionals and options once
// (Command.builder); the same declaration parses the command's arguments, lists it in
// the top-level help and drives shell completion (`nvdax completion`).
import yargs from 'yargs';
import type { Argv, FallbackCompletionFunction } from 'yargs';
import { UsageError, openHub, resourceOf, typeNames } from './hub.ts';
import type { Command, Io } from './io.ts';

/** Help text width: stable output whatever the terminal. */
const wrap = 100;

/** yargs' key for completion requests (`nvdax --get-yargs-completions nvdax get i`). */
export const completionKey = '--get-yargs-completions';

export type Parsed = { argv: Record<string, unknown> } | { code: number };

/** yargs says `Invalid values: Argument: type, Given: "x", Choices: …`; say it the way the rest of the CLI does. */
function usageMessage(msg: string): string {
  const bad = /Argument: (\S+), Given: "([^"]*)", Choices: (.*)/.exec(msg);
  if (!bad) return msg.replace(/\n\s*/g, '; ');
  const choices = (bad[3] ?? '').replaceAll('"', '');
  if (bad[1] === 'type') return `unknown resource type "${bad[2]}"; use one of: ${choices}`;
  return `invalid --${bad[1]} "${bad[2]}"; use one of: ${choices}`;
}

/**
 * Parses a command's arguments with its builder. `--help` prints the help and gives code 0;
 * a usage error prints the message and the help on stderr and gives code 2.
 */
export function parseCommandArgs(cmd: Command, args: string[], io: Io): Promise<Parsed> {
  const builder = cmd.builder ?? ((y: Argv) => y);
  let failure: string | undefined;
  const parser = yargs()
    .scriptName(`nvdax ${cmd.name}`)
    .locale('en')
    .command(`$0${cmd.positionals ? ` ${cmd.positionals}` : ''}`, cmd.summary, builder)
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(wrap)
    .exitProcess(false)
    // yargs reports one usage error here (a throw from a default command escapes the callback)
    .fail((msg, err) => {
      failure ??= err?.message ?? msg;
    });
  return new Promise((resolve) => {
    parser.parse(args, {}, (err, argv, output) => {
      const problem = failure ?? err?.message;
      if (problem !== undefined) {
        io.err(`nvdax ${cmd.name}: ${usageMessage(problem)}\nUsage: ${cmd.usage} (see nvdax ${cmd.name} --help)`);
        resolve({ code: 2 });
      } else if ((argv as { help?: unknown }).help) {
        io.out(output.trimEnd());
        resolve({ code: 0 });
      } else resolve({ argv: argv as Record<string, unknown> });
    });
  });
}

/** The top-level parser: every command with its options, for help and completion. */
export function topParser(commands: readonly Command[], args: string[] = [], io?: Io): Argv {
  // yargs calls this again for a command's own options: ask the hub once
  let asked = false;
  const completeFn: FallbackCompletionFunction = (current, argv, defaultCompletion, done) => {
    if (asked) return defaultCompletion();
    asked = true;
    completeNames(commands, current, argv as Record<string, unknown>, io).then(
      (names) => (names ? done(names) : defaultCompletion()),
      () => defaultCompletion(),
    );
  };
  let y = yargs(args)
    .scriptName('nvdax')
    .locale('en')
    .usage('Usage: nvdax COMMAND [options]\n\nThe NVDAx command line, also run as the kubectl plugin "kubectl nvdax".');
  for (const c of commands) {
    y = y.command(`${c.name}${c.positionals ? ` ${c.positionals}` : ''}`, c.summary, c.builder ?? ((b: Argv) => b));
  }
  return y
    .completion('completion', false, completeFn)
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(wrap)
    .epilog(`Run "nvdax COMMAND --help" for a command's options; "nvdax completion" prints a shell completion script.`)
    .exitProcess(false);
}

/** The top-level help: commands and their summaries. */
export function topHelp(commands: readonly Command[]): Promise<string> {
  return topParser(commands).getHelp();
}

/**
 * NAME completion for `<type> <name>` commands: the names of that type on the hub (a short
 * timeout; nothing when the hub cannot be reached). undefined: yargs completes as usual.
 */
async function completeNames(
  commands: readonly Command[],
  current: string,
  argv: Record<string, unknown>,
  io?: Io,
): Promise<string[] | undefined> {
  // the words typed, the program's own name (nvdax, kubectl-nvdax, a path) first
  const words = ((argv['_'] as unknown[]) ?? []).map(String).slice(1);
  const cmd = commands.find((c) => c.name === words[0]);
  if (!cmd || !/^[<[]type[>\]] [<[]name[>\]]/.test(cmd.positionals ?? '') || current.startsWith('-')) return undefined;
  if (words.length !== 3) return undefined;
  const kind = typeNames[(words[1] ?? '').toLowerCase()];
  if (!kind) return undefined;
  const s = (k: string) => (typeof argv[k] === 'string' ? (argv[k] as string) : undefined);
  const hub = await openHub(io, {
    kubeconfig: s('kubeconfig'),
    context: s('context'),
    namespace: s('namespace') ?? s('n'),
  });
  try {
    const { items } = await hub.listAll(resourceOf[kind], {
      namespace: hub.namespace,
      signal: AbortSignal.timeout(3000),
    });
    return items.map((o) => o.metadata?.name ?? '').filter((n) => n.startsWith(current));
  } finally {
    await hub.close();
  }
}

/** Answers a completion request (yargs prints the words on standard output). */
export async function complete(commands: readonly Command[], args: string[], io: Io): Promise<number> {
  // half-typed command lines fail validation: complete them anyway, without help on stderr
  const parser = topParser(commands, args, io).fail(() => {});
  try {
    await parser.parseAsync();
  } catch {
    // nothing to complete
  }
  return 0;
}

/** The completion script for the user's shell ($SHELL: bash or zsh). */
export function completionScript(commands: readonly Command[]): Promise<string> {
  return new Promise((resolve, reject) => {
    topParser(commands, ['completion']).parse(['completion'], {}, (err, _argv, output) =>
      err ? reject(err) : resolve(output),
    );
  });
}

/** `5m`, `90s`, `1h30m`, `250ms` or plain seconds → milliseconds; throws UsageError otherwise. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) {
    throw new UsageError(`invalid duration "${text}": use e.g. 30s, 5m, 1h30m`);
  }
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * (unit[m[2] ?? ''] ?? 0);
  return ms;
}
