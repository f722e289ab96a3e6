// Measures the agent with a big cluster behind it: its resident memory and the hub writes per heartbeat
// with N kwok GPU nodes and M pods in its cluster (defaults 200 and 500). Uses two simulated clusters:
// the member (the agent's own) and the hub (CRDs, the pool's hub RBAC); cleans up after itself.
//   node hack/agent/measure.ts --dir .sim-agent --member gpu-a --hub gpu-b [--nodes 200] [--pods 500] [--seconds 60]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { buildNodes } from '../sim/nodes.ts';
import { binDirFromVersions } from '../sim/state.ts';
import { poolNamespace } from '../../operator/fleet/agent-work.ts';
import { JsonProc } from '../../test/helpers/runtime-kit.ts';
import { hubRbac } from './hub-rbac.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.sim' },
    member: { type: 'string', default: 'gpu-a' },
    hub: { type: 'string', default: 'hub' },
    nodes: { type: 'string', default: '200' },
    pods: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '60' },
    interval: { type: 'string', default: '10s' },
  },
});
const root = resolve(import.meta.dirname, '..', '..');
const dir = resolve(values.dir);
const kubeconfig = (c: string) => join(dir, c, 'kubeconfig');
const kubectlBin = join(binDirFromVersions(), 'kubectl');
const k = (c: string, args: string[], input?: string) =>
  execFileSync(kubectlBin, ['--kubeconfig', kubeconfig(c), ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...(input ? { input } : {}),
  });
const apply = (c: string, objs: object[]) =>
  k(
    c,
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    objs.map((o) => YAML.stringify(o, { version: '1.1' })).join('---\n'),
  );
