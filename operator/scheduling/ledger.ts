// Placements decided but not yet visible in the member caches — pure, in memory, clock passed in.
// kube-scheduler's assume cache: a reserved pod counts as used until the cache shows it (then the
// snapshot counts it, never both) or until its reservation expires, so two placements in a row,
// even against the same snapshot, never book the same GPUs.
import { fit, validateRequest, type NoFit, type Placement, type PlacedPod, type PlacementRequest } from './fit.ts';
import { cmp, type NodeClass, type PodPin, type Snapshot } from './snapshot.ts';

export interface Reservation extends Placement {
  id: string;
  /** ms since the epoch, from the caller's clock. */
  createdAt: number;
}

export type ReserveResult =
  /** `existing`: the id was reserved already, nothing new was booked. */
  { ok: true; reservation: Reservation; existing: boolean } | { ok: false; reasons: NoFit[] };

export class ReservationLedger {
  readonly #byId = new Map<string, Reservation>();

  /**
   * Fits the request against the snapshot's free GPUs minus this ledger's pods the snapshot
   * does not show yet, and records it. Idempotent per id: a reconcile that runs twice books once.
   */
  reserve(snapshot: Snapshot, request: PlacementRequest, now: number): ReserveResult {
    const existing = this.#byId.get(request.id);
    if (existing) return { ok: true, reservation: existing, existing: true };
    validateRequest(request);
    const undo = this.assumeInto(snapshot);
    try {
      const res = fit(snapshot, request);
      if (!res.ok) return res;
      const reservation: Reservation = Object.freeze({ ...res.placement, id: request.id, createdAt: now });
      this.#byId.set(request.id, reservation);
      return { ok: true, reservation, existing: false };
    } finally {
      undo();
    }
  }

  /**
   * One scheduling cycle over one snapshot: the ledger's pods are assumed once, and each
   * reservation made in the cycle is assumed as it is made, so placing n jobs costs n fits,
   * not n passes over every reservation. `end` takes every what-if back out of the snapshot.
   */
  begin(snapshot: Snapshot): { reserve(request: PlacementRequest, now: number): ReserveResult; end(): void } {
    const undos = [this.assumeInto(snapshot)];
    return {
      reserve: (request, now) => {
        const existing = this.#byId.get(request.id);
        if (existing) return { ok: true, reservation: existing, existing: true };
        validateRequest(request);
        const res = fit(snapshot, request);
        if (!res.ok) return res;
        const reservation: Reservation = Object.freeze({ ...res.placement, id: request.id, createdAt: now });
        this.#byId.set(request.id, reservation);
        for (const p of reservation.pods)
          undos.push(snapshot.assume(reservation.member, p.node, p.resourceName, p.gpus));
        return { ok: true, reservation, existing: false };
      },
      end: () => {
        for (const u of undos.reverse()) u();
        undos.length = 0;
      },
    };
  }

  /** What-if (Kueue's snapshot): reserve, and an undo that releases it if this call booked it. */
  assume(snapshot: Snapshot, request: PlacementRequest, now: number): { result: ReserveResult; undo: () => void } {
    const result = this.reserve(snapshot, request, now);
    const booked = result.ok && !result.existing;
    return {
      result,
      undo: () => {
        if (booked) this.#byId.delete(request.id);
      },
    };
  }

  /** Job deleted, failed over or materialization abandoned: its GPUs are free again. */
  release(id: string): Reservation | undefined {
    const r = this.#byId.get(id);
    this.#byId.delete(id);
    return r;
  }

  /**
   * Holds every reserved pod the snapshot does not show yet on its node, and returns the undo.
   * Pods it shows are counted there already, bound or pending (pinned via `pins()`), never twice.
   * For reading net free GPUs (pool status); undo before `reserve`, which applies it itself.
   */
  assumeInto(snapshot: Snapshot): () => void {
    const undos: Array<() => void> = [];
    // a pod of ours the snapshot shows pending yet placed nowhere (built without pins) holds nothing there
    const unplaced = new Set(snapshot.unplaceablePending().map((u) => `${u.member}\u0000${u.key}`));
    for (const r of this.#byId.values()) {
      for (const p of r.pods) {
        const shown = snapshot.podState(r.member, p.key) !== undefined;
        if (shown && !unplaced.has(`${r.member}\u0000${p.key}`) && !snapshot.leftToLedger(r.member, p.key)) continue;
        undos.push(snapshot.assume(r.member, this.#where(snapshot, r, p), p.resourceName, p.gpus));
      }
    }
    return () => {
      for (const u of undos.reverse()) u();
    };
  }

  /**
   * Where an unbound pod of ours holds its GPUs now: its reserved node while that has room,
   * else the tightest node of the same pool and class that has (the member's scheduler binds
   * where it likes, so others of ours may have taken the reserved node). Never on a full node
   * while another has room, so no pod's demand is lost to a node already counted full.
   */
  #where(snapshot: Snapshot, r: Reservation, p: PlacedPod): string {
    if (snapshot.free(r.member, p.node, p.resourceName) >= p.gpus) return p.node;
    const cls: NodeClass = {
      product: r.product,
      mode: r.mode,
      resourceName: p.resourceName,
      ...(r.tee ? { tee: r.tee } : {}),
    };
    return snapshot.tightest(r.member, r.pool, cls, p.gpus) ?? p.node;
  }

  /**
   * Forgets pods the member cache shows bound or finished, and reservations with none left
   * (returned). A pod it shows unbound stays, so its pin keeps it on its node. A member absent
   * from the snapshot (not ready) shows no pods, so its reservations stay.
   */
  observe(snapshot: Snapshot): Reservation[] {
    const done: Reservation[] = [];
    for (const r of this.list()) {
      const left = r.pods.filter((p) => (snapshot.podState(r.member, p.key) ?? 'pending') === 'pending');
      if (left.length === r.pods.length) continue;
      if (left.length) this.#byId.set(r.id, Object.freeze({ ...r, pods: left }));
      else {
        this.#byId.delete(r.id);
        done.push(r);
      }
    }
    return done;
  }

  /** Drops reservations older than `ttlMs` (the scheduler's assumed-pod expiry) and returns them to log. */
  expire(now: number, ttlMs: number): Reservation[] {
    const dropped = this.list().filter((r) => now - r.createdAt > ttlMs);
    for (const r of dropped) this.#byId.delete(r.id);
    return dropped;
  }

  get(id: string): Reservation | undefined {
    return this.#byId.get(id);
  }

  /** Oldest first, then by id. */
  list(): Reservation[] {
    return [...this.#byId.values()].sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
  }

  /** For `buildSnapshot({ pinned })`: where each reserved pod that is not bound yet is meant to go. */
  pins(): PodPin[] {
    return this.list().flatMap((r) => r.pods.map((p: PlacedPod) => ({ member: r.member, key: p.key, node: p.node })));
  }
}
