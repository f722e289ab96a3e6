import test from 'ava';
import type { ProviderPoolObject } from '../../../operator/api/resources.ts';
import type { InferenceJobSpec, ProviderPoolSpec, TrainingJobSpec } from '../../../operator/api/types.gen.ts';
import {
  boundedRejections,
  type Demand,
  demandOf,
  eligibleClasses,
  match,
  mebibytes,
  noFitMessage,
  type OfferClass,
  offerFromPool,
  type PoolOffer,
  type Rejection,
} from '../../../operator/scheduling/match.ts';
import { EU_MEMBER_STATES, residencyAllows } from '../../../operator/scheduling/residency.ts';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const L4 = 'NVIDIA-L4';

const poolSpec = (o: Partial<ProviderPoolSpec> = {}): ProviderPoolSpec => ({
  provider: { address: `0x${'1'.repeat(40)}` },
  region: 'eu-west',
  jurisdiction: 'DE',
  cluster: { mode: 'Local' },
  baseRates: [
    { gpuProduct: H100, pricePerGpuHour: '2.00' },
    { gpuProduct: H100, mode: 'Confidential', pricePerGpuHour: '3.00' },
    { gpuProduct: L4, pricePerGpuHour: '0.50' },
  ],
  ...o,
});
const cls = (o: Partial<OfferClass> = {}): OfferClass => ({
  product: H100,
  mode: 'container',
  resourceName: 'nvidia.com/gpu',
  memoryMiB: 81559,
  allocatable: 16,
  free: 16,
  largestFreeBlock: 8,
  ...o,
});
const snpCls = (o: Partial<OfferClass> = {}) =>
  cls({ mode: 'confidential', resourceName: 'nvidia.com/pgpu', tee: 'snp', ...o });
const offer = (name: string, o: Partial<PoolOffer> = {}): PoolOffer => ({
  name,
  spec: poolSpec(),
  ready: true,
  classes: [cls()],
  runtimeClasses: [],
  utilization: { used: 0, total: 16 },
  ...o,
});
const demand = (o: Partial<Demand> = {}): Demand => ({
  tier: 'BestEffort',
  pods: 1,
  gpusPerPod: 1,
  gpuProducts: [],
  confidential: { required: false, teeTypes: [], gpuAttestation: false },
  regions: [],
  dataResidency: [],
  priceCap: '10',
  ...o,
});
const confidential = (teeTypes: Array<'snp' | 'tdx'> = [], gpuAttestation = true) => ({
  confidential: { required: true, teeTypes, gpuAttestation },
});
const snpRuntime = { runtimeClassName: 'kata-qemu-nvidia-gpu-snp', teeType: 'snp' as const };
const tdxRuntime = { runtimeClassName: 'kata-qemu-nvidia-gpu-tdx', teeType: 'tdx' as const };
/** The one rejection of a single pool. */
const only = (d: Demand, o: PoolOffer): Rejection => {
  const { candidates, rejections } = match(d, [o]);
  if (candidates.length || rejections.length !== 1)
    throw new Error(`expected one rejection: ${JSON.stringify(rejections)}`);
  return rejections[0]!;
};

const inference = (o: Partial<InferenceJobSpec> = {}): InferenceJobSpec => ({
  model: { id: 'm', hash: `sha256:${'a'.repeat(64)}` },
  runtime: { engine: 'vLLM' },
  resources: { gpus: 2 },
  sla: { priceCap: '3.5' },
  payment: { requester: `0x${'2'.repeat(40)}`, escrowId: `0x${'3'.repeat(64)}` },
  ...o,
});
const training = (o: Partial<TrainingJobSpec> = {}): TrainingJobSpec => ({
  mode: 'Distributed',
  runtime: { engine: 'PyTorch' },
  resources: { gpus: 8 },
  sla: { priceCap: '3.5' },
  payment: { requester: `0x${'2'.repeat(40)}`, escrowId: `0x${'3'.repeat(64)}` },
  ...o,
});

