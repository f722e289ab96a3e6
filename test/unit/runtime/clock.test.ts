import test from 'ava';
import { type KubeError, toKubeError } from '../../../operator/kube/errors.ts';
import { FakeClock, timeoutSignal } from '../../../operator/runtime/clock.ts';

test('timeoutSignal aborts with a TimeoutError when the clock reaches it, and cancel clears its timer', (t) => {
  const clock = new FakeClock(0);
  const { signal } = timeoutSignal(clock, 1000);
  clock.advance(999);
  t.false(signal.aborted);
  clock.advance(1);
  t.true(signal.aborted);
  t.is((signal.reason as Error).name, 'TimeoutError');
  t.is((toKubeError(signal.reason) as KubeError).reason, 'Timeout', 'maps like AbortSignal.timeout');
  const other = timeoutSignal(clock, 1000);
  t.deepEqual(clock.timers(), [1000]);
  other.cancel();
  t.deepEqual(clock.timers(), []);
  clock.advance(5000);
  t.false(other.signal.aborted);
});
