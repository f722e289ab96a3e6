// nvdax completion: the shell completion script (yargs'), for bash or zsh ($SHELL).
import { completionScript, parseCommandArgs } from '../args.ts';
import type { Command } from '../io.ts';

export const completionCommand: Command = {
  name: 'completion',
  summary: 'print the shell completion script (bash, zsh)',
  usage: 'nvdax completion',
  builder: (y) =>
    y
      .example('nvdax completion >> ~/.bashrc', 'TAB completes commands, options, types and job names')
      .example('source <(nvdax completion)', 'in this shell only')
      .epilog('The script is for zsh when $SHELL is zsh, else for bash.\nExit codes: 0 printed; 2 wrong arguments.'),
  async run(args, io) {
    const parsed = await parseCommandArgs(completionCommand, args, io);
    if ('code' in parsed) return parsed.code;
    // the command list holds this command: import it when run, not when loaded
    const { commands } = await import('./index.ts');
    io.out((await completionScript(commands)).trimEnd());
    return 0;
  },
};
