// The API against a real API server (the sim's hub): the CRDs install, every example
// applies, every invalid manifest of the shared table is refused naming the same field
// as `nvdax validate`, transition rules hold, and explain/get show our docs and columns.
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PLURALS, GROUP } from '../../operator/api/constants.ts';
import { rootSchema } from '../../operator/api/crd.ts';
import { kindDefs } from '../../operator/api/kinds.ts';
import { walk } from '../../operator/api/schema.ts';
import { validateManifest } from '../../operator/api/validate.ts';
import {
  exampleFiles,
  invalidCases,
  invalidManifest,
  loadExample,
  validCases,
  validManifest,
} from '../helpers/invalid-manifests.ts';
import type { ExampleName } from '../helpers/invalid-manifests.ts';
import { binDir, kubeconfigPath, projectRoot, uniqueName } from '../helpers/sim.ts';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kubectl(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(binDir(), 'kubectl'), ['--kubeconfig', kubeconfigPath('hub'), ...args], { cwd: projectRoot });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** At most n kubectl processes at once: the machine has two cores and ava runs tests concurrently. */
function limiter(n: number): <T>(f: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (f) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await f();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const limit = limiter(4);

const crdNames = Object.values(PLURALS).map((p) => `crd/${p}.${GROUP}`);
const namespaced = (name: ExampleName): boolean => name !== 'pool';
let tableNamespace = '';

async function newNamespace(t: { teardown(f: () => Promise<void>): void }): Promise<string> {
  const ns = uniqueName('api');
  await ok(['create', 'namespace', ns]);
  t.teardown(async () => void (await kubectl(['delete', 'namespace', ns, '--wait=false'])));
  return ns;
}

test.before(async () => {
  await ok(['apply', '--server-side', '--force-conflicts', '--field-manager=nvdax-api-test', '-f', 'crds/']);
  await ok(['wait', '--for=condition=Established', '--timeout=60s', ...crdNames]);
  tableNamespace = uniqueName('api-invalid');
  await ok(['create', 'namespace', tableNamespace]);
});

test.after.always(async () => {
  if (tableNamespace) await kubectl(['delete', 'namespace', tableNamespace, '--wait=false']);
});

/** Applies an example; a cluster-scoped one gets a unique name so parallel runs do not collide. */
async function applyExample(
  t: { teardown(f: () => Promise<void>): void },
  name: ExampleName,
): Promise<{ ns?: string; obj: Record<string, any> }> {
  const obj = loadExample(name) as Record<string, any>;
  if (namespaced(name)) {
    const ns = await newNamespace(t);
    await ok(['apply', '--validate=strict', '-n', ns, '-f', exampleFiles[name]]);
    return { ns, obj };
  }
  obj['metadata'].name = uniqueName(obj['metadata'].name);
  await ok(['apply', '--validate=strict', '-f', '-'], JSON.stringify(obj));
  t.teardown(async () => void (await kubectl(['delete', 'providerpool', obj['metadata'].name, '--wait=false'])));
  return { obj };
}

const target = (ns: string | undefined, obj: Record<string, any>): string[] => [
  ...(ns ? ['-n', ns] : []),
  `${String(obj['kind']).toLowerCase()}/${obj['metadata'].name}`,
];

for (const name of Object.keys(exampleFiles) as ExampleName[]) {
  test(`example ${name} applies and passes nvdax validate`, async (t) => {
    t.deepEqual(validateManifest(loadExample(name)), []);
    const { ns, obj } = await applyExample(t, name);
    const stored = JSON.parse(await ok(['get', '-o', 'json', ...target(ns, obj)]));
    t.is(stored.metadata.name, obj['metadata'].name);
    t.deepEqual(stored.spec.payment ?? stored.spec.provider, obj['spec'].payment ?? obj['spec'].provider);
  });
}

const celMessages = Object.values(kindDefs).flatMap((d) => {
  const out: string[] = [];
  walk(rootSchema(d), (node) => out.push(...(node['x-kubernetes-validations'] ?? []).map((r) => r.message)));
  return out;
});

const mentions = (text: string, path: string): boolean =>
  new RegExp(`(^|[\\s"*\\[])${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:|"|\\s|$)`, 'm').test(text);

for (const c of invalidCases) {
  test(`API server and nvdax validate refuse ${c.base}: ${c.name} at ${c.path}`, async (t) => {
    const manifest = invalidManifest(c);
    const offline = validateManifest(manifest);
    t.true(
      offline.some((e) => e.path === c.path),
      `nvdax validate: ${JSON.stringify(offline)}`,
    );
    if (!namespaced(c.base)) (manifest['metadata'] as Record<string, string>)['name'] = uniqueName('invalid');
    const args = [
      'create',
      '--validate=strict',
      '-o',
      'name',
      '-f',
      '-',
      ...(namespaced(c.base) ? ['-n', tableNamespace] : []),
    ];
    const r = await limit(() => kubectl(args, JSON.stringify(manifest)));
    t.not(r.code, 0, `accepted: ${r.stdout}`);
    t.true(mentions(r.stderr, c.path), `API server error does not name ${c.path}: ${r.stderr}`);
    // A CEL rule refusing it offline must be the rule refusing it in the API server.
    const rule = celMessages.find((m) => offline.some((e) => e.path === c.path && e.message.endsWith(m)));
    if (rule) t.true(r.stderr.includes(`${c.path}: `) && r.stderr.includes(rule), `API server: ${r.stderr}`);
  });
}

for (const c of validCases) {
  test(`API server and nvdax validate accept ${c.base}: ${c.name}`, async (t) => {
    const manifest = validManifest(c);
    t.deepEqual(validateManifest(manifest), []);
    if (!namespaced(c.base)) (manifest['metadata'] as Record<string, string>)['name'] = uniqueName('valid');
    const ns = namespaced(c.base) ? ['-n', tableNamespace] : [];
    // A server-side dry run: full validation and defaulting, nothing stored, no name clashes.
    const args = ['create', '--validate=strict', '--dry-run=server', '-o', 'name', '-f', '-', ...ns];
    const r = await limit(() => kubectl(args, JSON.stringify(manifest)));
    t.is(r.code, 0, r.stderr);
  });
}

test('kubectl explain inferencejob.spec.sla shows the field documentation', async (t) => {
  const out = (await ok(['explain', 'inferencejob.spec.sla'])).replace(/\s+/g, ' ');
  t.regex(out, /Service level: tier, latency and price limits, and where the job may run\./);
  for (const f of ['tier', 'maxLatencyMs', 'maxDuration', 'priceCap', 'regions', 'dataResidency'])
    t.true(out.includes(f), f);
  t.regex(out, /Highest price accepted, in NVDAx per GPU-hour/);
  t.regex(out, /Premium: Reserved plus a latency guarantee/);
});

test('kubectl get ij shows the printer columns, filled from status', async (t) => {
  const { ns, obj } = await applyExample(t, 'inference');
  const header = (await ok(['get', 'ij', '-n', ns!])).split('\n')[0] ?? '';
  t.deepEqual(header.split(/\s+/).filter(Boolean), [
    'NAME',
    'PHASE',
    'POOL',
    'PRICE',
    'GPUS',
    'READY',
    'REASON',
    'AGE',
  ]);
  const status = {
    phase: 'Running',
    placement: { pool: 'frankfurt-h100', price: '2.10', gpus: 2 },
    readyReplicas: 2,
    latencyMs: 180,
    conditions: [
      { type: 'Scheduled', status: 'True', reason: 'Placed', message: 'm', lastTransitionTime: '2026-11-28T00:00:00Z' },
    ],
  };
  await ok(['patch', ...target(ns, obj), '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
  const wide = (await ok(['get', 'ij', '-n', ns!, '-o', 'wide'])).split('\n');
  t.deepEqual(wide[0]?.split(/\s+/).filter(Boolean).slice(-4), ['LATENCY(MS)', 'TIER', 'MODEL', 'AGE']);
  t.regex(
    wide[1] ?? '',
    /llama-chat\s+Running\s+frankfurt-h100\s+2\.10\s+1\s+2\s+Placed\s+180\s+Premium\s+meta-llama\/Llama-3\.1-8B-Instruct/,
  );
  const byPool = await ok([
    'get',
    'ij',
    '-n',
    ns!,
    '--field-selector',
    'status.placement.pool=frankfurt-h100',
    '-o',
    'name',
  ]);
  t.is(byPool.trim(), 'inferencejob.nvdax.io/llama-chat');
  t.regex(await ok(['get', 'nvdax', '-n', ns!, '-o', 'name']), /inferencejob\.nvdax\.io\/llama-chat/);
});

test('kubectl get tj and pp show their printer columns', async (t) => {
  const { ns } = await applyExample(t, 'distributed');
  const tj = (await ok(['get', 'tj', '-n', ns!])).split('\n')[0] ?? '';
  t.deepEqual(tj.split(/\s+/).filter(Boolean), [
    'NAME',
    'MODE',
    'PHASE',
    'POOL',
    'PRICE',
    'WORKERS',
    'READY',
    'REASON',
    'AGE',
  ]);
  const { obj } = await applyExample(t, 'pool');
  const pp = (await ok(['get', 'pp', obj['metadata'].name, '-o', 'wide'])).split('\n')[0] ?? '';
  t.deepEqual(pp.split(/\s+/).filter(Boolean), [
    'NAME',
    'REGION',
    'PHASE',
    'GPUS',
    'AVAILABLE',
    'REPUTATION',
    'PROVIDER',
    'JURISDICTION',
    'ACCESS',
    'AGE',
  ]);
});

async function refusedUpdate(ns: string | undefined, obj: Record<string, any>, patch: unknown): Promise<string> {
  const r = await kubectl(['patch', ...target(ns, obj), '--type=merge', '-p', JSON.stringify(patch)]);
  if (r.code === 0) throw new Error(`update accepted: ${JSON.stringify(patch)}`);
  return r.stderr;
}

const patchStatus = (ns: string | undefined, obj: Record<string, any>, status: unknown): Promise<string> =>
  ok(['patch', ...target(ns, obj), '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
const patchSpec = (ns: string | undefined, obj: Record<string, any>, spec: unknown): Promise<string> =>
  ok(['patch', ...target(ns, obj), '--type=merge', '-p', JSON.stringify({ spec })]);
const frozen = /cannot change once the job has been placed \(status\.attempts > 0\)/;

test('InferenceJob: the spec freezes once placed (status.attempts > 0), even after placement is cleared', async (t) => {
  const { ns, obj } = await applyExample(t, 'inference');
  // attempts absent: the spec may change, a limit may be added.
  await patchSpec(ns, obj, { resources: { gpus: 2 }, sla: { priceCap: '5', maxDuration: '1h' } });
  await patchStatus(ns, obj, { attempts: 1, placement: { pool: 'p1', gpuProduct: 'unknown (nvidia.com/pgpu)' } });
  await patchStatus(ns, obj, { placement: null }); // a retry or a lost pool clears placement; attempts stays
  const gpus = await refusedUpdate(ns, obj, { spec: { resources: { gpus: 4 } } });
  t.true(mentions(gpus, 'spec.resources'), gpus);
  t.regex(gpus, frozen);
  const cap = await refusedUpdate(ns, obj, { spec: { sla: { priceCap: '9' } } });
  t.true(mentions(cap, 'spec.sla.priceCap'), cap);
  t.true(mentions(await refusedUpdate(ns, obj, { spec: { sla: { tier: 'Reserved' } } }), 'spec.sla.tier'));
  t.true(mentions(await refusedUpdate(ns, obj, { spec: { sla: { regions: ['us-east'] } } }), 'spec.sla.regions'));
  t.true(mentions(await refusedUpdate(ns, obj, { spec: { confidential: null } }), 'spec.confidential'));
  // maxDuration may grow or go; shortening it or adding one back is refused.
  await patchSpec(ns, obj, { sla: { maxDuration: '90m' } });
  const shrink = await refusedUpdate(ns, obj, { spec: { sla: { maxDuration: '30m' } } });
  t.true(mentions(shrink, 'spec.sla.maxDuration'), shrink);
  t.regex(shrink, /may only grow once the job has been placed/);
  await patchSpec(ns, obj, { sla: { maxDuration: null } });
  const add = await refusedUpdate(ns, obj, { spec: { sla: { maxDuration: '2h' } } });
  t.true(mentions(add, 'spec.sla.maxDuration'), add);
  // What does not affect placement still may change.
  await patchSpec(ns, obj, { suspend: true, autoscaling: { maxReplicas: 6 } });
  const stored = JSON.parse(await ok(['get', '-o', 'json', ...target(ns, obj)]));
  t.is(stored.spec.sla.maxDuration, undefined);
  t.is(stored.spec.sla.priceCap, '5');
});

test('a TrainingJob freezes federated and checkpoint once placed; before, they may change', async (t) => {
  const fl = await applyExample(t, 'federated');
  await patchSpec(fl.ns, fl.obj, { federated: { rounds: 60 }, checkpoint: { interval: '45m' } });
  await patchStatus(fl.ns, fl.obj, { attempts: 1 });
  const fed = await refusedUpdate(fl.ns, fl.obj, { spec: { federated: { rounds: 70 } } });
  t.true(mentions(fed, 'spec.federated'), fed);
  t.regex(fed, frozen);
  const ckpt = await refusedUpdate(fl.ns, fl.obj, { spec: { checkpoint: { interval: '10m' } } });
  t.true(mentions(ckpt, 'spec.checkpoint'), ckpt);
  t.true(mentions(await refusedUpdate(fl.ns, fl.obj, { spec: { sla: { priceCap: '1' } } }), 'spec.sla.priceCap'));
  await patchSpec(fl.ns, fl.obj, { sla: { maxDuration: '48h' } });
  const shrink = await refusedUpdate(fl.ns, fl.obj, { spec: { sla: { maxDuration: '12h' } } });
  t.true(mentions(shrink, 'spec.sla.maxDuration'), shrink);
  const dist = await applyExample(t, 'distributed');
  await patchStatus(dist.ns, dist.obj, { attempts: 3 });
  t.true(mentions(await refusedUpdate(dist.ns, dist.obj, { spec: { workers: 4 } }), 'spec.workers'));
  t.true(mentions(await refusedUpdate(dist.ns, dist.obj, { spec: { checkpoint: null } }), 'spec.checkpoint'));
});

test('status.attempts only grows, so the freeze cannot be lifted', async (t) => {
  const { ns, obj } = await applyExample(t, 'inference');
  await patchStatus(ns, obj, { attempts: 2 });
  await patchStatus(ns, obj, { attempts: 3 });
  for (const attempts of [0, 2, null]) {
    const patch = JSON.stringify({ status: { attempts } });
    const r = await kubectl(['patch', ...target(ns, obj), '--subresource=status', '--type=merge', '-p', patch]);
    t.not(r.code, 0, `attempts ${attempts} accepted`);
    t.true(mentions(r.stderr, 'status.attempts'), r.stderr);
    t.regex(r.stderr, /may only grow/);
  }
});

test('payment, training mode and provider address are immutable', async (t) => {
  const ij = await applyExample(t, 'inference');
  const e1 = await refusedUpdate(ij.ns, ij.obj, {
    spec: { payment: { requester: '0x0000000000000000000000000000000000000001' } },
  });
  t.true(mentions(e1, 'spec.payment.requester'), e1);
  const tj = await applyExample(t, 'distributed');
  const e2 = await refusedUpdate(tj.ns, tj.obj, { spec: { mode: 'Federated', federated: { rounds: 2 } } });
  t.true(mentions(e2, 'spec.mode'), e2);
  const pp = await applyExample(t, 'pool');
  const e3 = await refusedUpdate(undefined, pp.obj, {
    spec: { provider: { address: '0x0000000000000000000000000000000000000001' } },
  });
  t.true(mentions(e3, 'spec.provider.address'), e3);
});

test('the API server applies the schema defaults', async (t) => {
  const { obj } = await applyExample(t, 'pool');
  const stored = JSON.parse(await ok(['get', 'providerpool', obj['metadata'].name, '-o', 'json']));
  t.is(stored.spec.unschedulable, false);
  t.is(stored.spec.confidentialRuntimes[0].gpuAttestation, true);
  t.is(stored.spec.development, false);
  t.deepEqual(
    stored.spec.baseRates.map((r: { mode: string }) => r.mode),
    ['Container', 'Container', 'Confidential'],
  );
});