// --- demandOf ---------------------------------------------------------------------------

test('demandOf reads an InferenceJob: replicas, memory, confidential defaults, latency', (t) => {
  const d = demandOf(
    inference({
      replicas: 3,
      resources: { gpus: 2, gpuProducts: [H100], minGpuMemory: '80Gi' },
      sla: { tier: 'Premium', priceCap: '3.5', maxLatencyMs: 200, regions: ['eu-west'], dataResidency: ['EU'] },
      confidential: { required: true, teeTypes: ['snp'] },
    }),
    'InferenceJob',
  );
  t.deepEqual(d, {
    tier: 'Premium',
    pods: 3,
    gpusPerPod: 2,
    gpuProducts: [H100],
    minGpuMemoryMiB: 81920,
    confidential: { required: true, teeTypes: ['snp'], gpuAttestation: true },
    regions: ['eu-west'],
    dataResidency: ['EU'],
    maxLatencyMs: 200,
    priceCap: '3.5',
  });
});

test('demandOf defaults: BestEffort, one pod, no confidential, no latency', (t) => {
  const d = demandOf(inference(), 'InferenceJob');
  t.is(d.tier, 'BestEffort');
  t.is(d.pods, 1);
  t.deepEqual(d.confidential, { required: false, teeTypes: [], gpuAttestation: false });
  t.false('minGpuMemoryMiB' in d);
  t.false('maxLatencyMs' in d);
  t.is(
    demandOf(inference({ confidential: { required: true, gpuAttestation: false } }), 'InferenceJob').confidential
      .gpuAttestation,
    false,
  );
});

test('demandOf pods: autoscaling minReplicas, at least one; Distributed workers; Federated one', (t) => {
  t.is(demandOf(inference({ autoscaling: { minReplicas: 2, maxReplicas: 4 } }), 'InferenceJob').pods, 2);
  t.is(demandOf(inference({ autoscaling: { minReplicas: 0, maxReplicas: 4 } }), 'InferenceJob').pods, 1);
  t.is(demandOf(inference({ replicas: 0 }), 'InferenceJob').pods, 1);
  t.is(demandOf(training({ workers: 4 }), 'TrainingJob').pods, 4);
  t.is(demandOf(training(), 'TrainingJob').pods, 1);
  t.is(demandOf(training({ mode: 'Federated', workers: 5, federated: { rounds: 3 } }), 'TrainingJob').pods, 1);
  t.is(demandOf(training({ workers: 4 }), 'TrainingJob').gpusPerPod, 8);
  // maxLatencyMs is an InferenceJob field
  t.false('maxLatencyMs' in demandOf(training({ sla: { priceCap: '1', maxLatencyMs: 10 } }), 'TrainingJob'));
});

test('GPU memory quantities are exact; a minimum rounds up to whole MiB', (t) => {
  t.is(demandOf(inference({ resources: { gpus: 1, minGpuMemory: '40G' } }), 'InferenceJob').minGpuMemoryMiB, 38147);
  t.is(mebibytes('80Gi', 'ceil', 'x'), 81920);
  t.is(mebibytes('81559Mi', 'floor', 'x'), 81559);
  t.is(mebibytes('1.5Gi', 'ceil', 'x'), 1536);
  t.is(mebibytes('40e9', 'ceil', 'x'), 38147);
  t.is(mebibytes('40e9', 'floor', 'x'), 38146);
  t.is(mebibytes(85899345920, 'ceil', 'x'), 81920);
  t.is(mebibytes('1048577', 'ceil', 'x'), 2);
  t.throws(() => mebibytes('80GB', 'ceil', 'spec.resources.minGpuMemory'), {
    instanceOf: RangeError,
    message: /^spec\.resources\.minGpuMemory must be a Kubernetes quantity/,
  });
  t.throws(() => mebibytes('-1Gi', 'ceil', 'x'), { instanceOf: RangeError, message: /negative/ });
});

