// Small pure helpers: store indexes, owner references, finalizer checks, event
// aggregation (against a recording fake client) and the ops server.
import test from 'ava';
import { Registry } from 'prom-client';
import type { KubeClient } from '../../../operator/kube/client.ts';
import { KubeError } from '../../../operator/kube/errors.ts';
import type { KubeObject } from '../../../operator/kube/types.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { EventRecorder } from '../../../operator/runtime/events.ts';
import { hasFinalizer, isBeingDeleted } from '../../../operator/runtime/finalizers.ts';
import { startOpsServer } from '../../../operator/runtime/health.ts';
import { createMetrics } from '../../../operator/runtime/metrics.ts';
import {
  controllerOf,
  isControlledBy,
  mapToController,
  ownerReference,
  withOwnerReference,
} from '../../../operator/runtime/owners.ts';
import { Store } from '../../../operator/runtime/store.ts';

const obj = (
  ns: string,
  name: string,
  labels: Record<string, string> = {},
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { namespace: ns, name, labels, uid: `uid-${name}`, ...extra },
});

test('store lists by namespace and by custom index, and keeps indexes right on update and delete', (t) => {
  const s = new Store<KubeObject>({ pool: (o) => (o.metadata?.labels?.['pool'] ? [o.metadata.labels['pool']] : []) });
  s.upsert(obj('a', 'x', { pool: 'p1' }));
  s.upsert(obj('a', 'y', { pool: 'p2' }));
  s.upsert(obj('b', 'z', { pool: 'p1' }));
  t.deepEqual(
    s
      .list('a')
      .map((o) => o.metadata?.name)
      .sort(),
    ['x', 'y'],
  );
  t.deepEqual(
    s
      .byIndex('pool', 'p1')
      .map((o) => o.metadata?.name)
      .sort(),
    ['x', 'z'],
  );
  s.upsert(obj('a', 'x', { pool: 'p2' }));
  t.deepEqual(
    s.byIndex('pool', 'p1').map((o) => o.metadata?.name),
    ['z'],
  );
  t.deepEqual(
    s
      .byIndex('pool', 'p2')
      .map((o) => o.metadata?.name)
      .sort(),
    ['x', 'y'],
  );
  s.remove('b/z');
  t.deepEqual(s.byIndex('pool', 'p1'), []);
  t.is(s.get('a/x')?.metadata?.labels?.['pool'], 'p2');
  t.throws(() => s.byIndex('nope', 'v'));
});

test('owner references, controller lookup and the owner key mapper', (t) => {
  const owner: KubeObject = {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name: 'job', namespace: 'ns', uid: 'u1' },
  };
  const ref = ownerReference(owner);
  t.deepEqual(ref, {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    name: 'job',
    uid: 'u1',
    controller: true,
    blockOwnerDeletion: true,
  });
  const child = obj('ns', 'child', {}, { ownerReferences: withOwnerReference(obj('ns', 'child'), ref) });
  t.is(controllerOf(child)?.uid, 'u1');
  t.true(isControlledBy(child, owner));
  t.is(mapToController('InferenceJob')(child), 'ns/job');
  t.is(mapToController('InferenceJob', 'nvdax.io')(child), 'ns/job');
  t.is(mapToController('InferenceJob', 'other.io')(child), undefined);
  t.is(mapToController('TrainingJob')(child), undefined);
  const other = { ...ref, uid: 'u2', name: 'other' };
  t.throws(() => withOwnerReference(child, other), { message: /already controlled by InferenceJob\/job/ });
  t.throws(() => ownerReference({ metadata: { name: 'x' } }), { instanceOf: TypeError });
});

test('finalizer and deletion checks', (t) => {
  const o = obj('ns', 'x', {}, { finalizers: ['a/b'] });
  t.true(hasFinalizer(o, 'a/b'));
  t.false(hasFinalizer(o, 'c/d'));
  t.false(isBeingDeleted(o));
  t.true(isBeingDeleted(obj('ns', 'x', {}, { deletionTimestamp: '2026-01-01T00:00:00Z' })));
});

