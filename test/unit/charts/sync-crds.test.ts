// hack/charts/sync-crds.ts: the chart's CRD copies follow crds/, and --check names each drift.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crdDirs, crdDrift, syncCrds } from '../../../hack/charts/sync-crds.ts';
import { projectRoot } from '../../../hack/charts/helm.ts';

const script = join(projectRoot, 'hack', 'charts', 'sync-crds.ts');

function fixture(): { root: string; source: string; copy: string } {
  const root = mkdtempSync(join(tmpdir(), 'nvdax-crds-'));
  const { source, copy } = crdDirs(root);
  mkdirSync(source, { recursive: true });
  writeFileSync(join(source, 'a.yaml'), 'kind: CustomResourceDefinition # a\n');
  writeFileSync(join(source, 'b.yaml'), 'kind: CustomResourceDefinition # b\n');
  return { root, source, copy };
}

const check = (root: string) =>
  spawnSync(process.execPath, [script, '--check', '--root', root], { encoding: 'utf8', timeout: 30_000 });

test('a missing copy, a changed one and a left-over one are each named; sync fixes all three', (t) => {
  const { root, source, copy } = fixture();
  try {
    mkdirSync(copy, { recursive: true });
    writeFileSync(join(copy, 'b.yaml'), 'kind: CustomResourceDefinition # edited by hand\n');
    writeFileSync(join(copy, 'old.yaml'), 'kind: CustomResourceDefinition # removed upstream\n');
    t.deepEqual(crdDrift(source, copy), [
      { file: 'a.yaml', problem: 'missing' },
      { file: 'b.yaml', problem: 'differs' },
      { file: 'old.yaml', problem: 'left over' },
    ]);
    const r = check(root);
    t.is(r.status, 1);
    t.regex(r.stderr, /charts\/nvdax-operator\/crds\/a\.yaml: missing/);
    t.regex(r.stderr, /crds\/b\.yaml: differs/);
    t.regex(r.stderr, /crds\/old\.yaml: left over/);
    t.regex(r.stderr, /run node hack\/charts\/sync-crds\.ts/);
    t.is(syncCrds(source, copy).length, 3);
    t.deepEqual(crdDrift(source, copy), []);
    t.is(readFileSync(join(copy, 'b.yaml'), 'utf8'), readFileSync(join(source, 'b.yaml'), 'utf8'));
    t.is(check(root).status, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('no CRDs to copy is an error, not an empty chart', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'nvdax-crds-'));
  try {
    const r = check(root);
    t.is(r.status, 2);
    t.regex(r.stderr, /no CRDs \(run make generate first\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the project is in sync', (t) => {
  const r = check(projectRoot);
  t.is(r.status, 0, r.stderr);
});
