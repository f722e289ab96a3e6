// What the placement snapshot reads of the fleet: only members whose ready gate is open
// (a member that has not re-listed since it lost contact would show GPUs as free that were
// taken meanwhile), each pool mapped to the member it acquired. An agent pool's member is read
// from the inventory its agent publishes, and counts while its heartbeat is fresh.
import type { PodPin, SnapshotInput } from '../scheduling/snapshot.ts';
import type { Fleet } from './fleet.ts';

export interface PoolRef {
  name: string;
  nodeSelector?: Record<string, string> | undefined;
}

/** The snapshot input for `pools` (acquired by `owner`), with the ledger's pins. */
export function snapshotInput(
  fleet: Fleet,
  pools: readonly PoolRef[],
  pinned: readonly PodPin[] = [],
  owner = 'providerpool',
): SnapshotInput {
  const ready = [...fleet.members(), ...fleet.agents()].filter((m) => m.ready());
  return {
    members: ready.map((m) => ({ name: m.key, nodes: m.nodes(), pods: m.pods() })),
    pools: pools.flatMap((p) => {
      const m = fleet.memberOf(owner, p.name);
      return m ? [{ name: p.name, member: m.key, nodeSelector: p.nodeSelector }] : [];
    }),
    pinned,
  };
}