function recordingClient() {
  const calls: Array<{ verb: string; name?: string; body: unknown }> = [];
  let missing = false;
  const client = {
    create: async (_r: unknown, o: KubeObject) => {
      calls.push({ verb: 'create', name: o.metadata?.name, body: o });
      return o;
    },
    mergePatch: async (_r: unknown, name: string, _ns: string, patch: unknown) => {
      calls.push({ verb: 'patch', name, body: patch });
      if (missing) throw KubeError.fromStatus(404, { kind: 'Status', reason: 'NotFound' }, 'PATCH');
      return {};
    },
  } as unknown as KubeClient;
  return { client, calls, setMissing: (v: boolean) => (missing = v) };
}

test('repeated events become one Event with a growing series count', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const { client, calls, setMissing } = recordingClient();
  const rec = new EventRecorder({
    client,
    controller: 'nvdax.io/operator',
    instance: 'op-0',
    clock,
    seriesWindowMs: 60_000,
  });
  const target = obj('ns', 'pool-a');
  await Promise.all([
    rec.warning(target, 'MemberUnreachable', 'dial failed'),
    rec.warning(target, 'MemberUnreachable', 'dial failed'),
  ]);
  await rec.warning(target, 'MemberUnreachable', 'dial failed');
  t.deepEqual(
    calls.map((c) => c.verb),
    ['create', 'patch', 'patch'],
  );
  t.is(calls[1]?.name, calls[0]?.name);
  t.deepEqual((calls[2]?.body as { series: { count: number } } | undefined)?.series.count, 3);
  const created = calls[0]?.body as Record<string, unknown>;
  t.like(created, {
    type: 'Warning',
    reason: 'MemberUnreachable',
    action: 'MemberUnreachable',
    note: 'dial failed',
    reportingController: 'nvdax.io/operator',
    reportingInstance: 'op-0',
  });
  t.like(created['regarding'] as object, { kind: 'ConfigMap', name: 'pool-a', namespace: 'ns', uid: 'uid-pool-a' });
  t.is(created['eventTime'], '2026-01-01T00:00:00.000000Z');

  await rec.warning(target, 'MemberUnreachable', 'another note');
  t.is(calls.at(-1)?.verb, 'create', 'a different note is a different event');
  clock.advance(61_000);
  await rec.warning(target, 'MemberUnreachable', 'dial failed');
  t.is(calls.at(-1)?.verb, 'create', 'after the window a new event starts');
  setMissing(true);
  await rec.warning(target, 'MemberUnreachable', 'dial failed');
  t.deepEqual(
    calls.slice(-2).map((c) => c.verb),
    ['patch', 'create'],
    'a vanished event is created again',
  );
  const before = calls.length;
  await rec.normal(target, 'not pascal', 'x');
  t.is(calls.length, before, 'malformed reasons are dropped, not thrown');
});

test('the ops server answers healthz, readyz (with failing check names) and metrics', async (t) => {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  metrics.reconcileTotal.inc({ controller: 'c', result: 'success' });
  let ready = false;
  const ops = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    healthz: { ping: () => true },
    readyz: { informers: () => ready },
  });
  t.teardown(() => ops.close());
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${ops.port}${p}`);
    return { status: r.status, body: await r.text() };
  };
  t.deepEqual(await get('/healthz'), { status: 200, body: 'ok\n' });
  const notReady = await get('/readyz');
  t.is(notReady.status, 500);
  t.regex(notReady.body, /\[-\]informers failed/);
  ready = true;
  t.is((await get('/readyz')).status, 200);
  t.regex((await get('/readyz?verbose')).body, /\[\+\]informers ok/);
  t.regex((await get('/metrics')).body, /controller_runtime_reconcile_total\{controller="c",result="success"\} 1/);
  t.is((await get('/nope')).status, 404);
});
