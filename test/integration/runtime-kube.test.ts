import test from 'ava';
import { KubeError, isAlreadyExists, isConflict, isNotFound } from '../../operator/kube/errors.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { resources } from '../../operator/kube/types.ts';
import { configMap, ensureProbeCrd, freshNamespace, hubClient, probes } from '../helpers/runtime-kit.ts';

type CM = KubeObject & { data?: Record<string, string> };
type Probe = KubeObject & { spec?: { failTimes?: number }; status?: { observedGeneration?: number } };

test('typed errors: NotFound, AlreadyExists, Conflict, Timeout', async (t) => {
  const client = hubClient();
  const ns = await freshNamespace(client, 'kube-err');
  t.teardown(async () => {
    await client.delete(resources.namespaces, ns);
    await client.close();
  });
  const missing = await client.get(resources.configMaps, 'nope', ns).catch((e: unknown) => e);
  t.true(isNotFound(missing));
  t.true(missing instanceof KubeError && missing.code === 404);

  const created = await client.create<CM>(resources.configMaps, configMap(ns, 'a', { k: '1' }));
  t.true(isAlreadyExists(await client.create(resources.configMaps, configMap(ns, 'a')).catch((e: unknown) => e)));
  await client.replace<CM>(resources.configMaps, { ...created, data: { k: '2' } });
  const stale = await client.replace(resources.configMaps, { ...created, data: { k: '3' } }).catch((e: unknown) => e);
  t.true(isConflict(stale), 'a stale resourceVersion conflicts');

  // a watch never finishes its body: the request times out however loaded the machine is (a 1 ms timeout on a
  // plain list lost the race to a fast answer when the event loop was busy)
  const slow = await client
    .request('GET', '/api/v1/namespaces?watch=true&timeoutSeconds=30', { timeoutMs: 300 })
    .catch((e: unknown) => e);
  t.true(slow instanceof KubeError && slow.reason === 'Timeout', `got ${String(slow)}`);
});

test('server-side apply owns fields per manager; merge patch; delete reports existence', async (t) => {
  const client = hubClient();
  const ns = await freshNamespace(client, 'kube-ssa');
  t.teardown(async () => {
    await client.delete(resources.namespaces, ns);
    await client.close();
  });
  const applied = await client.apply<CM>(resources.configMaps, configMap(ns, 'ssa', { a: '1' }), {
    fieldManager: 'mgr-one',
  });
  t.is(applied.data?.['a'], '1');
  const mf = applied.metadata?.managedFields as Array<{ manager: string; operation: string }>;
  t.true(mf.some((f) => f.manager === 'mgr-one' && f.operation === 'Apply'));

  const conflict = await client
    .apply(resources.configMaps, configMap(ns, 'ssa', { a: '2' }), { fieldManager: 'mgr-two', force: false })
    .catch((e: unknown) => e);
  t.true(isConflict(conflict), 'another manager may not take a field without force');
  const forced = await client.apply<CM>(resources.configMaps, configMap(ns, 'ssa', { a: '2' }), {
    fieldManager: 'mgr-two',
  });
  t.is(forced.data?.['a'], '2');

  const patched = await client.mergePatch<CM>(resources.configMaps, 'ssa', ns, { data: { b: 'x' } });
  t.deepEqual(patched.data, { a: '2', b: 'x' });
  const dry = await client.mergePatch<CM>(resources.configMaps, 'ssa', ns, { data: { c: 'y' } }, { dryRun: true });
  t.is(dry.data?.['c'], 'y');
  t.is((await client.get<CM>(resources.configMaps, 'ssa', ns)).data?.['c'], undefined, 'dry run changed nothing');

  t.true(await client.delete(resources.configMaps, 'ssa', ns));
  t.false(await client.delete(resources.configMaps, 'ssa', ns));
});

test('status is written through the status subresource only', async (t) => {
  const client = hubClient();
  await ensureProbeCrd(client);
  const ns = await freshNamespace(client, 'kube-status');
  t.teardown(async () => {
    await client.delete(resources.namespaces, ns);
    await client.close();
  });
  await client.create(probes, {
    apiVersion: 'runtime-test.nvdax.io/v1',
    kind: 'RuntimeProbe',
    metadata: { name: 'p', namespace: ns },
    spec: { failTimes: 1 },
  } as Probe);
  const viaMain = await client.mergePatch<Probe>(probes, 'p', ns, { status: { observedGeneration: 7 } });
  t.is(viaMain.status?.observedGeneration, undefined, 'the main resource ignores status');
  const viaStatus = await client.patchStatus<Probe>(probes, 'p', ns, { observedGeneration: 7 });
  t.is(viaStatus.status?.observedGeneration, 7);
  const specIgnored = await client.mergePatch<Probe>(
    probes,
    'p',
    ns,
    { spec: { failTimes: 9 } },
    { subresource: 'status' },
  );
  t.is(specIgnored.spec?.failTimes, 1, 'the status subresource ignores spec');
  const ssaStatus = await client.applyStatus<Probe>(probes, {
    apiVersion: 'runtime-test.nvdax.io/v1',
    kind: 'RuntimeProbe',
    metadata: { name: 'p', namespace: ns },
    status: { observedGeneration: 8 },
  } as Probe);
  t.is(ssaStatus.status?.observedGeneration, 8);
});

test('updateStatus: a write lost to another writer is redone from a fresh read; gone and unchanged are said', async (t) => {
  const client = hubClient();
  await ensureProbeCrd(client);
  const ns = await freshNamespace(client, 'kube-update');
  t.teardown(async () => {
    await client.delete(resources.namespaces, ns);
    await client.close();
  });
  const created = await client.create<Probe>(probes, {
    apiVersion: 'runtime-test.nvdax.io/v1',
    kind: 'RuntimeProbe',
    metadata: { name: 'p', namespace: ns },
    spec: { failTimes: 1 },
  } as Probe);
  // another writer gets in between the read and the write, once: the precondition fails, the change is made
  // again on what that writer left (a counter: the two increments both land)
  const seen: number[] = [];
  let raced = false;
  const r = await client.updateStatus<Probe>(
    probes,
    { name: 'p', namespace: ns, uid: created.metadata?.uid ?? '' },
    async (p) => {
      const n = p.status?.observedGeneration ?? 0;
      seen.push(n);
      if (!raced) {
        raced = true;
        await client.patchStatus(probes, 'p', ns, { observedGeneration: n + 1 });
      }
      return { observedGeneration: n + 1 };
    },
    { fieldManager: 'updater' },
  );
  t.is(r, 'written');
  const after = await client.get<Probe>(probes, 'p', ns);
  t.is(after.status?.observedGeneration, 2, 'both increments landed: none was lost to the race');
  t.true(seen.length >= 2, `redone from a fresh read (saw ${seen.join(', ')})`);
  t.is(seen.at(-1), 1);
  t.is(await client.updateStatus(probes, { name: 'p', namespace: ns }, () => undefined), 'unchanged');
  t.is(await client.updateStatus(probes, { name: 'p', namespace: ns, uid: 'another' }, () => ({})), 'gone');
  t.is(await client.updateStatus(probes, { name: 'none', namespace: ns }, () => ({})), 'gone');
});