test('demandOf refuses a malformed priceCap, naming the field', (t) => {
  t.throws(() => demandOf(inference({ sla: { priceCap: '2,5' } }), 'InferenceJob'), {
    instanceOf: RangeError,
    message: /^spec\.sla\.priceCap must be a decimal NVDAx amount/,
  });
});

// --- offerFromPool ----------------------------------------------------------------------

const poolObject = (status: ProviderPoolObject['status']): ProviderPoolObject =>
  ({
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name: 'acme' },
    spec: poolSpec(),
    status,
  }) as ProviderPoolObject;

test('offerFromPool reads status capacity: one class per TEE, memory, free, utilization', (t) => {
  const o = offerFromPool(
    poolObject({
      phase: 'Ready',
      runtimeClasses: ['kata-qemu-nvidia-gpu-snp'],
      capacity: [
        {
          gpuProduct: H100,
          mode: 'Container',
          resourceName: 'nvidia.com/gpu',
          gpuMemory: '81559Mi',
          allocatable: 16,
          inUse: 12,
          available: 4,
          largestFreeBlock: 3,
        },
        {
          gpuProduct: H100,
          mode: 'Confidential',
          resourceName: 'nvidia.com/pgpu',
          gpuMemory: '80Gi',
          allocatable: 8,
          available: 8,
          largestFreeBlock: 8,
          teeTypes: ['tdx', 'snp'],
        },
      ],
    }),
  );
  t.is(o.name, 'acme');
  t.true(o.ready);
  t.false('notReady' in o);
  t.deepEqual(o.runtimeClasses, ['kata-qemu-nvidia-gpu-snp']);
  t.deepEqual(o.classes, [
    cls({ memoryMiB: 81559, allocatable: 16, free: 4, largestFreeBlock: 3 }),
    snpCls({ memoryMiB: 81920, allocatable: 8, free: 8, largestFreeBlock: 8, tee: 'snp' }),
    snpCls({ memoryMiB: 81920, allocatable: 8, free: 8, largestFreeBlock: 8, tee: 'tdx' }),
  ]);
  // each status entry counted once: 12 of 24 in use
  t.deepEqual(o.utilization, { used: 12, total: 24 });
});

test('offerFromPool: not ready unless phase Ready; extra overrides classes, readiness and latency', (t) => {
  const degraded = offerFromPool(poolObject({ phase: 'Degraded' }));
  t.false(degraded.ready);
  t.is(degraded.notReady, 'phase Degraded');
  t.deepEqual(degraded.classes, []);
  t.is(offerFromPool(poolObject(undefined)).notReady, 'phase Pending');
  const given = offerFromPool(poolObject({ phase: 'Ready' }), {
    classes: [cls({ allocatable: 8, free: 2 })],
    ready: false,
    notReady: 'member cluster not synced',
    observedLatencyMs: 120,
  });
  t.false(given.ready);
  t.is(given.notReady, 'member cluster not synced');
  t.is(given.observedLatencyMs, 120);
  t.deepEqual(given.utilization, { used: 6, total: 8 });
});

// --- predicates, in order ---------------------------------------------------------------

