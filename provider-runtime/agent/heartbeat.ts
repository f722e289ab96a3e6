// The agent's heartbeat: registers its ProviderPool (from the pool manifest, when given) and writes
// status.agent on the hub — a heartbeat time and the inventory the hub places by (operator/fleet/
// agent-inventory.ts, from this cluster's nodes, pods and RuntimeClasses). One server-side apply
// per heartbeat, plus one when the inventory changes (at most every minIntervalMs). A hub that does
// not answer is retried at the next beat; nothing here stops the workloads. With the provider's key
// each heartbeat is signed (operator/verification/heartbeat.ts): the hub counts a pool's capacity only
// when its provider signed it.
import type { Signer, TypedDataDomain } from 'ethers';
import { API_VERSION } from '../../operator/api/constants.ts';
import type { ProviderPoolObject } from '../../operator/api/resources.ts';
import { providerPools } from '../../operator/api/resources.ts';
import type { AgentStatus } from '../../operator/api/types.gen.ts';
import { buildInventory } from '../../operator/fleet/agent-inventory.ts';
import type { NodeView, PodView, RuntimeClassView } from '../../operator/fleet/capacity.ts';
import { slimPod } from '../../operator/fleet/member.ts';
import type { KubeClient } from '../../operator/kube/client.ts';
import { isNotFound } from '../../operator/kube/errors.ts';
import { type KubeObject, resources } from '../../operator/kube/types.ts';
import { canonical } from '../../operator/runtime/canonical.ts';
import { sleep } from '../../operator/runtime/clock.ts';
import { signHeartbeat } from '../../operator/verification/heartbeat.ts';
import type { Logger } from '../../operator/runtime/log.ts';
import type { Manager } from '../../operator/runtime/manager.ts';
import { agentManager } from './work.ts';

export interface HeartbeatOptions {
  manager: Manager;
  hub: KubeClient;
  pool: string;
  /** The pool manifest to register (spec only is applied), or undefined to only heartbeat an existing pool. */
  poolManifest?: ProviderPoolObject;
  intervalMs: number;
  /** Inventory changes are written at most this often (default 2 s). */
  minIntervalMs?: number;
  /** The provider's key and the settlement's EIP-712 domain: each heartbeat is signed with them. */
  signing?: { signer: Signer; domain: TypedDataDomain };
  log: Logger;
}

export interface Heartbeat {
  run(signal: AbortSignal): Promise<void>;
  /** Status writes to the hub so far (for metrics and the benchmark). */
  readonly writes: number;
  /** Failed attempts so far. */
  readonly failures: number;
}

export function setupHeartbeat(o: HeartbeatOptions): Heartbeat {
  const { manager, hub, pool, log } = o;
  const clock = manager.clock;
  const nodes = manager.informer<KubeObject & NodeView>({ resource: resources.nodes });
  const pods = manager.informer<KubeObject & PodView>({
    resource: resources.pods,
    fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
    transform: slimPod as never,
  });
  const runtimeClasses = manager.informer<KubeObject & RuntimeClassView>({ resource: resources.runtimeClasses });
  let wake: (() => void) | undefined;
  let dirty = true;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  for (const inf of [nodes, pods, runtimeClasses] as const) {
    (inf as { addHandler: (h: object) => unknown }).addHandler({ onAdd: poke, onUpdate: poke, onDelete: poke });
  }
  const state = { writes: 0, failures: 0 };
  let selector: Record<string, string> | undefined;
  let lastInventory = '';
  let lastWrite = Number.NEGATIVE_INFINITY;
  let registered = o.poolManifest === undefined;

  async function register(signal: AbortSignal): Promise<void> {
    const m = o.poolManifest;
    if (!m) return;
    await hub.apply(
      providerPools,
      {
        apiVersion: API_VERSION,
        kind: 'ProviderPool',
        metadata: { name: pool, labels: m.metadata?.labels },
        spec: m.spec,
      } as KubeObject,
      { fieldManager: agentManager, force: true, signal },
    );
    registered = true;
  }

  async function beat(signal: AbortSignal): Promise<void> {
    if (!registered) await register(signal);
    // the pool's node selector decides which nodes are reported; read each beat (a GET, no write)
    try {
      const p = await hub.get<ProviderPoolObject>(providerPools, pool, undefined, signal);
      selector = p.spec.nodeSelector;
    } catch (e) {
      if (isNotFound(e) && o.poolManifest) registered = false;
      throw e;
    }
    const inv = buildInventory(nodes.list(), pods.list(), runtimeClasses.list(), selector);
    const text = canonical(inv);
    const unsigned: AgentStatus = {
      heartbeatTime: new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      heartbeatInterval: `${Math.round(o.intervalMs / 1000)}s`,
      ...inv,
    };
    const agent = o.signing ? await signHeartbeat(o.signing.signer, o.signing.domain, pool, unsigned) : unsigned;
    await hub.applyStatus(
      providerPools,
      { apiVersion: API_VERSION, kind: 'ProviderPool', metadata: { name: pool }, status: { agent } } as KubeObject,
      { fieldManager: agentManager, force: true, signal },
    );
    state.writes++;
    lastInventory = text;
    lastWrite = clock.monotonic();
  }

  async function run(signal: AbortSignal): Promise<void> {
    let nextBeat = 0;
    while (!signal.aborted) {
      const now = clock.monotonic();
      const changed =
        dirty &&
        canonical(buildInventory(nodes.list(), pods.list(), runtimeClasses.list(), selector)) !== lastInventory;
      dirty = false;
      const minMs = o.minIntervalMs ?? 2_000;
      if (now >= nextBeat || (changed && now - lastWrite >= minMs)) {
        try {
          await beat(signal);
          nextBeat = clock.monotonic() + o.intervalMs;
        } catch (e) {
          if (signal.aborted) return;
          state.failures++;
          log.warn({ err: e }, 'Heartbeat failed; the workloads keep running, retrying');
          nextBeat = clock.monotonic() + Math.min(o.intervalMs, 2_000);
        }
      } else if (changed) {
        dirty = true; // written when minMs has passed
      }
      const wait = Math.max(
        50,
        Math.min(nextBeat - clock.monotonic(), dirty ? minMs - (clock.monotonic() - lastWrite) : Infinity),
      );
      const nap = new AbortController();
      const stop = () => nap.abort();
      signal.addEventListener('abort', stop, { once: true });
      wake = stop;
      await sleep(clock, wait, nap.signal).catch(() => {});
      signal.removeEventListener('abort', stop);
      wake = undefined;
    }
  }

  return {
    run,
    get writes() {
      return state.writes;
    },
    get failures() {
      return state.failures;
    },
  };
}
