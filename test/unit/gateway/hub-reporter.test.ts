// The gateway's hub reporter against a scripted Reports server on loopback: it attests (retrying while the hub
// fails, less often after a refusal), sends receipts in the hub's watermark order once they are old enough,
// keeps them through transport errors and hub failures, attests again when the hub no longer holds it
// attested, drops only the oldest beyond its queue limit (counted), and flushes on stop. With a journal, what a
// stopped or crashed reporter left unanswered is reported by the next one on the same directory, once.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import type { HubAttestation } from '../../../provider-runtime/gateway/service.ts';
import { HubReporter, reportsClientProto } from '../../../provider-runtime/gateway/hub-reporter.ts';
import { JOURNAL_FILE, ReceiptJournal, readJournal } from '../../../provider-runtime/gateway/receipt-journal.ts';
import type { GatewaySignedReceipt } from '../../../provider-runtime/gateway/signing.ts';
import { gatewayKeyHash } from '../../../operator/verification/receipt.ts';

interface Wire {
  receiptJson: string;
  signature: string;
  scheme: string;
}
type Answer<R> = R | { code: grpc.status; details: string };

/** A Reports server whose answers the test sets. */
async function hub(o: {
  attest?: (n: number) => Answer<{ verified: boolean; message?: string }>;
  receipts?: (batch: Wire[], n: number) => Answer<{ accepted: number; duplicates: number; refused: string[] }>;
}) {
  const seen = { challenges: 0, attests: [] as Array<Record<string, unknown>>, batches: [] as Wire[][] };
  const server = new grpc.Server();
  const reply = <R>(cb: grpc.sendUnaryData<R>, a: Answer<R>) =>
    'code' in (a as object) ? cb(a as grpc.ServiceError) : cb(null, a as R);
  server.addService(reportsClientProto().nvdax.hub.v1.Reports.service, {
    Challenge: (_c: unknown, cb: grpc.sendUnaryData<object>) => {
      seen.challenges++;
      cb(null, { nonce: `n${seen.challenges}`, expiresUnixMs: Date.now() + 60_000 });
    },
    Attest: (c: grpc.ServerUnaryCall<Record<string, unknown>, object>, cb: grpc.sendUnaryData<object>) => {
      seen.attests.push(c.request);
      reply(cb, o.attest?.(seen.attests.length) ?? { verified: true });
    },
    Receipts: (c: grpc.ServerUnaryCall<{ receipts: Wire[] }, object>, cb: grpc.sendUnaryData<object>) => {
      seen.batches.push(c.request.receipts);
      const n = c.request.receipts.length;
      reply(cb, o.receipts?.(c.request.receipts, seen.batches.length) ?? { accepted: n, duplicates: 0, refused: [] });
    },
    Telemetry: () => {},
    Progress: () => {},
    Replay: () => {},
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { seen, port, close: () => server.forceShutdown() };
}

const teePubKey = { crv: 'X25519', kty: 'OKP', x: 'AA' } as const;
/** The gateway key this reporter's receipts name (the hash of the key it attests). */
const KEY = gatewayKeyHash(teePubKey);
const material = async (nonce: string): Promise<HubAttestation> =>
  ({
    teePubKey,
    evidence: { ear: `ear-for-${nonce}` },
    capability: { nonce } as never,
    capabilitySignature: '0xsig',
  }) as HubAttestation;

const receipt = (i: number, time = 1_000 + i, gatewayKey = KEY): GatewaySignedReceipt =>
  ({
    receipt: { requestId: `0x${i.toString(16).padStart(64, '0')}`, time, gatewayKey },
    signature: `0x${i}`,
    scheme: 'ed25519',
  }) as unknown as GatewaySignedReceipt;

const ids = (b: Wire[]) => b.map((w) => JSON.parse(w.receiptJson).time as number);
const until = async (what: string, f: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const reporter = (port: number, more: Partial<ConstructorParameters<typeof HubReporter>[0]> = {}) =>
  new HubReporter({
    target: `127.0.0.1:${port}`,
    job: { namespace: 'team-a', name: 'mlp' },
    instance: 'mlp-a1-0',
    attest: material,
    flushIntervalMs: 20,
    holdMs: 0,
    retryMs: 10,
    maxRetryMs: 40,
    refusedRetryMs: 100,
    now: () => 10_000,
    ...more,
  });

test('attests with the nonce the hub issued, then sends receipts in the watermark order', async (t) => {
  const h = await hub({});
  t.teardown(h.close);
  const rep = reporter(h.port);
  for (const i of [3, 1, 2]) rep.enqueue(receipt(i));
  rep.start();
  await until('sent', () => rep.counts.accepted === 3);
  t.is(h.seen.attests[0]?.['nonce'], 'n1');
  t.is(h.seen.attests[0]?.['ear'], 'ear-for-n1');
  t.is(h.seen.attests[0]?.['capabilityJson'], JSON.stringify({ nonce: 'n1' }));
  t.is(h.seen.attests[0]?.['instance'], 'mlp-a1-0');
  t.deepEqual(ids(h.seen.batches.flat()), [1001, 1002, 1003]);
  t.is(h.seen.batches[0]?.[0]?.scheme, 'ed25519');
  await rep.stop();
});

test('receipts younger than holdMs wait; stop sends them all', async (t) => {
  const h = await hub({});
  t.teardown(h.close);
  const rep = reporter(h.port, { holdMs: 500, now: () => 2_000 });
  rep.start();
  await until('attested', () => rep.attested);
  rep.enqueue(receipt(1, 1_000));
  rep.enqueue(receipt(2, 1_800));
  await until('old one sent', () => rep.counts.accepted === 1);
  await new Promise((r) => setTimeout(r, 100));
  t.is(rep.counts.accepted, 1);
  await rep.stop();
  t.is(rep.counts.accepted, 2);
  t.is(rep.queued, 0);
});

test('hub failures and refusals: attestation retried; receipts kept until answered', async (t) => {
  const h = await hub({
    attest: (n) =>
      n === 1
        ? { code: grpc.status.UNAVAILABLE, details: 'leader moving' }
        : n === 2
          ? { verified: false, message: 'init_data' }
          : { verified: true },
    receipts: (b, n) =>
      n === 1
        ? { code: grpc.status.INTERNAL, details: 'write failed' }
        : { accepted: b.length - 1, duplicates: 0, refused: ['[0] signature: does not verify'] },
  });
  t.teardown(h.close);
  const registry = new Registry();
  const rep = reporter(h.port, { registry });
  rep.enqueue(receipt(1));
  rep.enqueue(receipt(2));
  rep.start();
  await until('answered', () => rep.counts.accepted === 1, 5000);
  t.is(h.seen.attests.length, 3);
  // the failed report's batch was sent again whole; the refused receipt is gone, not retried
  t.deepEqual(h.seen.batches.map(ids), [
    [1001, 1002],
    [1001, 1002],
  ]);
  t.is(rep.counts.refused, 1);
  t.is(rep.queued, 0);
  const text = await registry.metrics();
  t.regex(text, /nvdax_gateway_hub_attestations_total\{result="error"\} 1/);
  t.regex(text, /nvdax_gateway_hub_attestations_total\{result="refused"\} 1/);
  t.regex(text, /nvdax_gateway_hub_receipts_total\{result="refused"\} 1/);
  t.regex(text, /nvdax_gateway_hub_attested 1/);
  await rep.stop();
});

test('the hub no longer holds the instance attested: the receipts stay and the gateway attests again', async (t) => {
  const h = await hub({
    receipts: (b, n) =>
      n === 1
        ? {
            accepted: 0,
            duplicates: 1,
            refused: [
              `${JSON.parse(b[1]!.receiptJson).requestId}: gatewayKey: no attested instance of this job has it`,
            ],
          }
        : { accepted: b.length, duplicates: 0, refused: [] },
  });
  t.teardown(h.close);
  const rep = reporter(h.port);
  rep.enqueue(receipt(1));
  rep.enqueue(receipt(2));
  rep.start();
  await until('re-attested and sent', () => rep.counts.accepted === 1);
  t.is(h.seen.attests.length, 2);
  t.deepEqual(h.seen.batches.map(ids), [[1001, 1002], [1002]]);
  t.is(rep.counts.duplicates, 1);
  await rep.stop();
});

test('an unreachable hub: receipts queue up to the limit, the oldest dropped and counted', async (t) => {
  const registry = new Registry();
  const rep = reporter(1, { maxQueue: 3, registry, callTimeoutMs: 200 });
  rep.start();
  for (let i = 1; i <= 5; i++) rep.enqueue(receipt(i));
  t.is(rep.queued, 3);
  t.is(rep.counts.dropped, 2);
  t.regex(await registry.metrics(), /nvdax_gateway_hub_receipts_total\{result="dropped"\} 2/);
  t.regex(await registry.metrics(), /nvdax_gateway_hub_receipt_queue 3/);
  await rep.stop(300);
  t.false(rep.attested);
});

// ------------------------------------------------------------------------------------------------ journal

const journalDir = (t: { teardown: (f: () => void) => void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-reporter-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test('with a journal: receipts unanswered when a reporter stops are reported by the next one, once', async (t) => {
  const dir = journalDir(t);
  // the hub is unreachable: nothing is answered
  const first = reporter(1, { journal: await ReceiptJournal.open({ dir }), callTimeoutMs: 200 });
  first.start();
  for (const i of [2, 1, 3]) first.enqueue(receipt(i));
  await first.stop(200);
  t.is(first.queued, 3);
  const h = await hub({});
  t.teardown(h.close);
  const registry = new Registry();
  const second = reporter(h.port, { journal: await ReceiptJournal.open({ dir }), registry });
  t.is(second.counts.reloaded, 3);
  t.is(second.queued, 3);
  t.regex(await registry.metrics(), /nvdax_gateway_hub_receipt_queue 3/);
  second.enqueue(receipt(4));
  second.start();
  await until('sent', () => second.counts.accepted === 4);
  t.deepEqual(ids(h.seen.batches.flat()), [1001, 1002, 1003, 1004]);
  await second.stop();
  // answered: a third start reloads nothing
  const third = reporter(h.port, { journal: await ReceiptJournal.open({ dir }) });
  t.is(third.queued, 0);
  await third.stop(0);
});

test('with a journal: a crash after some answers reloads only the receipts the hub did not answer', async (t) => {
  const dir = journalDir(t);
  const h = await hub({
    receipts: (b, n) =>
      n === 1 ? { accepted: b.length, duplicates: 0, refused: [] } : { code: grpc.status.UNAVAILABLE, details: 'gone' },
  });
  t.teardown(h.close);
  const rep = reporter(h.port, {
    journal: await ReceiptJournal.open({ dir }),
    batchSize: 2,
    maxRetryMs: 10_000,
    retryMs: 10_000,
  });
  for (let i = 1; i <= 5; i++) rep.enqueue(receipt(i));
  rep.start();
  await until('the first batch answered, the second failed', () => h.seen.batches.length === 2);
  // stop without a final report (a crash; only the journal's own buffer is written)
  await rep.stop(0);
  const again = reporter(h.port, { journal: await ReceiptJournal.open({ dir }) });
  t.is(again.queued, 3);
  await again.stop(0);
  const { receipts } = readJournal(readFileSync(join(dir, JOURNAL_FILE), 'utf8'));
  t.deepEqual(
    receipts.map((r) => r.receipt.time),
    [1003, 1004, 1005],
  );
});

test('with a journal: reloaded beyond maxQueue, the oldest are dropped, counted and marked done', async (t) => {
  const dir = journalDir(t);
  const first = reporter(1, { journal: await ReceiptJournal.open({ dir }), callTimeoutMs: 100 });
  for (let i = 1; i <= 6; i++) first.enqueue(receipt(i));
  await first.stop(0);
  const registry = new Registry();
  const second = reporter(1, {
    journal: await ReceiptJournal.open({ dir }),
    maxQueue: 4,
    registry,
    callTimeoutMs: 100,
  });
  t.is(second.queued, 4);
  t.is(second.counts.dropped, 2);
  t.regex(await registry.metrics(), /nvdax_gateway_hub_receipts_total\{result="dropped"\} 2/);
  await second.stop(0);
  const { receipts } = readJournal(readFileSync(join(dir, JOURNAL_FILE), 'utf8'));
  t.deepEqual(
    receipts.map((r) => r.receipt.time),
    [1003, 1004, 1005, 1006],
  );
});

test("a reloaded receipt whose key the hub does not hold is refused for good; this process's are kept", async (t) => {
  const dir = journalDir(t);
  const OLD = `0x${'e'.repeat(64)}`;
  const first = reporter(1, { journal: await ReceiptJournal.open({ dir }), callTimeoutMs: 100 });
  first.enqueue(receipt(1, 1_001, OLD));
  await first.stop(0);
  const h = await hub({
    receipts: (b) => ({
      accepted: b.filter((w) => JSON.parse(w.receiptJson).gatewayKey !== OLD).length,
      duplicates: 0,
      refused: b.flatMap((w, i) =>
        JSON.parse(w.receiptJson).gatewayKey === OLD
          ? [`[${i}] gatewayKey: no attested instance of this job has it with a receipt key`]
          : [],
      ),
    }),
  });
  t.teardown(h.close);
  const rep = reporter(h.port, { journal: await ReceiptJournal.open({ dir }) });
  rep.enqueue(receipt(2));
  rep.start();
  await until('answered', () => rep.counts.accepted === 1 && rep.counts.refused === 1);
  await new Promise((r) => setTimeout(r, 100));
  t.is(h.seen.attests.length, 1, 'no attestation again for an earlier process’s key');
  t.is(rep.queued, 0);
  await rep.stop();
  t.deepEqual(readJournal(readFileSync(join(dir, JOURNAL_FILE), 'utf8')).receipts, []);
});
