import test from 'ava';
import { KubeClient } from '../../operator/kube/client.ts';
import type { WatchEvent, WatchOptions } from '../../operator/kube/client.ts';
import { KubeError } from '../../operator/kube/errors.ts';
import type { KubeObject, ResourceType } from '../../operator/kube/types.ts';
import { resources } from '../../operator/kube/types.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import type { InformerState } from '../../operator/runtime/informer.ts';
import { configMap, freshNamespace, hubClient, poll } from '../helpers/runtime-kit.ts';
import { loadKubeConfig } from '../helpers/sim.ts';

type CM = KubeObject & { data?: Record<string, string> };

function record(inf: Informer<CM>) {
  const events: string[] = [];
  const states: InformerState[] = [];
  inf.addHandler({
    onAdd: (o) => events.push(`add ${o.metadata?.name}`),
    onUpdate: (old, o) => events.push(`update ${o.metadata?.name} ${old.data?.['v'] ?? ''}->${o.data?.['v'] ?? ''}`),
    onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  inf.onState((s) => states.push(s));
  return { events, states };
}

test('lists, then follows adds, updates and deletes through the watch', async (t) => {
  const client = hubClient();
  const ns = await freshNamespace(client, 'inf');
  await client.create(resources.configMaps, configMap(ns, 'pre', { v: '1' }));
  const inf = new Informer<CM>({ client, resource: resources.configMaps, namespace: ns });
  const { events } = record(inf);
  inf.start();
  await inf.waitForSync();
  t.true(inf.hasSynced());
  t.true(inf.list().some((o) => o.metadata?.name === 'pre'));
  t.is(inf.get(`${ns}/pre`)?.data?.['v'], '1');
  t.is(inf.get(`${ns}/pre`)?.kind, 'ConfigMap', 'list items get apiVersion and kind');
  t.is(inf.get(`${ns}/pre`)?.metadata?.managedFields, undefined, 'managedFields are dropped');

  await client.create(resources.configMaps, configMap(ns, 'new', { v: 'a' }));
  await client.mergePatch(resources.configMaps, 'pre', ns, { data: { v: '2' } });
  await client.delete(resources.configMaps, 'new', ns);
  await poll('delete seen', () => events.includes('delete new'));
  t.true(events.includes('add pre'));
  t.true(events.includes('add new'));
  t.true(events.includes('update pre 1->2'));
  t.is(inf.get(`${ns}/new`), undefined);
  t.is(inf.list(ns).filter((o) => o.metadata?.name === 'pre').length, 1);
  await inf.stop();
  await client.delete(resources.namespaces, ns);
  await client.close();
});

test('a watch the server ends is resumed from the last resourceVersion without relisting', async (t) => {
  const client = hubClient();
  const ns = await freshNamespace(client, 'inf-resume');
  const inf = new Informer<CM>({ client, resource: resources.configMaps, namespace: ns, watchTimeoutSeconds: 1 });
  const { states } = record(inf);
  inf.start();
  await inf.waitForSync();
  for (let i = 0; i < 6; i++) {
    await client.create(resources.configMaps, configMap(ns, `cm-${i}`));
    await poll(`cm-${i} cached`, () => inf.get(`${ns}/cm-${i}`));
    await poll('a watch restart', () => states.filter((s) => s.type === 'watchClosed').length > i / 2);
  }
  t.true(states.filter((s) => s.type === 'watchClosed').length >= 3, 'several server-side watch ends');
  t.is(states.filter((s) => s.type === 'listed').length, 1, 'no relist');
  t.is(inf.list(ns).filter((o) => o.metadata?.name?.startsWith('cm-')).length, 6);
  await inf.stop();
  await client.delete(resources.namespaces, ns);
  await client.close();
});

/** A real client whose first watch fails with 410 Gone once the test says so. */
class GoneOnce extends KubeClient {
  release: () => void = () => undefined;
  readonly gate = new Promise<void>((r) => (this.release = r));
  #tripped = false;
  override async *watch<T extends KubeObject>(
    res: ResourceType,
    opts: WatchOptions = {},
  ): AsyncGenerator<WatchEvent<T>> {
    if (!this.#tripped) {
      this.#tripped = true;
      await this.gate;
      throw KubeError.fromStatus(
        410,
        { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
        'WATCH',
      );
    }
    yield* super.watch<T>(res, opts);
  }
}

test('410 Gone relists: objects deleted meanwhile are removed and reported', async (t) => {
  const client = new GoneOnce(loadKubeConfig('hub'), { name: 'hub' });
  const ns = await freshNamespace(client, 'inf-gone');
  await client.create(resources.configMaps, configMap(ns, 'stays', { v: '1' }));
  await client.create(resources.configMaps, configMap(ns, 'goes'));
  const inf = new Informer<CM>({ client, resource: resources.configMaps, namespace: ns });
  const { events, states } = record(inf);
  inf.start();
  await inf.waitForSync();
  t.truthy(inf.get(`${ns}/goes`));
  await client.delete(resources.configMaps, 'goes', ns);
  await client.mergePatch(resources.configMaps, 'stays', ns, { data: { v: '2' } });
  client.release();
  await poll('relist', () => states.filter((s) => s.type === 'listed').length === 2);
  t.true(states.some((s) => s.type === 'gone'));
  t.is(inf.get(`${ns}/goes`), undefined);
  t.true(events.includes('delete goes'));
  t.true(events.includes('update stays 1->2'));
  await client.create(resources.configMaps, configMap(ns, 'after'));
  await poll('watch works after relist', () => inf.get(`${ns}/after`));
  await inf.stop();
  await client.delete(resources.namespaces, ns);
  await client.close();
});

test('an unreachable cluster is retried with growing backoff and syncs once it answers', async (t) => {
  const kc = loadKubeConfig('hub');
  const real = kc.getCurrentCluster()!.server;
  const cluster = kc.getCurrentCluster()!;
  // Point the client at a closed port first, then at the real server.
  (cluster as { server: string }).server = 'https://127.0.0.1:1';
  const client = new KubeClient(kc, { name: 'down', requestTimeoutMs: 2000 });
  const inf = new Informer<CM>({
    client,
    resource: resources.configMaps,
    namespace: 'default',
    backoff: { baseMs: 20, maxMs: 200, jitter: 0 },
  });
  const { states } = record(inf);
  inf.start();
  await poll('three list errors', () => states.filter((s) => s.type === 'listError').length >= 3);
  const delays = states.flatMap((s) => (s.type === 'listError' ? [s.retryInMs] : []));
  t.deepEqual(delays.slice(0, 3), [20, 40, 80]);
  t.false(inf.hasSynced());
  (cluster as { server: string }).server = real;
  await inf.waitForSync();
  t.truthy(inf.get('default/kube-root-ca.crt'));
  t.is(inf.lastError, undefined);
  await inf.stop();
  await client.close();
});
