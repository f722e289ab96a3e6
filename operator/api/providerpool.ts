// ProviderPool: a provider's GPU cluster as the hub sees it. The spec is the provider's
// offer (where, at what base rates, which tiers and confidential runtimes); the status
// is what the operator observed in the member cluster (capacity, health, reputation).
import { ClusterMode, GpuMode, PoolConditionType, PoolPhase, TeeType, Tier } from './constants.ts';
import type { KindDef } from './crd.ts';
import { agentStatus } from './agent.ts';
import { incidents, telemetryStatus, tierLatency } from './reputation.ts';
import { conditions } from './conditions.ts';
import { patterns } from './patterns.ts';
import { bool, int, list, map, obj, oneOf, str, time } from './schema.ts';
import { positiveDuration, positivePrice } from './sla.ts';

const secretRef = obj(
  'SecretKeyReference',
  'A key of a Secret on the hub that holds a kubeconfig for the member cluster.',
  {
    name: str('Secret name.', { pattern: patterns.dnsSubdomain }),
    // No default here: the CRD cannot know the operator's namespace.
    namespace: str(
      "Secret namespace on the hub. Unset: the operator's namespace, the only namespace kubeconfig Secrets are " +
        'read from; the operator refuses any other.',
      { pattern: patterns.dnsLabel },
    ),
    key: str('Key in the Secret data holding the kubeconfig.', { pattern: patterns.secretKey, default: 'kubeconfig' }),
  },
  { required: ['name'] },
);

const cluster = obj(
  'ClusterAccess',
  'How the hub reaches the member cluster: one of Local, KubeconfigSecret or Agent.',
  {
    mode: oneOf(
      'ClusterMode',
      'Local: the GPUs are nodes of the hub cluster itself. KubeconfigSecret: the hub connects with the kubeconfig ' +
        'in secretRef. Agent: an agent in the member cluster pulls work from the hub (no inbound access needed).',
      Object.values(ClusterMode),
    ),
    secretRef,
  },
  {
    required: ['mode'],
    rules: [
      {
        rule: "self.mode != 'KubeconfigSecret' || has(self.secretRef)",
        message: 'secretRef is required when mode is KubeconfigSecret',
        fieldPath: '.secretRef',
        reason: 'FieldValueRequired',
      },
      {
        rule: "self.mode == 'KubeconfigSecret' || !has(self.secretRef)",
        message: 'secretRef applies only when mode is KubeconfigSecret',
        fieldPath: '.secretRef',
        reason: 'FieldValueForbidden',
      },
    ],
  },
);

const baseRate = obj(
  'BaseRate',
  'The base price of one GPU product in one mode.',
  {
    gpuProduct: str('GPU product (GFD nvidia.com/gpu.product), e.g. NVIDIA-H100-80GB-HBM3.', {
      pattern: patterns.gpuProduct,
    }),
    mode: oneOf(
      'GpuMode',
      'Which GPUs of the product the rate is for: Container (nvidia.com/gpu) or Confidential (vm-passthrough for ' +
        'Confidential Containers).',
      Object.values(GpuMode),
      GpuMode.Container,
    ),
    pricePerGpuHour: positivePrice('BaseRate in NVDAx per GPU-hour, as a decimal string (e.g. "2.10").'),
  },
  { required: ['gpuProduct', 'pricePerGpuHour'] },
);

const confidentialRuntime = obj(
  'ConfidentialRuntime',
  'A Confidential Containers runtime class the pool offers.',
  {
    runtimeClassName: str('RuntimeClass name, e.g. kata-qemu-nvidia-gpu-snp or kata-qemu-nvidia-gpu-tdx.', {
      pattern: patterns.dnsSubdomain,
    }),
    teeType: oneOf('TeeType', 'CPU TEE the runtime class launches: snp or tdx.', Object.values(TeeType)),
    gpuAttestation: bool('The GPUs behind it run in CC mode and can be attested.', true),
  },
  { required: ['runtimeClassName', 'teeType'] },
);

