// The hub reporter's receipt journal (provider-runtime/gateway/receipt-journal.ts) on a real directory: what
// was added and not done comes back in order, a torn last line is skipped and appends go on after it, the file
// is compacted once mostly done, appends are buffered (nothing written on the request path) until the window
// ends or flush(), and a closed journal ignores calls.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOURNAL_FILE, ReceiptJournal, readJournal } from '../../../provider-runtime/gateway/receipt-journal.ts';
import type { GatewaySignedReceipt } from '../../../provider-runtime/gateway/signing.ts';

const receipt = (i: number): GatewaySignedReceipt =>
  ({
    receipt: { requestId: `0x${i.toString(16).padStart(64, '0')}`, time: 1_000 + i, gatewayKey: `0x${'a'.repeat(64)}` },
    signature: `0x${'5'.repeat(128)}`,
    scheme: 'ed25519',
  }) as unknown as GatewaySignedReceipt;
const times = (rs: GatewaySignedReceipt[]) => rs.map((r) => r.receipt.time - 1_000);

const dirFor = (t: { teardown: (f: () => void) => void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const fileOf = (dir: string) => readFileSync(join(dir, JOURNAL_FILE), 'utf8');

test('reload: the receipts added and not done, in the order added', async (t) => {
  const dir = dirFor(t);
  const { journal, load } = await ReceiptJournal.open({ dir });
  t.deepEqual(load, { receipts: [], skipped: 0 });
  for (const i of [5, 1, 3, 2, 4]) journal.add(receipt(i));
  journal.add(receipt(3)); // once only
  journal.done([receipt(1), receipt(4), receipt(99)]);
  await journal.close();
  const again = await ReceiptJournal.open({ dir });
  t.deepEqual(times(again.load.receipts), [5, 3, 2]);
  t.is(again.load.skipped, 0);
  t.is(again.journal.size, 3);
  // open() rewrote the file with the live receipts alone
  t.is(fileOf(dir).trim().split('\n').length, 3);
  await again.journal.close();
});

test('a torn last line (a crash mid-write) is skipped, and appends go on after it on a line of their own', async (t) => {
  const dir = dirFor(t);
  const line = (i: number) => `${JSON.stringify({ a: receipt(i) })}\n`;
  const torn = line(3).slice(0, 40);
  writeFileSync(
    join(dir, JOURNAL_FILE),
    `${line(1)}${line(2)}${JSON.stringify({ d: [receipt(1).receipt.requestId] })}\n${torn}`,
  );
  const { journal, load } = await ReceiptJournal.open({ dir });
  t.deepEqual(times(load.receipts), [2]);
  t.is(load.skipped, 1);
  journal.add(receipt(4));
  await journal.close();
  t.true(fileOf(dir).endsWith('\n'));
  const again = await ReceiptJournal.open({ dir });
  t.deepEqual(times(again.load.receipts), [2, 4]);
  t.is(again.load.skipped, 0);
  await again.journal.close();
});

test('readJournal: garbage and unknown lines are skipped, a done before its add does not undo it', (t) => {
  const text = [
    'not json',
    JSON.stringify({ d: [receipt(1).receipt.requestId] }),
    JSON.stringify({ a: receipt(1) }),
    JSON.stringify({ a: { receipt: {} } }),
    JSON.stringify({ x: 1 }),
    JSON.stringify({ a: receipt(2) }),
    JSON.stringify({ d: [receipt(2).receipt.requestId.toUpperCase().replace('0X', '0x')] }),
  ].join('\n');
  const r = readJournal(text);
  t.deepEqual(times(r.receipts), [1]);
  t.is(r.skipped, 3);
});

test('appends are buffered: nothing is written when add() returns, all of it within the window', async (t) => {
  const dir = dirFor(t);
  const { journal } = await ReceiptJournal.open({ dir, flushMs: 20 });
  const before = fileOf(dir);
  for (let i = 1; i <= 50; i++) journal.add(receipt(i));
  t.is(fileOf(dir), before, 'add() does not write');
  await new Promise((r) => setTimeout(r, 120));
  t.deepEqual(
    times(readJournal(fileOf(dir)).receipts),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  t.true(journal.counts.writes >= 1 && journal.counts.writes <= 3, `batched: ${journal.counts.writes} writes`);
  await journal.close();
});

test('compaction: once most of the file is done it is rewritten with the live receipts', async (t) => {
  const dir = dirFor(t);
  const { journal } = await ReceiptJournal.open({ dir, compactBytes: 16 * 1024, flushMs: 0 });
  let peak = 0;
  for (let round = 0; round < 20; round++) {
    const batch = Array.from({ length: 20 }, (_, k) => receipt(round * 20 + k + 1));
    for (const r of batch) journal.add(r);
    await journal.flush();
    journal.done(batch.slice(0, 19)); // one of each 20 stays
    await journal.flush();
    peak = Math.max(peak, journal.fileBytes);
  }
  t.true(journal.counts.compactions >= 1, 'compacted');
  // ~400 receipts went through (~130 KB of lines); the file stays within max(threshold, 4 x live) + a round
  t.true(peak < 40 * 1024, `peak ${peak}`);
  t.is(journal.size, 20);
  await journal.close();
  const again = await ReceiptJournal.open({ dir });
  t.deepEqual(
    times(again.load.receipts),
    Array.from({ length: 20 }, (_, r) => r * 20 + 20),
  );
  await again.journal.close();
});

test('after close(), add() and done() are ignored, never thrown', async (t) => {
  const dir = dirFor(t);
  const errors: string[] = [];
  const log = {
    error: (_o: unknown, m: string) => errors.push(m),
    warn: () => {},
    info: () => {},
    debug: () => {},
    child: () => log,
  };
  const { journal } = await ReceiptJournal.open({ dir, log: log as never });
  await journal.close();
  // closed: later calls are ignored, never thrown
  journal.add(receipt(1));
  journal.done([receipt(1)]);
  await journal.flush();
  t.is(journal.counts.failures, 0);
  t.deepEqual(errors, []);
  t.deepEqual(readJournal(fileOf(dir)).receipts, []);
});
