// nvdax validate -f FILE [-f FILE...]: check manifests offline against the CRD schema
// and its CEL rules, before they reach a cluster.
import { parseArgs } from 'node:util';
import type { TypedDataDomain } from 'ethers';
import { parseAllDocuments } from 'yaml';
import { formatDiagnostic, validateYaml } from '../../operator/api/validate-yaml.ts';
import type { Command, Io } from '../io.ts';
import { CliError } from '../hub.ts';
import { domainOf } from './submit.ts';

const usage = `Usage: nvdax validate -f FILE [-f FILE...] [--chain-id N --settlement-address ADDR]

Validate InferenceJob, TrainingJob and ProviderPool manifests offline, with the schema
and cross-field rules the API server enforces. FILE may hold several YAML documents;
"-" reads standard input, a directory means its .yaml/.yml/.json files.

Errors print as  file:line: Kind/name: field.path: message  and the exit code is 1.
Rules that compare with the stored object (immutability once a job is placed) are
only checked by the API server.

With --chain-id and --settlement-address, each job's spec.payment.signature is checked
too, as an operator run with --require-signed-tasks does: signed by spec.payment.requester
over the job's task under that settlement contract, deadline not passed.

Options:
  -f, --filename FILE         manifest file, directory or - (repeatable)
  --chain-id N                settlement chain id: check task signatures
  --settlement-address ADDR   Settlement contract address (with --chain-id)
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
    y
      .option('filename', { alias: 'f', type: 'string', describe: 'manifest file, directory or - (repeatable)' })
      .option('chain-id', { type: 'string', describe: 'settlement chain id: also check task signatures' })
      .option('settlement-address', { type: 'string', describe: 'Settlement contract address (with --chain-id)' }),
  async run(args, io) {
    let values: { filename?: string[]; help?: boolean; 'chain-id'?: string; 'settlement-address'?: string };
    try {
      ({ values } = parseArgs({
        args,
        options: {
          filename: { type: 'string', short: 'f', multiple: true },
          help: { type: 'boolean', short: 'h' },
          'chain-id': { type: 'string' },
          'settlement-address': { type: 'string' },
        },
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
    let domain: TypedDataDomain | undefined;
    if (values['chain-id'] !== undefined || values['settlement-address'] !== undefined) {
      try {
        domain = await domainOf(values['chain-id'], values['settlement-address'], 'validate');
      } catch (e) {
        io.err(`${e instanceof CliError ? e.message : String(e)}\n\n${usage}`);
        return 2;
      }
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
      if (domain && !r.diagnostics.length) errors += await checkSignatures(text, f.name, domain, io);
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

/** Checks each job's task signature offline (valid manifests only); prints one line per refusal, returns their count. */
async function checkSignatures(text: string, file: string, domain: TypedDataDomain, io: Io): Promise<number> {
  const { checkJobTask } = await import('../../operator/settlement/job-task.ts');
  let errors = 0;
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string }; spec?: unknown } | null;
    if (!o || (o.kind !== 'InferenceJob' && o.kind !== 'TrainingJob')) continue;
    const r = checkJobTask(o as Parameters<typeof checkJobTask>[0], domain, io.now?.() ?? Date.now());
    if (r.ok) continue;
    const line = doc.range ? text.slice(0, doc.range[0]).split('\n').length : 1;
    io.err(`${file}:${line}: ${o.kind}/${o.metadata?.name}: ${r.message} (${r.reason})`);
    errors++;
  }
  return errors;
}
