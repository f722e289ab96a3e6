// nvdax validate -f FILE [-f FILE...]: check manifests offline against the CRD schema
// and its CEL rules, before they reach a cluster.
import { parseArgs } from 'node:util';
import { formatDiagnostic, validateYaml } from '../../operator/api/validate-yaml.ts';
import type { Command, Io } from '../io.ts';

const usage = `Usage: nvdax validate -f FILE [-f FILE...]

Validate InferenceJob, TrainingJob and ProviderPool manifests offline, with the schema
and cross-field rules the API server enforces. FILE may hold several YAML documents;
"-" reads standard input, a directory means its .yaml/.yml/.json files.

Errors print as  file:line: Kind/name: field.path: message  and the exit code is 1.
Rules that compare with the stored object (immutability once a job is placed) are
only checked by the API server.

Options:
  -f, --filename FILE   manifest file, directory or - (repeatable)
  -h, --help            show this help`;

async function expand(names: string[], io: Io): Promise<Array<{ name: string; text: () => Promise<string> }>> {
  const files: Array<{ name: string; text: () => Promise<string> }> = [];
  for (const n of names) {
    if (n === '-') {
      files.push({ name: '<stdin>', text: () => io.readStdin() });
      continue;
    }
    const inDir = io.listManifests(n);
    for (const f of inDir ?? [n]) files.push({ name: f, text: async () => io.readFile(f) });
  }
  return files;
}

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check manifests offline against the NVDAx API schema',
  usage,
  // for the top-level help and shell completion; run() parses with parseArgs
  builder: (y) =>
    y.option('filename', { alias: 'f', type: 'string', describe: 'manifest file, directory or - (repeatable)' }),
  async run(args, io) {
    let values: { filename?: string[]; help?: boolean };
    try {
      ({ values } = parseArgs({
        args,
        options: { filename: { type: 'string', short: 'f', multiple: true }, help: { type: 'boolean', short: 'h' } },
      }));
    } catch (e) {
      io.err(`nvdax validate: ${e instanceof Error ? e.message : String(e)}\n\n${usage}`);
      return 2;
    }
    if (values.help) {
      io.out(usage);
      return 0;
    }
    if (!values.filename?.length) {
      io.err(`nvdax validate: -f FILE is required\n\n${usage}`);
      return 2;
    }
    let objects = 0;
    let errors = 0;
    const files = await expand(values.filename, io);
    for (const f of files) {
      let text: string;
      try {
        text = await f.text();
      } catch (e) {
        io.err(`${f.name}: ${e instanceof Error ? e.message : String(e)}`);
        errors++;
        continue;
      }
      const r = validateYaml(text, f.name);
      objects += r.objects;
      errors += r.diagnostics.length;
      for (const d of r.diagnostics) io.err(formatDiagnostic(d));
    }
    const summary = `${objects} object${objects === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'}`;
    if (errors) {
      io.err(`${errors} error${errors === 1 ? '' : 's'} (${summary})`);
      return 1;
    }
    if (objects === 0) {
      // an empty directory or file checks nothing: say so rather than pass
      io.err(`nvdax validate: no manifests found (${summary})`);
      return 1;
    }
    io.out(`OK: ${summary} valid`);
    return 0;
  },
};
