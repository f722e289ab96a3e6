// KubeClient against a real loopback HTTP server, with time on a FakeClock: request
// timeouts, Retry-After waits and the rate limit all wait on the clock, so these tests
// advance it instead of sleeping; a closed client stays closed.
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import { conflictBackoffMs, KubeClient } from '../../../operator/kube/client.ts';
import type { KubeClientOptions } from '../../../operator/kube/client.ts';
import { KubeError, isClosed, isUnavailable } from '../../../operator/kube/errors.ts';
import { TokenBucketLimiter } from '../../../operator/kube/rate-limit.ts';
import type { KubeObject } from '../../../operator/kube/types.ts';
import { resources } from '../../../operator/kube/types.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { createMetrics, observeClient } from '../../../operator/runtime/metrics.ts';
import { json, kubeConfigFor, loopback, settle, until } from './loopback.ts';
import type { Arrival, Loopback } from './loopback.ts';
import type { ServerResponse } from 'node:http';
import { track } from '../../helpers/track.ts';

const cm = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' } });
const status = (code: number, reason: string, details?: object) => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  code,
  reason,
  message: reason,
  ...(details ? { details } : {}),
});
const tooMany = (res: ServerResponse, seconds?: number, inBody?: number): void =>
  json(
    res,
    429,
    status(429, 'TooManyRequests', inBody === undefined ? undefined : { retryAfterSeconds: inBody }),
    seconds === undefined ? {} : { 'Retry-After': String(seconds) },
  );

async function setup(
  t: ExecutionContext,
  handle: (req: Arrival, res: ServerResponse, i: number) => void,
  opts: KubeClientOptions = {},
): Promise<{ clock: FakeClock; srv: Loopback; client: KubeClient }> {
  const clock = new FakeClock(0);
  const srv = await loopback(() => clock.now(), handle);
  const client = new KubeClient(kubeConfigFor(srv.url), { name: 'loop', clock, ...opts });
  t.teardown(async () => {
    await client.destroy();
    await srv.close();
  });
  return { clock, srv, client };
}

test('a request times out when the clock reaches the limit, not before, with no real waiting', async (t) => {
  t.timeout(5000);
  const { clock, srv, client } = await setup(t, () => undefined, { requestTimeoutMs: 30_000 });
  const r = track(client.get(resources.configMaps, 'x', 'ns'));
  await until(() => srv.requests.length === 1, 'the request');
  clock.advance(29_999);
  await settle();
  t.false(r.settled(), 'still waiting one ms before the limit');
  clock.advance(1);
  const e = await t.throwsAsync(r.p, { instanceOf: KubeError });
  t.is(e?.reason, 'Timeout');
  t.true(isUnavailable(e));
  t.deepEqual(clock.timers(), [], 'no timer left behind');
});

test('a per-request timeoutMs overrides the client limit', async (t) => {
  const { clock, srv, client } = await setup(t, () => undefined);
  const r = track(client.request('GET', '/version', { timeoutMs: 500 }));
  await until(() => srv.requests.length === 1, 'the request');
  clock.advance(500);
  t.is((await t.throwsAsync(r.p, { instanceOf: KubeError }))?.reason, 'Timeout');
});

test('a 429 is retried after its Retry-After (header, then status details) on the clock, any verb', async (t) => {
  const { clock, srv, client } = await setup(t, (req, res, i) => {
    if (i === 0) tooMany(res, 2);
    else if (i === 1) tooMany(res, undefined, 3);
    else json(res, 201, { ...JSON.parse(req.body), metadata: { name: 'a', namespace: 'ns', resourceVersion: '7' } });
  });
  const r = track(client.create(resources.configMaps, cm('a')));
  await until(() => clock.timers().includes(2000), 'the first Retry-After wait');
  t.is(srv.requests.length, 1);
  clock.advance(1999);
  await settle();
  t.is(srv.requests.length, 1, 'not retried before Retry-After');
  clock.advance(1);
  await until(() => clock.timers().includes(3000), 'the second wait (status.details.retryAfterSeconds)');
  clock.advance(3000);
  const created = await r.p;
  t.is(created.metadata?.resourceVersion, '7');
  t.deepEqual(
    srv.requests.map((a) => [a.method, a.at]),
    [
      ['POST', 0],
      ['POST', 2000],
      ['POST', 5000],
    ],
  );
  t.true(
    srv.requests.every((a) => a.body === srv.requests[0]?.body),
    'the same body each time',
  );
});

