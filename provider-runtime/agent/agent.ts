// The pull-mode agent of one ProviderPool, wired on the operator's runtime: a manager on this
// cluster (informers, work queue, controllers, leader election on a Lease here), a second client
// for the hub (its own credential, reaching only its pool and its work namespace). Three parts:
// the heartbeat (pool registration, status.agent), the work controller (Works in, objects applied
// here, status back) and the collector (objects whose Work is gone are deleted, never while the
// hub's Work list is unknown).
import type { Signer, TypedDataDomain } from 'ethers';
import type { ProviderPoolObject } from '../../operator/api/resources.ts';
import { poolNamespace } from '../../operator/fleet/agent-work.ts';
import type { KubeClient } from '../../operator/kube/client.ts';
import { sleep } from '../../operator/runtime/clock.ts';
import type { Manager } from '../../operator/runtime/manager.ts';
import { type Heartbeat, setupHeartbeat } from './heartbeat.ts';
import { setupWorkController, type WorkController } from './work.ts';

export interface AgentOptions {
  manager: Manager;
  hub: KubeClient;
  pool: string;
  /** The pool's work namespace on the hub (default nvdax-pool-<pool>). */
  namespace?: string;
  poolManifest?: ProviderPoolObject;
  heartbeatIntervalMs: number;
  /** The provider's key and the settlement's EIP-712 domain: heartbeats are signed with them. */
  signing?: { signer: Signer; domain: TypedDataDomain };
  /** How often orphaned objects are looked for besides a Work's deletion (default 30 s). */
  collectIntervalMs?: number;
}

export interface Agent {
  heartbeat: Heartbeat;
  work: WorkController;
  namespace: string;
}

export function setupAgent(o: AgentOptions): Agent {
  const { manager, hub, pool } = o;
  const namespace = o.namespace ?? poolNamespace(pool);
  const log = manager.log.child({ pool });
  const heartbeat = setupHeartbeat({
    manager,
    hub,
    pool,
    ...(o.poolManifest ? { poolManifest: o.poolManifest } : {}),
    intervalMs: o.heartbeatIntervalMs,
    ...(o.signing ? { signing: o.signing } : {}),
    log: log.child({ component: 'heartbeat' }),
  });
  manager.runnable({ name: 'agent-heartbeat', start: (signal) => heartbeat.run(signal) });
  const work = setupWorkController({ manager, hub, pool, namespace, ...(o.signing ? { signing: o.signing } : {}) });

  let wake: (() => void) | undefined;
  work.works.addHandler({ onDelete: () => wake?.() });
  manager.runnable({
    name: 'agent-collector',
    start: async (signal) => {
      const every = o.collectIntervalMs ?? 30_000;
      while (!signal.aborted) {
        try {
          const n = await work.collect(signal);
          if (n) log.info({ deleted: n }, 'Deleted objects whose Work is gone');
        } catch (e) {
          if (signal.aborted) return;
          log.warn({ err: e }, 'Collecting orphaned objects failed; retrying');
        }
        const nap = new AbortController();
        const stop = () => nap.abort();
        signal.addEventListener('abort', stop, { once: true });
        wake = stop;
        await sleep(manager.clock, every, nap.signal).catch(() => {});
        signal.removeEventListener('abort', stop);
        wake = undefined;
      }
    },
  });
  return { heartbeat, work, namespace };
}
