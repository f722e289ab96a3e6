import test from 'ava';
import { desiredStatus, type Observation, ownedFields } from '../../../operator/controllers/providerpool/status.ts';
import { computeCapacity } from '../../../operator/fleet/capacity.ts';
import { buildNodes, runtimeClasses } from '../../../hack/sim/nodes.ts';
import type { ProviderPool } from '../../../operator/api/types.gen.ts';

const t0 = Date.parse('2026-11-27T10:00:00Z');
const ready = <T extends { status: object }>(n: T): T => ({
  ...n,
  status: { ...n.status, conditions: [{ type: 'Ready', status: 'True' }] },
});

function pool(spec: Partial<ProviderPool['spec']> = {}, status?: ProviderPool['status']): ProviderPool {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name: 'p', generation: 3 },
    spec: {
      provider: { address: '0x1111111111111111111111111111111111111111' },
      region: 'eu-west',
      jurisdiction: 'IE',
      cluster: { mode: 'Local' },
      baseRates: [
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Container', pricePerGpuHour: '2' },
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Confidential', pricePerGpuHour: '2.5' },
      ],
      confidentialRuntimes: [{ runtimeClassName: 'kata-qemu-nvidia-gpu-snp', teeType: 'snp' }],
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

const h100 = [
  ...buildNodes('a', { template: 'gpu-container', gpu: 'H100', count: 1 }, 'eu-west', 'z'),
  ...buildNodes('a', { template: 'gpu-confidential', gpu: 'H100', tee: 'snp', count: 1 }, 'eu-west', 'z'),
].map(ready);
const connected = (nodes = h100, rcs = runtimeClasses()): Observation => ({
  kind: 'Connected',
  capacity: computeCapacity(nodes, [], rcs),
  lastContact: t0,
});
const cond = (s: ReturnType<typeof desiredStatus>, type: string) => s.conditions?.find((c) => c.type === type);

test('connected with offered GPUs: Ready, ConfidentialReady, phase Ready, observedGeneration everywhere', (t) => {
  const s = desiredStatus(pool(), connected(), t0);
  t.is(s.phase, 'Ready');
  t.like(cond(s, 'Connected'), { status: 'True', reason: 'Connected', observedGeneration: 3 });
  t.like(cond(s, 'Ready'), { status: 'True', reason: 'GpusAvailable', message: '16 of 16 allocatable GPU(s) free' });
  t.like(cond(s, 'ConfidentialReady'), { status: 'True', reason: 'ConfidentialRuntimeAvailable' });
  t.is(s.observedGeneration, 3);
  t.is(s.totalGpus, 16);
  t.is(s.lastHeartbeatTime, '2026-11-27T10:00:00Z');
});

test('GPUs without a base rate are shown but not offered', (t) => {
  const s = desiredStatus(pool({ baseRates: [{ gpuProduct: 'NVIDIA-L4', pricePerGpuHour: '1' }] }), connected(), t0);
  t.like(cond(s, 'Ready'), { status: 'False', reason: 'NoGpuNodes' });
  t.regex(
    cond(s, 'Ready')?.message ?? '',
    /no base rate for the GPUs present \(NVIDIA-H100-80GB-HBM3.*add them to spec\.baseRates/,
  );
  t.is(s.capacity?.length, 2);
  t.is(s.availableGpus, 0);
  t.is(s.phase, 'Degraded');
});

test('unschedulable pools are not Ready but keep reporting capacity', (t) => {
  const s = desiredStatus(pool({ unschedulable: true }), connected(), t0);
  t.like(cond(s, 'Ready'), { status: 'False', reason: 'Unschedulable' });
  t.is(s.totalGpus, 16);
});

test('ConfidentialReady names a missing RuntimeClass and CC nodes that are not ready', (t) => {
  const s = desiredStatus(
    pool({ confidentialRuntimes: [{ runtimeClassName: 'kata-qemu-nvidia-gpu-tdx', teeType: 'tdx' }] }),
    connected(h100, []),
    t0,
  );
  t.like(cond(s, 'ConfidentialReady'), { status: 'False', reason: 'NoConfidentialRuntime' });
  t.regex(
    cond(s, 'ConfidentialReady')?.message ?? '',
    /RuntimeClass kata-qemu-nvidia-gpu-tdx not found in the member cluster/,
  );
  const off = buildNodes(
    'b',
    { template: 'gpu-confidential', gpu: 'H200', tee: 'snp', ccReady: false, count: 1 },
    'eu-west',
    'z',
  ).map(ready);
  const s2 = desiredStatus(pool(), connected(off), t0);
  t.regex(cond(s2, 'ConfidentialReady')?.message ?? '', /1 CC-capable node\(s\) not ready/);
  const s3 = desiredStatus(pool({ confidentialRuntimes: [] }), connected(), t0);
  t.like(cond(s3, 'ConfidentialReady'), {
    status: 'False',
    message: 'the pool offers no confidential runtime (spec.confidentialRuntimes is empty)',
  });
});

test('a lost cluster: Ready=False at once (Degraded), Disconnected after the heartbeat timeout, capacity kept', (t) => {
  const live = desiredStatus(pool({ heartbeatTimeout: '30s' }), connected(), t0);
  const lostPool = pool({ heartbeatTimeout: '30s' }, live);
  const lost: Observation = { kind: 'Unreachable', error: 'connect ECONNREFUSED 127.0.0.1:21032', lastContact: t0 };
  const soon = desiredStatus(lostPool, lost, t0 + 5_000);
  t.is(soon.phase, 'Degraded');
  t.like(cond(soon, 'Connected'), { status: 'False', reason: 'ConnectionFailed' });
  t.like(cond(soon, 'Ready'), {
    status: 'False',
    reason: 'ConnectionFailed',
    message: 'member cluster unreachable: connect ECONNREFUSED 127.0.0.1:21032',
  });
  t.is(cond(soon, 'ConfidentialReady')?.status, 'Unknown');
  t.deepEqual(soon.capacity, live.capacity);
  t.is(soon.lastHeartbeatTime, live.lastHeartbeatTime);
  const late = desiredStatus(pool({ heartbeatTimeout: '30s' }, soon), lost, t0 + 31_000);
  t.is(late.phase, 'Disconnected');
  t.is(cond(late, 'Ready')?.reason, 'HeartbeatTimeout');
  t.is(
    cond(late, 'Ready')?.lastTransitionTime,
    cond(soon, 'Ready')?.lastTransitionTime,
    'status did not change, so neither does the transition time',
  );
  const back = desiredStatus(
    pool({ heartbeatTimeout: '30s' }, late),
    { kind: 'Connected', capacity: computeCapacity(h100, [], runtimeClasses()), lastContact: t0 + 40_000 },
    t0 + 40_000,
  );
  t.is(back.phase, 'Ready');
  t.is(cond(back, 'Ready')?.lastTransitionTime, '2026-11-27T10:00:40Z');
});

test('missing Secret and Agent mode say what to do', (t) => {
  const s = desiredStatus(pool(), { kind: 'SecretMissing', message: 'Secret nvdax-system/x not found' }, t0);
  t.like(cond(s, 'Connected'), {
    status: 'False',
    reason: 'KubeconfigSecretMissing',
    message: 'Secret nvdax-system/x not found',
  });
  t.is(s.phase, 'Disconnected');
  const a = desiredStatus(
    pool({ cluster: { mode: 'Agent' } }),
    { kind: 'Connecting', message: "waiting for the first heartbeat of the pool's agent" },
    t0,
  );
  t.like(cond(a, 'Connected'), {
    status: 'Unknown',
    reason: 'Connecting',
    message: "waiting for the first heartbeat of the pool's agent",
  });
  t.is(a.phase, 'Pending');
});

test('while the first list is under way the pool stays Pending', (t) => {
  const s = desiredStatus(pool(), { kind: 'Syncing' }, t0);
  t.is(s.phase, 'Pending');
  t.is(cond(s, 'Connected')?.status, 'True');
});

test('status comparison ignores key order and the heartbeat time, not content', async (t) => {
  const { sameStatus } = await import('../../../operator/controllers/providerpool/controller.ts');
  const s = desiredStatus(pool(), connected(), t0);
  const reordered = JSON.parse(JSON.stringify(s, Object.keys(s).reverse())) as typeof s;
  const fromServer = Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(s)) as object).reverse()) as typeof s;
  t.true(sameStatus(s, fromServer));
  t.true(sameStatus(s, { ...s, lastHeartbeatTime: '2030-01-01T00:00:00Z' }));
  t.false(sameStatus(s, { ...s, availableGpus: 1 }));
  t.truthy(reordered);
});

