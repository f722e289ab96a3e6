// Receipts: signed as EIP-712 by the provider's key and verified by recovering it; forged or altered receipts
// fail with the field named; usage sums them once per request.
import test from 'ava';
import { Wallet } from 'ethers';
import { hubJobId } from '../../../operator/settlement/task.ts';
import {
  contentHash,
  gatewayKeyHash,
  RECEIPT_TYPES,
  type Receipt,
  ReceiptError,
  receiptDigest,
  receiptDomain,
  recoverReceiptSigner,
  signReceipt,
  usageFromReceipts,
  verifyReceipt,
} from '../../../operator/verification/receipt.ts';

const provider = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const mallory = new Wallet('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a');
const domain = receiptDomain(31337, '0x5FbDB2315678afecb367f032d93F642f64180aa3');

const receipt = (over: Partial<Receipt> = {}): Receipt => ({
  provider: provider.address,
  job: hubJobId({ namespace: 'team-a', name: 'llama' }),
  modelHash: contentHash('model weights v1'),
  inputHash: contentHash('{"prompt":"hello"}'),
  outputHash: contentHash('{"text":"hi"}'),
  latencyUs: 41_250,
  deviceTimeUs: 30_100,
  price: '1500000000000000',
  requestId: contentHash('request-1'),
  gatewayKey: gatewayKeyHash({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }),
  time: 1_795_000_000_123,
  inputTokens: 0,
  outputTokens: 0,
  ...over,
});

test('a signed receipt verifies and recovers the provider', async (t) => {
  const s = await signReceipt(provider, domain, receipt());
  t.regex(s.signature, /^0x[0-9a-f]{130}$/);
  t.deepEqual(verifyReceipt(domain, s), receipt());
  t.is(recoverReceiptSigner(domain, s), provider.address);
  t.regex(receiptDigest(domain, s.receipt), /^0x[0-9a-f]{64}$/);
  // Expectations that hold pass; JSON round trip keeps it valid.
  t.truthy(verifyReceipt(domain, JSON.parse(JSON.stringify(s)), { job: s.receipt.job, price: s.receipt.price }));
});

test('a forged receipt (signed by another key in the provider’s name) fails on the signature', async (t) => {
  const forged = { receipt: receipt(), signature: await mallory.signTypedData(domain, RECEIPT_TYPES, receipt()) };
  const e = t.throws(() => verifyReceipt(domain, forged), { instanceOf: ReceiptError });
  t.is(e?.field, 'signature');
  t.regex(e!.message, new RegExp(mallory.address));
  // signReceipt refuses to sign in someone else's name.
  const e2 = await t.throwsAsync(signReceipt(mallory, domain, receipt()), { instanceOf: ReceiptError });
  t.is(e2?.field, 'provider');
});

const alterations: Array<[keyof Receipt, unknown]> = [
  ['job', hubJobId({ namespace: 'team-a', name: 'other' })],
  ['modelHash', contentHash('model weights v2')],
  ['inputHash', contentHash('{"prompt":"bye"}')],
  ['outputHash', contentHash('{"text":"cheap answer"}')],
  ['latencyUs', 1],
  ['deviceTimeUs', 999_999],
  ['price', '1500000000000001'],
  ['requestId', contentHash('request-2')],
  ['gatewayKey', gatewayKeyHash('another key')],
  ['time', 1_795_000_000_124],
  ['inputTokens', 1_000],
  ['outputTokens', 1_000],
  ['provider', mallory.address],
];
for (const [field, value] of alterations) {
  test(`an altered ${field} fails: named when the checker expects it, else as the signature`, async (t) => {
    const s = await signReceipt(provider, domain, receipt());
    const altered = { ...s, receipt: { ...s.receipt, [field]: value } };
    const named = t.throws(() => verifyReceipt(domain, altered, { [field]: s.receipt[field] }), {
      instanceOf: ReceiptError,
    });
    t.is(named?.field, field);
    const blind = t.throws(() => verifyReceipt(domain, altered), { instanceOf: ReceiptError });
    t.is(blind?.field, 'signature');
  });
}

test('a receipt for another deployment (domain) fails on the signature', async (t) => {
  const s = await signReceipt(provider, domain, receipt());
  const other = receiptDomain(1, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
  t.is(t.throws(() => verifyReceipt(other, s), { instanceOf: ReceiptError })?.field, 'signature');
});

test('malformed fields are named', async (t) => {
  const s = await signReceipt(provider, domain, receipt());
  const cases: Array<[keyof Receipt, unknown]> = [
    ['price', '1.5'],
    ['price', '-1'],
    ['latencyUs', -1],
    ['deviceTimeUs', 1.5],
    ['inputTokens', -3],
    ['outputTokens', undefined],
    ['inputHash', '0x1234'],
    ['provider', 'not-an-address'],
  ];
  for (const [field, value] of cases) {
    const e = t.throws(() => verifyReceipt(domain, { ...s, receipt: { ...s.receipt, [field]: value } }), {
      instanceOf: ReceiptError,
    });
    t.is(e?.field, field, `${field}=${JSON.stringify(value)}`);
  }
  t.is(
    t.throws(() => verifyReceipt(domain, { ...s, signature: '0xdead' }), { instanceOf: ReceiptError })?.field,
    'signature',
  );
});

test('usage: requests, device time, tokens and amount, each request counted once', async (t) => {
  const a = await signReceipt(provider, domain, receipt({ inputTokens: 100, outputTokens: 20 }));
  const b = receipt({ requestId: contentHash('request-2'), deviceTimeUs: 10, price: '7', outputTokens: 4 });
  const c = receipt({ requestId: contentHash('request-3'), deviceTimeUs: 5, price: '3', inputTokens: 1 });
  t.deepEqual(usageFromReceipts([a, b, c, a, { ...b }]), {
    requests: 3,
    deviceTimeUs: 30_100 + 10 + 5,
    inputTokens: 101,
    outputTokens: 24,
    amount: 1_500_000_000_000_000n + 7n + 3n,
  });
  // The same request id in another job is another request.
  const d = receipt({ job: hubJobId({ namespace: 'team-a', name: 'other' }), price: '1' });
  t.is(usageFromReceipts([a, d]).requests, 2);
  t.deepEqual(usageFromReceipts([]), { requests: 0, deviceTimeUs: 0, inputTokens: 0, outputTokens: 0, amount: 0n });
});
