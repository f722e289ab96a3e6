import test from 'ava';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { ExponentialBackoff } from '../../../operator/runtime/backoff.ts';
import { WorkQueue } from '../../../operator/runtime/workqueue.ts';

function newQueue(clock = new FakeClock()) {
  const backoff = new ExponentialBackoff({ baseMs: 100, maxMs: 1000, jitter: 0 });
  return { clock, queue: new WorkQueue({ clock, rateLimiter: backoff }) };
}

test('adding the same key twice queues it once', async (t) => {
  const { queue } = newQueue();
  queue.add('ns/a');
  queue.add('ns/a');
  queue.add('ns/b');
  t.is(queue.len(), 2);
  t.is(await queue.get(), 'ns/a');
  t.is(await queue.get(), 'ns/b');
  t.is(queue.len(), 0);
});

test('a key is handed to one worker at a time', async (t) => {
  const { queue } = newQueue();
  queue.add('k');
  const first = await queue.get();
  queue.add('k');
  let second: string | undefined = 'unset';
  void queue.get().then((k) => (second = k));
  await Promise.resolve();
  t.is(first, 'k');
  t.is(second, 'unset', 'the second worker must not get k while it is processing');
  t.is(queue.len(), 0);
  queue.done('k');
  await Promise.resolve();
  t.is(second, 'k', 'k added during processing is handed out again after done');
});

test('a key re-added during processing is processed once more, not twice', async (t) => {
  const { queue } = newQueue();
  queue.add('k');
  await queue.get();
  queue.add('k');
  queue.add('k');
  queue.done('k');
  t.is(queue.len(), 1);
  t.is(await queue.get(), 'k');
  queue.done('k');
  t.is(queue.len(), 0);
});

test('done without re-add does not requeue', async (t) => {
  const { queue } = newQueue();
  queue.add('k');
  await queue.get();
  queue.done('k');
  t.is(queue.len(), 0);
  t.is(queue.processing(), 0);
});

test('addAfter delivers after the delay and the earliest pending time wins', (t) => {
  const { clock, queue } = newQueue();
  queue.addAfter('k', 500);
  queue.addAfter('k', 200);
  queue.addAfter('k', 900);
  clock.advance(199);
  t.is(queue.len(), 0);
  clock.advance(1);
  t.is(queue.len(), 1);
  clock.advance(1000);
  t.is(queue.len(), 1, 'later timers were merged into the earliest one');
});

test('addAfter with no delay adds at once', (t) => {
  const { queue } = newQueue();
  queue.addAfter('k', 0);
  t.is(queue.len(), 1);
});

test('addRateLimited backs off exponentially until forget', async (t) => {
  const { clock, queue } = newQueue();
  for (const expected of [100, 200, 400, 800, 1000, 1000]) {
    queue.addRateLimited('k');
    clock.advance(expected - 1);
    t.is(queue.len(), 0, `not before ${expected} ms`);
    clock.advance(1);
    t.is(queue.len(), 1, `at ${expected} ms`);
    await queue.get();
    queue.done('k');
  }
  t.is(queue.numRequeues('k'), 6);
  queue.forget('k');
  t.is(queue.numRequeues('k'), 0);
  queue.addRateLimited('k');
  clock.advance(100);
  t.is(queue.len(), 1);
});

test('shutDown releases waiting getters and ignores new adds', async (t) => {
  const { clock, queue } = newQueue();
  const pending = queue.get();
  queue.addAfter('later', 100);
  queue.shutDown();
  t.is(await pending, undefined);
  queue.add('x');
  clock.advance(1000);
  t.is(queue.len(), 0);
  t.is(await queue.get(), undefined);
  t.is(clock.pending(), 0, 'delayed timers are cancelled');
});

test('shutDownWithDrain waits for keys in processing', async (t) => {
  const { queue } = newQueue();
  queue.add('a');
  queue.add('b');
  const a = await queue.get();
  let drained = false;
  const drain = queue.shutDownWithDrain().then(() => (drained = true));
  await Promise.resolve();
  t.false(drained);
  t.is(await queue.get(), undefined, 'queued but unstarted keys are not handed out after shutdown');
  queue.done(a as string);
  await drain;
  t.true(drained);
});

test('the observer sees adds, depth, latency and retries', async (t) => {
  const clock = new FakeClock();
  const seen = { adds: 0, depth: -1, latency: [] as number[], retries: 0, work: [] as number[] };
  const queue = new WorkQueue({
    clock,
    rateLimiter: new ExponentialBackoff({ baseMs: 10, jitter: 0 }),
    observer: {
      add: () => seen.adds++,
      depth: (n) => (seen.depth = n),
      latency: (s) => seen.latency.push(s),
      workDuration: (s) => seen.work.push(s),
      retry: () => seen.retries++,
    },
  });
  queue.add('k');
  clock.advance(250);
  await queue.get();
  clock.advance(500);
  queue.done('k');
  queue.addRateLimited('k');
  clock.advance(10);
  t.is(seen.adds, 2);
  t.is(seen.retries, 1);
  t.is(seen.depth, 1);
  t.deepEqual(seen.latency, [0.25]);
  t.deepEqual(seen.work, [0.5]);
});

test('many keys keep FIFO order across compaction', async (t) => {
  const { queue } = newQueue();
  for (let i = 0; i < 3000; i++) queue.add(`k${i}`);
  for (let i = 0; i < 3000; i++) {
    const k = await queue.get();
    t.is(k, `k${i}`);
    queue.done(k as string);
  }
  t.is(queue.len(), 0);
});

const drain = async (queue: WorkQueue) => {
  const out: string[] = [];
  while (queue.len() > 0) {
    const k = (await queue.get()) as string;
    out.push(k);
    queue.done(k);
  }
  return out;
};

test('priorities: higher first, first-in first-out within one; the default is 0', async (t) => {
  const { queue } = newQueue();
  queue.add('a');
  queue.add('b', -1);
  queue.add('c', 10);
  queue.add('d');
  queue.add('e', 10);
  t.is(queue.len(), 5);
  t.deepEqual(await drain(queue), ['c', 'e', 'a', 'd', 'b']);
});

test('priorities: adding a waiting key again raises it, never lowers it, and it is handed out once', async (t) => {
  const { queue } = newQueue();
  for (const k of ['a', 'b', 'c']) queue.add(k);
  queue.add('c', 5); // raised: ahead of a and b
  queue.add('a', -5); // not lowered: keeps its place
  t.is(queue.len(), 3);
  t.deepEqual(await drain(queue), ['c', 'a', 'b']);
  // a key raised, handed out and queued again at the low priority takes a new place at the end
  queue.add('x');
  queue.add('y');
  queue.add('x', 1);
  const x = await queue.get();
  t.is(x, 'x');
  queue.done('x');
  queue.add('x');
  t.deepEqual(await drain(queue), ['y', 'x'], 'not at its first, stale place before y');
});

test('priorities: a key added while processing is queued at done with the highest priority asked', async (t) => {
  const { queue } = newQueue();
  queue.add('k');
  queue.add('other');
  const k = await queue.get();
  queue.add('k');
  queue.add('k', 3);
  queue.add('k', 1);
  queue.done(k as string);
  t.deepEqual(await drain(queue), ['k', 'other']);
});

test('priorities: addAfter queues at its priority when due', async (t) => {
  const { queue, clock } = newQueue();
  queue.add('a');
  queue.addAfter('late', 100, 2);
  clock.advance(100);
  t.deepEqual(await drain(queue), ['late', 'a']);
});
