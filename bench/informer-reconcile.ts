// Benchmark: informer memory and reconcile throughput with 5,000 objects, against a
// real API server (the sim cluster `bench`, started by hack/bench.sh). Prints tables
// and ratios; writes them to bench/out/informer-reconcile.md. Run with --expose-gc.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../operator/kube/client.ts';
import { resources, type KubeObject } from '../operator/kube/types.ts';
import { Manager } from '../operator/runtime/manager.ts';
import { fmt, inferencePod, pool, report } from './kit.ts';

const N = Number(process.env['BENCH_OBJECTS'] ?? 5000);
const kubeconfig = process.argv[2];
if (!kubeconfig) throw new Error('usage: node --expose-gc bench/informer-reconcile.ts KUBECONFIG');
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const client = new KubeClient(kc, { name: 'bench', fieldManager: 'bench' });
const { say, table, save } = report('informer-reconcile');

const podNs = 'bench-pods',
  cmNs = 'bench-cms';
for (const ns of [podNs, cmNs])
  await client.apply(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

const pod = (i: number) => inferencePod(i, podNs);

say(`# Informer memory and reconcile throughput, ${fmt(N)} objects`);
say(
  `Node ${process.version}, ${new Date().toISOString()}, one simulated cluster on loopback (2 cores shared by API server, etcd and this process).`,
);
say();

// 1. Writes: pooled connections vs client-node's default (a new TLS connection per request).
const pods = Array.from({ length: N }, (_, i) => pod(i));
const existing = await client.list(resources.pods, { namespace: podNs, limit: 1 });
let podCreateMs = 0;
if ((existing.items.length ?? 0) === 0) podCreateMs = await pool(pods, 32, (p) => client.create(resources.pods, p));
const sample = 500;
const stock = kc.makeApiClient(CoreV1Api);
const stockMs = await pool(
  Array.from({ length: sample }, (_, i) => i),
  32,
  (i) =>
    stock.createNamespacedConfigMap({
      namespace: cmNs,
      body: { metadata: { name: `stock-${i}` }, data: { i: String(i) } },
    }),
);
const before = client.connectionsOpened;
const pooledMs = await pool(
  Array.from({ length: sample }, (_, i) => i),
  32,
  (i) =>
    client.create(resources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `pooled-${i}`, namespace: cmNs },
      data: { i: String(i) },
    } as KubeObject),
);
say('## Writes (ConfigMap creates, concurrency 32)');
table(
  ['client', 'creates', 'creates/s', 'new TLS connections during the run'],
  [
    ['client-node 2.0.1 as shipped (new connection per request)', sample, fmt((sample / stockMs) * 1000), `~${sample}`],
    [
      'operator/kube KubeClient (one pooled dispatcher per cluster)',
      sample,
      fmt((sample / pooledMs) * 1000),
      client.connectionsOpened - before,
    ],
  ],
);
say(
  `Ratio pooled / stock: **${fmt(stockMs / pooledMs, 2)}×**.${podCreateMs ? ` ${fmt(N)} pod creates took ${fmt(podCreateMs / 1000, 1)} s (${fmt((N / podCreateMs) * 1000)}/s).` : ''}`,
);
say();

// 2. Informer memory: the same pods, full objects (managedFields stripped) vs the slim form
// member caches keep; each in a fresh process, so nothing else shares its heap.
const rows: Array<Array<string | number>> = [];
for (const [label, mode] of [
  ['full Pod (managedFields dropped)', 'full'],
  ['slim Pod (what member caches keep)', 'slim'],
] as const) {
  const r = JSON.parse(
    execFileSync(
      process.execPath,
      ['--expose-gc', join(import.meta.dirname, 'informer-memory.ts'), kubeconfig, podNs, mode],
      { encoding: 'utf8' },
    ),
  ) as { objects: number; syncMs: number; heapMiB: number; rssMiB: number };
  rows.push([
    label,
    fmt(r.objects),
    fmt(r.syncMs),
    fmt(r.heapMiB, 1),
    fmt((r.heapMiB * 2 ** 20) / r.objects),
    fmt(r.rssMiB),
  ]);
}
say('## Informer: list + watch of the pods');
table(['cache', 'objects', 'sync ms', 'heap MiB', 'bytes/object', 'process RSS MiB'], rows);

