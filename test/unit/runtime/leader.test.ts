import test from 'ava';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { LeaderElector } from '../../../operator/runtime/leader.ts';
import { LeaseServer } from './lease-server.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
};

async function step(clock: FakeClock, ms: number, by = 100): Promise<void> {
  for (let t = 0; t < ms; t += by) {
    clock.advance(by);
    await flush();
  }
}

function elector(server: LeaseServer, clock: FakeClock, identity: string) {
  const { client, down } = server.view();
  const log: string[] = [];
  let leaderSignal: AbortSignal | undefined;
  const e = new LeaderElector({
    client,
    namespace: 'ns',
    name: 'lease',
    identity,
    clock,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    random: () => 0.5,
    onStartedLeading: (s) => {
      leaderSignal = s;
      log.push(`start@${clock.now()}`);
    },
    onStoppedLeading: () => log.push(`stop@${clock.now()}`),
  });
  const stop = new AbortController();
  const result = e.run(stop.signal);
  return { e, log, down, stop, result, leaderSignal: () => leaderSignal };
}

test('exactly one of two candidates leads, and it keeps renewing', async (t) => {
  const clock = new FakeClock(0);
  const server = new LeaseServer();
  const a = elector(server, clock, 'a');
  await flush();
  const b = elector(server, clock, 'b');
  await step(clock, 60_000);
  t.true(a.e.isLeader());
  t.false(b.e.isLeader());
  t.is(b.e.leader, 'a');
  t.is(server.lease?.spec?.holderIdentity, 'a');
  t.is(server.lease?.spec?.leaseTransitions, 0);
  t.true(a.e.healthy());
  a.stop.abort();
  b.stop.abort();
  await Promise.all([a.result, b.result]);
});

test('a leader cut off from the API steps down at renewDeadline, before the standby may take over', async (t) => {
  const clock = new FakeClock(0);
  const server = new LeaseServer();
  const a = elector(server, clock, 'a');
  await flush();
  const b = elector(server, clock, 'b');
  await step(clock, 10_000);
  a.down.value = true;
  const cutAt = clock.now();
  await step(clock, 30_000);
  t.is(await a.result, 'lost');
  t.true(a.leaderSignal()?.aborted, 'the leader signal aborts at once');
  const lostAt = Number(a.log.find((l) => l.startsWith('stop@'))?.slice(5));
  const tookOverAt = Number(b.log.find((l) => l.startsWith('start@'))?.slice(6));
  t.true(lostAt <= cutAt + 10_000, `lost at +${lostAt - cutAt} ms`);
  t.true(tookOverAt > lostAt, 'the standby starts only after the old leader stopped');
  t.true(tookOverAt - cutAt >= 15_000 - 2_000, `standby waited the lease duration (+${tookOverAt - cutAt} ms)`);
  t.is(server.lease?.spec?.holderIdentity, 'b');
  t.is(server.lease?.spec?.leaseTransitions, 1);
  b.stop.abort();
  await b.result;
});

test('stopping the leader releases the lease and the standby takes over within a retry period', async (t) => {
  const clock = new FakeClock(0);
  const server = new LeaseServer();
  const a = elector(server, clock, 'a');
  await flush();
  const b = elector(server, clock, 'b');
  await step(clock, 10_000);
  a.stop.abort();
  t.is(await a.result, 'stopped');
  await flush();
  t.is(server.lease?.spec?.holderIdentity, '');
  const releasedAt = clock.now();
  await step(clock, 5_000);
  const tookOverAt = Number(b.log.find((l) => l.startsWith('start@'))?.slice(6));
  t.true(b.e.isLeader());
  t.true(tookOverAt - releasedAt <= 2_000 * 2.2, `took ${tookOverAt - releasedAt} ms`);
  b.stop.abort();
  await b.result;
});

test('timing options must satisfy leaseDuration > renewDeadline > retryPeriod', (t) => {
  const { client } = new LeaseServer().view();
  const base = { client, namespace: 'n', name: 'l', identity: 'i', onStartedLeading: () => undefined };
  t.throws(() => new LeaderElector({ ...base, leaseDurationMs: 5000, renewDeadlineMs: 5000 }), {
    instanceOf: RangeError,
  });
  t.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 1000, retryPeriodMs: 1000 }), {
    instanceOf: RangeError,
  });
});

test('a leader that finds the Lease taken over steps down at its next renew, not at its renew deadline', async (t) => {
  const clock = new FakeClock(0);
  const server = new LeaseServer();
  const a = elector(server, clock, 'a');
  await step(clock, 5_000);
  t.true(a.e.isLeader());
  // a forced takeover (or a manual edit) hands the Lease to someone else
  server.lease = {
    ...server.lease!,
    metadata: { ...server.lease!.metadata, resourceVersion: String(++server.rv) },
    spec: { ...server.lease!.spec, holderIdentity: 'intruder' },
  };
  const takenAt = clock.now();
  await step(clock, 3_000);
  t.is(await a.result, 'lost');
  const stoppedAt = Number(a.log.find((l) => l.startsWith('stop@'))?.slice(5));
  t.true(
    stoppedAt - takenAt <= 2_000 + 100,
    `stepped down ${stoppedAt - takenAt} ms after the takeover (retry period 2 s, deadline 10 s)`,
  );
});

test('fractional clock readings (performance.now) do not break renewing', async (t) => {
  // the monotonic clock has sub-millisecond precision; AbortSignal.timeout wants integers
  const clock = new FakeClock(1000.37);
  const server = new LeaseServer();
  const a = elector(server, clock, 'a');
  await step(clock, 20_000, 99.9);
  t.true(a.e.isLeader());
  a.stop.abort();
  t.is(await a.result, 'stopped');
});

test.serial('renew attempts are limited on the injected clock, never by a real-time AbortSignal.timeout', async (t) => {
  const real = AbortSignal.timeout;
  let calls = 0;
  AbortSignal.timeout = (ms: number) => {
    calls++;
    return real.call(AbortSignal, ms);
  };
  t.teardown(() => {
    AbortSignal.timeout = real;
  });
  const clock = new FakeClock(0);
  const a = elector(new LeaseServer(), clock, 'a');
  await step(clock, 20_000);
  t.true(a.e.isLeader());
  a.stop.abort();
  await a.result;
  t.is(calls, 0);
});
