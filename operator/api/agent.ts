// What a pool agent publishes in its ProviderPool's status (status.agent, its own field manager):
// its heartbeat, and a compact inventory of the pool's nodes — what the placement snapshot and the
// capacity code need of them, nothing more: node label sets are listed once and referred to by
// index, GPU pods other than ours are folded into a per-node count.
import { patterns } from './patterns.ts';
import { bool, int, list, map, obj, str, time } from './schema.ts';

const counts = (what: string) => map(`${what}, by GPU resource name.`, int('GPUs.', { minimum: 0 }), 8);

const taint = obj(
  'AgentTaint',
  'A NoSchedule or NoExecute taint of a node.',
  {
    key: str('Taint key.', { maxLength: 317 }),
    value: str('Taint value.', { pattern: patterns.labelValue }),
    effect: str('NoSchedule or NoExecute.', { maxLength: 32 }),
  },
  { required: ['key', 'effect'] },
);

const node = obj(
  'AgentNode',
  'One GPU node of the pool.',
  {
    name: str('Node name.', { pattern: patterns.dnsSubdomain }),
    labelSet: int('Index of its labels in labelSets.', { minimum: 0 }),
    ready: bool('The node is Ready.'),
    unschedulable: bool('The node is cordoned.'),
    taints: list('Its NoSchedule and NoExecute taints.', taint, { maxItems: 16 }),
    capacity: counts('GPU capacity'),
    allocatable: counts('GPU allocatable'),
    used: counts('GPUs requested by non-terminal pods bound here that are not listed in pods'),
  },
  { required: ['name'] },
);

const pod = obj(
  'AgentPod',
  "A pod the operator placed (it carries the slot-group label), bound or pending, so the hub's reservation " +
    'ledger can match it.',
  {
    namespace: str('Pod namespace.', { pattern: patterns.dnsLabel }),
    name: str('Pod name.', { pattern: patterns.dnsSubdomain }),
    slotGroup: str('Its nvdax.io/slot-group label.', { pattern: patterns.labelValue }),
    node: str('Node it is bound to; absent while pending.', { pattern: patterns.dnsSubdomain }),
    phase: str('status.phase.', { maxLength: 32 }),
    requests: counts('GPUs it requests'),
  },
  { required: ['namespace', 'name'] },
);

const runtimeClass = obj(
  'AgentRuntimeClass',
  'A RuntimeClass of the agent cluster.',
  {
    name: str('RuntimeClass name.', { pattern: patterns.dnsSubdomain }),
    nodeSelector: map('Its scheduling.nodeSelector.', str('Label value.', { pattern: patterns.labelValue }), 32),
  },
  { required: ['name'] },
);

export const agentStatus = obj(
  'AgentStatus',
  "Written by the pool's agent (spec.cluster.mode Agent): its heartbeat and the pool's inventory.",
  {
    heartbeatTime: time(
      'When the agent last reported; the pool goes not Ready when it is older than heartbeatTimeout.',
    ),
    heartbeatInterval: str('How often the agent reports.', { pattern: patterns.duration }),
    labelSets: list(
      'Distinct label sets of the nodes (only labels that decide GPU class, confidential readiness and pool ' +
        'membership), referred to by index.',
      map('Labels.', str('Label value.', { pattern: patterns.labelValue }), 64),
      { maxItems: 256 },
    ),
    nodes: list('GPU nodes of the pool.', node, { maxItems: 5000 }),
    pods: list('Pods the operator placed, bound or pending.', pod, { maxItems: 5000 }),
    runtimeClasses: list('RuntimeClasses of the agent cluster.', runtimeClass, { maxItems: 64 }),
    signature: str(
      "The provider's EIP-712 signature over the heartbeat time, interval and a SHA-256 of the inventory " +
        '(operator/verification/heartbeat.ts); a hub that settles on a chain accepts only signed heartbeats.',
      { pattern: patterns.signature },
    ),
  },
);