test('Connecting: a new pool says Unknown; after a restart or failover the last conditions and phase stand; a down member times out from the last heartbeat in status', (t) => {
  const live = desiredStatus(pool({ heartbeatTimeout: '30s' }), connected(), t0);
  const fresh = desiredStatus(pool(), { kind: 'Connecting' }, t0);
  t.like(cond(fresh, 'Connected'), { status: 'Unknown', reason: 'Connecting' });
  t.is(fresh.phase, 'Pending');
  const restarted = desiredStatus(pool({ heartbeatTimeout: '30s' }, live), { kind: 'Connecting' }, t0 + 1_000);
  t.deepEqual(restarted.conditions, live.conditions, "the previous observer's conditions stand");
  t.is(restarted.phase, 'Ready');
  t.deepEqual(restarted.capacity, live.capacity);
  // the new process has no lastContact of its own; status says 5 s ago
  const down = desiredStatus(
    pool({ heartbeatTimeout: '30s' }, live),
    { kind: 'Unreachable', error: 'connect ECONNREFUSED' },
    t0 + 5_000,
  );
  t.is(down.phase, 'Degraded');
  t.is(cond(down, 'Ready')?.reason, 'ConnectionFailed');
  const later = desiredStatus(
    pool({ heartbeatTimeout: '30s' }, down),
    { kind: 'Unreachable', error: 'connect ECONNREFUSED' },
    t0 + 31_000,
  );
  t.is(later.phase, 'Disconnected');
});

