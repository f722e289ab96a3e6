// A tiny operator process for the leader-election tests: a Manager with a Lease in
// --namespace, an informer on that namespace's ConfigMaps labelled leader-test=true,
// and a controller that logs "reconcile start"/"reconcile end" as JSON lines (sync
// writes, so a kill -9 loses nothing already logged). A ConfigMap annotation
// leader-test/sleep-ms makes its reconcile take that long.
import { hostname } from 'node:os';
import { KubeClient } from '../../operator/kube/client.ts';
import { loadKubeConfig } from '../../operator/kube/load.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { resources, splitKey } from '../../operator/kube/types.ts';
import { realClock, sleep } from '../../operator/runtime/clock.ts';
import { parseRuntimeConfig } from '../../operator/runtime/config.ts';
import { createLogger } from '../../operator/runtime/log.ts';
import { LeadershipLostError, Manager } from '../../operator/runtime/manager.ts';
import { shutdownSignal } from '../../operator/runtime/signals.ts';

const { config, extra } = parseRuntimeConfig(process.argv.slice(2), process.env, {
  defaultIdentity: `${hostname()}-${process.pid}`,
  extra: { namespace: { type: 'string' } },
});
const namespace = String(extra['namespace'] ?? '');
if (!namespace) throw new Error('--namespace is required');
const identity = config.leaderElection.identity;
const log = createLogger({ level: config.logLevel, sync: true, name: 'leader-proc' }).child({ identity });

const client = new KubeClient(loadKubeConfig(config.kubeconfig, config.context), {
  name: 'hub',
  requestTimeoutMs: config.requestTimeoutMs,
});
const mgr = Manager.fromConfig(config, client, log);
const cms = mgr.informer<KubeObject>({ resource: resources.configMaps, namespace, labelSelector: 'leader-test=true' });
const ctl = mgr.controller({
  name: 'configmaps',
  concurrency: config.maxConcurrentReconciles,
  reconcile: async (key, ctx) => {
    const cm = cms.get(key);
    ctx.log.info({ at: Date.now() }, 'reconcile start');
    await sleep(realClock, Number(cm?.metadata?.annotations?.['leader-test/sleep-ms'] ?? 20), ctx.signal);
    if (cm && cm.metadata?.annotations?.['leader-test/reconciled-by'] !== identity) {
      const { name } = splitKey(key);
      const patch = { metadata: { annotations: { 'leader-test/reconciled-by': identity } } };
      await client.mergePatch(resources.configMaps, name, namespace, patch, { signal: ctx.signal });
    }
    ctx.log.info({ at: Date.now() }, 'reconcile end');
  },
});
ctl.watch(cms);

try {
  await mgr.start(shutdownSignal(log));
  log.info('Exiting');
} catch (err) {
  log.error({ err }, err instanceof LeadershipLostError ? 'Exiting after losing leadership' : 'Manager failed');
  process.exitCode = 1;
} finally {
  await client.close();
}