test('a 429 that keeps coming is thrown after maxRetries retries', async (t) => {
  const { clock, srv, client } = await setup(t, (_req, res) => tooMany(res, 1, 1), { maxRetries: 2 });
  const r = track(client.mergePatch(resources.configMaps, 'a', 'ns', { data: { k: 'v' } }));
  while (!r.settled()) {
    await until(() => r.settled() || clock.timers().includes(1000), 'a retry wait or the end');
    if (!r.settled()) clock.advance(1000);
  }
  const e = await t.throwsAsync(r.p, { instanceOf: KubeError });
  t.is(e?.reason, 'TooManyRequests');
  t.is(e?.status?.details?.retryAfterSeconds, 1);
  t.is(srv.requests.length, 3, 'the first try and two retries');
});

test('a 429 without Retry-After is not retried (as client-go)', async (t) => {
  const { srv, client } = await setup(t, (_req, res) => tooMany(res));
  const e = await t.throwsAsync(client.get(resources.configMaps, 'a', 'ns'), { instanceOf: KubeError });
  t.is(e?.reason, 'TooManyRequests');
  t.is(srv.requests.length, 1);
});

test('a Retry-After wait ends at once when the signal aborts, and at the request timeout', async (t) => {
  const { clock, srv, client } = await setup(t, (_req, res) => tooMany(res, 10), { requestTimeoutMs: 5000 });
  const ac = new AbortController();
  const r = track(client.get(resources.configMaps, 'a', 'ns', ac.signal));
  await until(() => clock.timers().includes(10_000), 'the wait');
  const reason = new Error('leadership lost');
  ac.abort(reason);
  t.is(await t.throwsAsync(r.p), reason);
  t.deepEqual(clock.timers(), [], 'the wait and the request limit were cleared');

  const timed = track(client.get(resources.configMaps, 'a', 'ns'));
  await until(() => clock.timers().includes(10_000), 'the second wait');
  clock.advance(5000);
  t.is((await t.throwsAsync(timed.p, { instanceOf: KubeError }))?.reason, 'Timeout');
  t.is(srv.requests.length, 2, 'neither was retried');
});

