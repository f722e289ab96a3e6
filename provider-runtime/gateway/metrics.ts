// The gateway's Prometheus metrics, in a registry of its own. Labels are methods, codes, reasons and the
// backend kind: never requesters, tensors or anything from a request body.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'code'>;
  readonly duration: Histogram<'method'>;
  readonly backendDuration: Histogram<'backend'>;
  readonly refused: Counter<'reason'>;
  readonly sessions: Gauge;
  readonly inflight: Gauge;
  readonly bytes: Counter<'direction'>;
  readonly secrets: Gauge;
  /**
   * An observer of `histogram` with `labels` for the hot path: it only appends to a buffer, flushed into the
   * histogram when the registry is scraped (or the buffer is full) — prom-client's observe costs several µs.
   */
  observer(histogram: 'duration' | 'backendDuration', labels: Record<string, string>): (seconds: number) => void;
  /**
   * An adder to `counter` with `labels` for the hot path: a plain number, added to the counter when the
   * registry is scraped (prom-client's inc hashes the labels and checks the value on every call).
   */
  adder(counter: 'requests' | 'bytes', labels: Record<string, string>): (n?: number) => void;
  /** The in-flight gauge for the hot path: a plain number, set on the gauge when scraped. */
  readonly inflightNow: { inc(): void; dec(): void };
}

/** Values waiting to be observed. */
class Pending {
  readonly #values = new Float64Array(4096);
  #n = 0;
  readonly #sink: (v: number) => void;
  constructor(sink: (v: number) => void) {
    this.#sink = sink;
  }
  add(v: number): void {
    this.#values[this.#n++] = v;
    if (this.#n === this.#values.length) this.flush();
  }
  flush(): void {
    for (let i = 0; i < this.#n; i++) this.#sink(this.#values[i] ?? 0);
    this.#n = 0;
  }
}

const buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createGatewayMetrics(opts: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const pending: Record<'duration' | 'backendDuration', Pending[]> = { duration: [], backendDuration: [] };
  const flush = (k: 'duration' | 'backendDuration') => () => {
    for (const p of pending[k]) p.flush();
  };
  const adders: Record<'requests' | 'bytes', Array<() => void>> = { requests: [], bytes: [] };
  const flushAdders = (k: 'requests' | 'bytes') => () => {
    for (const f of adders[k]) f();
  };
  let inflight = 0;
  const m: Omit<GatewayMetrics, 'observer' | 'adder' | 'inflightNow'> = {
    registry,
    requests: new Counter({
      name: 'nvdax_gateway_requests_total',
      help: 'gRPC requests answered, by method and status code.',
      labelNames: ['method', 'code'],
      registers,
      collect: flushAdders('requests'),
    }),
    duration: new Histogram({
      name: 'nvdax_gateway_request_duration_seconds',
      help: 'Time from receiving a request to answering it, by method.',
      labelNames: ['method'],
      buckets,
      registers,
      collect: flush('duration'),
    }),
    backendDuration: new Histogram({
      name: 'nvdax_gateway_backend_duration_seconds',
      help: 'Time in the backend per inference.',
      labelNames: ['backend'],
      buckets,
      registers,
      collect: flush('backendDuration'),
    }),
    refused: new Counter({
      name: 'nvdax_gateway_refused_total',
      help: 'Requests refused by the gateway itself, by reason (limits, malformed or replayed envelopes, …).',
      labelNames: ['reason'],
      registers,
    }),
    sessions: new Gauge({ name: 'nvdax_gateway_sessions', help: 'Open sessions.', registers }),
    inflight: new Gauge({
      name: 'nvdax_gateway_inflight_requests',
      help: 'Inferences in progress.',
      registers,
      collect() {
        this.set(inflight);
      },
    }),
    bytes: new Counter({
      name: 'nvdax_gateway_ciphertext_bytes_total',
      help: 'Sealed bytes received (in) and sent (out).',
      labelNames: ['direction'],
      registers,
      collect: flushAdders('bytes'),
    }),
    secrets: new Gauge({
      name: 'nvdax_gateway_released_secrets',
      help: 'Secrets released to this gateway.',
      registers,
    }),
  };
  return {
    ...m,
    observer(histogram, labels) {
      const h = m[histogram] as Histogram<string>;
      const p = new Pending((v) => h.observe(labels, v));
      pending[histogram].push(p);
      return (v) => p.add(v);
    },
    adder(counter, labels) {
      const c = m[counter] as Counter<string>;
      let n = 0;
      adders[counter].push(() => {
        if (n > 0) c.inc(labels, n);
        n = 0;
      });
      return (v = 1) => {
        n += v;
      };
    },
    inflightNow: {
      inc: () => {
        inflight++;
      },
      dec: () => {
        inflight--;
      },
    },
  };
}
