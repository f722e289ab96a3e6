// Benchmark: the pull-mode agent (provider-runtime/agent/main.ts, a child process, heartbeats signed) in a
// provider cluster of 200 GPU nodes and 500 pods (kwok; 250 of them the operator's), reporting to a hub.
// Measured from outside the agent: hub writes per heartbeat (the pool's resourceVersion changes against its
// heartbeat times, watched on the hub), the inventory's size, the agent's peak resident memory
// (/proc/<pid>/status VmHWM), and what a signed heartbeat costs to sign (the agent) and to check (the hub).
//   node bench/agent.ts HUB_KUBECONFIG PROVIDER_KUBECONFIG   (hack/bench.sh: the sims bench and bench-b)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Wallet } from 'ethers';
import YAML from 'yaml';
import { binDir } from '../hack/charts/helm.ts';
import { buildNodes } from '../hack/sim/nodes.ts';
import { providerPools } from '../operator/api/resources.ts';
import type { AgentStatus } from '../operator/api/types.gen.ts';
import { KubeClient } from '../operator/kube/client.ts';
import { type KubeObject, resources } from '../operator/kube/types.ts';
import { sleep, realClock } from '../operator/runtime/clock.ts';
import { slotGroupLabel } from '../operator/scheduling/snapshot.ts';
import { signHeartbeat, verifyHeartbeat } from '../operator/verification/heartbeat.ts';
import { telemetryDomain } from '../operator/verification/telemetry.ts';
import { fmt, pool as inParallel, report } from './kit.ts';

const NODES = Number(process.env['BENCH_AGENT_NODES'] ?? 200);
const PODS = Number(process.env['BENCH_AGENT_PODS'] ?? 500);
const BEATS = Number(process.env['BENCH_AGENT_BEATS'] ?? 15);
const [hubFile, providerFile] = process.argv.slice(2);
if (!hubFile || !providerFile) throw new Error('usage: node bench/agent.ts HUB_KUBECONFIG PROVIDER_KUBECONFIG');
const { say, table, save } = report('agent');
const client = (file: string, name: string) => {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return new KubeClient(kc, { name, qps: 0 });
};
const hub = client(hubFile, 'hub');
const provider = client(providerFile, 'provider');
const poolName = 'bench-agent';
const label = { 'nvdax.io/bench': poolName };
const key = Wallet.createRandom();
const domain = telemetryDomain(31337n, '0x5FbDB2315678afecb367f032d93F642f64180aa3');

// 1. The provider cluster: NODES GPU nodes (8 H100 each), PODS pods bound to them, half of them ours.
say(`== ${NODES} GPU nodes and ${PODS} pods in the provider cluster`);
const nodes = buildNodes(
  'bench-agent',
  { template: 'gpu-container', gpu: 'H100', count: NODES, labels: label },
  'eu-west',
  'z',
);
await inParallel(nodes as KubeObject[], 16, (n) =>
  provider.apply(resources.nodes, n, { fieldManager: 'bench', force: true }),
);
const ns = 'bench-agent';
await provider.apply(
  resources.namespaces,
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
  { fieldManager: 'bench' },
);
const pods = Array.from({ length: PODS }, (_, i) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `p-${i}`,
    namespace: ns,
    labels: (i % 2 === 0 ? { [slotGroupLabel]: `job-${i}-a1` } : { app: 'other-tenant' }) as Record<string, string>,
  },
  spec: {
    nodeName: nodes[i % NODES]?.metadata.name,
    tolerations: [{ operator: 'Exists' }],
    containers: [{ name: 'm', image: 'm', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
  },
}));
await inParallel(pods as KubeObject[], 16, (p) =>
  provider.apply(resources.pods, p, { fieldManager: 'bench', force: true }),
);

