// The hub reporter's durable queue (hub-reporter.ts, --receipt-journal-dir): an append-only journal of the
// signed receipts the hub has not answered yet, so a gateway that crashes or restarts reports them on its next
// start instead of losing them.
//
// One file, `receipts.journal`, JSON lines: `{"a":<signed receipt>}` when a receipt is issued, `{"d":[id…]}`
// when the hub answered receipts (accepted, duplicate, refused) or the bound dropped them (id: the receipt's
// requestId). open() reads it back: the receipts added and not done, in the order they were added; a line that
// does not parse (the torn last line of a crash mid-write) is skipped and counted. open() then rewrites the file
// with those alone, and so does the writer once most of the file is done (compaction), so it stays within a
// few times the live receipts.
//
// Durability. add() and done() are synchronous and cheap (the gateway calls add() on its request path): they
// update the live set and buffer the line; a timer writes the buffer every flushMs (default 5 ms) with one
// write() and then one fdatasync() (sync: false skips it), one write at a time, lines buffered meanwhile
// going into the next. So a receipt is on disk at most flushMs plus a write after it was issued; a process
// crash loses only the receipts issued within that window (what write() handed the kernel survives the
// process; fdatasync makes it survive the machine where the directory is on a disk, and costs nothing on a
// memory-backed volume). Writes never block an answer: a failed write is logged and the receipts stay queued
// in memory (a restart could then lose them).
import { closeSync, fdatasync, openSync, write } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../operator/runtime/log.ts';
import { silentLogger } from '../../operator/runtime/log.ts';
import type { GatewaySignedReceipt } from './signing.ts';

const writeAsync = promisify(write);
const datasyncAsync = promisify(fdatasync);

/** The journal's file in its directory. */
export const JOURNAL_FILE = 'receipts.journal';

export interface ReceiptJournalOptions {
  /** The directory of the journal (made when missing). */
  dir: string;
  /** How long a buffered line waits before it is written, ms (default 5). */
  flushMs?: number;
  /** fdatasync after each write (default true). */
  sync?: boolean;
  /** Compact once the file is at least this big and at most a quarter of it is live receipts (default 1 MiB). */
  compactBytes?: number;
  log?: Logger;
}

/** What open() read back. */
export interface JournalLoad {
  /** Receipts added and not done, in the order they were added. */
  receipts: GatewaySignedReceipt[];
  /** Lines that did not parse (a torn last line), skipped. */
  skipped: number;
}

type Line = { a: GatewaySignedReceipt } | { d: string[] };

const idOf = (r: GatewaySignedReceipt): string => String(r.receipt?.requestId ?? '').toLowerCase();

const isReceipt = (x: unknown): x is GatewaySignedReceipt => {
  const r = x as GatewaySignedReceipt | undefined;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.signature === 'string' &&
    typeof r.receipt === 'object' &&
    r.receipt !== null &&
    typeof r.receipt.requestId === 'string' &&
    r.receipt.requestId !== ''
  );
};

/** Parses a journal's text: the live receipts in order, and how many lines were skipped. Pure. */
export function readJournal(text: string): JournalLoad {
  const live = new Map<string, GatewaySignedReceipt>();
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const e = entry as Partial<{ a: unknown; d: unknown }>;
    if (isReceipt(e.a)) {
      const id = idOf(e.a);
      if (!live.has(id)) live.set(id, e.a);
    } else if (Array.isArray(e.d)) {
      for (const id of e.d) if (typeof id === 'string') live.delete(id.toLowerCase());
    } else skipped++;
  }
  return { receipts: [...live.values()], skipped };
}

/** What open() gives: the journal, and what it read back. */
export interface OpenedJournal {
  journal: ReceiptJournal;
  load: JournalLoad;
}

export class ReceiptJournal {
  readonly #path: string;
  readonly #flushMs: number;
  readonly #sync: boolean;
  readonly #compactBytes: number;
  readonly #log: Logger;
  /** Receipts not done, by id, in the order added; bytes: their line's length once written (0 before). */
  readonly #live = new Map<string, { r: GatewaySignedReceipt; bytes: number }>();
  #liveBytes = 0;
  #fileBytes = 0;
  #pending: Line[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  /** The journal file, for appends; -1 until open() rewrote it, and after close(). */
  #fd = -1;
  #closed = false;
  /** Counts for tests and logs. */
  readonly counts = { writes: 0, compactions: 0, failures: 0 };

  private constructor(o: ReceiptJournalOptions) {
    this.#path = join(o.dir, JOURNAL_FILE);
    this.#flushMs = Math.max(0, o.flushMs ?? 5);
    this.#sync = o.sync ?? true;
    this.#compactBytes = Math.max(1, o.compactBytes ?? 1024 * 1024);
    this.#log = o.log ?? silentLogger();
  }

