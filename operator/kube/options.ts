// Option shapes of KubeClient's verbs, kept apart so client.ts reads as behaviour.

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