// 2. The hub: the CRDs; the pool registered by the agent from its manifest.
const kubectl = (...args: string[]) => {
  const r = spawnSync(join(binDir(), 'kubectl'), ['--kubeconfig', hubFile, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
};
kubectl('apply', '--server-side', '--force-conflicts', '-f', join(import.meta.dirname, '..', 'crds'));
kubectl('wait', '--for=condition=Established', 'crd/providerpools.nvdax.io', '--timeout=60s');
const dir = mkdtempSync(join(tmpdir(), 'nvdax-bench-agent-'));
writeFileSync(join(dir, 'key'), key.privateKey, { mode: 0o600 });
writeFileSync(
  join(dir, 'pool.yaml'),
  YAML.stringify({
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name: poolName },
    spec: {
      provider: { address: key.address },
      region: 'eu-west',
      jurisdiction: 'DE',
      cluster: { mode: 'Agent' },
      nodeSelector: label,
      baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' }],
    },
  }),
);
const intervalS = 2;
const agent = spawn(
  process.execPath,
  [
    join(import.meta.dirname, '..', 'provider-runtime', 'agent', 'main.ts'),
    ...['--hub-kubeconfig', hubFile, '--kubeconfig', providerFile, '--pool', poolName],
    ...['--pool-file', join(dir, 'pool.yaml'), '--heartbeat-interval', `${intervalS}s`],
    ...['--provider-key-file', join(dir, 'key'), '--chain-id', '31337'],
    ...['--settlement-address', String(domain.verifyingContract)],
    ...['--ops-bind-address', '127.0.0.1:0', '--log-level', 'warn'],
  ],
  { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NVDAX_LEADER_ELECT: 'false' } },
);
const hwm = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

// 3. Watch the pool on the hub: writes (resourceVersions) against heartbeats (heartbeatTime values).
type Pool = KubeObject & { status?: { agent?: AgentStatus } };
const seen = { versions: new Set<string>(), beats: new Set<string>(), last: undefined as Pool | undefined };
say(`== the agent reporting every ${intervalS}s; waiting for its first full inventory`);
const t0 = performance.now();
for (;;) {
  const p = await hub.get<Pool>(providerPools, poolName).catch(() => undefined);
  if ((p?.status?.agent?.nodes?.length ?? 0) >= NODES && (p?.status?.agent?.pods?.length ?? 0) >= PODS / 2) break;
  if (performance.now() - t0 > 180_000) throw new Error('no full inventory on the hub within 3 minutes');
  await sleep(realClock, 500);
}
const firstMs = performance.now() - t0;
say(`first full inventory on the hub after ${fmt(firstMs / 1000, 1)} s; now ${BEATS} heartbeats`);
while (seen.beats.size < BEATS + 1) {
  const p = await hub.get<Pool>(providerPools, poolName);
  seen.versions.add(p.metadata?.resourceVersion ?? '');
  seen.beats.add(p.status?.agent?.heartbeatTime ?? '');
  seen.last = p;
  await sleep(realClock, 200);
}
const rss = hwm();
agent.kill('SIGTERM');
const status = seen.last?.status?.agent ?? {};
const bytes = Buffer.byteLength(JSON.stringify(status));
// the hub's check of what it read, and the agent's signing, each timed alone
const time = async (n: number, fn: () => unknown) => {
  const s = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - s) / n;
};
const verifyMs = await time(20, () => verifyHeartbeat(domain, poolName, key.address, status));
const signMs = await time(20, () => signHeartbeat(key, domain, poolName, status));
// polled every 200 ms against a beat every 2 s: a second write within one beat would be seen
const writesPerBeat = (seen.versions.size - 1) / (seen.beats.size - 1);
table(
  ['nodes', 'pods (ours)', 'inventory', 'hub writes per heartbeat', 'agent peak RSS', 'sign (agent)', 'verify (hub)'],
  [
    [
      fmt(NODES),
      `${fmt(PODS)} (${fmt(status.pods?.length ?? 0)})`,
      `${fmt(bytes / 1024, 1)} KB`,
      fmt(writesPerBeat, 2),
      `${fmt(rss)} MiB`,
      `${fmt(signMs, 2)} ms`,
      `${fmt(verifyMs, 2)} ms`,
    ],
  ],
);
mkdirSync(join(import.meta.dirname, 'out'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'out', 'agent.json'),
  `${JSON.stringify({ nodes: NODES, pods: PODS, ours: status.pods?.length ?? 0, inventoryBytes: bytes, hubWritesPerHeartbeat: writesPerBeat, agentPeakRssMiB: rss, signMs, verifyMs, firstInventoryMs: firstMs }, null, 2)}\n`,
);
save();
await hub.delete(providerPools, poolName).catch(() => {});
// the provider cluster as it was: `make bench` runs the placement benchmark next on the same clusters, and
// these GPU nodes (no pool selects by label there) would take its jobs
await provider.delete(resources.namespaces, ns).catch(() => {});
await inParallel(nodes as KubeObject[], 16, (n) =>
  provider.delete(resources.nodes, n.metadata?.name ?? '').catch(() => {}),
);
await hub.destroy();
await provider.destroy();
process.exit(0);