test('a kubeconfig without permissions is AccessDenied, not a connection failure', (t) => {
  const s = desiredStatus(
    pool(),
    { kind: 'AccessDenied', message: 'list runtimeclasses: 403 Forbidden', lastContact: t0 },
    t0 + 1_000,
  );
  t.like(cond(s, 'Connected'), { status: 'False', reason: 'AccessDenied' });
  t.regex(cond(s, 'Connected')?.message ?? '', /lacks permissions: list runtimeclasses: 403 Forbidden/);
  t.is(s.phase, 'Degraded');
});

test('confidential and container GPUs are offered only with a base rate for their mode', (t) => {
  const s = desiredStatus(
    pool({ baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Container', pricePerGpuHour: '2' }] }),
    connected(),
    t0,
  );
  t.is(s.availableGpus, 8, 'only the container H100s are for sale');
  t.like(cond(s, 'Ready'), { status: 'True', message: '8 of 8 allocatable GPU(s) free' });
});

test('the status holds only the fields and condition types this controller owns', (t) => {
  const foreign = {
    stake: { amount: '100' },
    reputation: '0.9',
    activeJobs: 3,
    conditions: [
      {
        type: 'Staked',
        status: 'True' as const,
        reason: 'StakeVerified',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
  };
  for (const obs of [
    connected(),
    { kind: 'Connecting' } as Observation,
    { kind: 'Unreachable', error: 'refused' } as Observation,
  ]) {
    const s = desiredStatus(pool({}, foreign), obs, t0);
    t.deepEqual(
      Object.keys(s).filter((k) => !(ownedFields as readonly string[]).includes(k)),
      [],
      obs.kind,
    );
    t.false(s.conditions?.some((c) => c.type === 'Staked') ?? false, obs.kind);
  }
});
