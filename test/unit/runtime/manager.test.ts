// Manager runnables (controller-runtime's Runnable / LeaderElectionRunnable): loops that
// are not controllers start with the controllers (leader-only) or on every replica, only
// after the required caches synced, and stop with a signal the manager waits for.
import test from 'ava';
import type { KubeClient } from '../../../operator/kube/client.ts';
import { resources } from '../../../operator/kube/types.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { LeadershipLostError, Manager, RunnableError } from '../../../operator/runtime/manager.ts';
import { LeaseServer } from './lease-server.ts';
import { track } from '../../helpers/track.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

async function step(clock: FakeClock, ms: number, by = 100): Promise<void> {
  for (let t = 0; t < ms; t += by) {
    clock.advance(by);
    await flush();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const aborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** A hub whose list answers once `listed` resolves, and whose watch stays open until aborted. */
function cacheClient(listed: Promise<void>): KubeClient {
  return {
    name: 'hub',
    observe: () => () => undefined,
    listPages: async function* (_r: unknown, o: { signal: AbortSignal }) {
      await Promise.race([listed, aborted(o.signal)]);
      if (o.signal.aborted) throw o.signal.reason;
      yield { items: [], resourceVersion: '1' };
    },
    // biome-ignore lint/correctness/useYield: a watch that stays open and never sends an event
    watch: async function* (_r: unknown, o: { signal: AbortSignal }) {
      await aborted(o.signal);
    },
  } as unknown as KubeClient;
}

test('without leader election, runnables start once the caches synced; stop aborts and waits for them', async (t) => {
  const clock = new FakeClock(0);
  const listed = deferred();
  const client = cacheClient(listed.promise);
  const m = new Manager({ client, leaderElection: false, ops: false, clock, shutdownTimeoutMs: 5000 });
  m.informer({ resource: resources.configMaps });
  const events: string[] = [];
  const release = deferred();
  m.runnable({
    name: 'meter',
    start: async (signal) => {
      events.push('meter started');
      await aborted(signal);
      events.push('meter aborted');
      await release.promise;
      events.push('meter returned');
    },
  });
  m.runnable({
    name: 'everywhere',
    needLeaderElection: false,
    start: async (signal) => {
      events.push('everywhere started');
      await aborted(signal);
      events.push('everywhere returned');
    },
  });
  const stop = new AbortController();
  const running = track(m.start(stop.signal));
  await flush();
  t.deepEqual(events, [], 'nothing runs before the hub caches synced');
  listed.resolve();
  await flush();
  t.deepEqual([...events].sort(), ['everywhere started', 'meter started']);
  m.runnable({ name: 'late', start: () => void events.push('late started') });
  t.true(events.includes('late started'), 'added while leading: starts at once');

  stop.abort();
  await flush();
  t.true(events.includes('meter aborted') && events.includes('everywhere returned'), 'signals aborted on stop');
  t.false(running.settled(), 'stop waits for a runnable still returning');
  release.resolve();
  await running.p;
  t.true(events.includes('meter returned'));
});

test('stop gives up on a runnable that ignores its signal after the shutdown timeout', async (t) => {
  const clock = new FakeClock(0);
  const client = cacheClient(Promise.resolve());
  const m = new Manager({ client, leaderElection: false, ops: false, clock, shutdownTimeoutMs: 5000 });
  let started = false;
  m.runnable({
    name: 'stuck',
    start: () => {
      started = true;
      return new Promise<void>(() => undefined);
    },
  });
  const stop = new AbortController();
  const running = track(m.start(stop.signal));
  await flush();
  t.true(started);
  stop.abort();
  await flush();
  await step(clock, 4900);
  t.false(running.settled(), 'waits up to the shutdown timeout');
  await step(clock, 100);
  await running.p;
  t.pass();
});

test('a runnable that fails stops the manager, and start rejects naming it', async (t) => {
  const clock = new FakeClock(0);
  const m = new Manager({ client: cacheClient(Promise.resolve()), leaderElection: false, ops: false, clock });
  let otherAborted = false;
  m.runnable({
    name: 'chain-listener',
    start: async () => {
      throw new Error('subscription refused');
    },
  });
  m.runnable({
    name: 'other',
    needLeaderElection: false,
    start: async (s) => {
      await aborted(s);
      otherAborted = true;
    },
  });
  const e = await t.throwsAsync(m.start(new AbortController().signal), { instanceOf: RunnableError });
  t.is(e?.runnable, 'chain-listener');
  t.is((e?.cause as Error | undefined)?.message, 'subscription refused');
  t.true(otherAborted, 'the rest was stopped gracefully');
});

test('with leader election, leader-only runnables run only while leading and stop when it is lost', async (t) => {
  const clock = new FakeClock(0);
  const server = new LeaseServer();
  // another process holds a fresh Lease: we start as a standby
  server.lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'lease', namespace: 'ns', resourceVersion: '1' },
    spec: { holderIdentity: 'other', leaseDurationSeconds: 15 },
  };
  server.rv = 1;
  const { client, down } = server.view();
  const m = new Manager({
    client,
    clock,
    ops: false,
    shutdownTimeoutMs: 5000,
    leaderElection: {
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      random: () => 0.5,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
  });
  const log: string[] = [];
  let meterSignal: AbortSignal | undefined;
  m.runnable({
    name: 'meter',
    start: async (signal) => {
      meterSignal = signal;
      log.push(`meter started@${clock.now()}`);
      await aborted(signal);
      log.push(`meter aborted@${clock.now()}`);
    },
  });
  m.runnable({
    name: 'everywhere',
    needLeaderElection: false,
    start: async (s) => {
      log.push('everywhere started');
      await aborted(s);
    },
  });
  const running = track(m.start(new AbortController().signal));
  await step(clock, 10_000);
  t.deepEqual(log, ['everywhere started'], 'a standby runs only the runnables that need no leadership');
  t.false(m.isLeader());
  await step(clock, 10_000);
  t.true(m.isLeader(), 'took over the expired Lease');
  const startedAt = Number(log.find((l) => l.startsWith('meter started@'))?.split('@')[1]);
  t.true(startedAt >= 15_000, `leader runnable started at ${startedAt} ms, after the takeover`);
  down.value = true;
  const cutAt = clock.now();
  await step(clock, 12_000);
  t.true(meterSignal?.aborted);
  const abortedAt = Number(log.find((l) => l.startsWith('meter aborted@'))?.split('@')[1]);
  t.true(abortedAt <= cutAt + 10_000, `aborted ${abortedAt - cutAt} ms after the cut (renew deadline 10 s)`);
  await t.throwsAsync(running.p, { instanceOf: LeadershipLostError });
});

test('a standby that stops never starts its leader-only runnables', async (t) => {
  const clock = new FakeClock(0);
  const server = new LeaseServer();
  server.lease = {
    metadata: { name: 'lease', namespace: 'ns', resourceVersion: '1' },
    spec: { holderIdentity: 'other', leaseDurationSeconds: 15 },
  };
  const { client } = server.view();
  const leaderElection = { namespace: 'ns', name: 'lease', identity: 'me' };
  const m = new Manager({ client, clock, ops: false, leaderElection });
  let started = false;
  m.runnable({
    name: 'meter',
    start: () => {
      started = true;
    },
  });
  const stop = new AbortController();
  const running = m.start(stop.signal);
  await step(clock, 5000);
  stop.abort();
  await running;
  t.false(started);
});
