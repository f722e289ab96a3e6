// Prometheus metrics with controller-runtime's names, so existing dashboards and
// alerts work unchanged, plus nvdax_informer_* for list/watch failures. One Registry
// per manager (never prom-client's global one), created by the manager.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import type { QueueObserver } from './workqueue.ts';
import type { Informer, InformerState } from './informer.ts';
import type { KubeObject } from '../kube/types.ts';

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
}

const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2,
  2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** Creates and registers the runtime metrics (and the process's default metrics unless disabled). */
export function createMetrics(registry = new Registry(), opts: { defaultMetrics?: boolean } = {}): RuntimeMetrics {
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const q = ['name', 'controller'] as const;
  const inf = ['cluster', 'resource'] as const;
  return {
    registry,
    reconcileTotal: new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers }),
    reconcileErrors: new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers }),
    terminalReconcileErrors: new Counter({ name: 'controller_runtime_terminal_reconcile_errors_total', help: 'Total number of terminal reconciliation errors per controller', labelNames: ['controller'], registers }),
    reconcileTime: new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller', labelNames: ['controller'], buckets: reconcileBuckets, registers }),
    activeWorkers: new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers }),
    maxConcurrentReconciles: new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers }),
    queueDepth: new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: q, registers }),
    queueAdds: new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: q, registers }),
    queueLatency: new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames: q, buckets: exponentialBuckets(1e-8, 10, 11), registers }),
    queueWorkDuration: new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames: q, buckets: exponentialBuckets(1e-8, 10, 11), registers }),
    queueRetries: new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: q, registers }),
    leaderStatus: new Gauge({ name: 'leader_election_master_status', help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master', labelNames: ['name'], registers }),
    informerListErrors: new Counter({ name: 'nvdax_informer_list_errors_total', help: 'Informer list requests that failed', labelNames: inf, registers }),
    informerWatchErrors: new Counter({ name: 'nvdax_informer_watch_errors_total', help: 'Informer watches that ended with an error', labelNames: inf, registers }),
    informerRelists: new Counter({ name: 'nvdax_informer_relists_total', help: 'Informer relists after 410 Gone', labelNames: inf, registers }),
    informerObjects: new Gauge({ name: 'nvdax_informer_objects', help: 'Objects held in an informer cache', labelNames: inf, registers }),
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
  return informer.onState((s: InformerState) => {
    if (s.type === 'listError') m.informerListErrors.inc(l);
    else if (s.type === 'watchError') m.informerWatchErrors.inc(l);
    else if (s.type === 'gone') m.informerRelists.inc(l);
    if (s.type === 'stopped') m.informerObjects.remove(l);
    else m.informerObjects.set(l, informer.size);
  });
}
