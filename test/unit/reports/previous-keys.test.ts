// An instance that attests again with a new key (a restarted gateway) keeps its earlier verified keys, so the
// receipts the earlier process signed and the new one reloaded from its journal still verify: earlierKeys (what
// the intake's upsert keeps) and keyOf (which key a receipt's gatewayKey names).
import test from 'ava';
import type { AttestationResult } from '../../../operator/api/types.gen.ts';
import { earlierKeys, keyOf } from '../../../operator/controllers/reports/intake.ts';

const k = (c: string) => `0x${c.repeat(64)}`;
const att = (o: Partial<AttestationResult>): AttestationResult => ({ instance: 'served-a1-0', ...o });

test('a new key keeps the one before (with its receipt key), newest first, at most 4, never the new one', (t) => {
  t.deepEqual(earlierKeys(undefined, att({ gatewayKey: k('1'), verified: true })), []);
  const first = att({ gatewayKey: k('1'), receiptKey: k('a'), verified: true });
  t.deepEqual(earlierKeys(first, att({ gatewayKey: k('2'), verified: true })), [
    { gatewayKey: k('1'), receiptKey: k('a') },
  ]);
  // the same key attested again is not an earlier key
  t.deepEqual(earlierKeys(first, att({ gatewayKey: k('1').toUpperCase().replace('0X', '0x'), verified: true })), []);
  let prev = first;
  for (const c of ['2', '3', '4', '5', '6']) {
    const next = att({ gatewayKey: k(c), receiptKey: k('b'), verified: true });
    prev = { ...next, previousKeys: earlierKeys(prev, next) };
  }
  t.deepEqual(
    prev.previousKeys?.map((p) => p.gatewayKey),
    [k('5'), k('4'), k('3'), k('2')],
  );
  // a refused attestation's key (nothing verified it) is not kept; the ones before it are
  const refused = att({ gatewayKey: k('7'), verified: false, previousKeys: [{ gatewayKey: k('1') }] });
  t.deepEqual(earlierKeys(refused, att({ gatewayKey: k('8'), verified: true })), [{ gatewayKey: k('1') }]);
});

test('keyOf: the current key or an earlier one, case-insensitively; anything else is unknown', (t) => {
  const a = att({
    gatewayKey: k('2'),
    receiptKey: k('b'),
    verified: true,
    previousKeys: [{ gatewayKey: k('1'), receiptKey: k('a') }],
  });
  t.deepEqual(keyOf(a, k('2')), { gatewayKey: k('2'), receiptKey: k('b') });
  t.deepEqual(keyOf(a, k('1')), { gatewayKey: k('1'), receiptKey: k('a') });
  t.is(keyOf(a, k('c')), undefined);
  t.deepEqual(keyOf(a, k('1').toUpperCase().replace('0X', '0x')), { gatewayKey: k('1'), receiptKey: k('a') });
  t.is(keyOf(a, k('3')), undefined);
});
