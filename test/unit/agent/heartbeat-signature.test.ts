// Signed agent heartbeats (operator/verification/heartbeat.ts): the hub uses an agent pool's inventory only
// when the pool's provider signed exactly that heartbeat; what fails is named, the pool is not Ready with
// reason HeartbeatRefused, and an agent member with a refused heartbeat offers nothing to place on.
import test from 'ava';
import { Wallet } from 'ethers';
import { buildNodes, runtimeClasses } from '../../../hack/sim/nodes.ts';
import type { AgentStatus, ProviderPool } from '../../../operator/api/types.gen.ts';
import { desiredStatus } from '../../../operator/controllers/providerpool/status.ts';
import { buildInventory } from '../../../operator/fleet/agent-inventory.ts';
import { AgentMember } from '../../../operator/fleet/agent-member.ts';
import type { NodeView, RuntimeClassView } from '../../../operator/fleet/capacity.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import {
  inventoryHash,
  signHeartbeat,
  signWorkStatus,
  verifyHeartbeat,
  verifyWorkStatus,
} from '../../../operator/verification/heartbeat.ts';
import { telemetryDomain } from '../../../operator/verification/telemetry.ts';

const provider = new Wallet(`0x${'42'.repeat(32)}`);
const stranger = new Wallet(`0x${'43'.repeat(32)}`);
const domain = telemetryDomain(31337n, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
const nodes = buildNodes('n', { template: 'gpu-container', gpu: 'H100', count: 2 }, 'eu-west', 'z') as NodeView[];
const unsigned = (): AgentStatus => ({
  heartbeatTime: '2026-11-28T10:00:00Z',
  heartbeatInterval: '10s',
  ...buildInventory(nodes, [], runtimeClasses() as RuntimeClassView[]),
});

test("a heartbeat signed by the pool's provider verifies, also after the API server reorders its keys", async (t) => {
  const s = await signHeartbeat(provider, domain, 'gpu-a', unsigned());
  t.regex(s.signature ?? '', /^0x[0-9a-f]{130}$/);
  t.notThrows(() => verifyHeartbeat(domain, 'gpu-a', provider.address, s));
  // as read back: keys in another order (the hash is over canonical JSON)
  const reordered = JSON.parse(
    JSON.stringify(s, (_k, v) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    ),
  ) as AgentStatus;
  t.notDeepEqual(Object.keys(reordered), Object.keys(s));
  t.notThrows(() => verifyHeartbeat(domain, 'gpu-a', provider.address, reordered));
  t.is(inventoryHash(reordered), inventoryHash(s));
});

test('each way a heartbeat can be wrong is refused, naming the field', async (t) => {
  const s = await signHeartbeat(provider, domain, 'gpu-a', unsigned());
  const refused = (status: AgentStatus, field: string, why: RegExp, pool = 'gpu-a', addr = provider.address) => {
    const e = t.throws(() => verifyHeartbeat(domain, pool, addr, status));
    t.is((e as { field?: string }).field, field);
    t.regex(e?.message ?? '', why);
  };
  const { signature: _s, ...bare } = s;
  refused(bare, 'signature', /missing/);
  refused({ ...s, signature: '0x1234' }, 'signature', /130 hex/);
  // signed by someone else, for this pool
  refused(await signHeartbeat(stranger, domain, 'gpu-a', unsigned()), 'signature', /not the pool's provider/);
  // one more GPU claimed after signing
  const more = structuredClone(s);
  const n0 = more.nodes?.[0];
  if (n0?.allocatable) n0.allocatable['nvidia.com/gpu'] = 16;
  refused(more, 'signature', /not the pool's provider/);
  // an old heartbeat replayed with a fresh time
  refused({ ...s, heartbeatTime: '2026-11-28T10:05:00Z' }, 'signature', /not the pool's provider/);
  // another pool's heartbeat, or the same under another deployment's domain
  refused(s, 'signature', /not the pool's provider/, 'gpu-b');
  const other = await signHeartbeat(provider, telemetryDomain(1n, provider.address), 'gpu-a', unsigned());
  refused(other, 'signature', /not the pool's provider/);
  refused(s, 'provider', /not an address/, 'gpu-a', 'nobody');
  refused({ ...s, heartbeatTime: 'yesterday' }, 'heartbeatTime', /RFC 3339/);
});

test('a refused heartbeat keeps the agent member closed and the pool not Ready (HeartbeatRefused)', async (t) => {
  const clock = new FakeClock(Date.parse('2026-11-28T10:00:05Z'));
  const m = new AgentMember('gpu-a', clock);
  const s = await signHeartbeat(provider, domain, 'gpu-a', unsigned());
  m.observe(s, 60_000);
  t.true(m.ready());
  m.observe(s, 60_000, 'telemetry signature: recovers to 0xabc');
  t.false(m.ready(), 'nothing to place on');
  t.like(m.health(), { connected: false, error: 'telemetry signature: recovers to 0xabc' });
  const pool: ProviderPool = {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name: 'gpu-a', generation: 1 },
    spec: {
      provider: { address: provider.address },
      region: 'eu-west',
      jurisdiction: 'IE',
      cluster: { mode: 'Agent' },
      baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2' }],
    },
  };
  const st = desiredStatus(
    pool,
    { kind: 'HeartbeatRefused', message: 'telemetry signature: recovers to 0xabc' },
    clock.now(),
  );
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  t.like(ready, { status: 'False', reason: 'HeartbeatRefused' });
  t.regex(ready?.message ?? '', /heartbeat is refused: telemetry signature/);
  t.like(
    st.conditions?.find((c) => c.type === 'Connected'),
    { status: 'False', reason: 'HeartbeatRefused' },
  );
  t.not(st.phase, 'Ready');
});

test("a Work status counts only as its pool's provider signed it for that Work (usage is metered from it)", async (t) => {
  const status = {
    observedGeneration: 1,
    pods: [{ name: 'chat-a1-x', phase: 'Running', startTime: '2026-11-28T10:00:00Z', gpus: 2 }],
    updateTime: '2026-11-28T10:00:05Z',
  };
  const work = 'nvdax-pool-gpu-a/ij.jobs.chat.a1.p0';
  const s = await signWorkStatus(provider, domain, 'gpu-a', work, status);
  t.notThrows(() => verifyWorkStatus(domain, 'gpu-a', provider.address, work, s));
  // as the API server gives it back: keys in another order
  const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(s).reverse()))) as typeof s;
  t.notThrows(() => verifyWorkStatus(domain, 'gpu-a', provider.address, work, reordered));
  const refused = (x: object, why: RegExp, w = work, pool = 'gpu-a') => {
    const e = t.throws(() => verifyWorkStatus(domain, pool, provider.address, w, x));
    t.regex(e?.message ?? '', why);
  };
  refused(status, /missing/);
  // a pod said to have started an hour earlier (more GPU-seconds) after signing
  const earlier = structuredClone(s);
  if (earlier.pods[0]) earlier.pods[0].startTime = '2026-11-28T09:00:00Z';
  refused(earlier, /not the pool's provider/);
  refused(s, /not the pool's provider/, 'nvdax-pool-gpu-a/ij.jobs.other.a1.p0');
  refused(s, /not the pool's provider/, work, 'gpu-b');
  refused(await signWorkStatus(stranger, domain, 'gpu-a', work, status), /not the pool's provider/);
});
