// Child of informer-reconcile.ts: syncs one informer over a namespace and prints its
// heap cost as JSON. A process of its own, so the measurement sees only this cache.
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../operator/kube/client.ts';
import { resources } from '../operator/kube/types.ts';
import { Informer } from '../operator/runtime/informer.ts';
import { slimPod, type PodObject } from '../operator/fleet/member.ts';
import { heapUsed } from './kit.ts';

const [kubeconfig, namespace, mode] = process.argv.slice(2);
if (!kubeconfig || !namespace)
  throw new Error('usage: node --expose-gc bench/informer-memory.ts KUBECONFIG NAMESPACE full|slim');
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const client = new KubeClient(kc, { name: 'bench' });
await client.list(resources.pods, { namespace, limit: 1 }); // warm the connection and JIT outside the measurement
const heap = heapUsed;
const h0 = heap();
const t = performance.now();
const inf = new Informer<PodObject>({
  client,
  resource: resources.pods,
  namespace,
  ...(mode === 'slim' ? { transform: slimPod } : {}),
});
inf.start();
await inf.waitForSync();
const syncMs = performance.now() - t;
const h1 = heap();
process.stdout.write(
  JSON.stringify({
    objects: inf.size,
    syncMs,
    heapMiB: (h1 - h0) / 2 ** 20,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  }) + '\n',
);
await inf.stop();
await client.close();
