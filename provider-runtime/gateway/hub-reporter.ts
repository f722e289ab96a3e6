// The gateway's reports to the hub (the operator's Reports service, --reports-bind-address; docs/gateway.md).
//
// Attestation: Challenge(job, instance) → a nonce; the gateway's evidence over that nonce and its X25519 key,
// with the capability statement the provider signed that names the Ed25519 receipt key (Gateway.attestationFor);
// Attest. Retried with capped exponential backoff while the hub is unreachable or fails; a refusal
// (verified=false, or the hub refusing the request) is logged and retried less often. Repeated when the hub
// answers receipts with "no attested instance" (it forgot this instance, or its attestation was refused).
//
// Receipts: a bounded queue (the oldest dropped beyond maxQueue, counted), sent with Receipts(job, receipts)
// every flushIntervalMs or as soon as batchSize are ready. The hub counts each instance's receipts through a
// watermark of (time, requestId), so they are sent in that order, and only once they are holdMs old: a receipt
// signed a moment earlier but handed over a moment later would otherwise land behind the watermark and be
// taken for a duplicate. A receipt leaves the queue only when the hub answered it: accepted, duplicate, or
// refused with a reason other than the instance not being attested (those stay, and the gateway attests
// again). A transport error or a hub-side failure keeps the whole batch. stop() sends what is left.
//
// Durable (journal, --receipt-journal-dir): every queued receipt is also in an append-only journal
// (receipt-journal.ts; buffered, written and fdatasynced every few ms off the request path), marked done when the
// hub answered it or the bound dropped it; a restarted gateway reloads the rest in order and reports them. Those
// are signed by the previous process's keys: the hub keeps an instance's earlier verified keys
// (status.attestations[].previousKeys), and a receipt whose key it does not hold (that process never attested)
// is refused for good, not a reason to attest again.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../operator/runtime/log.ts';
import { silentLogger } from '../../operator/runtime/log.ts';
import { PROTO_LOADER_OPTIONS } from '../../operator/runtime/proto.ts';
import type { ProtoGrpcType } from '../../operator/verification/gen/reports.gen.ts';
import type { AttestResponse__Output } from '../../operator/verification/gen/nvdax/hub/v1/AttestResponse.gen.ts';
import type { ChallengeResponse__Output } from '../../operator/verification/gen/nvdax/hub/v1/ChallengeResponse.gen.ts';
import type { ReportsClient } from '../../operator/verification/gen/nvdax/hub/v1/Reports.gen.ts';
import type { ReceiptsResponse__Output } from '../../operator/verification/gen/nvdax/hub/v1/ReceiptsResponse.gen.ts';
import type { SignedReceipt } from '../../operator/verification/gen/nvdax/hub/v1/SignedReceipt.gen.ts';
import { gatewayKeyHash } from '../../operator/verification/receipt.ts';
import type { OpenedJournal, ReceiptJournal } from './receipt-journal.ts';
import type { HubAttestation } from './service.ts';
import type { GatewaySignedReceipt } from './signing.ts';

const protoDir = join(import.meta.dirname, '..', '..', 'operator', 'verification', 'proto');

/** The hub's Reports service (the same .proto and loader options as the intake, operator/controllers/reports). */
export function reportsClientProto(): ProtoGrpcType {
  return grpc.loadPackageDefinition(
    loadSync('reports.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] }),
  ) as unknown as ProtoGrpcType;
}

/** Codes after which the same request may succeed later without anything changing on our side. */
const TRANSIENT = new Set<grpc.status>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.CANCELLED,
]);
/** What the intake answers for a receipt whose gateway key no attested instance of the job has. */
const UNATTESTED = /gatewayKey: no attested instance/;
/** The most receipts the intake takes in one report. */
const MAX_BATCH = 1000;