test('each predicate names its reason and what the pool lacks', (t) => {
  const cases: Array<[string, Demand, PoolOffer, Rejection['reason'], string]> = [
    ['not ready', demand(), offer('p', { ready: false, notReady: 'phase Degraded' }), 'PoolNotReady', 'phase Degraded'],
    [
      'cordoned',
      demand(),
      offer('p', { spec: poolSpec({ unschedulable: true }) }),
      'Unschedulable',
      'pool is unschedulable (spec.unschedulable)',
    ],
    [
      'tier',
      demand({ tier: 'Premium' }),
      offer('p', { spec: poolSpec({ tiers: ['Reserved', 'BestEffort'] }) }),
      'TierNotOffered',
      'tier Premium not offered (BestEffort, Reserved)',
    ],
    [
      'region',
      demand({ regions: ['us-east', 'us-west'] }),
      offer('p'),
      'RegionMismatch',
      'region eu-west not in us-east, us-west',
    ],
    ['residency', demand({ dataResidency: ['CH'] }), offer('p'), 'ResidencyMismatch', 'jurisdiction DE not in CH'],
    ['no runtime', demand(confidential()), offer('p'), 'NoConfidentialRuntime', 'offers no confidential runtime'],
    [
      'runtime absent from member',
      demand(confidential()),
      offer('p', { spec: poolSpec({ confidentialRuntimes: [snpRuntime] }) }),
      'NoConfidentialRuntime',
      'confidential runtime kata-qemu-nvidia-gpu-snp not present in the member cluster',
    ],
    [
      'tee',
      demand(confidential(['tdx'])),
      offer('p', {
        spec: poolSpec({ confidentialRuntimes: [snpRuntime] }),
        runtimeClasses: [snpRuntime.runtimeClassName],
      }),
      'TeeMismatch',
      'offers snp not tdx',
    ],
    [
      'gpu attestation',
      demand(confidential()),
      offer('p', {
        spec: poolSpec({ confidentialRuntimes: [{ ...snpRuntime, gpuAttestation: false }] }),
        runtimeClasses: [snpRuntime.runtimeClassName],
        classes: [snpCls()],
      }),
      'GpuAttestationUnavailable',
      'no GPU attestation on kata-qemu-nvidia-gpu-snp',
    ],
    ['mode', demand(), offer('p', { classes: [snpCls()] }), 'ModeMismatch', 'no container GPUs (has confidential)'],
    ['product', demand({ gpuProducts: [L4] }), offer('p'), 'ProductMismatch', `${H100} not in ${L4}`],
    [
      'memory',
      demand({ minGpuMemoryMiB: 143_771 }),
      offer('p'),
      'GpuMemoryTooSmall',
      `${H100} memory 81559Mi below 143771Mi`,
    ],
    [
      'base rate',
      demand(),
      offer('p', { classes: [cls({ product: 'NVIDIA-A100-SXM4-80GB' })] }),
      'NoBaseRate',
      'no base rate for NVIDIA-A100-SXM4-80GB (Container)',
    ],
    [
      'block',
      demand({ gpusPerPod: 8 }),
      offer('p', { classes: [cls({ free: 12, largestFreeBlock: 6 })] }),
      'InsufficientGpus',
      `no node with 8 free ${H100}`,
    ],
    [
      'total',
      demand({ pods: 4, gpusPerPod: 2 }),
      offer('p', { classes: [cls({ free: 3, largestFreeBlock: 3 })] }),
      'InsufficientGpus',
      'needs 4 × 2 GPUs, 3 free',
    ],
    [
      'latency',
      demand({ maxLatencyMs: 200 }),
      offer('p', { observedLatencyMs: 250 }),
      'LatencyTooHigh',
      'p95 latency 250ms above 200ms',
    ],
    [
      'price',
      demand({ priceCap: '3' }),
      offer('p', { spec: poolSpec({ baseRates: [{ gpuProduct: H100, pricePerGpuHour: '4.05' }] }) }),
      'PriceCapExceeded',
      'price 4.10 above cap 3.00',
    ],
  ];
  for (const [name, d, o, reason, message] of cases) {
    t.deepEqual(only(d, o), { pool: 'p', reason, message }, name);
  }
});

test('the first failing predicate is the one reported', (t) => {
  // not ready beats everything after it
  const r1 = only(demand({ regions: ['us-east'], tier: 'Premium' }), offer('p', { ready: false, notReady: 'x' }));
  t.is(r1.reason, 'PoolNotReady');
  // tier before region
  const r2 = only(
    demand({ regions: ['us-east'], tier: 'Premium' }),
    offer('p', { spec: poolSpec({ tiers: ['BestEffort'] }) }),
  );
  t.is(r2.reason, 'TierNotOffered');
  // region before residency
  t.is(only(demand({ regions: ['us-east'], dataResidency: ['US'] }), offer('p')).reason, 'RegionMismatch');
  // capacity before latency and price
  const r3 = only(
    demand({ gpusPerPod: 8, maxLatencyMs: 10, priceCap: '0.1' }),
    offer('p', { observedLatencyMs: 50, classes: [cls({ largestFreeBlock: 4 })] }),
  );
  t.is(r3.reason, 'InsufficientGpus');
  // latency before price
  t.is(
    only(demand({ maxLatencyMs: 10, priceCap: '0.1' }), offer('p', { observedLatencyMs: 50 })).reason,
    'LatencyTooHigh',
  );
});

