import test from 'ava';
import { Registry } from 'prom-client';
import { TerminalError } from '../../../operator/kube/errors.ts';
import { ExponentialBackoff } from '../../../operator/runtime/backoff.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { Controller } from '../../../operator/runtime/controller.ts';
import type { Reconciler } from '../../../operator/runtime/controller.ts';
import { createMetrics } from '../../../operator/runtime/metrics.ts';
import { YieldGate } from '../../../operator/runtime/yield-gate.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function make(reconcile: Reconciler, concurrency = 1) {
  const clock = new FakeClock();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const c = new Controller({
    name: 'test',
    reconcile,
    concurrency,
    clock,
    metrics,
    rateLimiter: new ExponentialBackoff({ baseMs: 100, maxMs: 1000, jitter: 0 }),
  });
  return { c, clock, metrics };
}

async function counter(
  metrics: ReturnType<typeof createMetrics>,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

test('keys queued before start are reconciled once each', async (t) => {
  const seen: string[] = [];
  const { c } = make((key) => void seen.push(key));
  c.enqueue('ns/a');
  c.enqueue('ns/b');
  c.enqueue('ns/a');
  c.start();
  await flush();
  t.deepEqual(seen, ['ns/a', 'ns/b']);
});

test('one worker per key, bounded concurrency overall', async (t) => {
  let running = 0;
  let maxRunning = 0;
  const perKey = new Map<string, number>();
  const gates: Array<() => void> = [];
  const { c } = make(async (key) => {
    running++;
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    t.is(perKey.get(key), 1, `${key} reconciled twice at once`);
    maxRunning = Math.max(maxRunning, running);
    const d = deferred();
    gates.push(d.resolve);
    await d.promise;
    perKey.set(key, (perKey.get(key) ?? 0) - 1);
    running--;
  }, 3);
  c.start();
  for (let i = 0; i < 8; i++) c.enqueue(`k${i}`);
  await flush();
  t.is(maxRunning, 3);
  c.enqueue('k0');
  while (gates.length > 0) {
    gates.shift()?.();
    await flush();
  }
  t.is(maxRunning, 3);
  t.is(running, 0);
});

test('a throwing reconcile is retried with growing backoff, then forgotten on success', async (t) => {
  const attempts: Array<{ at: number; attempt: number }> = [];
  let clockRef: FakeClock | undefined;
  const { c, clock, metrics } = make((_key, ctx) => {
    attempts.push({ at: clockRef?.now() ?? 0, attempt: ctx.attempt });
    if (attempts.length < 4) throw new Error('transient');
    return {};
  });
  clockRef = clock;
  const t0 = clock.now();
  c.enqueue('k');
  c.start();
  await flush();
  for (let i = 0; i < 20; i++) {
    clock.advance(50);
    await flush();
  }
  t.deepEqual(
    attempts.map((a) => a.at - t0),
    [0, 100, 300, 700],
  );
  t.deepEqual(
    attempts.map((a) => a.attempt),
    [0, 1, 2, 3],
  );
  t.is(c.queue.numRequeues('k'), 0, 'success forgets the backoff');
  t.is(await counter(metrics, 'controller_runtime_reconcile_errors_total', { controller: 'test' }), 3);
  t.is(await counter(metrics, 'controller_runtime_reconcile_total', { controller: 'test', result: 'error' }), 3);
  t.is(await counter(metrics, 'controller_runtime_reconcile_total', { controller: 'test', result: 'success' }), 1);
  t.is(await counter(metrics, 'workqueue_retries_total', { name: 'test' }), 3);
});

test('a terminal error is not retried', async (t) => {
  let calls = 0;
  const { c, clock, metrics } = make(() => {
    calls++;
    throw new TerminalError('spec can never work');
  });
  c.enqueue('k');
  c.start();
  await flush();
  clock.advance(10_000);
  await flush();
  t.is(calls, 1);
  t.is(await counter(metrics, 'controller_runtime_terminal_reconcile_errors_total', { controller: 'test' }), 1);
});

test('requeueAfter reconciles the key again after the delay', async (t) => {
  let calls = 0;
  const { c, clock, metrics } = make(() => (++calls === 1 ? { requeueAfter: 5000 } : {}));
  c.enqueue('k');
  c.start();
  await flush();
  clock.advance(4999);
  await flush();
  t.is(calls, 1);
  clock.advance(1);
  await flush();
  t.is(calls, 2);
  t.is(
    await counter(metrics, 'controller_runtime_reconcile_total', { controller: 'test', result: 'requeue_after' }),
    1,
  );
});

for (const [priority, order] of [
  [-10, ['m', 'x', 'y', 'z', 'm']],
  [undefined, ['m', 'x', 'm', 'y', 'z']],
] as const) {
  test(`a timed requeue comes back at its priority (${priority ?? 'default'})`, async (t) => {
    const seen: string[] = [];
    let release = (): void => undefined;
    const busy = new Promise<void>((r) => (release = r));
    const { c, clock } = make(async (key) => {
      seen.push(key);
      if (key === 'x') await busy;
      const first = key === 'm' && seen.filter((k) => k === 'm').length === 1;
      return first ? { requeueAfter: 1000, ...(priority !== undefined ? { priority } : {}) } : {};
    });
    c.enqueue('m');
    c.start();
    await flush();
    c.enqueue('x');
    await flush();
    // m's timer fires while the one worker is busy with x; y and z come after it, at the default priority
    clock.advance(1000);
    c.enqueue('y');
    c.enqueue('z');
    release();
    await flush();
    t.deepEqual(seen, [...order]);
  });
}

test("a watch's priority orders the keys its events queue: an update it ranks goes before earlier ones", async (t) => {
  const seen: string[] = [];
  let release = (): void => undefined;
  const busy = new Promise<void>((r) => (release = r));
  const { c } = make(async (key) => {
    seen.push(key);
    if (key === 'first') await busy;
  });
  type Obj = { metadata: { name: string }; hot?: boolean };
  const handlers: Array<{ onAdd?: (o: Obj) => void; onUpdate?: (old: Obj, o: Obj) => void }> = [];
  const informer = {
    addHandler: (h: (typeof handlers)[number]) => {
      handlers.push(h);
      return () => undefined;
    },
  };
  c.watch(informer as never, {
    map: (o: Obj) => o.metadata.name,
    priority: (o: Obj, old?: Obj) => (old && o.hot ? 10 : 0),
  });
  c.enqueue('first');
  c.start();
  await flush();
  const h = handlers[0]!;
  h.onAdd?.({ metadata: { name: 'cold-add' } });
  h.onUpdate?.({ metadata: { name: 'cold' } }, { metadata: { name: 'cold' } });
  h.onUpdate?.({ metadata: { name: 'hot' } }, { metadata: { name: 'hot' }, hot: true });
  release();
  await flush();
  t.deepEqual(seen, ['first', 'hot', 'cold-add', 'cold']);
});

test('stop waits for in-flight reconciles and drops queued keys', async (t) => {
  const gate = deferred();
  const seen: string[] = [];
  const { c } = make(async (key) => {
    seen.push(key);
    await gate.promise;
  });
  c.enqueue('a');
  c.enqueue('b');
  c.start();
  await flush();
  let stopped: boolean | undefined;
  const stopping = c.stop(60_000).then((ok) => (stopped = ok));
  await flush();
  t.is(stopped, undefined, 'still waiting for a');
  gate.resolve();
  await stopping;
  t.true(stopped);
  t.deepEqual(seen, ['a']);
});

test('stop aborts reconciles still running at the deadline', async (t) => {
  let signal: AbortSignal | undefined;
  const { c, clock } = make(async (_key, ctx) => {
    signal = ctx.signal;
    await new Promise((r) => ctx.signal.addEventListener('abort', r));
  });
  c.enqueue('a');
  c.start();
  await flush();
  const stopping = c.stop(1000);
  clock.advance(1000);
  t.false(await stopping);
  t.true(signal?.aborted);
});

test('abort signals in-flight reconciles at once and does not requeue them', async (t) => {
  let calls = 0;
  const { c, clock } = make(async (_key, ctx) => {
    calls++;
    await new Promise((r) => ctx.signal.addEventListener('abort', r));
    throw new Error('aborted');
  });
  c.enqueue('a');
  c.start();
  await flush();
  c.abort(new Error('leadership lost'));
  await flush();
  clock.advance(10_000);
  c.enqueue('a');
  await flush();
  t.is(calls, 1);
  t.is(c.inFlight(), 0);
});

test('a reconcile whose signal was aborted counts as aborted, neither an error nor a success', async (t) => {
  const { c, clock, metrics } = make(async (key, ctx) => {
    await new Promise((r) => ctx.signal.addEventListener('abort', r));
    if (key === 'throws') throw new Error('aborted');
    // 'returns' finishes normally after the abort
  }, 2);
  c.enqueue('throws');
  c.enqueue('returns');
  c.start();
  await flush();
  c.abort(new Error('leadership lost'));
  await flush();
  clock.advance(10_000);
  await flush();
  const total = (result: string) =>
    counter(metrics, 'controller_runtime_reconcile_total', { controller: 'test', result });
  t.is(await total('aborted'), 2);
  t.is(await total('error'), 0);
  t.is(await total('success'), 0);
  t.is(await counter(metrics, 'controller_runtime_reconcile_errors_total', { controller: 'test' }), 0);
  t.is(c.queue.numRequeues('throws'), 0, 'not requeued with backoff');
});

test('a gate is passed before the reconcile: its wait is neither reconcile time nor an active worker', async (t) => {
  let busy = true;
  const gate = new YieldGate(() => busy, 1);
  const held = deferred();
  const seen: string[] = [];
  const clock = new FakeClock();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const c = new Controller({
    name: 'test',
    concurrency: 3,
    clock,
    metrics,
    gate,
    reconcile: async (key) => {
      seen.push(key);
      if (key === 'a') await held.promise;
    },
  });
  c.enqueue('a');
  c.enqueue('b');
  c.start();
  await flush();
  t.deepEqual(seen, ['a'], 'b waits at the gate');
  t.is(gate.waiting, 1);
  t.is(await counter(metrics, 'controller_runtime_active_workers', { controller: 'test' }), 1);
  // 5 s pass: a runs all of them, b waits all of them
  clock.advance(5000);
  held.resolve();
  await flush();
  t.deepEqual(seen, ['a', 'b']);
  const sum = (await metrics.registry.getMetricsAsJSON())
    .find((m) => m.name === 'controller_runtime_reconcile_time_seconds')
    ?.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'));
  t.is(sum?.value, 5, "a's 5 s only; b's wait is not counted");

  // a key waiting when the controller is aborted is dropped, never reconciled
  busy = true;
  const hold = deferred();
  const c2 = new Controller({
    name: 'test2',
    concurrency: 2,
    clock,
    gate,
    reconcile: async (key) => {
      seen.push(key);
      await hold.promise;
    },
  });
  c2.enqueue('x');
  c2.enqueue('y');
  c2.start();
  await flush();
  t.deepEqual(seen.slice(2), ['x']);
  c2.abort(new Error('leadership lost'));
  hold.resolve();
  await flush();
  t.deepEqual(seen.slice(2), ['x'], 'y was dropped while waiting');
  t.is(c2.inFlight(), 0);
  t.is(gate.inside, 0);
  t.is(gate.waiting, 0);
});