const log = (m: string) => process.stderr.write(`[measure ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const run = `measure-${process.pid}`;
const pool = `${run}-pool`;
const label = { 'nvdax.io/test-run': run };
const ns = `${run}-load`;
const tmp = mkdtempSync(join(tmpdir(), 'nvdax-measure-'));
const nNodes = Number(values.nodes);
const nPods = Number(values.pods);

function metric(text: string, name: string, match: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(match).every(([a, b]) => labels[a] === b)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function main() {
  let agent: JsonProc | undefined;
  try {
    k(values.hub, ['apply', '--server-side', '--force-conflicts', '-f', join(root, 'crds')]);
    apply(values.hub, hubRbac(pool));
    const hubDoc = YAML.parse(readFileSync(kubeconfig(values.hub), 'utf8')) as {
      users: Array<{ user: Record<string, unknown> }>;
    };
    for (const u of hubDoc.users) u.user['as'] = `system:serviceaccount:${poolNamespace(pool)}:nvdax-agent`;
    writeFileSync(join(tmp, 'hub.kubeconfig'), YAML.stringify(hubDoc), { mode: 0o600 });
    writeFileSync(
      join(tmp, 'pool.yaml'),
      YAML.stringify({
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'ProviderPool',
        metadata: { name: pool, labels: label },
        spec: {
          provider: { address: '0x4444444444444444444444444444444444444444' },
          region: 'eu-west',
          jurisdiction: 'DE',
          cluster: { mode: 'Agent' },
          nodeSelector: label,
          baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.00' }],
        },
      }),
    );
    log(`creating ${nNodes} nodes and ${nPods} pods on ${values.member}`);
    const nodes = buildNodes(
      run,
      { template: 'gpu-container', gpu: 'H100', count: nNodes, labels: label },
      'eu-west',
      'eu-west-a',
    );
    for (let i = 0; i < nodes.length; i += 50) apply(values.member, nodes.slice(i, i + 50));
    k(values.member, ['create', 'namespace', ns]);
    apply(values.member, [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'load', namespace: ns },
        spec: {
          replicas: nPods,
          selector: { matchLabels: { app: 'load' } },
          template: {
            metadata: { labels: { app: 'load' } },
            spec: {
              nodeSelector: label,
              tolerations: [{ operator: 'Exists' }],
              containers: [{ name: 'c', image: 'load', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
            },
          },
        },
      },
    ]);
    for (;;) {
      const ready = Number(
        k(values.member, ['-n', ns, 'get', 'deployment', 'load', '-o', 'jsonpath={.status.readyReplicas}']) || 0,
      );
      if (ready >= nPods) break;
      await sleep(2000);
    }
    log('pods running; starting the agent');
    agent = new JsonProc(join(root, 'provider-runtime', 'agent', 'main.ts'), [
      '--hub-kubeconfig',
      join(tmp, 'hub.kubeconfig'),
      '--kubeconfig',
      kubeconfig(values.member),
      '--pool',
      pool,
      '--pool-file',
      join(tmp, 'pool.yaml'),
      '--heartbeat-interval',
      values.interval,
      '--no-leader-elect',
      '--ops-bind-address',
      '127.0.0.1:0',
      '--log-level',
      'info',
    ]);
    const port = Number((await agent.waitFor('ops port', (l) => l.msg === 'Serving health and metrics', 60_000)).port);
    // settle: the first heartbeat with the full inventory
    for (;;) {
      let n = 0;
      try {
        const p = JSON.parse(k(values.hub, ['get', 'providerpool', pool, '-o', 'json', '--ignore-not-found'])) as {
          status?: { agent?: { nodes?: unknown[] } };
        };
        n = p.status?.agent?.nodes?.length ?? 0;
      } catch {
        // not registered yet
      }
      if (n >= nNodes) break;
      await sleep(1000);
    }
    await sleep(5000);
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m0 = await scrape();
    const t0 = Date.now();
    const rss: number[] = [];
    const pid = agent.child.pid ?? 0;
    while (Date.now() - t0 < Number(values.seconds) * 1000) {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
      await sleep(2000);
    }
    const m1 = await scrape();
    const elapsed = (Date.now() - t0) / 1000;
    const writes = (t: string) =>
      ['PATCH', 'PUT', 'POST', 'DELETE'].reduce(
        (a, verb) => a + metric(t, 'rest_client_requests_total', { cluster: 'hub', verb }),
        0,
      );
    const reads = (t: string) =>
      ['GET', 'LIST', 'WATCH'].reduce(
        (a, verb) => a + metric(t, 'rest_client_requests_total', { cluster: 'hub', verb }),
        0,
      );
    const beats = elapsed / (Number.parseFloat(values.interval) || 10);
    const pool1 = k(values.hub, ['get', 'providerpool', pool, '-o', 'json']);
    const agentStatus = JSON.stringify((JSON.parse(pool1) as { status?: { agent?: unknown } }).status?.agent ?? {});
    const heap = metric(m1, 'nodejs_heap_size_used_bytes', {}) / 1024 / 1024;
    const result = {
      nodes: nNodes,
      pods: nPods,
      seconds: Math.round(elapsed),
      heartbeatInterval: values.interval,
      hubWrites: writes(m1) - writes(m0),
      hubReads: reads(m1) - reads(m0),
      heartbeats: Math.round(beats * 10) / 10,
      hubWritesPerHeartbeat: Math.round(((writes(m1) - writes(m0)) / beats) * 100) / 100,
      statusAgentBytes: agentStatus.length,
      poolObjectBytes: pool1.length,
      rssMiB: {
        min: Math.round(Math.min(...rss)),
        max: Math.round(Math.max(...rss)),
        last: Math.round(rss[rss.length - 1] ?? 0),
      },
      heapUsedMiB: Math.round(heap),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (agent && agent.child.exitCode === null) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    log('cleaning up');
    try {
      k(values.member, ['delete', 'namespace', ns, '--wait=false']);
      k(values.member, ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
      k(values.hub, ['delete', 'providerpool', pool, '--wait=false']);
      k(values.hub, ['delete', 'namespace', poolNamespace(pool), '--wait=false']);
      k(values.hub, ['delete', 'clusterrole,clusterrolebinding', `nvdax-agent-${pool}`]);
    } catch (e) {
      log(`clean-up: ${(e as Error).message}`);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
