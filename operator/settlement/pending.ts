// Escrow a requester's jobs will lock but have not locked yet: jobs placed whose task is not open. The escrow
// gate subtracts them from the requester's free escrow before letting another job of the same requester
// through. Built once from the job caches and then kept up to date by the gate itself (each job it lets
// through is added at once, before the cache shows it placed), so a placement cycle over n queued jobs costs
// O(n), not a scan of every job per queued job, and two jobs of one requester asked about in the same cycle
// cannot both take the same escrow. Pure: no I/O.

export interface PendingJob {
  uid: string;
  requester: string;
  /** Wei the job's task locks when it opens. */
  lock: bigint;
}

export class PendingLocks {
  readonly #byRequester = new Map<string, Map<string, bigint>>();
  readonly builtAt: number;

  /** From the jobs placed, not finished and not opened yet (`at`: when, for the caller's refresh rule). */
  constructor(jobs: Iterable<PendingJob>, at: number) {
    this.builtAt = at;
    for (const j of jobs) this.add(j);
  }

  /** What the requester's other pending jobs lock, without `uid`'s own. */
  others(requester: string, uid: string): bigint {
    let sum = 0n;
    for (const [u, lock] of this.#byRequester.get(requester.toLowerCase()) ?? []) if (u !== uid) sum += lock;
    return sum;
  }

  /** A job let through: its lock counts against its requester from now on. */
  add(j: PendingJob): void {
    const key = j.requester.toLowerCase();
    const m = this.#byRequester.get(key) ?? new Map<string, bigint>();
    m.set(j.uid, j.lock);
    this.#byRequester.set(key, m);
  }
}
