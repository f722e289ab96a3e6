// Copies the generated CRDs (crds/*.yaml) into the hub chart (charts/nvdax-operator/crds/),
// byte for byte: Helm installs a chart's crds/ folder before its templates. The copies are
// generated, never edited: `--check` writes nothing, names each copy that differs, is missing
// or is left over, and exits 1.
//
//   node hack/charts/sync-crds.ts [--check] [--root DIR]
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** One difference between crds/ and the chart's copy, as a line for the user. */
export interface Drift {
  file: string;
  problem: 'differs' | 'missing' | 'left over';
}

const yamlFiles = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
        .sort()
    : [];

/** The source and copy folders of a project root. */
export function crdDirs(root: string): { source: string; copy: string } {
  return { source: join(root, 'crds'), copy: join(root, 'charts', 'nvdax-operator', 'crds') };
}

/** What differs between the source CRDs and the chart's copies (empty: in sync). */
export function crdDrift(source: string, copy: string): Drift[] {
  const want = yamlFiles(source);
  if (want.length === 0) throw new Error(`${source}: no CRDs (run make generate first)`);
  const have = new Set(yamlFiles(copy));
  const out: Drift[] = [];
  for (const f of want) {
    if (!have.has(f)) out.push({ file: f, problem: 'missing' });
    else if (!readFileSync(join(source, f)).equals(readFileSync(join(copy, f))))
      out.push({ file: f, problem: 'differs' });
    have.delete(f);
  }
  for (const f of have) out.push({ file: f, problem: 'left over' });
  return out;
}

/** Makes the copies equal to the source; returns what it changed. */
export function syncCrds(source: string, copy: string): Drift[] {
  const drift = crdDrift(source, copy);
  mkdirSync(copy, { recursive: true });
  for (const d of drift) {
    if (d.problem === 'left over') rmSync(join(copy, d.file));
    else writeFileSync(join(copy, d.file), readFileSync(join(source, d.file)));
  }
  return drift;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: 'boolean' }, root: { type: 'string' } } });
  const root = resolve(values.root ?? join(import.meta.dirname, '..', '..'));
  const { source, copy } = crdDirs(root);
  try {
    if (values.check) {
      const drift = crdDrift(source, copy);
      for (const d of drift) process.stderr.write(`charts/nvdax-operator/crds/${d.file}: ${d.problem}\n`);
      if (drift.length) {
        process.stderr.write('the chart CRDs are stale: run node hack/charts/sync-crds.ts (make generate)\n');
        process.exit(1);
      }
    } else {
      for (const d of syncCrds(source, copy))
        process.stdout.write(`charts/nvdax-operator/crds/${d.file}: ${d.problem}, synced\n`);
    }
  } catch (e) {
    process.stderr.write(`sync-crds: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