export interface HubReporterOptions {
  /** The intake's address, HOST:PORT (--hub-reports / NVDAX_HUB_REPORTS). */
  target: string;
  job: { namespace: string; name: string };
  /** This instance: the pod's name (the hub accepts only instances of the job's current attempt). */
  instance: string;
  /** The Attest material for a hub nonce (Gateway.attestationFor). */
  attest: (nonce: string) => Promise<HubAttestation>;
  log?: Logger;
  /** Registers the reporter's metrics here (the gateway's registry). */
  registry?: Registry;
  /** Receipts held at most; beyond it the oldest are dropped (default 10,000). */
  maxQueue?: number;
  /** Receipts per report, at most 1,000 (default 200). */
  batchSize?: number;
  /** How often ready receipts are sent (default 2 s). */
  flushIntervalMs?: number;
  /** A receipt is sent once it is this old (default 1 s): see the watermark note above. */
  holdMs?: number;
  /** Backoff while the hub is unreachable or fails: first and longest wait (default 500 ms, 30 s). */
  retryMs?: number;
  maxRetryMs?: number;
  /** Wait after the hub refused the evidence or the request (default 60 s). */
  refusedRetryMs?: number;
  /** Deadline of each call (default 10 s). */
  callTimeoutMs?: number;
  credentials?: grpc.ChannelCredentials;
  /** Wall clock, Unix ms (default Date.now): receipts' time is compared with it. */
  now?: () => number;
  /**
   * Keep the queue in this journal (`await ReceiptJournal.open({dir})`, receipt-journal.ts): receipts unanswered
   * when the process ends are reported by the next one opened on the same directory; its receipts read back are
   * queued first. Unset: memory only. The reporter closes it on stop().
   */
  journal?: OpenedJournal;
}

export interface HubReporterMetrics {
  receipts: Counter<'result'>;
  attestations: Counter<'result'>;
  queue: Gauge;
  attested: Gauge;
}

type Call = <Res>(method: 'Challenge' | 'Attest' | 'Receipts', req: object) => Promise<Res>;

const codeOf = (e: unknown): grpc.status | undefined =>
  typeof (e as { code?: unknown })?.code === 'number' ? (e as grpc.ServiceError).code : undefined;
const detailOf = (e: unknown): string =>
  (e as grpc.ServiceError)?.details || (e instanceof Error ? e.message : String(e));
/** The intake's watermark order: time, then request id (lower case). */
const orderKey = (r: GatewaySignedReceipt) =>
  `${String(r.receipt.time).padStart(15, '0')}:${r.receipt.requestId.toLowerCase()}`;

export class HubReporter {
  readonly #o: HubReporterOptions;
  readonly #log: Logger;
  readonly #client: ReportsClient;
  readonly #call: Call;
  readonly #now: () => number;
  readonly #metrics: HubReporterMetrics | undefined;
  readonly #maxQueue: number;
  readonly #batchSize: number;
  #queue: GatewaySignedReceipt[] = [];
  readonly #journal: ReceiptJournal | undefined;
  /** The gateway key of this process's last verified attestation (lower case). */
  #gatewayKey = '';
  #attested = false;
  #attesting: Promise<void> | undefined;
  #flushing: Promise<void> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  /** No flush before this (Date.now() ms): the backoff after a failed report. */
  #flushAfter = 0;
  #flushFailures = 0;
  #stopped = false;
  /** Wakes the attestation loop's wait (stop, or a re-attest request). */
  #wake: (() => void) | undefined;
  /** Counts for tests and logs. */
  readonly counts = { accepted: 0, duplicates: 0, refused: 0, dropped: 0, attestations: 0, reloaded: 0 };

