import test from 'ava';
import { formatDiagnostic, splitPath, validateYaml } from '../../../operator/api/validate-yaml.ts';

const pool = (name: string, extra = ''): string => `apiVersion: nvdax.io/v1alpha1
kind: ProviderPool
metadata:
  name: ${name}
spec:
  provider:
    address: "0xbde1c0c768642580b570c52a133b87e056c5ea11"
  region: eu-central
  jurisdiction: DE
  cluster:
    mode: Local
  baseRates:
    - gpuProduct: NVIDIA-H200
      pricePerGpuHour: "3.05"
${extra}`;

test('each error points at the line of the offending key, in every document', (t) => {
  const text = [
    '# two pools and a bad job',
    pool('good'),
    '---',
    pool('bad', '  heartbeatTimeout: soon\n  tiers: [Gold]\n').replace(
      'pricePerGpuHour: "3.05"',
      'pricePerGpuHour: "free"',
    ),
    '---',
    'apiVersion: nvdax.io/v1alpha1',
    'kind: TrainingJob',
    'metadata: {name: tj}',
    'spec:',
    '  mode: Federated',
    '  runtime: {engine: Flower}',
    '  resources: {gpus: 1}',
    '  sla: {priceCap: "1"}',
    '  payment:',
    '    requester: "0x5084ac70f1c4a79515e2778f93243d1fa1e88a59"',
    '    escrowId: "0xafcd32f9330851cc40d712e448263219c8092b9682020f132ccd18e436ce694b"',
    '---',
  ].join('\n');
  const lineOf = (needle: string, from = 1): number =>
    text.split('\n').findIndex((l, i) => i + 1 >= from && l.includes(needle)) + 1;
  const r = validateYaml(text, 'pools.yaml');
  t.is(r.objects, 3);
  const lines = r.diagnostics.map((d) => `${d.line} ${d.object} ${d.path}`);
  const tj = lineOf('kind: TrainingJob');
  t.deepEqual(lines, [
    `${lineOf('pricePerGpuHour: "free"')} ProviderPool/bad spec.baseRates[0].pricePerGpuHour`,
    `${lineOf('heartbeatTimeout: soon')} ProviderPool/bad spec.heartbeatTimeout`,
    `${lineOf('tiers: [Gold]')} ProviderPool/bad spec.tiers[0]`,
    // A CEL rule on spec about a missing field: the line of the deepest key present, spec.
    `${lineOf('spec:', tj)} TrainingJob/tj spec.federated`,
  ]);
  t.is(lineOf('pricePerGpuHour: "free"'), 31);
  t.is(
    formatDiagnostic(r.diagnostics[1]!),
    `pools.yaml:${lineOf('heartbeatTimeout: soon')}: ProviderPool/bad: spec.heartbeatTimeout: ` +
      'must match ^([0-9]{1,9}(\\.[0-9]{1,9})?(ns|us|ms|s|m|h)){1,6}$ (a duration such as 30s, 5m or 1h30m)',
  );
});

test('a missing required field points at its parent key', (t) => {
  const text = pool('p').replace('    address: "0xbde1c0c768642580b570c52a133b87e056c5ea11"\n', '    displayName: x\n');
  const [d] = validateYaml(text, 'p.yaml').diagnostics;
  t.is(d?.path, 'spec.provider.address');
  t.is(d?.message, 'Required value');
  t.is(d?.line, 6); // `provider:`
});

test('a map key holding dots is found whole', (t) => {
  const text = pool('p', '  nodeSelector:\n    kubernetes.io/os: linux\n    nvdax.io/pool: "no way"\n');
  const [d] = validateYaml(text, 'p.yaml').diagnostics;
  t.is(d?.path, 'spec.nodeSelector.nvdax.io/pool');
  t.is(d?.line, text.split('\n').findIndex((l) => l.includes('no way')) + 1);
});

test('an unquoted hex address gets a hint to quote it', (t) => {
  const text = pool('p').replace(
    '"0xbde1c0c768642580b570c52a133b87e056c5ea11"',
    '0xbde1c0c768642580b570c52a133b87e056c5ea11',
  );
  const [d] = validateYaml(text, 'p.yaml').diagnostics;
  t.is(d?.line, 7);
  t.regex(d?.message ?? '', /must be of type string \(quote the value: unquoted, YAML reads "0xbde1.*" as a number\)/);
});

test('YAML syntax errors are reported with their line; empty documents are skipped', (t) => {
  const r = validateYaml(`---\n${pool('a')}---\n---\nkind: [unclosed\n`, 'x.yaml');
  t.is(r.objects, 1);
  t.is(r.diagnostics.length >= 1, true);
  t.is(r.diagnostics[0]?.object, 'document 3'); // the leading --- opens document 1
  t.is(r.diagnostics[0]?.path, '(yaml)');
  t.true((r.diagnostics[0]?.line ?? 0) >= 18);
});

test('unknown kinds are named, with what is supported', (t) => {
  const r = validateYaml('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n', 'cm.yaml');
  t.deepEqual(r.diagnostics.map(formatDiagnostic), [
    'cm.yaml:1: ConfigMap/c: apiVersion: Unsupported value: "v1": supported values: "nvdax.io/v1alpha1"',
    'cm.yaml:2: ConfigMap/c: kind: Unsupported value: "ConfigMap": supported values: "InferenceJob", "TrainingJob", "ProviderPool", "Work"',
  ]);
});

test('paths split into keys, list indexes and map keys', (t) => {
  t.deepEqual(splitPath('spec.runtime.env[1].name'), ['spec', 'runtime', 'env', '1', 'name']);
  t.deepEqual(splitPath('spec.nodeSelector[nvdax.io/pool]'), ['spec', 'nodeSelector', 'nvdax.io/pool']);
});
