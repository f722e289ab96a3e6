// The nvdax subcommands; a new one is a module in this folder and a line here.
import type { Command } from '../io.ts';
import { completionCommand } from './completion.ts';
import { describeCommand } from './describe.ts';
import { escrowCommand } from './escrow.ts';
import { getCommand } from './get.ts';
import { inferCommand } from './infer.ts';
import { governanceCommand } from './governance.ts';
import { providerCommand } from './provider.ts';
import { quoteCommand } from './quote.ts';
import { submitCommand } from './submit.ts';
import { validateCommand } from './validate.ts';
import { watchCommand } from './watch.ts';

export const commands: readonly Command[] = [
  getCommand,
  describeCommand,
  watchCommand,
  quoteCommand,
  submitCommand,
  inferCommand,
  validateCommand,
  providerCommand,
  escrowCommand,
  governanceCommand,
  completionCommand,
];
