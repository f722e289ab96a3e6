// The informer's in-memory copy of a resource, keyed `namespace/name`, with optional
// secondary indexes (client-go's ThreadSafeStore + Indexers). Reconcilers depend on
// the small read-only Cache interface, never on the informer that fills it.
import type { KubeObject } from '../kube/types.ts';
import { objectKey } from '../kube/types.ts';

/** Maps an object to the index values it is found under. */
export type IndexFunc<T> = (obj: T) => readonly string[];

/** Read access to cached objects: what reconcilers depend on. */
export interface Cache<T> {
  /** The object with key `namespace/name` (or `name` when cluster-scoped). */
  get(key: string): T | undefined;
  /** All objects, or those in one namespace. */
  list(namespace?: string): T[];
  /** Objects whose index `index` yields `value`; throws if the index was not declared. */
  byIndex(index: string, value: string): T[];
}

/** Index name under which every store indexes objects by namespace. */
export const namespaceIndex = 'namespace';

/** A keyed, indexed object store. */
export class Store<T extends KubeObject> implements Cache<T> {
  readonly #items = new Map<string, T>();
  readonly #indexers: ReadonlyMap<string, IndexFunc<T>>;
  readonly #indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    this.#indexers = new Map([[namespaceIndex, (o: T) => [o.metadata?.namespace ?? '']], ...Object.entries(indexers)]);
    for (const name of this.#indexers.keys()) this.#indices.set(name, new Map());
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  list(namespace?: string): T[] {
    return namespace === undefined ? [...this.#items.values()] : this.byIndex(namespaceIndex, namespace);
  }

  byIndex(index: string, value: string): T[] {
    const idx = this.#indices.get(index);
    if (idx === undefined) throw new Error(`no index named ${index}`);
    const out: T[] = [];
    for (const k of idx.get(value) ?? []) {
      const o = this.#items.get(k);
      if (o !== undefined) out.push(o);
    }
    return out;
  }

  /** All keys. */
  keys(): IterableIterator<string> {
    return this.#items.keys();
  }

  /** Inserts or replaces; returns the previous object. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.#items.get(key);
    if (old !== undefined) this.#unindex(key, old);
    this.#items.set(key, obj);
    this.#index(key, obj);
    return old;
  }

  /** Removes by key; returns the removed object. */
  remove(key: string): T | undefined {
    const old = this.#items.get(key);
    if (old === undefined) return undefined;
    this.#items.delete(key);
    this.#unindex(key, old);
    return old;
  }

  #index(key: string, obj: T): void {
    for (const [name, fn] of this.#indexers) {
      const idx = this.#indices.get(name) as Map<string, Set<string>>;
      for (const v of fn(obj)) {
        const set = idx.get(v) ?? new Set<string>();
        if (set.size === 0) idx.set(v, set);
        set.add(key);
      }
    }
  }

  #unindex(key: string, obj: T): void {
    for (const [name, fn] of this.#indexers) {
      const idx = this.#indices.get(name) as Map<string, Set<string>>;
      for (const v of fn(obj)) {
        const set = idx.get(v);
        set?.delete(key);
        if (set?.size === 0) idx.delete(v);
      }
    }
  }
}
