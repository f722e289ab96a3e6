// Metering: status.usage → settle items, period by period (pure).
import test from 'ava';
import { parseUnits } from 'ethers';
import type { AttemptUsage } from '../../../operator/api/types.gen.ts';
import { UNIT } from '../../../operator/settlement/contracts.ts';
import {
  amountUnits,
  dueItems,
  gpuSecondsBefore,
  type MeterInput,
  orderItems,
  periodAt,
  periodEnd,
  taskTerms,
} from '../../../operator/settlement/metering.ts';

const clock = { genesis: 1_000_000, periodSeconds: 60 };
const at = (p: number, s = 0) => new Date((clock.genesis + p * 60 + s) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
// price 3.6 NVDAx per GPU-hour = 0.001 NVDAx per GPU-second = 1,000 UNIT per GPU-second
const attempt = (o: Partial<AttemptUsage>): AttemptUsage => ({ attempt: 1, pool: 'a', price: '3.6', ...o });
const terms = { task: 7, startPeriod: 10, span: 5, capUnits: 1_000n * 60n * 2n }; // 2 GPUs x 60 s

function input(o: Partial<MeterInput>): MeterInput {
  return { terms, clock, settled: 0, attempts: [], final: false, now: periodEnd(clock, 20), ...o };
}

test('an attempt spreads its GPU-seconds evenly over its run and the periods add up to it exactly', (t) => {
  const a = attempt({ startTime: at(10, 30), endTime: at(12, 30), gpuSeconds: 241 }); // 2 GPUs, 120 s, plus one
  const periods = [10, 11, 12].map(
    (p) => gpuSecondsBefore(a, periodEnd(clock, p)) - gpuSecondsBefore(a, periodEnd(clock, p - 1)),
  );
  t.deepEqual(periods, [60, 120, 61]);
  t.is(
    periods.reduce((x, y) => x + y, 0),
    241,
  );
  t.is(gpuSecondsBefore(a, Date.parse(at(10, 0))), 0);
});

test('periods are billed in order once over, each at the quoted price, an idle one at 0', (t) => {
  const a = attempt({ startTime: at(11, 0), endTime: at(12, 0), gpuSeconds: 120 });
  const items = dueItems(input({ attempts: [{ usage: a, billable: true }], final: true }));
  t.deepEqual(
    items.map((i) => [i.period, i.amount, i.gpuSeconds]),
    [
      [10, 0n, 0],
      [11, 120_000n, 120],
      [12, 0n, 0],
      [13, 0n, 0],
      [14, 0n, 0],
    ],
  );
});

test('a period is not due before it ends plus grace, nor before the running attempt is metered past it', (t) => {
  const running = attempt({ startTime: at(10, 0), meteredTime: at(11, 10), gpuSeconds: 140 });
  const base = { attempts: [{ usage: running, billable: true }], running: 1 };
  // period 10 over and metered past; 11 over but usage only known to 11:10
  t.deepEqual(
    dueItems(input({ ...base, now: periodEnd(clock, 12) })).map((i) => i.period),
    [10],
  );
  // period 10 just ended: within the grace it waits
  t.deepEqual(dueItems(input({ ...base, now: periodEnd(clock, 10) + 1_000 })), []);
  // settled ones are skipped
  t.deepEqual(dueItems(input({ ...base, settled: 1, now: periodEnd(clock, 12) })), []);
  // once the job is final, what is recorded is billed
  t.deepEqual(
    dueItems(input({ ...base, final: true, now: periodEnd(clock, 12) })).map((i) => i.period),
    [10, 11],
  );
});

test('attempts on another provider are not billed to the task; a period never charges above its cap', (t) => {
  const other = attempt({ attempt: 1, startTime: at(10, 0), endTime: at(11, 0), gpuSeconds: 60 });
  const ours = attempt({ attempt: 2, price: '36', startTime: at(11, 0), endTime: at(12, 0), gpuSeconds: 120 });
  const items = dueItems(
    input({
      attempts: [
        { usage: other, billable: false },
        { usage: ours, billable: true },
      ],
      final: true,
    }),
  );
  t.is(items[0]?.amount, 0n);
  // 120 GPU-s at 36/GPU-hour is 1,200,000 UNIT, above the cap of 120,000
  t.is(items[1]?.amount, terms.capUnits);
  t.is(items.length, 5);
});

test('amounts round down to a UNIT', (t) => {
  // 1 GPU-second at 0.0036 NVDAx per GPU-hour = 1e-6 NVDAx = 1 UNIT; 0.0035 rounds to 0
  t.is(amountUnits(1, '0.0036', 10n), 1n);
  t.is(amountUnits(1, '0.0035', 10n), 0n);
  t.is(amountUnits(7, '3.6', 10n ** 9n), 7_000n);
});

test('task terms are the contract formula: cap per period, span, lock', (t) => {
  const tt = taskTerms(
    { sla: { priceCap: parseUnits('10', 18), maxDurationSeconds: 0n }, gpus: 2, maxTotal: parseUnits('50', 18) },
    60,
  );
  // 10 NVDAx/GPU-hour x 2 GPUs x 60 s = 0.333333 NVDAx per period (rounded down to a UNIT)
  t.is(tt.capUnits, 333_333n);
  t.is(tt.span, 150); // 50 / 0.333333 = 150.00015
  t.is(tt.lockWei, 333_333n * UNIT * 150n);
  const byDuration = taskTerms(
    { sla: { priceCap: parseUnits('10', 18), maxDurationSeconds: 130n }, gpus: 2, maxTotal: parseUnits('50', 18) },
    60,
  );
  t.is(byDuration.span, 3);
  t.throws(
    () =>
      taskTerms(
        { sla: { priceCap: parseUnits('10', 18), maxDurationSeconds: 0n }, gpus: 1, maxTotal: parseUnits('0.1', 18) },
        60,
      ),
    { message: /spec\.payment\.maxTotal/ },
  );
});

test('items go by (requester, provider) pair, then task, then period', (t) => {
  const rows = [
    { pair: 'b', task: 1, period: 5 },
    { pair: 'a', task: 9, period: 4 },
    { pair: 'a', task: 2, period: 6 },
    { pair: 'a', task: 2, period: 5 },
  ];
  t.deepEqual(
    orderItems(rows).map((r) => `${r.pair}${r.task}:${r.period}`),
    ['a2:5', 'a2:6', 'a9:4', 'b1:5'],
  );
  t.is(periodAt(clock, periodEnd(clock, 3) - 1), 3);
});
