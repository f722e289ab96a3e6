import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CelRules } from '../../../operator/api/cel.ts';
import { rootSchema } from '../../../operator/api/crd.ts';
import { kindDefs } from '../../../operator/api/kinds.ts';
import { walk } from '../../../operator/api/schema.ts';
import { validateManifest } from '../../../operator/api/validate.ts';
import { validateYaml } from '../../../operator/api/validate-yaml.ts';
import {
  exampleFiles,
  invalidCases,
  invalidManifest,
  loadExample,
  validCases,
  validManifest,
} from '../../helpers/invalid-manifests.ts';
import type { InvalidCase, ValidCase } from '../../helpers/invalid-manifests.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');

for (const [name, file] of Object.entries(exampleFiles)) {
  test(`example ${name} (${file}) is valid`, (t) => {
    const r = validateYaml(readFileSync(join(root, file), 'utf8'), file);
    t.deepEqual(r.diagnostics, []);
    t.is(r.objects, 1);
  });
}

test('the invalid table has at least 25 cases with distinct names', (t) => {
  t.true(invalidCases.length >= 25);
  t.is(new Set(invalidCases.map((c) => c.name)).size, invalidCases.length);
});

const refuses = test.macro({
  exec(t, c: InvalidCase) {
    const errs = validateManifest(invalidManifest(c));
    t.true(
      errs.some((e) => e.path === c.path),
      `expected an error at ${c.path}, got ${JSON.stringify(errs)}`,
    );
  },
  title: (_, c: InvalidCase) => `refuses ${c.base}: ${c.name} (${c.path})`,
});
for (const c of invalidCases) test(refuses, c);

const accepts = test.macro({
  exec(t, c: ValidCase) {
    t.deepEqual(validateManifest(validManifest(c)), []);
  },
  title: (_, c: ValidCase) => `accepts ${c.base}: ${c.name}`,
});
for (const c of validCases) test(accepts, c);

test('every offline-checkable CEL rule is exercised by a case of the table', (t) => {
  const cel = new CelRules();
  const found = invalidCases.flatMap((c) => validateManifest(invalidManifest(c)));
  const missing: string[] = [];
  for (const def of Object.values(kindDefs)) {
    walk(rootSchema(def), (node, path) => {
      for (const r of node['x-kubernetes-validations'] ?? []) {
        if (cel.compile(r.rule).transition) continue;
        const at = `${path}${r.fieldPath ?? ''}`.replace(/^\./, '');
        const re = new RegExp(
          `^${at.replaceAll('.', '\\.').replaceAll('[]', '\\[\\d+\\]').replaceAll('[*]', '\\[[^\\]]+\\]')}$`,
        );
        if (!found.some((e) => re.test(e.path) && e.message.endsWith(r.message)))
          missing.push(`${def.kind} ${at}: ${r.rule}`);
      }
    });
  }
  t.deepEqual(missing, []);
});

test('transition rules (oldSelf) are recognised and skipped offline', (t) => {
  const cel = new CelRules();
  t.true(cel.compile('self == oldSelf').transition);
  t.false(cel.compile('self.a == self.b').transition);
  const status = { attempts: 1, placement: { pool: 'frankfurt-h100', price: '2.10' } };
  const placed = { ...loadExample('inference'), status };
  t.deepEqual(validateManifest(placed), []);
});

test('unknown apiVersion and kind name what is supported', (t) => {
  const o = { ...loadExample('pool'), apiVersion: 'nvdax.io/v1' };
  t.deepEqual(validateManifest(o), [
    { path: 'apiVersion', message: 'Unsupported value: "nvdax.io/v1": supported values: "nvdax.io/v1alpha1"' },
  ]);
  const k = validateManifest({ ...loadExample('pool'), kind: 'GpuPool' });
  t.is(k[0]?.path, 'kind');
  t.regex(k[0]?.message ?? '', /supported values: "InferenceJob", "TrainingJob", "ProviderPool"/);
  t.deepEqual(validateManifest('just text'), [
    { path: '(root)', message: 'must be a Kubernetes object (a mapping with apiVersion and kind)' },
  ]);
});

