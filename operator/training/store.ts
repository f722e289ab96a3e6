// Where checkpoints are written and read back. The protocol needs only put and get by URI; a participant in a
// pod writes through its mounted volume (pvc://claim/path → <root>/claim/path) and tests use file:// URIs.
// Object stores (s3://, gs://) plug in behind the same interface.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

export interface CheckpointStore {
  put(uri: string, bytes: Uint8Array): Promise<void>;
  /** undefined when there is nothing at `uri`. */
  get(uri: string): Promise<Uint8Array | undefined>;
}

/** file:///abs/path, and pvc://claim/path under `pvcRoot` (default /mnt/pvc). */
export class FileStore implements CheckpointStore {
  readonly #pvcRoot: string;
  constructor(opts: { pvcRoot?: string } = {}) {
    this.#pvcRoot = opts.pvcRoot ?? '/mnt/pvc';
  }

  path(uri: string): string {
    const u = new URL(uri);
    if (u.protocol === 'file:') return decodeURIComponent(u.pathname);
    if (u.protocol === 'pvc:') {
      const root = resolve(this.#pvcRoot);
      const p = resolve(join(root, u.host, decodeURIComponent(u.pathname)));
      if (!p.startsWith(`${root}${sep}`)) throw new RangeError(`checkpoint store: ${uri} leaves the volume`);
      return p;
    }
    throw new RangeError(`checkpoint store: ${u.protocol} URIs are not supported here (file:, pvc:)`);
  }

  async put(uri: string, bytes: Uint8Array): Promise<void> {
    const p = this.path(uri);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, bytes);
  }

  async get(uri: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(uri));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
}

/** The URI of a round's checkpoint under a base URI. */
export function checkpointUri(base: string, round: number): string {
  return `${base.replace(/\/+$/, '')}/round-${String(round).padStart(5, '0')}.ckpt`;
}
