// The escrow gate's pending locks (operator/settlement/pending.ts): per requester, without the asking job's
// own, and a job let through counts at once for the next one.
import test from 'ava';
import { PendingLocks } from '../../../operator/settlement/pending.ts';

const A = '0xAaAa000000000000000000000000000000000001';
const B = '0xbbbb000000000000000000000000000000000002';

test("a requester's other pending jobs, not its own and not another requester's, case-insensitively", (t) => {
  const p = new PendingLocks(
    [
      { uid: 'a1', requester: A, lock: 100n },
      { uid: 'a2', requester: A.toLowerCase(), lock: 30n },
      { uid: 'b1', requester: B, lock: 7n },
    ],
    0,
  );
  t.is(p.others(A, 'a3'), 130n);
  t.is(p.others(A.toUpperCase().replace('0X', '0x'), 'a1'), 30n, 'its own lock is not counted against it');
  t.is(p.others(B, 'b2'), 7n);
  t.is(p.others('0xcccc000000000000000000000000000000000003', 'c1'), 0n);
});

test('a job let through counts for the next job of its requester at once; counted once if asked again', (t) => {
  const p = new PendingLocks([], 0);
  p.add({ uid: 'a1', requester: A, lock: 100n });
  t.is(p.others(A, 'a2'), 100n);
  p.add({ uid: 'a1', requester: A, lock: 100n });
  t.is(p.others(A, 'a2'), 100n, 'the same job twice is one lock');
  t.is(p.others(A, 'a1'), 0n);
});