test('messages read like the API server', (t) => {
  const msg = (c: Partial<InvalidCase> & Pick<InvalidCase, 'base' | 'mutate'>, path: string): string | undefined =>
    validateManifest(invalidManifest({ name: '', path, ...c })).find((e) => e.path === path)?.message;
  t.is(
    msg({ base: 'inference', mutate: (o) => ((o['spec'] as any).sla.maxLatencyMs = 0) }, 'spec.sla.maxLatencyMs'),
    'must be >= 1',
  );
  t.is(
    msg({ base: 'pool', mutate: (o) => ((o['spec'] as any).provider.address = '0x12') }, 'spec.provider.address'),
    'must match ^0x[0-9a-fA-F]{40}$ (an Ethereum address)',
  );
  t.is(
    msg({ base: 'inference', mutate: (o) => ((o['spec'] as any).sla.tier = 'Gold') }, 'spec.sla.tier'),
    'Unsupported value: "Gold": supported values: "BestEffort", "Reserved", "Premium"',
  );
  t.is(msg({ base: 'inference', mutate: (o) => delete (o['spec'] as any).sla }, 'spec.sla'), 'Required value');
  t.is(msg({ base: 'inference', mutate: (o) => ((o['spec'] as any).foo = 1) }, 'spec.foo'), 'unknown field');
  t.is(
    msg({ base: 'federated', mutate: (o) => delete (o['spec'] as any).federated }, 'spec.federated'),
    'Required value: Federated mode needs spec.federated (rounds, minParticipants, aggregation)',
  );
});

test('defaults are applied before the rules, and the input is not modified', (t) => {
  const o = loadExample('inference');
  const spec = o['spec'] as Record<string, any>;
  delete spec['endpoint'].protocol; // defaults to OpenAI, which the transport rule then checks
  spec['endpoint'].transport = 'GRPC';
  const before = structuredClone(o);
  t.deepEqual(
    validateManifest(o).map((e) => e.path),
    ['spec.endpoint.transport'],
  );
  t.deepEqual(o, before);
});

test('schema errors that block CEL in the API server block it offline too', (t) => {
  const o = loadExample('federated');
  const spec = o['spec'] as Record<string, any>;
  spec['federated'].minParticipants = 9; // would break the CEL rule minParticipants <= workers...
  spec['sla'].tier = 'Gold'; // ...but an enum error means the API server skips CEL
  t.deepEqual(
    validateManifest(o).map((e) => e.path),
    ['spec.sla.tier'],
  );
});

test('status: placement keeps any GPU product capacity reports; pool GPU memory cannot be negative', (t) => {
  const placement = { pool: 'frankfurt-h100', gpuProduct: 'unknown (nvidia.com/pgpu)' };
  t.deepEqual(validateManifest({ ...loadExample('distributed'), status: { attempts: 2, placement } }), []);
  const long = { ...placement, gpuProduct: 'x'.repeat(129) };
  t.deepEqual(
    validateManifest({ ...loadExample('inference'), status: { placement: long } }).map((e) => e.path),
    ['status.placement.gpuProduct'],
  );
  const capacity = [{ gpuProduct: 'unknown', mode: 'Container', resourceName: 'nvidia.com/gpu', gpuMemory: '-1Mi' }];
  const errs = validateManifest({ ...loadExample('pool'), status: { capacity } });
  t.deepEqual(
    errs.map((e) => e.path),
    ['status.capacity[0].gpuMemory'],
  );
  t.regex(errs[0]?.message ?? '', /non-negative/);
});

test('zero durations and negative quantities are refused with messages that say what is allowed', (t) => {
  const at = (c: Pick<InvalidCase, 'base' | 'mutate'>, path: string): string | undefined =>
    validateManifest(invalidManifest({ name: '', path, ...c })).find((e) => e.path === path)?.message;
  const sla = (o: Record<string, unknown>) => (o['spec'] as any).sla;
  const zero = at({ base: 'inference', mutate: (o) => (sla(o).maxDuration = '0s') }, 'spec.sla.maxDuration');
  t.is(zero, 'must be greater than 0');
  const res = (o: Record<string, unknown>) => (o['spec'] as any).resources;
  t.regex(at({ base: 'inference', mutate: (o) => (res(o).cpu = '-1') }, 'spec.resources.cpu') ?? '', /non-negative/);
  t.is(at({ base: 'inference', mutate: (o) => (res(o).cpu = -1) }, 'spec.resources.cpu'), 'must be >= 0');
});
