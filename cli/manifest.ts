// Reading the jobs of a manifest for the commands that act on them (quote, submit): the file or standard
// input, checked offline as the API server would (as nvdax validate does), InferenceJobs and TrainingJobs only.
import { parseAllDocuments } from 'yaml';
import { formatDiagnostic, validateYaml } from '../operator/api/validate-yaml.ts';
import type { KubeObject } from '../operator/kube/types.ts';
import { CliError } from './hub.ts';
import type { Io } from './io.ts';

/** The text of `file` ("-": standard input); a CliError naming the file when it cannot be read. */
export async function readManifest(file: string, io: Io): Promise<string> {
  try {
    return file === '-' ? await io.readStdin() : io.readFile(file);
  } catch (e) {
    throw new CliError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The jobs of a manifest text, in file order. An invalid manifest prints its diagnostics and throws a
 * CliError ending in `nothing` ("nothing quoted"); so does one holding no job or anything but jobs.
 */
export function jobsOfManifest(text: string, file: string, io: Io, command: string, nothing: string): KubeObject[] {
  const shown = file === '-' ? '<stdin>' : file;
  const checked = validateYaml(text, shown);
  if (checked.diagnostics.length) {
    for (const d of checked.diagnostics) io.err(formatDiagnostic(d));
    throw new CliError(`nvdax ${command}: ${shown} is not valid; ${nothing}`);
  }
  const docs = parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null | undefined)
    .filter((o): o is KubeObject => o !== null && o !== undefined);
  const others = docs.filter((d) => d.kind !== 'InferenceJob' && d.kind !== 'TrainingJob');
  if (!docs.length || others.length) {
    const what = others.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ');
    throw new CliError(
      `nvdax ${command}: ${shown} must hold InferenceJobs or TrainingJobs only${what ? ` (not ${what})` : ''}`,
    );
  }
  return docs;
}