// 3. Reconcile throughput: a controller over N ConfigMaps.
const cms = Array.from(
  { length: N },
  (_, i) =>
    ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${i}`, namespace: cmNs, labels: { bench: 'reconcile' } },
      data: { i: String(i) },
    }) as KubeObject,
);
const cmCreateMs = await pool(cms, 32, (c) => client.create(resources.configMaps, c).catch(() => undefined));
say(`Created ${fmt(N)} ConfigMaps in ${fmt(cmCreateMs / 1000, 1)} s (${fmt((N / cmCreateMs) * 1000)}/s).`);
say();
const rrows: Array<Array<string | number>> = [];
// The client-side limiter (default 500 qps, burst 1000 per cluster) must not lower the write rate:
// the same write runs with the limiter off and at its defaults, back to back in this run.
const unlimited = new KubeClient(kc, { name: 'bench-unlimited', fieldManager: 'bench', qps: 0 });
const limited = new KubeClient(kc, { name: 'bench-limited', fieldManager: 'bench' });
const rates: number[] = [];
const limiterLabel = `client limit ${limited.qps} qps, burst ${limited.burst}`;
for (const [label, write, concurrency, client] of [
  ['read cache only', false, 4, unlimited],
  ['one write per reconcile (merge patch), no client limit', true, 4, unlimited],
  [`one write per reconcile (merge patch), ${limiterLabel}`, true, 4, limited],
  ['one write per reconcile (merge patch), no client limit', true, 16, unlimited],
  [`one write per reconcile (merge patch), ${limiterLabel}`, true, 16, limited],
] as const) {
  const manager = new Manager({ client, leaderElection: false, ops: false });
  const inf = manager.informer<KubeObject>({
    resource: resources.configMaps,
    namespace: cmNs,
    labelSelector: 'bench=reconcile',
  });
  let done = 0;
  const stop = new AbortController();
  let finished!: () => void;
  const all = new Promise<void>((r) => {
    finished = r;
  });
  const seen = new Set<string>();
  const ctl = manager.controller({
    name: 'bench',
    concurrency,
    reconcile: async (key) => {
      const obj = inf.get(key);
      if (!obj) return;
      if (write)
        await client.mergePatch(resources.configMaps, obj.metadata!.name!, cmNs, {
          metadata: { annotations: { 'bench.nvdax.io/seen': String(Date.now()) } },
        });
      if (!seen.has(key)) {
        seen.add(key);
        if (++done === N) finished();
      }
    },
  });
  ctl.watch(inf, { filter: (o, old) => old === undefined || old.metadata?.generation !== o.metadata?.generation });
  const t = performance.now();
  const run = manager.start(stop.signal);
  await all;
  const ms = performance.now() - t;
  stop.abort();
  await run;
  rrows.push([label, concurrency, fmt(N), fmt(ms), fmt((N / ms) * 1000)]);
  rates.push((N / ms) * 1000);
}
say('## Reconcile throughput (from manager start: list, queue, reconcile every object once)');
table(['reconcile', 'workers', 'objects', 'ms', 'reconciles/s'], rrows);
const [, off4 = 0, on4 = 0, off16 = 0, on16 = 0] = rates;
say(
  `Write rate with the client limiter at its defaults / without it: **${fmt(on4 / off4, 2)}×** with 4 workers, ` +
    `**${fmt(on16 / off16, 2)}×** with 16 (1.00× = unchanged; run-to-run noise on 2 shared cores is a few percent).`,
);
say();

save();
await Promise.all([client.close(), unlimited.close(), limited.close()]);