  constructor(o: HubReporterOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger();
    this.#now = o.now ?? Date.now;
    this.#maxQueue = Math.max(1, o.maxQueue ?? 10_000);
    this.#batchSize = Math.min(MAX_BATCH, Math.max(1, o.batchSize ?? 200));
    const Reports = reportsClientProto().nvdax.hub.v1.Reports;
    this.#client = new Reports(o.target, o.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 60_000,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
    });
    const timeout = o.callTimeoutMs ?? 10_000;
    const client = this.#client as unknown as Record<
      string,
      (req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void
    >;
    this.#call = <Res>(method: string, req: object) =>
      new Promise<Res>((resolve, reject) => {
        const fn = client[method];
        if (!fn) return reject(new Error(`Reports has no method ${method}`));
        fn.call(this.#client, req, { deadline: Date.now() + timeout }, (e, r) => (e ? reject(e) : resolve(r as Res)));
      });
    if (o.registry) {
      const registers = [o.registry];
      const queue = () => this.#queue.length;
      const attested = () => this.#attested;
      this.#metrics = {
        receipts: new Counter({
          name: 'nvdax_gateway_hub_receipts_total',
          help: 'Receipts reported to the hub, by its answer (accepted, duplicate, refused) or dropped from a full queue.',
          labelNames: ['result'],
          registers,
        }),
        attestations: new Counter({
          name: 'nvdax_gateway_hub_attestations_total',
          help: 'Attestations to the hub, by result (verified, refused, error).',
          labelNames: ['result'],
          registers,
        }),
        queue: new Gauge({
          name: 'nvdax_gateway_hub_receipt_queue',
          help: 'Receipts waiting to be reported to the hub.',
          registers,
          collect() {
            this.set(queue());
          },
        }),
        attested: new Gauge({
          name: 'nvdax_gateway_hub_attested',
          help: '1 while the hub holds this instance attested (its last Attest verified), else 0.',
          registers,
          collect() {
            this.set(attested() ? 1 : 0);
          },
        }),
      };
    }
    if (o.journal) {
      const { journal, load } = o.journal;
      this.#journal = journal;
      this.#queue = load.receipts;
      this.counts.reloaded = load.receipts.length;
      if (this.#queue.length > this.#maxQueue) this.#drop(this.#queue.length - this.#maxQueue);
      if (load.receipts.length > 0 || load.skipped > 0) {
        this.#log.info(
          { reloaded: load.receipts.length, queued: this.#queue.length, skipped: load.skipped },
          'receipts the hub had not answered reloaded from the journal',
        );
      }
    }
  }

  get attested(): boolean {
    return this.#attested;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Attests, and sends ready receipts every flushIntervalMs. */
  start(): void {
    this.#reattest();
    this.#flushTimer = setInterval(() => {
      this.flush().catch((err: unknown) => this.#log.error({ err }, 'receipt report failed'));
    }, this.#o.flushIntervalMs ?? 2000);
    this.#flushTimer.unref();
  }

  /** One issued receipt (the gateway's onReceipt): synchronous, never throws. */
  enqueue(r: GatewaySignedReceipt): void {
    this.#queue.push(r);
    this.#journal?.add(r);
    if (this.#queue.length > this.#maxQueue) this.#drop(this.#queue.length - this.#maxQueue);
    if (this.#queue.length >= this.#batchSize && !this.#flushing && this.#attested) {
      setImmediate(() => void this.flush());
    }
  }

  #drop(n: number): void {
    const dropped = this.#queue.splice(0, n);
    this.#journal?.done(dropped);
    this.counts.dropped += n;
    this.#metrics?.receipts.inc({ result: 'dropped' }, n);
    this.#log.warn({ dropped: n, maxQueue: this.#maxQueue }, 'hub receipt queue full: oldest receipts dropped');
  }

  /** Starts the attestation loop unless it runs. */
  #reattest(): void {
    this.#attested = false;
    if (this.#attesting || this.#stopped) return;
    this.#attesting = this.#attestLoop().finally(() => {
      this.#attesting = undefined;
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #attestLoop(): Promise<void> {
    const o = this.#o;
    const first = o.retryMs ?? 500;
    const max = o.maxRetryMs ?? 30_000;
    const refusedWait = o.refusedRetryMs ?? 60_000;
    const job = { kind: 'InferenceJob', namespace: o.job.namespace, name: o.job.name };
    let failures = 0;
    while (!this.#stopped) {
      let wait: number;
      try {
        const { nonce } = await this.#call<ChallengeResponse__Output>('Challenge', { job, instance: o.instance });
        const m = await o.attest(nonce);
        const res = await this.#call<AttestResponse__Output>('Attest', {
          job,
          instance: o.instance,
          nonce,
          teePubKeyJson: JSON.stringify(m.teePubKey),
          ear: m.evidence.ear,
          nrasJson: m.evidence.nras ? JSON.stringify(m.evidence.nras) : '',
          capabilityJson: JSON.stringify(m.capability),
          capabilitySignature: m.capabilitySignature,
        });
        this.counts.attestations++;
        if (res.verified) {
          this.#metrics?.attestations.inc({ result: 'verified' });
          this.#attested = true;
          this.#gatewayKey = gatewayKeyHash(m.teePubKey).toLowerCase();
          this.#flushAfter = 0;
          this.#log.info(
            { instance: o.instance, gatewayKey: res.gatewayKey, evidenceHash: res.evidenceHash },
            'attested to the hub',
          );
          void this.flush();
          return;
        }
        this.#metrics?.attestations.inc({ result: 'refused' });
        this.#log.warn({ instance: o.instance, message: res.message }, 'the hub refused the attestation');
        failures = 0;
        wait = refusedWait;
      } catch (e) {
        const code = codeOf(e);
        this.#metrics?.attestations.inc({ result: 'error' });
        if (code === undefined || TRANSIENT.has(code)) {
          wait = Math.min(max, first * 2 ** Math.min(failures++, 20));
          this.#log.warn(
            {
              instance: o.instance,
              code: code === undefined ? undefined : grpc.status[code],
              err: detailOf(e),
              retryMs: wait,
            },
            'could not attest to the hub; retrying',
          );
        } else {
          // the hub refused the request itself (not this job's instance, not running, a bad capability…)
          wait = Math.min(refusedWait, first * 2 ** Math.min(failures++, 20));
          this.#log.warn(
            { instance: o.instance, code: grpc.status[code], err: detailOf(e), retryMs: wait },
            'the hub refused the attestation request',
          );
        }
      }
      await this.#sleep(wait);
    }
  }

  /**
   * Sends ready receipts (all of them with `all`) while the hub takes them. Resolves when done or when the hub
   * could not be reached (the receipts stay queued; the next flush retries after a backoff).
   */
  flush(all = false): Promise<void> {
    if (this.#flushing) return this.#flushing;
    if (!this.#attested || this.#queue.length === 0) return Promise.resolve();
    if (!all && Date.now() < this.#flushAfter) return Promise.resolve();
    this.#flushing = this.#flushLoop(all).finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushLoop(all: boolean): Promise<void> {
    const o = this.#o;
    const job = { kind: 'InferenceJob', namespace: o.job.namespace, name: o.job.name };
    while (this.#attested && this.#queue.length > 0) {
      // in the hub's watermark order; not yet the youngest, whose elders may still be on their way
      this.#queue.sort((a, b) => (orderKey(a) < orderKey(b) ? -1 : orderKey(a) > orderKey(b) ? 1 : 0));
      const cutoff = all ? Number.POSITIVE_INFINITY : this.#now() - (o.holdMs ?? 1000);
      let n = 0;
      while (n < this.#batchSize && n < this.#queue.length && (this.#queue[n]?.receipt.time ?? 0) <= cutoff) n++;
      if (n === 0) return;
      // out of the queue while in flight (the queue's limit applies to what waits), back at its front on failure
      const batch = this.#queue.splice(0, n);
      let res: ReceiptsResponse__Output;
      try {
        res = await this.#call<ReceiptsResponse__Output>('Receipts', { job, receipts: batch.map(wire) });
      } catch (e) {
        this.#requeue(batch);
        const code = codeOf(e);
        const wait = Math.min(o.maxRetryMs ?? 30_000, (o.retryMs ?? 500) * 2 ** Math.min(this.#flushFailures++, 20));
        this.#flushAfter = Date.now() + wait;
        this.#log.warn(
          {
            code: code === undefined ? undefined : grpc.status[code],
            err: detailOf(e),
            queued: this.#queue.length,
            retryMs: wait,
          },
          'could not report receipts to the hub; kept for later',
        );
        return;
      }
      this.#flushFailures = 0;
      this.#flushAfter = 0;
      // which receipts the hub refused, and why: "[index] field: …" or "<requestId>: gatewayKey: …"
      const keep: GatewaySignedReceipt[] = [];
      const refusedAt = new Set<number>();
      let refused = 0;
      for (const line of res.refused) {
        const m = /^\[(\d+)\] /.exec(line);
        const i = m ? Number(m[1]) : batch.findIndex((r) => line.startsWith(`${r.receipt.requestId}:`));
        if (i < 0 || i >= batch.length || refusedAt.has(i)) continue;
        refusedAt.add(i);
        const r = batch[i] as GatewaySignedReceipt;
        // one of this process's receipts: the hub forgot the instance, attest again; an earlier process's (from
        // the journal) whose key the hub does not hold: it never will, refused for good
        if (UNATTESTED.test(line) && String(r.receipt.gatewayKey).toLowerCase() === this.#gatewayKey) keep.push(r);
        else {
          refused++;
          this.#log.warn({ refused: line }, 'the hub refused a receipt');
        }
      }
      this.#journal?.done(keep.length > 0 ? batch.filter((r) => !keep.includes(r)) : batch);
      this.counts.accepted += res.accepted;
      this.counts.duplicates += res.duplicates;
      this.counts.refused += refused;
      this.#metrics?.receipts.inc({ result: 'accepted' }, res.accepted);
      this.#metrics?.receipts.inc({ result: 'duplicate' }, res.duplicates);
      if (refused) this.#metrics?.receipts.inc({ result: 'refused' }, refused);
      if (keep.length > 0) {
        // the hub does not (or no longer) hold this instance attested: keep them, attest again
        this.#requeue(keep);
        this.#log.warn({ kept: keep.length }, 'the hub does not hold this instance attested; attesting again');
        this.#reattest();
        return;
      }
    }
  }

  #requeue(batch: GatewaySignedReceipt[]): void {
    this.#queue.unshift(...batch);
    if (this.#queue.length > this.#maxQueue) this.#drop(this.#queue.length - this.#maxQueue);
  }

  /**
   * Stops attesting and sends what is queued (within timeoutMs, retrying while the hub is unreachable), then
   * closes the channel. Receipts still queued then are logged; with a journal they stay in it for the next start,
   * without one they are lost with the process.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    this.#wake?.();
    const deadline = Date.now() + timeoutMs;
    await this.#flushing?.catch(() => {});
    while (this.#attested && this.#queue.length > 0 && Date.now() < deadline) {
      this.#flushAfter = 0;
      await this.flush(true);
      if (this.#queue.length > 0 && this.#attested) {
        await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
      }
    }
    await this.#attesting?.catch(() => {});
    if (this.#queue.length > 0) {
      this.#log.warn(
        { unreported: this.#queue.length, attested: this.#attested, journal: this.#journal ? 'kept' : 'none' },
        'stopping with receipts the hub has not answered',
      );
    }
    await this.#journal?.close();
    this.#client.close();
  }
}

const wire = (r: GatewaySignedReceipt): SignedReceipt => ({
  receiptJson: JSON.stringify(r.receipt),
  signature: r.signature,
  scheme: r.scheme,
});
