import test from 'ava';
import { patterns } from '../../../operator/api/patterns.ts';
import {
  compareDecimal,
  DEFAULT_PRICING,
  DEFAULT_VERIFIER_FEE,
  formatDecimal,
  latencyFactor,
  loadFactor,
  parsePrice,
  price,
} from '../../../operator/scheduling/pricing.ts';

const ONE = 10n ** 18n;
const idle = { used: 0, total: 8 };

test('the default verifier fee is 0.05', (t) => {
  t.is(DEFAULT_VERIFIER_FEE, '0.05');
  t.is(DEFAULT_PRICING.verifierFee, '0.05');
});

test('an idle pool without latency data quotes base + fee, every part in canonical form', (t) => {
  t.deepEqual(price({ baseRate: '2.1', utilization: idle }), {
    baseRate: '2.10',
    latencyFactor: '1.00',
    loadFactor: '1.00',
    verifierFee: '0.05',
    price: '2.15',
  });
});

test('LoadFactor: 1 up to half full, then linear to 1.5 when full', (t) => {
  const at = (used: number, total: number) => price({ baseRate: '1', utilization: { used, total } }).loadFactor;
  t.is(at(0, 8), '1.00');
  t.is(at(4, 8), '1.00'); // u = 0.5 exactly
  t.is(at(5, 8), '1.125');
  t.is(at(6, 8), '1.25');
  t.is(at(8, 8), '1.50');
  t.is(at(9, 8), '1.50'); // over-committed counts as full
  t.is(at(0, 0), '1.00'); // no GPUs: neutral
  t.is(at(2, 3), '1.1667'); // 1.16666… rounded half-up to 4 decimals
  t.is(at(501, 1000), '1.001');
  t.is(at(50_001, 100_000), '1.00'); // 1.00001 rounds down
  t.is(at(50_005, 100_000), '1.0001'); // 1.00005 rounds half-up
});

test('LatencyFactor: neutral without data, rising to 1.25 as latency nears the limit, 1.25 over it', (t) => {
  const at = (observed?: number, max?: number) =>
    price({ baseRate: '1', utilization: idle, observedLatencyMs: observed, maxLatencyMs: max }).latencyFactor;
  t.is(at(undefined, 200), '1.00');
  t.is(at(100, undefined), '1.00');
  t.is(at(0, 200), '1.00');
  t.is(at(50, 200), '1.0625');
  t.is(at(100, 200), '1.125');
  t.is(at(200, 200), '1.25');
  t.is(at(300, 200), '1.25'); // capped at r = 1; the matcher rejects such a pool
  t.is(at(2, 3), '1.1667'); // 1 + 0.25·2/3 = 1.16666…
  t.is(at(123.4, 200), '1.1543'); // 1 + 0.25·0.617 = 1.15425 → half-up
});

test('the factors are exact 18-decimal fixed point', (t) => {
  t.is(loadFactor({ used: 6, total: 8 }), (125n * ONE) / 100n);
  t.is(latencyFactor(150, 200), (11875n * ONE) / 10_000n);
  t.throws(() => loadFactor({ used: 1.5, total: 8 }), { instanceOf: RangeError, message: /utilization\.used/ });
  t.throws(() => latencyFactor(-1, 200), { instanceOf: RangeError, message: /observedLatencyMs/ });
});

test('price = base × latency × load + fee, rounded half-up to 6 decimals', (t) => {
  // 2.10 × 1.25 + 0.05
  t.is(price({ baseRate: '2.10', utilization: { used: 6, total: 8 } }).price, '2.675');
  // 2 × 1.1875 × 1.1667 = 2.7709125, + 0.05 → 2.8209125 → 2.820913
  const q = price({ baseRate: '2', utilization: { used: 2, total: 3 }, observedLatencyMs: 150, maxLatencyMs: 200 });
  t.deepEqual(q, {
    baseRate: '2.00',
    latencyFactor: '1.1875',
    loadFactor: '1.1667',
    verifierFee: '0.05',
    price: '2.820913',
  });
  // 0.0000001 + 0 rounds down to 0; 0.0000005 rounds up to 0.000001
  t.is(price({ baseRate: '0.0000001', utilization: idle }, { verifierFee: '0' }).price, '0.00');
  t.is(price({ baseRate: '0.0000005', utilization: idle }, { verifierFee: '0' }).price, '0.000001');
});

test('the verifier fee is a parameter', (t) => {
  t.is(price({ baseRate: '4', utilization: idle }, { verifierFee: '0.1' }).price, '4.10');
  t.is(price({ baseRate: '4', utilization: idle }, { verifierFee: '0' }).verifierFee, '0.00');
  t.throws(() => price({ baseRate: '4', utilization: idle }, { verifierFee: '-1' }), {
    instanceOf: RangeError,
    message: /^verifierFee must be/,
  });
});

test('every part matches the API price pattern', (t) => {
  const re = new RegExp(patterns.price.pattern);
  const q = price({ baseRate: '999999999999999999', utilization: idle }, { verifierFee: '0' });
  t.is(q.price, '999999999999999999.00');
  for (const v of Object.values(q)) t.regex(v, re);
  t.throws(() => price({ baseRate: '999999999999999999', utilization: { used: 8, total: 8 } }), {
    instanceOf: RangeError,
  });
});

test('formatDecimal keeps at least two decimals and drops other trailing zeros', (t) => {
  t.is(formatDecimal(0n), '0.00');
  t.is(formatDecimal(41n * 10n ** 17n), '4.10');
  t.is(formatDecimal(1n), '0.000000000000000001');
  t.is(formatDecimal(10625n * 10n ** 14n), '1.0625');
});

test('parsePrice is exact and names the field and the form on bad input', (t) => {
  t.is(parsePrice('2.5', 'x'), 25n * 10n ** 17n);
  t.is(parsePrice('0.000000000000000001', 'x'), 1n);
  for (const bad of ['', '1e3', '-1', '01', '1.', '.5', '1.0000000000000000001', ' 1', '1000000000000000000']) {
    t.throws(() => parsePrice(bad, 'spec.sla.priceCap'), {
      instanceOf: RangeError,
      message: /^spec\.sla\.priceCap must be a decimal NVDAx amount such as "1\.25"/,
    });
  }
});

test('compareDecimal compares exactly', (t) => {
  t.is(compareDecimal('4.10', '4.1'), 0);
  t.is(compareDecimal('4.1', '4.09999999999999999'), 1);
  t.is(compareDecimal('0.000000000000000001', '0.000000000000000002'), -1);
  // floats would call these equal
  t.is(compareDecimal('999999999999999999.000000000000000001', '999999999999999999'), 1);
  t.throws(() => compareDecimal('abc', '1'), { instanceOf: RangeError, message: /^a must be/ });
});