const capacity = obj(
  'GpuCapacity',
  'GPUs of one product in the member cluster (nodes matching nodeSelector only).',
  {
    gpuProduct: str(
      'GPU product as observed: the GFD label, or the model derived for confidential nodes; "unknown" when ' +
        "the node does not say (status is the operator's, so any observed name is kept).",
      { maxLength: 128 },
    ),
    mode: oneOf(
      'GpuMode',
      'Container: GPU device plugin nodes (nvidia.com/gpu). Confidential: vm-passthrough nodes for ' +
        'Confidential Containers (sandbox device plugin).',
      Object.values(GpuMode),
    ),
    resourceName: str(
      'Extended resource a pod requests for these GPUs, e.g. nvidia.com/gpu, nvidia.com/pgpu or ' +
        'nvidia.com/GH100_H100_SXM5_80GB.',
      { maxLength: 253 },
    ),
    gpuMemory: str('Memory per GPU (e.g. 81559Mi).', { pattern: patterns.nonNegativeQuantity }),
    nodes: int('Nodes with this product.', { minimum: 0 }),
    total: int('GPUs in node capacity.', { minimum: 0 }),
    allocatable: int('GPUs schedulable (node allocatable, nodes Ready and schedulable).', { minimum: 0 }),
    inUse: int('GPUs requested by running or bound pods.', { minimum: 0 }),
    available: int('allocatable - inUse.', { minimum: 0 }),
    largestFreeBlock: int('Most free GPUs on a single node: the largest job (GPUs per pod) that fits now.', {
      minimum: 0,
    }),
    teeTypes: list(
      'TEE types of the CC-ready nodes (Confidential mode only).',
      oneOf('TeeType', 'A TEE type.', Object.values(TeeType)),
      {
        maxItems: 2,
        listType: 'set',
      },
    ),
  },
  { required: ['gpuProduct', 'mode', 'resourceName'] },
);

const stake = obj('Stake', "The provider's stake on the settlement contract, at risk for SLA breaches.", {
  amount: str('Staked amount, in NVDAx.', { pattern: patterns.price }),
  slashed: str('Amount slashed so far, in NVDAx.', { pattern: patterns.price }),
  updatedTime: time('When it was last read from the chain.'),
});