test('a malformed base rate refuses that pool only', (t) => {
  const bad = offer('bad', { spec: poolSpec({ baseRates: [{ gpuProduct: H100, pricePerGpuHour: 'cheap' }] }) });
  const { candidates, rejections } = match(demand(), [bad, offer('good')]);
  t.deepEqual(
    candidates.map((c) => c.pool),
    ['good'],
  );
  t.is(rejections[0]?.reason, 'NoBaseRate');
  t.regex(rejections[0]?.message ?? '', /^base rate for NVIDIA-H100-80GB-HBM3 \(Container\) must be a decimal/);
});

test('with several classes the one that got furthest gives the reason', (t) => {
  const o = offer('p', {
    classes: [cls({ product: L4, memoryMiB: 23034 }), cls({ free: 1, largestFreeBlock: 1 })],
  });
  // L4 stops at memory, H100 at capacity: capacity is further
  t.deepEqual(only(demand({ minGpuMemoryMiB: 40_000, gpusPerPod: 2 }), o), {
    pool: 'p',
    reason: 'InsufficientGpus',
    message: `no node with 2 free ${H100}`,
  });
  t.deepEqual(eligibleClasses(demand({ minGpuMemoryMiB: 40_000, gpusPerPod: 2 }), o), [o.classes[1]]);
});

test('a pool yields one candidate: its cheapest fitting class, ties by more free GPUs', (t) => {
  const o = offer('p', { classes: [cls(), cls({ product: L4, memoryMiB: 23034, free: 4, largestFreeBlock: 4 })] });
  const { candidates } = match(demand(), [o]);
  t.is(candidates.length, 1);
  t.is(candidates[0]?.cls.product, L4);
  t.is(candidates[0]?.quote.price, '0.55');
  const twins = offer('p', {
    classes: [cls({ resourceName: 'a', free: 2 }), cls({ resourceName: 'b', free: 6 })],
  });
  t.is(match(demand(), [twins]).candidates[0]?.cls.resourceName, 'b');
});

test('candidates rank by price, then latency (unknown last), then free GPUs, then name', (t) => {
  const rate = (r: string) => poolSpec({ baseRates: [{ gpuProduct: H100, pricePerGpuHour: r }] });
  const offers = [
    offer('e-cheap', { spec: rate('1.00') }),
    offer('d-nolatency', { spec: rate('2.00') }),
    offer('c-slow', { spec: rate('2.00'), observedLatencyMs: 90 }),
    offer('b-fast', { spec: rate('2.00'), observedLatencyMs: 40 }),
    offer('a-fast-busy', { spec: rate('2.00'), observedLatencyMs: 40, classes: [cls({ free: 9 })] }),
    offer('z-fast-idle', { spec: rate('2.00'), observedLatencyMs: 40, classes: [cls({ free: 16 })] }),
  ];
  const { candidates, rejections } = match(demand(), offers);
  t.deepEqual(rejections, []);
  t.deepEqual(
    candidates.map((c) => c.pool),
    ['e-cheap', 'b-fast', 'z-fast-idle', 'a-fast-busy', 'c-slow', 'd-nolatency'],
  );
  t.is(candidates[1]?.latencyMs, 40);
  t.false('latencyMs' in (candidates[5] ?? {}));
});

