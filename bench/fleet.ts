// Benchmark: the fleet's caches and connections with 5,000 pods spread over three member
// clusters (the sims bench, bench-b, bench-c started by hack/bench.sh), three pools on
// the first. Prints a table; appends it to bench/out/fleet.md. Run with --expose-gc.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Fleet } from '../operator/fleet/fleet.ts';
import { KubeClient } from '../operator/kube/client.ts';
import { resources } from '../operator/kube/types.ts';
import { realClock, sleep } from '../operator/runtime/clock.ts';
import { Manager } from '../operator/runtime/manager.ts';
import { fmt, heapUsed, inferencePod, pool, report } from './kit.ts';

const N = Number(process.env['BENCH_OBJECTS'] ?? 5000);
const kubeconfigs = process.argv.slice(2);
if (kubeconfigs.length !== 3)
  throw new Error('usage: node --expose-gc bench/fleet.ts KUBECONFIG_A KUBECONFIG_B KUBECONFIG_C');
const { say, save } = report('fleet');

// 1. Fill: N realistic GPU pods, a third per cluster, Pending under a scheduler nobody runs.
const ns = 'bench-fleet';
const perCluster = Math.ceil(N / 3);
for (const [c, file] of kubeconfigs.entries()) {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const client = new KubeClient(kc, { name: `fill-${c}`, qps: 0 });
  await client.apply(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const have = (await client.list(resources.pods, { namespace: ns, limit: 1 })).items.length;
  if (have === 0) {
    const pods = Array.from({ length: perCluster }, (_, i) => inferencePod(i, ns));
    await pool(pods, 32, (p) => client.create(resources.pods, p));
  }
  await client.close();
}

// 2. The fleet: three pools on the first cluster, one on each other; measure its caches.
const hub = new KubeConfig();
hub.loadFromFile(kubeconfigs[0] as string);
const manager = new Manager({ client: new KubeClient(hub, { name: 'hub' }), leaderElection: false, ops: false });
const stop = new AbortController();
const running = manager.start(stop.signal);
const h0 = heapUsed();
const t0 = performance.now();
const fleet = new Fleet({ manager, hubKubeConfig: hub, clock: realClock, probeIntervalMs: 1000, probeTimeoutMs: 3000 });
const src = (file: string) => ({ kind: 'Kubeconfig' as const, kubeconfig: readFileSync(file, 'utf8'), origin: file });
const members = [
  await fleet.acquire('providerpool', 'a-1', src(kubeconfigs[0] as string)),
  await fleet.acquire('providerpool', 'a-2', src(kubeconfigs[0] as string)),
  await fleet.acquire('providerpool', 'a-3', src(kubeconfigs[0] as string)),
  await fleet.acquire('providerpool', 'b', src(kubeconfigs[1] as string)),
  await fleet.acquire('providerpool', 'c', src(kubeconfigs[2] as string)),
];
while (!fleet.members().every((m) => m.ready())) await sleep(realClock, 20);
const syncMs = performance.now() - t0;
await sleep(realClock, 3000); // a few probe rounds on the warm connections
const h1 = heapUsed();
const pods = fleet.members().reduce((a, m) => a + m.pods().length, 0);
say(`# Fleet caches and connections, ${fmt(pods)} pods over ${fleet.members().length} member clusters`);
say(`Node ${process.version}, ${new Date().toISOString()}; three pools share the first member.`);
say();
say('| member | pools | pods cached | nodes cached | sockets opened |');
say('|---|---|---|---|---|');
for (const m of fleet.members()) {
  say(
    `| ${m.name} | ${fleet.usersOf(m, 'providerpool').length} | ${fmt(m.pods().length)} | ${m.nodes().length} | ${m.client.connectionsOpened} |`,
  );
}
say();
say(
  `Members: ${fleet.members().length} for ${members.length} pools. All gates open ${fmt(syncMs)} ms after the first acquire.`,
);
say(
  `Heap of the fleet's caches (nodes, slim pods, runtime classes of 3 members): **${fmt((h1 - h0) / 2 ** 20, 1)} MiB**, ` +
    `${fmt((h1 - h0) / pods)} bytes per cached pod.`,
);
save();
await fleet.stop();
stop.abort();
await running;
await manager.client.close();