test('a watch refused with 429 starts after Retry-After', async (t) => {
  const object = { ...cm('a'), metadata: { name: 'a', namespace: 'ns', resourceVersion: '5' } };
  const event = { type: 'ADDED', object };
  const { clock, srv, client } = await setup(t, (_req, res, i) => {
    if (i === 0) return tooMany(res, 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(JSON.stringify(event) + '\n');
  });
  const ac = new AbortController();
  const it = client.watch<KubeObject>(resources.configMaps, { namespace: 'ns', signal: ac.signal });
  const first = track(it.next());
  await until(() => clock.timers().includes(1000), 'the Retry-After wait');
  t.is(srv.requests.length, 1);
  clock.advance(1000);
  const ev = await first.p;
  t.is(ev.value?.type, 'ADDED');
  t.is(srv.requests[1]?.url.searchParams.get('watch'), 'true');
  ac.abort();
  await it.return(undefined);
});

test('the limiter passes a burst at once and paces the rest at qps', (t) => {
  const clock = new FakeClock(0);
  const l = new TokenBucketLimiter(5, 3, clock);
  t.deepEqual(
    [1, 2, 3, 4, 5].map(() => l.reserve()),
    [0, 0, 0, 200, 400],
  );
  clock.advance(1000);
  t.is(l.reserve(), 0, 'refilled (capped at burst) after the queue drained');
  t.throws(() => new TokenBucketLimiter(5, 0, clock), { instanceOf: RangeError });
});

test('an aborted limiter wait gives its token back', async (t) => {
  const clock = new FakeClock(0);
  const l = new TokenBucketLimiter(10, 1, clock);
  t.is(await l.wait(), 0);
  const ac = new AbortController();
  const waiting = l.wait(ac.signal);
  ac.abort(new Error('stop'));
  await t.throwsAsync(waiting, { message: 'stop' });
  t.is(l.reserve(), 100, 'next in line waits one interval, not two');
});

test('every request takes a token: the burst goes at once, the rest at qps, and the wait is a metric', async (t) => {
  const { clock, srv, client } = await setup(t, (_req, res) => json(res, 200, cm('a')), { qps: 10, burst: 2 });
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  observeClient(metrics, client);
  const all = Promise.all([0, 1, 2, 3].map(() => client.get(resources.configMaps, 'a', 'ns')));
  await until(() => srv.requests.length === 2, 'the burst');
  await settle();
  t.is(srv.requests.length, 2);
  clock.advance(100);
  await until(() => srv.requests.length === 3, 'the third, one interval later');
  clock.advance(100);
  await all;
  t.deepEqual(
    srv.requests.map((a) => a.at),
    [0, 0, 100, 200],
  );
  const sum = (await metrics.rateLimiterDuration.get()).values.find(
    (v) => v.metricName?.endsWith('_sum') && v.labels.cluster === 'loop' && v.labels.verb === 'GET',
  );
  t.is(Math.round((sum?.value ?? 0) * 1000), 300, 'waits of 0, 0, 100 and 200 ms');
});

test('qps 0 turns the limit off', async (t) => {
  const { srv, client } = await setup(t, (_req, res) => json(res, 200, cm('a')), { qps: 0, burst: 1 });
  await Promise.all(Array.from({ length: 20 }, () => client.get(resources.configMaps, 'a', 'ns')));
  t.is(srv.requests.length, 20);
});

test('a watch takes a token too', async (t) => {
  const { clock, srv, client } = await setup(
    t,
    (req, res) => {
      if (req.url.searchParams.get('watch') !== 'true') return json(res, 200, cm('a'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('');
    },
    { qps: 1, burst: 1 },
  );
  await client.get(resources.configMaps, 'a', 'ns');
  const ac = new AbortController();
  const it = client.watch(resources.configMaps, { signal: ac.signal });
  const next = track(it.next());
  await until(() => clock.timers().includes(1000), 'the watch waiting for a token');
  t.is(srv.requests.length, 1);
  clock.advance(1000);
  await until(() => srv.requests.length === 2, 'the watch');
  ac.abort();
  t.true((await next.p).done);
});

test('a closed client is closed for good: requests and watches throw Closed and open no connection', async (t) => {
  const { srv, client } = await setup(t, (_req, res) => json(res, 200, cm('a')));
  await client.get(resources.configMaps, 'a', 'ns');
  const opened = client.connectionsOpened;
  t.is(opened, 1);
  await client.close();
  t.true(client.closed);
  const e = await t.throwsAsync(client.get(resources.configMaps, 'a', 'ns'), { instanceOf: KubeError });
  t.true(isClosed(e));
  t.is(e?.code, 0);
  t.false(isUnavailable(e), 'retrying the same client cannot help');
  const w = await t.throwsAsync(async () => {
    for await (const _ of client.watch(resources.configMaps)) break;
  });
  t.true(isClosed(w));
  const prepared = await t.throwsAsync(client.kubeConfig.prepare());
  t.true(isClosed(prepared), 'the pool is not rebuilt for client-node APIs either');
  t.is(client.connectionsOpened, opened, 'no connection opened after close');
  t.is(srv.requests.length, 1);
});

test('destroy aborts in-flight requests with Closed', async (t) => {
  const { srv, client } = await setup(t, () => undefined);
  const r = track(client.get(resources.configMaps, 'a', 'ns'));
  await until(() => srv.requests.length === 1, 'the request');
  await client.destroy();
  t.true(isClosed(await t.throwsAsync(r.p)));
});

test('close ends a wait for a rate-limit token with Closed, without sending', async (t) => {
  const { clock, srv, client } = await setup(t, (_req, res) => json(res, 200, cm('a')), { qps: 1, burst: 1 });
  await client.get(resources.configMaps, 'a', 'ns');
  const r = track(client.get(resources.configMaps, 'a', 'ns'));
  await until(() => clock.timers().includes(1000), 'the token wait');
  await client.close();
  t.true(isClosed(await t.throwsAsync(r.p)));
  t.is(srv.requests.length, 1);
});

test('a request waiting for a rate-limit token keeps the process alive (the clock timers do not)', async (t) => {
  const server = await loopback(Date.now, (_req, res) =>
    json(res, 200, { kind: 'Namespace', metadata: { name: 'x' } }),
  );
  t.teardown(() => server.close());
  const child = join(import.meta.dirname, 'keepalive-child.ts');
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [child, server.url], { encoding: 'utf8' }, (e, stdout) =>
      e ? reject(e) : resolve(stdout),
    ),
  );
  t.is(out, 'done\n', 'the script ran to its end instead of exiting while the request waited');
  t.is(server.requests.length, 2);
});

test('updateStatus reads again after a Conflict on client-go backoff (10, 50, 250, 1250 ms) and stops after 5', async (t) => {
  // GETs answer the object at resourceVersion i; every status apply loses to another writer, until `wins`
  let wins = Number.POSITIVE_INFINITY;
  let applies = 0;
  const { clock, srv, client } = await setup(t, (req, res, i) => {
    if (req.method === 'GET')
      return json(res, 200, { ...cm('a'), metadata: { ...cm('a').metadata, resourceVersion: String(i) } });
    applies++;
    if (applies < wins) return json(res, 409, status(409, 'Conflict'));
    json(res, 200, JSON.parse(req.body));
  });
  const run = () => track(client.updateStatus(resources.configMaps, { name: 'a', namespace: 'ns' }, () => ({ x: 1 })));
  // the clock also holds each request's 30 s timeout: the backoff is the short timer
  const backoff = () => clock.timers().find((ms) => ms <= 1375);
  const r = run();
  const waits: number[] = [];
  while (!r.settled()) {
    await until(() => r.settled() || backoff() !== undefined, 'a backoff wait or the end');
    const ms = backoff();
    if (ms === undefined) break;
    waits.push(ms);
    clock.advance(ms);
  }
  t.is(await r.p, 'conflicted');
  t.is(applies, 5, 'five attempts');
  t.is(waits.length, 4);
  for (const [i, base] of [10, 50, 250, 1250].entries()) {
    t.true(
      waits[i]! >= base && waits[i]! <= base * 1.1,
      `wait ${i + 1}: ${waits[i]} ms, not within ${base}..${base * 1.1}`,
    );
  }
  // each attempt read the object afresh and applied with what it read as the precondition
  const gets = srv.requests.filter((a) => a.method === 'GET').length;
  t.is(gets, 5);
  const rvs = srv.requests.filter((a) => a.method !== 'GET').map((a) => JSON.parse(a.body).metadata.resourceVersion);
  t.deepEqual(rvs, ['0', '2', '4', '6', '8']);

  // a writer that wins on its third attempt waited twice
  applies = 0;
  wins = 3;
  const again = run();
  await until(() => backoff() !== undefined, 'the first wait');
  clock.advance(backoff()!);
  await until(() => backoff() !== undefined, 'the second wait');
  clock.advance(backoff()!);
  t.is(await again.p, 'written');
  t.is(applies, 3);
});

test('conflictBackoffMs grows fivefold from 10 ms with at most 10% jitter', (t) => {
  t.deepEqual(
    [0, 1, 2, 3].map((i) => conflictBackoffMs(i, () => 0)),
    [10, 50, 250, 1250],
  );
  t.deepEqual(
    [0, 1, 2, 3].map((i) => conflictBackoffMs(i, () => 0.999)),
    [11, 55, 275, 1375],
  );
});

test('close() ends an updateStatus backoff wait with Closed, without another attempt', async (t) => {
  const { clock, srv, client } = await setup(t, (req, res, i) => {
    if (req.method === 'GET')
      return json(res, 200, { ...cm('a'), metadata: { ...cm('a').metadata, resourceVersion: String(i) } });
    json(res, 409, status(409, 'Conflict'));
  });
  const r = track(client.updateStatus(resources.configMaps, { name: 'a', namespace: 'ns' }, () => ({ x: 1 })));
  await until(() => clock.timers().some((ms) => ms <= 11), 'the first backoff wait');
  await client.close();
  t.true(isClosed(await t.throwsAsync(r.p)));
  t.is(srv.requests.length, 2, 'one read and one apply, nothing after the close');
});