test('against a latency SLA, the pool with worse latency history is priced higher and ranked lower', (t) => {
  const offers = [offer('slow', { observedLatencyMs: 240 }), offer('fast', { observedLatencyMs: 60 })];
  const { candidates } = match(demand({ maxLatencyMs: 300 }), offers);
  t.deepEqual(
    candidates.map((c) => [c.pool, c.quote.latencyFactor, c.quote.price]),
    [
      ['fast', '1.05', '2.15'], // 2 × (1 + 0.25 × 60/300) + 0.05
      ['slow', '1.20', '2.45'], // 2 × (1 + 0.25 × 240/300) + 0.05
    ],
  );
});

test('a job whose task is open goes only to pools of that task provider (ProviderMismatch otherwise)', (t) => {
  const mine = '0x976EA74026E726554dB657fA54763abd0C3a0aa9';
  const offers = [
    offer('other', { spec: poolSpec({ provider: { address: '0x14dC79964da2C08b23698B3D3cc7Ca32193d9955' } }) }),
    offer('same', { spec: poolSpec({ provider: { address: mine.toLowerCase() } }) }),
  ];
  const { candidates, rejections } = match({ ...demand(), provider: mine }, offers);
  t.deepEqual(
    candidates.map((c) => c.pool),
    ['same'],
  );
  t.deepEqual(
    rejections.map((r) => [r.pool, r.reason]),
    [['other', 'ProviderMismatch']],
  );
  t.regex(rejections[0]?.message ?? '', /the job's open task pays 0x976EA/);
  // without an open task any provider will do
  t.is(match(demand(), offers).candidates.length, 2);
});

test('the quote carries both factors and the prices compare exactly', (t) => {
  // load 12/16 → 1.25, latency 150/200 → 1.1875: 2 × 1.1875 × 1.25 + 0.05 = 3.01875
  const o = offer('p', { utilization: { used: 12, total: 16 }, observedLatencyMs: 150 });
  const [c] = match(demand({ maxLatencyMs: 200 }), [o]).candidates;
  t.deepEqual(c?.quote, {
    baseRate: '2.00',
    latencyFactor: '1.1875',
    loadFactor: '1.25',
    verifierFee: '0.05',
    price: '3.01875',
  });
  // 3.01875 is above 3.0187 and within 3.01875
  t.is(match(demand({ maxLatencyMs: 200, priceCap: '3.0187' }), [o]).rejections[0]?.reason, 'PriceCapExceeded');
  t.is(match(demand({ maxLatencyMs: 200, priceCap: '3.01875' }), [o]).candidates.length, 1);
  t.is(match(demand(), [o], { verifierFee: '0' }).candidates[0]?.quote.price, '2.50');
});

test('a confidential job gets a CC-ready class with a matching runtime, and that runtime', (t) => {
  const o = offer('p', {
    spec: poolSpec({ confidentialRuntimes: [snpRuntime, tdxRuntime] }),
    runtimeClasses: [snpRuntime.runtimeClassName, tdxRuntime.runtimeClassName],
    classes: [cls(), snpCls({ tee: 'tdx' }), snpCls()],
  });
  const any = match(demand(confidential()), [o]).candidates;
  t.is(any.length, 1);
  t.is(any[0]?.cls.mode, 'confidential');
  t.is(any[0]?.quote.baseRate, '3.00');
  const tdx = match(demand(confidential(['tdx'])), [o]).candidates[0];
  t.is(tdx?.cls.tee, 'tdx');
  t.is(tdx?.runtimeClassName, 'kata-qemu-nvidia-gpu-tdx');
  // a container job never gets a confidential class, nor a runtime
  const plain = match(demand(), [o]).candidates[0];
  t.is(plain?.cls.mode, 'container');
  t.false('runtimeClassName' in (plain ?? {}));
});

test('confidential GPUs not CC-ready, or on the wrong TEE, do not take a confidential job', (t) => {
  const spec = poolSpec({ confidentialRuntimes: [tdxRuntime] });
  const runtimeClasses = [tdxRuntime.runtimeClassName];
  const { tee: _, ...notReady } = snpCls();
  t.deepEqual(only(demand(confidential()), offer('p', { spec, runtimeClasses, classes: [notReady] })), {
    pool: 'p',
    reason: 'ModeMismatch',
    message: `confidential ${H100} GPUs not CC-ready`,
  });
  t.deepEqual(only(demand(confidential()), offer('p', { spec, runtimeClasses, classes: [snpCls()] })), {
    pool: 'p',
    reason: 'TeeMismatch',
    message: 'GPUs on snp nodes, runtimes for tdx',
  });
});

test('excluded pools are refused as Excluded', (t) => {
  const { candidates, rejections } = match(demand(), [offer('a'), offer('b')], undefined, { exclude: new Set(['a']) });
  t.deepEqual(
    candidates.map((c) => c.pool),
    ['b'],
  );
  t.is(rejections[0]?.reason, 'Excluded');
  t.is(rejections[0]?.pool, 'a');
  const withWhy = match(demand(), [offer('a')], undefined, { exclude: new Map([['a', 'lost in attempt 2']]) });
  t.deepEqual(withWhy.rejections, [{ pool: 'a', reason: 'Excluded', message: 'lost in attempt 2' }]);
});

test('rejections come sorted by pool name', (t) => {
  const { rejections } = match(demand({ regions: ['x'] }), [offer('c'), offer('a'), offer('b')]);
  t.deepEqual(
    rejections.map((r) => r.pool),
    ['a', 'b', 'c'],
  );
});

// --- messages ---------------------------------------------------------------------------

test('noFitMessage groups equal messages, most frequent first, then by message', (t) => {
  const r = (pool: string, message: string): Rejection => ({ pool, reason: 'InsufficientGpus', message });
  t.is(
    noFitMessage(
      [
        r('a', 'price 4.10 above cap 3.00'),
        r('b', `no node with 8 free ${H100}`),
        r('c', 'offers snp not tdx'),
        r('d', 'offers snp not tdx'),
      ],
      4,
    ),
    `0/4 pools: 2 offers snp not tdx, 1 no node with 8 free ${H100}, 1 price 4.10 above cap 3.00`,
  );
  t.is(noFitMessage([], 0), '0/0 pools: no ProviderPool exists');
});

test('boundedRejections keeps 16, by pool name', (t) => {
  const many = Array.from({ length: 20 }, (_, i) => ({
    pool: `p${String(19 - i).padStart(2, '0')}`,
    reason: 'RegionMismatch' as const,
    message: 'm',
  }));
  const b = boundedRejections(many);
  t.is(b.length, 16);
  t.is(b[0]?.pool, 'p00');
  t.is(b[15]?.pool, 'p15');
  t.is(boundedRejections(many, 3).length, 3);
  t.is(many[0]?.pool, 'p19', 'the input is not reordered');
});

// --- residency --------------------------------------------------------------------------

test('residency: empty allows any, EU means the 27 member states, other codes match exactly', (t) => {
  t.is(EU_MEMBER_STATES.size, 27);
  t.true(residencyAllows([], 'US'));
  t.true(residencyAllows(['EU'], 'DE'));
  t.true(residencyAllows(['EU'], 'GR'));
  t.true(residencyAllows(['EU'], 'HR'));
  t.false(residencyAllows(['EU'], 'EL'));
  t.false(residencyAllows(['EU'], 'CH'));
  t.false(residencyAllows(['EU'], 'NO'));
  t.false(residencyAllows(['EU'], 'GB'));
  t.true(residencyAllows(['CH', 'EU'], 'CH'));
  t.true(residencyAllows(['US'], 'US'));
  t.false(residencyAllows(['US'], 'DE'));
  t.false(residencyAllows(['DE'], 'EU'));
  const fr = offer('p', { spec: poolSpec({ jurisdiction: 'FR' }) });
  t.is(match(demand({ dataResidency: ['EU'] }), [fr]).candidates.length, 1);
});
