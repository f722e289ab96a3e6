import test from 'ava';
import { KubeClient } from '../../operator/kube/client.ts';
import { isNotFound } from '../../operator/kube/errors.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { resources } from '../../operator/kube/types.ts';
import { ExponentialBackoff } from '../../operator/runtime/backoff.ts';
import { findCondition, setCondition } from '../../operator/runtime/conditions.ts';
import type { Condition } from '../../operator/runtime/conditions.ts';
import { generationChanged } from '../../operator/runtime/controller.ts';
import { ensureFinalizer, isBeingDeleted, removeFinalizer } from '../../operator/runtime/finalizers.ts';
import { createLogger } from '../../operator/runtime/log.ts';
import { Manager } from '../../operator/runtime/manager.ts';
import { mapToController, ownerReference } from '../../operator/runtime/owners.ts';
import {
  configMap,
  ensureProbeCrd,
  freshNamespace,
  httpGet,
  hubClient,
  metricValue,
  poll,
  probes,
} from '../helpers/runtime-kit.ts';
import { loadKubeConfig } from '../helpers/sim.ts';

type Probe = KubeObject & {
  spec?: { failTimes?: number };
  status?: { conditions?: Condition[]; observedGeneration?: number };
};
type Ev = KubeObject & {
  type?: string;
  reason?: string;
  note?: string;
  series?: { count: number };
  regarding?: { name?: string; uid?: string };
};

const finalizer = 'runtime-test.nvdax.io/cleanup';

test('a failing reconcile is retried with growing backoff, surfaces an Event and a condition, then converges', async (t) => {
  const client = hubClient();
  await ensureProbeCrd(client);
  const ns = await freshNamespace(client, 'ctl');
  const mgr = new Manager({
    client,
    log: createLogger({ level: 'silent' }),
    leaderElection: false,
    ops: { host: '127.0.0.1', port: 0 },
  });
  const probeCache = mgr.informer<Probe>({ resource: probes, namespace: ns });
  const children = mgr.informer<KubeObject>({
    resource: resources.configMaps,
    namespace: ns,
    labelSelector: 'runtime-test/child=true',
  });
  const recorder = mgr.eventRecorder();
  const attempts: Array<{ at: number; attempt: number; failed: boolean }> = [];

  const ctl = mgr.controller({
    name: 'probes',
    concurrency: 2,
    rateLimiter: new ExponentialBackoff({ baseMs: 100, maxMs: 5000, jitter: 0 }),
    reconcile: async (key, ctx) => {
      const cached = probeCache.get(key);
      if (!cached?.metadata?.name) return;
      const { name, namespace } = cached.metadata;
      if (isBeingDeleted(cached)) {
        await client.delete(resources.configMaps, `${name}-child`, namespace);
        await removeFinalizer(client, probes, cached, finalizer);
        return;
      }
      const probe = await ensureFinalizer(client, probes, cached, finalizer);
      const generation = probe.metadata?.generation;
      const setReady = async (status: 'True' | 'False', reason: string, message: string): Promise<void> => {
        const conditions = setCondition(
          probe.status?.conditions,
          { type: 'Ready', status, reason, message, ...(generation ? { observedGeneration: generation } : {}) },
          Date.now(),
        );
        await client.patchStatus(
          probes,
          name,
          namespace,
          { conditions, observedGeneration: generation },
          { signal: ctx.signal },
        );
      };
      const fail = attempts.filter((a) => a.failed).length < (probe.spec?.failTimes ?? 0);
      attempts.push({ at: Date.now(), attempt: ctx.attempt, failed: fail });
      if (fail) {
        await setReady('False', 'ReconcileFailed', 'the simulated dependency is down');
        await recorder.warning(probe, 'ReconcileFailed', 'the simulated dependency is down');
        throw new Error('simulated dependency down');
      }
      await client.apply(resources.configMaps, {
        ...configMap(namespace!, `${name}-child`, { owner: name }, { 'runtime-test/child': 'true' }),
        metadata: {
          name: `${name}-child`,
          namespace,
          labels: { 'runtime-test/child': 'true' },
          ownerReferences: [ownerReference(probe)],
        },
      });
      await setReady('True', 'Reconciled', 'child applied');
      await recorder.normal(probe, 'Reconciled', 'child applied');
      return {};
    },
  });
  ctl.watch(probeCache, { filter: generationChanged });
  ctl.watch(children, { map: mapToController('RuntimeProbe') });

  const stop = new AbortController();
  const running = mgr.start(stop.signal);
  t.teardown(async () => {
    stop.abort();
    await running;
    await client.delete(resources.namespaces, ns);
    await client.close();
  });
  await client.create(probes, {
    apiVersion: 'runtime-test.nvdax.io/v1',
    kind: 'RuntimeProbe',
    metadata: { name: 'p1', namespace: ns },
    spec: { failTimes: 3 },
  } as Probe);

  const done = await poll('Ready=True', async () => {
    const p = await client.get<Probe>(probes, 'p1', ns);
    return findCondition(p.status?.conditions, 'Ready')?.status === 'True' ? p : undefined;
  });
  const ready = findCondition(done.status?.conditions, 'Ready')!;
  t.is(ready.reason, 'Reconciled');
  t.is(ready.observedGeneration, done.metadata?.generation);
  t.is(done.status?.observedGeneration, done.metadata?.generation);
  t.deepEqual(done.metadata?.finalizers, [finalizer]);

  // Retries: 3 failures then a success, each wait at least the doubled backoff.
  t.deepEqual(
    attempts.slice(0, 4).map((a) => [a.attempt, a.failed]),
    [
      [0, true],
      [1, true],
      [2, true],
      [3, false],
    ],
  );
  const gaps = attempts.slice(1, 4).map((a, i) => a.at - (attempts[i] as { at: number }).at);
  t.log(`gaps between attempts: ${gaps.join(', ')} ms`);
  for (const [i, min] of [100, 200, 400].entries())
    t.true((gaps[i] as number) >= min - 5, `gap ${i} = ${gaps[i]} >= ${min}`);

  // One Warning Event counted three times (series), one Normal Event.
  const events = await poll('events written', async () => {
    const list = await client.list<Ev>(resources.events, { namespace: ns });
    const warn = list.items.find((e) => e.reason === 'ReconcileFailed');
    return warn?.series?.count === 3 && list.items.some((e) => e.reason === 'Reconciled') ? list.items : undefined;
  });
  const warning = events.find((e) => e.reason === 'ReconcileFailed')!;
  t.is(warning.type, 'Warning');
  t.is(warning.regarding?.uid, done.metadata?.uid);
  t.is(events.filter((e) => e.reason === 'ReconcileFailed').length, 1, 'repeats are aggregated into one Event');

  // Owner reference on the child.
  const child = await client.get<KubeObject>(resources.configMaps, 'p1-child', ns);
  t.like(child.metadata?.ownerReferences?.[0], {
    kind: 'RuntimeProbe',
    name: 'p1',
    uid: done.metadata?.uid,
    controller: true,
  });

  // Metrics and health over HTTP.
  const base = `http://127.0.0.1:${mgr.opsPort}`;
  const metrics = (await httpGet(`${base}/metrics`)).body;
  t.is(metricValue(metrics, 'controller_runtime_reconcile_total', { controller: 'probes', result: 'error' }), 3);
  t.true(
    (metricValue(metrics, 'controller_runtime_reconcile_total', { controller: 'probes', result: 'success' }) ?? 0) >= 1,
  );
  t.is(metricValue(metrics, 'controller_runtime_reconcile_errors_total', { controller: 'probes' }), 3);
  t.is(metricValue(metrics, 'workqueue_retries_total', { name: 'probes' }), 3);
  t.true((metricValue(metrics, 'controller_runtime_reconcile_time_seconds_count', { controller: 'probes' }) ?? 0) >= 4);
  t.is(metricValue(metrics, 'nvdax_informer_objects', { cluster: 'hub', resource: 'runtimeprobes' }), 1);
  t.is((await httpGet(`${base}/readyz`)).status, 200);
  t.is((await httpGet(`${base}/healthz`)).status, 200);

  // Deletion runs through the finalizer: the child goes, then the probe.
  await client.delete(probes, 'p1', ns);
  await poll('probe deleted', async () => {
    try {
      await client.get(probes, 'p1', ns);
      return false;
    } catch (e) {
      return isNotFound(e);
    }
  });
  await poll('child deleted', () =>
    client.get(resources.configMaps, 'p1-child', ns).then(
      () => false,
      (e: unknown) => isNotFound(e),
    ),
  );
});

