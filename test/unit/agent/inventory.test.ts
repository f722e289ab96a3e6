// The agent's inventory (operator/fleet/agent-inventory.ts): what it publishes of its cluster, and
// that the hub reading it back computes the same capacity and snapshot as from the cluster itself.
import test from 'ava';
import { buildNodes, runtimeClasses, type NodeGroup } from '../../../hack/sim/nodes.ts';
import { buildInventory, expandInventory, usedPodPrefix } from '../../../operator/fleet/agent-inventory.ts';
import {
  computeCapacity,
  type NodeView,
  type PodView,
  type RuntimeClassView,
} from '../../../operator/fleet/capacity.ts';
import { buildSnapshot, slotGroupLabel } from '../../../operator/scheduling/snapshot.ts';

const ready = <T extends NodeView>(n: T): T => ({
  ...n,
  status: { ...n.status, conditions: [{ type: 'Ready', status: 'True' }] },
});
const nodes = (prefix: string, g: NodeGroup) => buildNodes(prefix, g, 'eu-west', 'eu-west-a').map(ready);
const pod = (
  name: string,
  node: string | undefined,
  gpus: number,
  o: { group?: string; phase?: string } = {},
): PodView => ({
  metadata: { name, namespace: 'nvdax-team', ...(o.group ? { labels: { [slotGroupLabel]: o.group } } : {}) },
  spec: {
    ...(node ? { nodeName: node } : {}),
    containers: [{ resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }],
  },
  status: { phase: o.phase ?? (node ? 'Running' : 'Pending') },
});

const sel = { pool: 'a' };
const cluster = () => {
  const mine = nodes('a', { template: 'gpu-container', gpu: 'H100', count: 3, labels: sel });
  const others = nodes('b', { template: 'gpu-container', gpu: 'L4', count: 2 });
  const cc = nodes('c', { template: 'gpu-confidential', gpu: 'H100', count: 1, labels: sel });
  const cpu = nodes('d', { template: 'cpu', count: 1, labels: sel });
  const all = [...mine, ...others, ...cc, ...cpu];
  const n0 = mine[0]?.metadata.name ?? '';
  const n1 = mine[1]?.metadata.name ?? '';
  const pods = [
    pod('foreign-1', n0, 3),
    pod('foreign-2', n0, 1),
    pod('done', n1, 8, { phase: 'Succeeded' }),
    pod('ours-0', n1, 2, { group: 'chat-a1' }),
    pod('ours-1', undefined, 2, { group: 'chat-a1' }),
    pod('elsewhere', others[0]?.metadata.name, 4),
  ];
  return { all, pods, mine, rcs: runtimeClasses() as RuntimeClassView[] };
};

test('only the GPU nodes the pool selects, their label sets once, foreign pods folded per node, ours one by one', (t) => {
  const { all, pods, rcs } = cluster();
  const inv = buildInventory(all, pods, rcs, sel);
  t.is(inv.nodes.length, 4, '3 container H100 nodes and 1 confidential node; not the L4 nodes nor the CPU node');
  t.is(inv.labelSets.length, 2, 'identical nodes share one label set');
  for (const set of inv.labelSets) {
    for (const k of Object.keys(set)) {
      t.false(k.startsWith('kubernetes.io/hostname'), `${k} is not needed by the hub`);
    }
    t.is(set['pool'], 'a', "the pool's selector label is kept");
  }
  const n0 = inv.nodes[0];
  t.deepEqual(n0?.used, { 'nvidia.com/gpu': 4 });
  t.is(inv.nodes[1]?.used, undefined, 'terminal pods and our own pods are not folded in');
  t.deepEqual(
    inv.pods.map((p) => [p.name, p.slotGroup, p.node ?? '-', p.requests]),
    [
      ['ours-0', 'chat-a1', inv.nodes[1]?.name, { 'nvidia.com/gpu': 2 }],
      ['ours-1', 'chat-a1', '-', { 'nvidia.com/gpu': 2 }],
    ],
  );
  t.deepEqual(buildInventory([...all].reverse(), [...pods].reverse(), [...rcs].reverse(), sel), inv, 'deterministic');
});

test('the hub computes the same capacity from the inventory as from the cluster', (t) => {
  const { all, pods, rcs } = cluster();
  const direct = computeCapacity(all, pods, rcs, { nodeSelector: sel });
  const { nodes: n, pods: p, runtimeClasses: r } = expandInventory(buildInventory(all, pods, rcs, sel));
  const viaAgent = computeCapacity(n, p, r, { nodeSelector: sel });
  t.deepEqual(viaAgent.capacity, direct.capacity);
  t.deepEqual(viaAgent.confidential, direct.confidential);
  // the CPU node counts for the direct reading only: the agent reports GPU nodes
  t.is(viaAgent.nodes, direct.nodes - 1);
});

test('the snapshot sees the same free GPUs per node, and our pods by slot group for the ledger', (t) => {
  const { all, pods, rcs } = cluster();
  const direct = buildSnapshot({
    members: [{ name: 'm', nodes: all, pods }],
    pools: [{ name: 'p', member: 'm', nodeSelector: sel }],
  });
  const exp = expandInventory(buildInventory(all, pods, rcs, sel));
  const via = buildSnapshot({
    members: [{ name: 'm', nodes: exp.nodes, pods: exp.pods }],
    pools: [{ name: 'p', member: 'm', nodeSelector: sel }],
  });
  const free = (s: typeof direct) => s.nodes({ pool: 'p' }).map((x) => [x.node, x.resourceName, x.free, x.used]);
  t.deepEqual(free(via), free(direct));
  t.is(via.podState('m', 'nvdax-team/chat-a1#0'), direct.podState('m', 'nvdax-team/chat-a1#0'));
  t.is(via.podState('m', 'nvdax-team/chat-a1#1'), 'pending');
  t.true(exp.pods.some((x) => x.metadata?.name?.startsWith(usedPodPrefix)));
});

test('an empty or missing inventory expands to nothing', (t) => {
  t.deepEqual(expandInventory(undefined), { nodes: [], pods: [], runtimeClasses: [] });
  t.deepEqual(buildInventory([], [], []), { labelSets: [], nodes: [], pods: [], runtimeClasses: [] });
});
