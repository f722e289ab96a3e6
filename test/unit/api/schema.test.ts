// The rules a good CRD schema follows, checked on every node, so a field added later
// cannot forget its description, its bounds or its place in the generated types.
import test from 'ava';
import { CelRules } from '../../../operator/api/cel.ts';
import { Tier, enums } from '../../../operator/api/constants.ts';
import { customResourceDefinition, rootSchema } from '../../../operator/api/crd.ts';
import { kindDefs } from '../../../operator/api/kinds.ts';
import type { Schema } from '../../../operator/api/schema.ts';
import { walk } from '../../../operator/api/schema.ts';

const defs = Object.values(kindDefs);

function problems(check: (node: Schema, path: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const d of defs) {
    walk(rootSchema(d), (node, path) => {
      if (path === 'metadata' || path === 'apiVersion' || path === 'kind') return; // the API server's own
      const p = check(node, path);
      if (p) out.push(`${d.kind} ${path || '(root)'}: ${p}`);
    });
  }
  return out;
}

test('every field has a description', (t) => {
  t.deepEqual(
    problems((n) => (n.description.trim() ? undefined : 'no description')),
    [],
  );
});

test('the schema is structural: every node has a type (or is int-or-string)', (t) => {
  t.deepEqual(
    problems((n) => (n.type || n['x-kubernetes-int-or-string'] ? undefined : 'no type')),
    [],
  );
  t.deepEqual(
    problems((n) =>
      n.type === 'object' && !n.properties && !n.additionalProperties && !n['x-kubernetes-preserve-unknown-fields']
        ? 'untyped object'
        : undefined,
    ),
    [],
  );
});

test('strings and lists are bounded, so CEL cost estimates stay small', (t) => {
  t.deepEqual(
    problems((n) =>
      n.type === 'string' && !n.enum && n.maxLength === undefined ? 'string without maxLength' : undefined,
    ),
    [],
  );
  t.deepEqual(
    problems((n) => (n.type === 'array' && n.maxItems === undefined ? 'list without maxItems' : undefined)),
    [],
  );
  t.deepEqual(
    problems((n) =>
      n.additionalProperties && n.maxProperties === undefined ? 'map without maxProperties' : undefined,
    ),
    [],
  );
});

test('map-lists have their keys required or defaulted', (t) => {
  t.deepEqual(
    problems((n) => {
      const keys = n['x-kubernetes-list-map-keys'];
      if (!keys) return undefined;
      const missing = keys.filter(
        (k) => !n.items?.required?.includes(k) && n.items?.properties?.[k]?.default === undefined,
      );
      return missing.length ? `keys not required: ${missing.join(', ')}` : undefined;
    }),
    [],
  );
});

test('enums come from constants.ts and defaults are allowed values', (t) => {
  t.deepEqual(
    problems((n) => {
      if (!n.enum) return undefined;
      const known = (enums as Record<string, Record<string, string>>)[n.tsName ?? ''];
      if (!known) return `enum ${n.tsName} not in constants.ts`;
      if (n.default !== undefined && !n.enum.includes(n.default as string)) return 'default not in enum';
      return undefined;
    }),
    [],
  );
  t.deepEqual(kindDefs.ProviderPool.spec.properties?.['tiers']?.default, Object.values(Tier));
});

test('CEL rules parse, have messages, and fieldPaths name real fields', (t) => {
  const cel = new CelRules();
  t.deepEqual(
    problems((n) => {
      for (const r of n['x-kubernetes-validations'] ?? []) {
        cel.compile(r.rule);
        if (!r.message) return `rule ${r.rule} has no message`;
        if (r.fieldPath) {
          let at: Schema | undefined = n;
          for (const seg of r.fieldPath.slice(1).split('.')) at = at?.properties?.[seg];
          if (!at) return `fieldPath ${r.fieldPath} names no field`;
        }
      }
      return undefined;
    }),
    [],
  );
});

test('CRDs: names, scope, status subresource and printer columns', (t) => {
  const crd = (k: keyof typeof kindDefs) => customResourceDefinition(kindDefs[k]) as any;
  t.is(crd('InferenceJob').metadata.name, 'inferencejobs.nvdax.io');
  t.deepEqual(crd('InferenceJob').spec.names.shortNames, ['ij']);
  t.deepEqual(crd('TrainingJob').spec.names.shortNames, ['tj']);
  t.deepEqual(crd('ProviderPool').spec.names.shortNames, ['pp']);
  t.is(crd('ProviderPool').spec.scope, 'Cluster');
  t.is(crd('TrainingJob').spec.scope, 'Namespaced');
  for (const k of ['InferenceJob', 'TrainingJob', 'ProviderPool'] as const) {
    const v = crd(k).spec.versions[0];
    t.deepEqual(crd(k).spec.names.categories, ['nvdax']);
    t.deepEqual(v.subresources, { status: {} });
    t.is(v.additionalPrinterColumns.at(-1).name, 'Age');
    t.false(JSON.stringify(v.schema).includes('"tsName"'), 'private keys are not emitted');
  }
  const cols = crd('InferenceJob').spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
  for (const c of ['Phase', 'Pool', 'GPUs', 'Price', 'Latency(ms)', 'Age']) t.true(cols.includes(c), c);
  const tcols = crd('TrainingJob').spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
  t.true(tcols.includes('Progress'));
});