  /**
   * Opens (or makes) the journal in `o.dir`, reads back the receipts not done, and rewrites the file with
   * those alone (dropping a torn tail, so the next append starts on a line of its own). It runs once, at start,
   * before the gateway serves.
   */
  static async open(o: ReceiptJournalOptions): Promise<OpenedJournal> {
    await mkdir(o.dir, { recursive: true, mode: 0o700 });
    const path = join(o.dir, JOURNAL_FILE);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const load = readJournal(text);
    const j = new ReceiptJournal(o);
    for (const r of load.receipts) j.#live.set(idOf(r), { r, bytes: 0 });
    await j.#rewrite();
    if (load.skipped > 0) j.#log.warn({ skipped: load.skipped }, 'receipt journal: unreadable lines skipped');
    return { journal: j, load };
  }

  /** Receipts not done. */
  get size(): number {
    return this.#live.size;
  }

  /** The file's size as written so far, bytes. */
  get fileBytes(): number {
    return this.#fileBytes;
  }

  /** Records an issued receipt (written within flushMs). Synchronous; never throws. */
  add(r: GatewaySignedReceipt): void {
    if (this.#closed) return;
    const id = idOf(r);
    if (this.#live.has(id)) return;
    this.#live.set(id, { r, bytes: 0 });
    this.#pending.push({ a: r });
    this.#arm();
  }

  /** Records that these receipts need no report any more (answered by the hub, or dropped). */
  done(receipts: readonly GatewaySignedReceipt[]): void {
    if (this.#closed || receipts.length === 0) return;
    const ids: string[] = [];
    for (const r of receipts) {
      const id = idOf(r);
      const e = this.#live.get(id);
      if (!e) continue;
      this.#live.delete(id);
      this.#liveBytes -= e.bytes;
      ids.push(id);
    }
    if (ids.length === 0) return;
    this.#pending.push({ d: ids });
    this.#arm();
  }

  #arm(): void {
    if (this.#timer || this.#writing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#flushMs);
    this.#timer.unref();
  }

  /** Writes what is buffered now (and what is buffered while that runs). Never rejects. */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#writing) return this.#writing;
    if (this.#pending.length === 0 || this.#fd < 0) return Promise.resolve();
    this.#writing = this.#writeLoop().finally(() => {
      this.#writing = undefined;
      if (this.#pending.length > 0 && !this.#closed) this.#arm();
    });
    return this.#writing;
  }

  async #writeLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const lines = this.#pending;
      this.#pending = [];
      if (this.#fileBytes >= this.#compactBytes && this.#liveBytes * 4 <= this.#fileBytes) {
        try {
          // the live set already reflects every buffered line: the rewrite replaces them
          await this.#rewrite();
          this.counts.compactions++;
          continue;
        } catch (err) {
          this.counts.failures++;
          this.#log.error({ err }, 'receipt journal: compaction failed; appending');
        }
      }
      try {
        let text = '';
        for (const l of lines) {
          const s = `${JSON.stringify(l)}\n`;
          text += s;
          if ('a' in l) {
            const e = this.#live.get(idOf(l.a));
            if (e && e.bytes === 0) {
              e.bytes = Buffer.byteLength(s);
              this.#liveBytes += e.bytes;
            }
          }
        }
        const buf = Buffer.from(text);
        let off = 0;
        while (off < buf.length) off += (await writeAsync(this.#fd, buf, off, buf.length - off)).bytesWritten;
        this.#fileBytes += buf.length;
        if (this.#sync) await datasyncAsync(this.#fd);
        this.counts.writes++;
      } catch (err) {
        this.counts.failures++;
        this.#log.error(
          { err, lines: lines.length },
          'receipt journal: write failed; those receipts are only in memory',
        );
      }
    }
  }

  /** The live receipts as a file's text; sets their line sizes. */
  #snapshot(): string {
    let text = '';
    this.#liveBytes = 0;
    for (const e of this.#live.values()) {
      const s = `${JSON.stringify({ a: e.r })}\n`;
      e.bytes = Buffer.byteLength(s);
      this.#liveBytes += e.bytes;
      text += s;
    }
    return text;
  }

  /**
   * Writes the live receipts to a new file and renames it over the journal (fsynced, then the directory), so a
   * crash leaves either the old file or the new one; appends go to the new file from then on. At open and for
   * compaction, off the event loop; the live set is read once, before the first await.
   */
  async #rewrite(): Promise<void> {
    const tmp = `${this.#path}.tmp`;
    const text = this.#snapshot();
    const f = await open(tmp, 'w', 0o600);
    try {
      await f.writeFile(text);
      if (this.#sync) await f.datasync();
    } finally {
      await f.close();
    }
    await rename(tmp, this.#path);
    if (this.#sync) {
      const d = await open(dirname(this.#path), 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    }
    const old = this.#fd;
    this.#fd = openSync(this.#path, 'a', 0o600);
    if (old >= 0) closeSync(old);
    this.#fileBytes = Buffer.byteLength(text);
  }

  /** Writes what is buffered and closes the file; later add()/done() are ignored. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    await this.#writing;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
