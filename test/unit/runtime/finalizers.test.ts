// The finalizer writes against a real loopback server: the caller's field manager and
// resourceVersion reach the server, and the reconcile's signal aborts the request.
import test from 'ava';
import { KubeClient } from '../../../operator/kube/client.ts';
import type { KubeObject } from '../../../operator/kube/types.ts';
import { resources } from '../../../operator/kube/types.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { ensureFinalizer, removeFinalizer } from '../../../operator/runtime/finalizers.ts';
import { json, kubeConfigFor, loopback, until } from '../kube/loopback.ts';

const obj = (finalizers: string[]): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'x', namespace: 'ns', resourceVersion: '42', finalizers },
});

test('ensureFinalizer and removeFinalizer send the field manager and the resourceVersion', async (t) => {
  const clock = new FakeClock(0);
  const srv = await loopback(
    () => clock.now(),
    (req, res) => json(res, 200, { ...obj([]), ...JSON.parse(req.body) }),
  );
  const client = new KubeClient(kubeConfigFor(srv.url), { clock, fieldManager: 'client-default' });
  t.teardown(async () => {
    await client.destroy();
    await srv.close();
  });

  await ensureFinalizer(client, resources.configMaps, obj(['a/b']), 'nvdax.io/cleanup', {
    fieldManager: 'pool-controller',
  });
  await removeFinalizer(client, resources.configMaps, obj(['a/b', 'nvdax.io/cleanup']), 'nvdax.io/cleanup', {
    fieldManager: 'pool-controller',
  });
  await ensureFinalizer(client, resources.configMaps, obj([]), 'nvdax.io/cleanup');
  t.deepEqual(
    srv.requests.map((r) => [r.method, r.url.pathname, r.url.searchParams.get('fieldManager')]),
    [
      ['PATCH', '/api/v1/namespaces/ns/configmaps/x', 'pool-controller'],
      ['PATCH', '/api/v1/namespaces/ns/configmaps/x', 'pool-controller'],
      ['PATCH', '/api/v1/namespaces/ns/configmaps/x', 'client-default'],
    ],
  );
  t.deepEqual(
    srv.requests.map((r) => JSON.parse(r.body)),
    [
      { metadata: { finalizers: ['a/b', 'nvdax.io/cleanup'], resourceVersion: '42' } },
      { metadata: { finalizers: ['a/b'], resourceVersion: '42' } },
      { metadata: { finalizers: ['nvdax.io/cleanup'], resourceVersion: '42' } },
    ],
  );
  t.is(srv.requests[0]?.headers['content-type'], 'application/merge-patch+json');
  // nothing to do: no request
  await ensureFinalizer(client, resources.configMaps, obj(['nvdax.io/cleanup']), 'nvdax.io/cleanup');
  await removeFinalizer(client, resources.configMaps, obj([]), 'nvdax.io/cleanup');
  t.is(srv.requests.length, 3);
});

test('the signal aborts a finalizer write in flight', async (t) => {
  t.timeout(10_000);
  const clock = new FakeClock(0);
  const srv = await loopback(
    () => clock.now(),
    () => undefined,
  );
  const client = new KubeClient(kubeConfigFor(srv.url), { clock });
  t.teardown(async () => {
    await client.destroy();
    await srv.close();
  });
  for (const write of [
    (signal: AbortSignal) => ensureFinalizer(client, resources.configMaps, obj([]), 'f/x', { signal }),
    (signal: AbortSignal) => removeFinalizer(client, resources.configMaps, obj(['f/x']), 'f/x', { signal }),
  ]) {
    const ac = new AbortController();
    const before = srv.requests.length;
    const p = write(ac.signal);
    await until(() => srv.requests.length === before + 1, 'the patch');
    const reason = new Error('leadership lost');
    ac.abort(reason);
    t.is(await t.throwsAsync(p), reason);
  }
});