test('graceful shutdown finishes the in-flight reconcile and starts no new one', async (t) => {
  const client = hubClient();
  const ns = await freshNamespace(client, 'ctl-stop');
  const mgr = new Manager({ client, leaderElection: false, ops: false, shutdownTimeoutMs: 10_000 });
  const cms = mgr.informer<KubeObject>({ resource: resources.configMaps, namespace: ns, labelSelector: 'slow=true' });
  const log: string[] = [];
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const ctl = mgr.controller({
    name: 'slow',
    reconcile: async (key) => {
      log.push(`start ${key}`);
      await gate;
      log.push(`end ${key}`);
    },
  });
  ctl.watch(cms);
  const stop = new AbortController();
  const running = mgr.start(stop.signal);
  t.teardown(async () => {
    stop.abort();
    release();
    await running;
    await client.delete(resources.namespaces, ns);
    await client.close();
  });
  await client.create(resources.configMaps, configMap(ns, 'a', {}, { slow: 'true' }));
  await client.create(resources.configMaps, configMap(ns, 'b', {}, { slow: 'true' }));
  await poll('a in flight', () => log.includes(`start ${ns}/a`));
  await poll('b queued', () => ctl.queue.len() === 1);
  stop.abort();
  await poll('manager draining', () => ctl.queue.shuttingDown);
  release();
  await running;
  t.deepEqual(log, [`start ${ns}/a`, `end ${ns}/a`], 'a finished, b was not started');
});

test('informers on a member cluster are added and removed at run time and map to hub keys', async (t) => {
  const hub = hubClient();
  const member = new KubeClient(loadKubeConfig('gpu-a'), { name: 'gpu-a' });
  const mgr = new Manager({ client: hub, leaderElection: false, ops: false });
  const seen = new Set<string>();
  const ctl = mgr.controller({ name: 'pools', reconcile: (key) => void seen.add(key) });
  const stop = new AbortController();
  const running = mgr.start(stop.signal);
  t.teardown(async () => {
    stop.abort();
    await running;
    await member.close();
    await hub.close();
  });
  await poll('manager ready', () => mgr.ready());

  const nodes = mgr.informer<KubeObject>({ client: member, resource: resources.nodes, requiredForReady: false });
  const unwatch = ctl.watch(nodes, { map: (n) => `pools/gpu-a-${n.metadata?.name}` });
  await nodes.waitForSync();
  t.true(nodes.size > 0, 'the member cluster has nodes');
  await poll('every member node mapped to a hub key', () =>
    nodes.list().every((n) => seen.has(`pools/gpu-a-${n.metadata?.name}`)),
  );
  t.true(mgr.ready(), 'member informers do not gate readiness');

  unwatch();
  await mgr.removeInformer(nodes);
  t.is(nodes.size > 0, true, 'a stopped informer keeps its last contents');
});
