// The leader label (operator/runtime/leader-label.ts) against a fake Pod: a label an earlier run left is cleared
// first, the leader labels its Pod only once the intake listens, removes it when leadership ends, retries a
// failed patch with backoff, and the last wish wins (a label being retried when leadership ends is not written).
import test from 'ava';
import { LEADER_LABEL, LeaderPodLabel } from '../../../operator/runtime/leader-label.ts';

/** A Pod whose label writes are recorded; `failures` patches fail first. */
function fakePod(failures = 0) {
  const pod = { label: undefined as string | undefined, writes: [] as Array<string | null>, failures };
  const patch = async (value: 'true' | null) => {
    await new Promise((r) => setImmediate(r));
    if (pod.failures > 0) {
      pod.failures--;
      throw Object.assign(new Error('pods "op-0" is forbidden'), { code: 403 });
    }
    pod.writes.push(value);
    pod.label = value ?? undefined;
  };
  return { pod, patch };
}

const until = async (what: string, f: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

test('the label is nvdax.io/leader', (t) => {
  t.is(LEADER_LABEL, 'nvdax.io/leader');
});

test('cleared at start, written once the intake listens, removed when leadership ends', async (t) => {
  const { pod, patch } = fakePod();
  pod.label = 'true'; // left by an earlier run of this Pod
  const l = new LeaderPodLabel({ patch, retryMs: 1 });
  l.clearStale();
  let listening = () => {};
  const ready = new Promise<void>((r) => {
    listening = r;
  });
  const ac = new AbortController();
  const running = l.runnable(ready).start(ac.signal);
  await until('cleared', () => pod.writes.length === 1);
  t.is(pod.label as string | undefined, undefined);
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(pod.writes, [null], 'not labelled before the intake listens');
  listening();
  await until('labelled', () => pod.label === 'true');
  t.true(l.labelled);
  ac.abort();
  await running;
  t.deepEqual(pod.writes, [null, 'true', null]);
  t.false(l.labelled);
});

test('a failed patch is retried with backoff until it is written', async (t) => {
  const { pod, patch } = fakePod(3);
  const l = new LeaderPodLabel({ patch, retryMs: 1, maxRetryMs: 4 });
  const ac = new AbortController();
  const running = l.runnable().start(ac.signal);
  await until('labelled after failures', () => pod.label === 'true');
  t.is(l.counts.failures, 3);
  ac.abort();
  await running;
  t.is(pod.label, undefined);
});

test('leadership ends while the label is being retried: the last wish wins, the Pod is not left labelled', async (t) => {
  const { pod, patch } = fakePod(1_000_000);
  const l = new LeaderPodLabel({ patch, retryMs: 5, maxRetryMs: 5, stopTimeoutMs: 500 });
  const ac = new AbortController();
  const running = l.runnable().start(ac.signal);
  await until('a few failures', () => l.counts.failures >= 2);
  ac.abort();
  pod.failures = 0;
  await running;
  t.deepEqual(pod.writes, [null]);
  t.false(l.labelled);
});

test('stopped before the intake listens: never labelled', async (t) => {
  const { pod, patch } = fakePod();
  const l = new LeaderPodLabel({ patch });
  const ac = new AbortController();
  const running = l.runnable(new Promise(() => {})).start(ac.signal);
  ac.abort();
  await running;
  t.deepEqual(pod.writes, [null]);
  t.false(l.labelled);
});
