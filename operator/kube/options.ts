// Option shapes of KubeClient's verbs, kept apart so client.ts reads as behaviour.
import type { Clock } from '../runtime/clock.ts';

/**
 * Default client-side limit per cluster, requests/s and burst. Well above what one
 * operator writes (`make bench` measured about 930 writes/s on one cluster; 500 qps cut
 * that to 0.66×), so it never slows normal work; it only stops a hot loop from flooding
 * an API server, whose priority and fairness does the fine-grained limiting.
 */
export const defaultQps = 2000;
export const defaultBurst = 4000;
/** Retries of a request answered 429 with a Retry-After (client-go's default). */
export const defaultMaxRetries = 10;

/** Options of a KubeClient. */
export interface KubeClientOptions {
  /** Cluster name for logs and metrics (default: the kubeconfig's current cluster name). */
  name?: string;
  /** Limit on each non-watch request, ms (default 30 s). */
  requestTimeoutMs?: number;
  /** fieldManager for apply and patches (default 'nvdax-operator'). */
  fieldManager?: string;
  /** Idle keep-alive time of pooled sockets, ms (default 60 s). */
  keepAliveTimeoutMs?: number;
  /** Time source of request timeouts, rate-limit and Retry-After waits (default the real clock). */
  clock?: Clock;
  /** Requests per second this client may start (token bucket); <= 0 disables the limit (default 500). */
  qps?: number;
  /** Requests that may start at once before the qps pacing applies (default 1000). */
  burst?: number;
  /** Retries of a 429 answer that carries a Retry-After, then the 429 is thrown (default 10). */
  maxRetries?: number;
}

/** What a client reports for metrics (see KubeClient.observe). */
export interface ClientObserver {
  /** Each request's wait for a rate-limit token, ms (0 when one was free). */
  rateLimited?(verb: string, waitMs: number): void;
  /** A 429 answer is being retried after `waitMs`. */
  retried?(verb: string, code: number, waitMs: number): void;
  /** Each answer (or failure to get one: code 0) and how long the server took, ms. */
  answered?(verb: string, code: number, ms: number): void;
}

/** Low-level request options. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Selectors and paging for list and watch. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  signal?: AbortSignal;
}

/** Options of KubeClient.watch. */
export interface WatchOptions extends Omit<ListOptions, 'limit' | 'continue'> {
  /** Server-side end of the watch, seconds (default 300). */
  timeoutSeconds?: number;
  /** Ask for BOOKMARK events (default true). */
  allowBookmarks?: boolean;
}

/** Options for writes. */
export interface WriteOptions {
  fieldManager?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
}