export const providerPool: KindDef = {
  kind: 'ProviderPool',
  description:
    'ProviderPool registers a provider GPU cluster with the NVDAx hub: where it is, how the hub reaches it, what ' +
    'it charges per GPU product, which tiers and confidential runtimes it offers. The operator reports capacity, ' +
    'health, reputation and stake in status, and places jobs on pools that are Ready.',
  spec: obj(
    'ProviderPoolSpec',
    "The provider's offer.",
    {
      provider: obj(
        'Provider',
        'Who operates the pool.',
        {
          address: str(
            'Ethereum address of the provider: paid for usage, and its stake is slashed for breaches. Immutable.',
            {
              pattern: patterns.address,
              rules: [{ rule: 'self == oldSelf', message: 'address is immutable' }],
            },
          ),
          displayName: str('Name shown to requesters.', { maxLength: 63 }),
        },
        { required: ['address'] },
      ),
      region: str('Region the GPUs are in, e.g. eu-west; matched with a job sla.regions.', {
        pattern: patterns.region,
      }),
      jurisdiction: str(
        'Country (ISO 3166-1 alpha-2, e.g. DE) whose law applies to the data centre; matched with sla.dataResidency.',
        { pattern: patterns.country },
      ),
      cluster,
      nodeSelector: map(
        'Labels a member-cluster node must have to count for this pool (e.g. a node pool). Empty: all GPU nodes.',
        str('Label value.', { pattern: patterns.labelValue }),
        32,
      ),
      baseRates: list(
        'Base price per GPU product and mode: a pool prices its confidential and container GPUs apart, and a ' +
          'product/mode without a rate is not offered.',
        baseRate,
        { minItems: 1, maxItems: 32, listType: 'map', keys: ['gpuProduct', 'mode'] },
      ),
      tiers: list('Service tiers accepted.', oneOf('Tier', 'A tier.', Object.values(Tier)), {
        minItems: 1,
        maxItems: 3,
        listType: 'set',
        default: Object.values(Tier),
      }),
      confidentialRuntimes: list(
        'Confidential runtime classes offered. Empty: no confidential jobs.',
        confidentialRuntime,
        {
          maxItems: 8,
          listType: 'map',
          keys: ['runtimeClassName'],
        },
      ),
      unschedulable: bool('Take no new jobs (running jobs continue), like kubectl cordon.', false),
      development: bool(
        'A development pool: Confidential Containers runtime classes without a hardware TEE (kata-qemu-coco-dev) ' +
          'count as confidential. For testing only; never set it on a pool that sells confidential capacity.',
        false,
      ),
      heartbeatTimeout: positiveDuration(
        'Time without a successful probe or agent heartbeat after which the pool is Disconnected.',
        '1m',
      ),
    },
    { required: ['provider', 'region', 'jurisdiction', 'cluster', 'baseRates'] },
  ),
  status: obj('ProviderPoolStatus', 'Observed state, written by the operator.', {
    phase: oneOf(
      'PoolPhase',
      'Pending (not yet observed), Ready, Degraded (reachable but unhealthy or no capacity), Disconnected.',
      Object.values(PoolPhase),
    ),
    conditions: conditions(`Types: ${Object.values(PoolConditionType).join(', ')}.`),
    observedGeneration: int('metadata.generation this status reflects.', { minimum: 0, format: 'int64' }),
    capacity: list(
      'GPU capacity per product, mode and resource name (one product can be exposed under two resource names ' +
        'on different nodes).',
      capacity,
      { maxItems: 32, listType: 'map', keys: ['gpuProduct', 'mode', 'resourceName'] },
    ),
    totalGpus: int('GPUs in all products.', { minimum: 0 }),
    availableGpus: int('Free GPUs in all products.', { minimum: 0 }),
    activeJobs: int('Jobs placed on the pool and not finished.', { minimum: 0 }),
    runtimeClasses: list(
      'RuntimeClasses present in the member cluster that jobs can use.',
      str('A RuntimeClass name.', {
        pattern: patterns.dnsSubdomain,
      }),
      { maxItems: 32, listType: 'set' },
    ),
    lastHeartbeatTime: time('Last successful probe of (or heartbeat from) the member cluster.'),
    reputation: str('Score in [0, 1] from SLA compliance and verification results; higher wins ties.', {
      pattern: patterns.fraction,
    }),
    latency: list('Latency per tier over the reputation window, from signed telemetry.', tierLatency, {
      maxItems: 3,
      listType: 'map',
      keys: ['tier'],
    }),
    telemetry: telemetryStatus,
    incidents,
    stake,
    agent: agentStatus,
  }),
  rootRules: [],
  selectableFields: ['.spec.region', '.status.phase'],
  printerColumns: [
    { name: 'Region', type: 'string', jsonPath: '.spec.region', description: 'Region of the GPUs.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Health summary.' },
    { name: 'GPUs', type: 'integer', jsonPath: '.status.totalGpus', description: 'GPUs in the pool.' },
    { name: 'Available', type: 'integer', jsonPath: '.status.availableGpus', description: 'Free GPUs.' },
    { name: 'Reputation', type: 'string', jsonPath: '.status.reputation', description: 'Score in [0, 1].' },
    {
      name: 'Provider',
      type: 'string',
      jsonPath: '.spec.provider.address',
      description: 'Provider address.',
      priority: 1,
    },
    { name: 'Jurisdiction', type: 'string', jsonPath: '.spec.jurisdiction', description: 'Jurisdiction.', priority: 1 },
    {
      name: 'Access',
      type: 'string',
      jsonPath: '.spec.cluster.mode',
      description: 'How the hub reaches it.',
      priority: 1,
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
