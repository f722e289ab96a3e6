// Prometheus metrics with controller-runtime's names, so existing dashboards and
// alerts work unchanged, plus nvdax_informer_* for list/watch failures. One Registry
// per manager (never prom-client's global one), created by the manager.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import type { QueueObserver } from './workqueue.ts';
import type { Informer, InformerState } from './informer.ts';
import type { KubeObject } from '../kube/types.ts';
import type { KubeClient } from '../kube/client.ts';

/** The runtime's metric set, registered in one registry. */
export interface RuntimeMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  readonly queueDepth: Gauge<'name' | 'controller'>;
  readonly queueAdds: Counter<'name' | 'controller'>;
  readonly queueLatency: Histogram<'name' | 'controller'>;
  readonly queueWorkDuration: Histogram<'name' | 'controller'>;
  readonly queueRetries: Counter<'name' | 'controller'>;
  readonly leaderStatus: Gauge<'name'>;
  readonly informerListErrors: Counter<'cluster' | 'resource'>;
  readonly informerWatchErrors: Counter<'cluster' | 'resource'>;
  readonly informerRelists: Counter<'cluster' | 'resource'>;
  readonly informerObjects: Gauge<'cluster' | 'resource'>;
  readonly rateLimiterDuration: Histogram<'cluster' | 'verb'>;
  readonly requestRetries: Counter<'cluster' | 'code' | 'verb'>;
  readonly requests: Counter<'cluster' | 'code' | 'verb'>;
  readonly requestDuration: Histogram<'cluster' | 'verb'>;
}

const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2,
  2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** Creates and registers the runtime metrics (and the process's default metrics unless disabled). */
export function createMetrics(registry = new Registry(), opts: { defaultMetrics?: boolean } = {}): RuntimeMetrics {
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    new Counter({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> =>
    new Gauge({ name, help, labelNames, registers });
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ): Histogram<L> => new Histogram({ name, help, labelNames, buckets, registers });
  const c = ['controller'] as const;
  const q = ['name', 'controller'] as const;
  const inf = ['cluster', 'resource'] as const;
  const queueBuckets = exponentialBuckets(1e-8, 10, 11);
  return {
    registry,
    reconcileTotal: counter('controller_runtime_reconcile_total', 'Total number of reconciliations per controller', [
      'controller',
      'result',
    ]),
    reconcileErrors: counter(
      'controller_runtime_reconcile_errors_total',
      'Total number of reconciliation errors per controller',
      c,
    ),
    terminalReconcileErrors: counter(
      'controller_runtime_terminal_reconcile_errors_total',
      'Total number of terminal reconciliation errors per controller',
      c,
    ),
    reconcileTime: histogram(
      'controller_runtime_reconcile_time_seconds',
      'Length of time per reconciliation per controller',
      c,
      reconcileBuckets,
    ),
    activeWorkers: gauge('controller_runtime_active_workers', 'Number of currently used workers per controller', c),
    maxConcurrentReconciles: gauge(
      'controller_runtime_max_concurrent_reconciles',
      'Maximum number of concurrent reconciles per controller',
      c,
    ),
    queueDepth: gauge('workqueue_depth', 'Current depth of workqueue', q),
    queueAdds: counter('workqueue_adds_total', 'Total number of adds handled by workqueue', q),
    queueLatency: histogram(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
      q,
      queueBuckets,
    ),
    queueWorkDuration: histogram(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes',
      q,
      queueBuckets,
    ),
    queueRetries: counter('workqueue_retries_total', 'Total number of retries handled by workqueue', q),
    leaderStatus: gauge(
      'leader_election_master_status',
      'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      ['name'],
    ),
    informerListErrors: counter('nvdax_informer_list_errors_total', 'Informer list requests that failed', inf),
    informerWatchErrors: counter('nvdax_informer_watch_errors_total', 'Informer watches that ended with an error', inf),
    informerRelists: counter('nvdax_informer_relists_total', 'Informer relists after 410 Gone', inf),
    informerObjects: gauge('nvdax_informer_objects', 'Objects held in an informer cache', inf),
    // client-go's names; labelled by the client's cluster name rather than the host
    rateLimiterDuration: histogram(
      'rest_client_rate_limiter_duration_seconds',
      'Client side rate limiter latency in seconds',
      ['cluster', 'verb'],
      [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    ),
    requestRetries: counter('rest_client_request_retries_total', 'Requests retried after a 429 with Retry-After', [
      'cluster',
      'code',
      'verb',
    ]),
    requests: counter('rest_client_requests_total', 'Requests answered, by status code (<error>: no answer)', [
      'cluster',
      'code',
      'verb',
    ]),
    requestDuration: histogram(
      'rest_client_request_duration_seconds',
      'Request latency in seconds: sent to answer headers',
      ['cluster', 'verb'],
      [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    ),
  };
}

/** A QueueObserver that feeds the workqueue_* metrics of one controller's queue. */
export function queueObserver(m: RuntimeMetrics, controller: string): QueueObserver {
  const l = { name: controller, controller };
  return {
    add: () => m.queueAdds.inc(l),
    depth: (n) => m.queueDepth.set(l, n),
    latency: (s) => m.queueLatency.observe(l, s),
    workDuration: (s) => m.queueWorkDuration.observe(l, s),
    retry: () => m.queueRetries.inc(l),
  };
}

/** Feeds an informer's state transitions into the nvdax_informer_* metrics. Returns an unsubscribe. */
export function observeInformer<T extends KubeObject>(m: RuntimeMetrics, informer: Informer<T>): () => void {
  const l = { cluster: informer.client.name, resource: informer.resource.plural };
  const count = (): void => {
    m.informerObjects.set(l, informer.size);
  };
  // the size changes with every add and delete, not only on state transitions
  const unhandle = informer.addHandler({ onAdd: count, onDelete: count });
  const unstate = informer.onState((s: InformerState) => {
    if (s.type === 'listError') m.informerListErrors.inc(l);
    else if (s.type === 'watchError') m.informerWatchErrors.inc(l);
    else if (s.type === 'gone') m.informerRelists.inc(l);
    if (s.type === 'stopped') m.informerObjects.remove(l);
    else count();
  });
  return () => {
    unhandle();
    unstate();
  };
}

/** Feeds a client's rate-limit waits and 429 retries into the rest_client_* metrics. Returns an unsubscribe. */
export function observeClient(m: RuntimeMetrics, client: KubeClient): () => void {
  const cluster = client.name;
  return client.observe({
    rateLimited: (verb, ms) => m.rateLimiterDuration.observe({ cluster, verb }, ms / 1000),
    retried: (verb, code) => m.requestRetries.inc({ cluster, code: String(code), verb }),
    answered: (verb, code, ms) => {
      m.requests.inc({ cluster, code: code ? String(code) : '<error>', verb });
      m.requestDuration.observe({ cluster, verb }, ms / 1000);
    },
  });
}
