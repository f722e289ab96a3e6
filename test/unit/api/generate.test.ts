import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { generatedFiles, projectRoot, staleFiles, writeFiles } from '../../../operator/api/generate.ts';

const generator = join(projectRoot, 'operator', 'api', 'generate.ts');

test('the committed generated files are up to date', (t) => {
  t.deepEqual(staleFiles(projectRoot), []);
});

test('generated files: four CRDs with controller-gen names, the types and the reference', (t) => {
  t.deepEqual([...generatedFiles().keys()].sort(), [
    'crds/nvdax.io_inferencejobs.yaml',
    'crds/nvdax.io_providerpools.yaml',
    'crds/nvdax.io_trainingjobs.yaml',
    'crds/nvdax.io_works.yaml',
    'docs/api-reference.md',
    'operator/api/types.gen.ts',
  ]);
  t.deepEqual(generatedFiles(), generatedFiles(), 'deterministic');
});

test('--check detects drift and names the stale files; a plain run fixes it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-gen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.is(writeFiles(dir).length, generatedFiles().size);
  const check = () => spawnSync(process.execPath, [generator, '--check', '--root', dir], { encoding: 'utf8' });
  t.is(check().status, 0);

  const crd = join(dir, 'crds', 'nvdax.io_trainingjobs.yaml');
  writeFileSync(crd, readFileSync(crd, 'utf8').replace('shortNames:\n      - tj', 'shortNames:\n      - tr'));
  unlinkSync(join(dir, 'docs', 'api-reference.md'));
  t.deepEqual(staleFiles(dir), ['crds/nvdax.io_trainingjobs.yaml', 'docs/api-reference.md']);
  const r = check();
  t.is(r.status, 1);
  t.regex(r.stderr, /stale: crds\/nvdax\.io_trainingjobs\.yaml/);
  t.regex(r.stderr, /stale: docs\/api-reference\.md/);
  t.regex(r.stderr, /npm run generate/);

  const fix = spawnSync(process.execPath, [generator, '--root', dir], { encoding: 'utf8' });
  t.is(fix.status, 0);
  t.regex(fix.stdout, /wrote crds\/nvdax\.io_trainingjobs\.yaml/);
  t.is(check().status, 0);
});

test('each CRD file is one valid YAML document', (t) => {
  for (const [path, content] of generatedFiles()) {
    if (!path.endsWith('.yaml')) continue;
    const docs = parseAllDocuments(content);
    t.true(Array.isArray(docs) && docs.length === 1 && docs[0]!.errors.length === 0, path);
  }
});
