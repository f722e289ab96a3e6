// The nvdax subcommands; a new one is a module in this folder and a line here.
import type { Command } from '../io.ts';
import { validateCommand } from './validate.ts';

export const commands: readonly Command[] = [validateCommand];
