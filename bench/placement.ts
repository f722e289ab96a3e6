// Benchmark: placement throughput and latency. For each size N (SIZES, default "1000,10000"):
//   1. GPU nodes on three member clusters (bench is also the hub), enough for N one-GPU jobs:
//      container H100 nodes (a tenth tainted nvidia.com/gpu, which our pods tolerate) and
//      confidential SNP nodes, with a tenth of the jobs confidential;
//   2. the ceiling: a plain script creates the same pods the operator would, straight into the
//      members, and we time them to Running;
//   3. the operator (a child process) places N InferenceJobs created on the hub; we time each
//      from create to Scheduled=True and to Running, count the operator's writes (API server
//      request counters, hub and members), and read its CPU time and peak RSS from /proc.
// Then jobs arriving at a steady STEADY_RATE (50/s) for STEADY_SECONDS (60): create→Scheduled.
// Writes bench/out/placement.json and bench/out/placement.md. A run of some sizes replaces those sizes
// there and keeps the others' (each entry says when it was measured), so `SIZES=10000` and `SIZES=1000`
// may run apart; each run's tables are also kept as bench/out/placement-<sizes>.md.
import { execFileSync, spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { buildNodes } from '../hack/sim/nodes.ts';
import { livePid } from '../hack/sim/procs.ts';
import { inferenceJobs, providerPools } from '../operator/api/resources.ts';
import type { InferenceJob } from '../operator/api/types.gen.ts';
import { KubeClient } from '../operator/kube/client.ts';
import { type KubeObject, resources } from '../operator/kube/types.ts';
import { inferenceObjects, initData } from '../operator/materialize/index.ts';
import { canonical } from '../operator/runtime/canonical.ts';
import { binDir } from '../test/helpers/sim.ts';
import { fmt, pool, report } from './kit.ts';

const kubeconfigs = process.argv.slice(2);
if (kubeconfigs.length !== 3) throw new Error('usage: node bench/placement.ts HUB_AND_A_KUBECONFIG B C');
const sizes = (process.env['SIZES'] ?? '1000,10000').split(',').map(Number);
const steadyRate = Number(process.env['STEADY_RATE'] ?? 50);
const steadySeconds = Number(process.env['STEADY_SECONDS'] ?? 60);
const { say, table, save } = report(`placement-${sizes.join('-')}`);
const root = join(import.meta.dirname, '..');

const kc = (file: string) => {
  const k = new KubeConfig();
  k.loadFromFile(file);
  return k;
};
const clients = kubeconfigs.map((f, i) => new KubeClient(kc(f), { name: `c${i}`, qps: 0 }));
const hub = clients[0]!;
const names = ['bench', 'bench-b', 'bench-c'];
const opNs = 'nvdax-system';
const jobsNs = 'bench-jobs';
const tenant = `nvdax-${jobsNs}`;
const ceilingNs = 'bench-ceiling';
/** A plain timer that keeps the process alive (the runtime clock's timers do not). */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const quiet = async <T>(p: Promise<T>) => p.catch(() => undefined);
const now = () => Date.now();
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) : 0;
};
const progress = (what: string, done: number, total: number, t0: number) =>
  process.stderr.write(`   ${what}: ${fmt(done)}/${fmt(total)} after ${fmt((now() - t0) / 1000, 1)} s\n`);

async function ensureNs(c: KubeClient, name: string) {
  await c.apply(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as KubeObject);
}

async function deleteAndWait(c: KubeClient, ns: string) {
  await quiet(c.delete(resources.namespaces, ns));
  while ((await quiet(c.get(resources.namespaces, ns))) !== undefined) await sleep(500);
}

/** Nodes for `jobs` one-GPU jobs over three clusters, 5 % spare. */
async function addNodes(jobs: number) {
  const confidentialJobs = Math.ceil(jobs / 10);
  const perCluster = (n: number) => Math.ceil((n * 1.05) / 8 / 3);
  const container = perCluster(jobs - confidentialJobs);
  const cc = perCluster(confidentialJobs);
  const label = { 'bench.nvdax.io/size': String(jobs) };
  for (const [i, c] of clients.entries()) {
    const nodes = [
      ...buildNodes(
        `b${jobs}-${i}`,
        {
          template: 'gpu-container',
          gpu: 'H100',
          count: container,
          tainted: Math.floor(container / 10),
          taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
          labels: label,
        },
        'eu-west',
        'eu-west-a',
      ),
      ...buildNodes(
        `b${jobs}-${i}`,
        { template: 'gpu-confidential', gpu: 'H100', tee: 'snp', count: cc, labels: label },
        'eu-west',
        'eu-west-a',
      ),
    ];
    await pool(nodes, 32, (n) => quiet(c.create(resources.nodes, n as unknown as KubeObject)));
    const t0 = now();
    for (;;) {
      const ready = (
        await c.listAll<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
          resources.nodes,
          { labelSelector: `bench.nvdax.io/size=${jobs}` },
        )
      ).items.filter((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length;
      if (ready >= nodes.length) break;
      progress(`${names[i]} nodes Ready`, ready, nodes.length, t0);
      await sleep(2000);
    }
  }
  return { container: container * 3, confidential: cc * 3 };
}

async function removeNodes(jobs: number) {
  for (const c of clients) {
    const list = (await c.listAll<KubeObject>(resources.nodes, { labelSelector: `bench.nvdax.io/size=${jobs}` })).items;
    await pool(list, 32, (n) => quiet(c.delete(resources.nodes, n.metadata?.name ?? '')));
  }
}

const image = `ghcr.io/nvdax/bench-model@sha256:${'ab'.repeat(32)}`;
function jobManifest(i: number, prefix: string): KubeObject & InferenceJob {
  const confidential = i % 10 === 0;
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name: `${prefix}-${i}`, namespace: jobsNs, labels: { bench: prefix } },
    spec: {
      model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
      runtime: { engine: 'Custom', image },
      resources: { gpus: 1, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
      sla: { priceCap: '100' },
      ...(confidential ? { confidential: { required: true, teeTypes: ['snp'] } } : {}),
      payment: { requester: `0x${'33'.repeat(20)}`, escrowId: `0x${'11'.repeat(32)}` },
    },
  } as KubeObject & InferenceJob;
}

/** The ceiling: the same pods, created straight into the members a third each, timed to Running. */
async function ceiling(n: number) {
  for (const c of clients) await ensureNs(c, ceilingNs);
  const pods = Array.from({ length: n }, (_, i) => {
    const job = jobManifest(i, 'ceil');
    const confidential = i % 10 === 0;
    const { deployment } = inferenceObjects(
      { kind: 'InferenceJob', namespace: ceilingNs, name: `ceil-${i}`, uid: `u-${i}` },
      job.spec,
      confidential
        ? {
            pool: 'p',
            attempt: 1,
            mode: 'confidential',
            resourceName: 'nvidia.com/pgpu',
            product: 'NVIDIA-H100-80GB-HBM3',
            tee: 'snp',
            runtimeClassName: 'kata-qemu-nvidia-gpu-snp',
            initData: initData({ kbsUrl: 'http://kbs-service.trustee-operator-system.svc:8080' }),
          }
        : {
            pool: 'p',
            attempt: 1,
            mode: 'container',
            resourceName: 'nvidia.com/gpu',
            product: 'NVIDIA-H100-80GB-HBM3',
          },
    );
    const t = (deployment as { spec: { template: { metadata: object; spec: object } } }).spec.template;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...t.metadata, name: `ceil-${i}`, namespace: ceilingNs },
      spec: t.spec,
    } as KubeObject;
  });
  const created = new Map<string, number>();
  const running = new Map<string, number>();
  const cpu0 = simCpu();
  const t0 = now();
  const done = new AbortController();
  clients.map(async (c) => {
    // ends when aborted (the watch throws then) or all are Running
    while (!done.signal.aborted) {
      try {
        for await (const ev of c.watch<KubeObject & { status?: { phase?: string } }>(resources.pods, {
          namespace: ceilingNs,
          signal: done.signal,
        })) {
          const name = ev.object.metadata?.name ?? '';
          if (ev.object.status?.phase === 'Running' && !running.has(name)) running.set(name, now());
          if (running.size >= n) return;
        }
      } catch {
        if (!done.signal.aborted) await sleep(200);
      }
    }
  });
  let i = 0;
  await pool(pods, 48, async (p) => {
    const c = clients[i++ % 3]!;
    created.set(p.metadata?.name ?? '', now());
    await c.create(resources.pods, p);
  });
  const createdIn = now() - t0;
  const tick = setInterval(() => progress('ceiling pods Running', running.size, n, t0), 10_000);
  while (running.size < n && now() - t0 < 1_800_000) await sleep(200);
  done.abort();
  clearInterval(tick);
  // the simulated clusters' CPU from the first create until all pods Running (not the cleanup after)
  const cpuToRunningS = [...cpuDelta(cpu0, simCpu()).values()].reduce((a, b) => a + b, 0);
  const last = Math.max(...running.values());
  const lat = [...running].map(([k, t]) => t - (created.get(k) ?? t0));
  for (const c of clients) await deleteAndWait(c, ceilingNs);
  return {
    podsRunningPerSec: n / ((last - t0) / 1000),
    createdPerSec: n / (createdIn / 1000),
    p99CreateToRunningMs: pct(lat, 99),
    cpuToRunningS,
  };
}

function procStats(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const cpuS = (Number(stat[11]) + Number(stat[12])) / 100;
  return { peakRssMiB: hwm, cpuS };
}

/** CPU seconds used so far by each simulated-cluster component of each cluster. */
function simCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const [i, f] of kubeconfigs.entries()) {
    const run = join(dirname(f), 'run');
    for (const file of readdirSync(run).filter((x) => x.endsWith('.pid'))) {
      const c = `${file.slice(0, -'.pid'.length)} (${i === 0 ? 'hub + member' : names[i]})`;
      const pid = livePid(join(run, file));
      const cpu = pid ? (quietSync(() => procStats(pid).cpuS) ?? 0) : 0;
      out.set(c, (out.get(c) ?? 0) + cpu);
    }
  }
  return out;
}
const quietSync = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch {
    return undefined;
  }
};
const cpuDelta = (a: Map<string, number>, b: Map<string, number>) =>
  new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)]));

/** A port free now for the operator's /metrics (a fixed one may be held by a stray earlier run). */
const opsPort = await new Promise<number>((resolve, reject) => {
  const srv = createServer();
  srv.once('error', reject);
  srv.listen(0, '127.0.0.1', () => {
    const port = (srv.address() as AddressInfo).port;
    srv.close(() => resolve(port));
  });
});
type Sample = { name: string; labels: Record<string, string>; value: number };
/** The operator's own Prometheus samples. */
async function operatorMetrics(): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  return text.split('\n').flatMap((line) => {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) return [];
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    return [{ name: m[1]!, labels, value: Number(m[3]) }];
  });
}
const sum = (xs: Sample[], name: string, f: (l: Record<string, string>) => boolean = () => true) =>
  xs.filter((x) => x.name === name && f(x.labels)).reduce((a, x) => a + x.value, 0);
const isWrite = (l: Record<string, string>) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(l['verb'] ?? '');

/** Where the operator's time went: its requests by cluster and verb, and each controller's queue. */
function diagnose(xs: Sample[], jobs: number) {
  const rows: string[][] = [];
  const keys = new Set(
    xs.filter((x) => x.name === 'rest_client_requests_total').map((x) => `${x.labels['cluster']}|${x.labels['verb']}`),
  );
  for (const k of [...keys].sort()) {
    const [cluster, verb] = k.split('|') as [string, string];
    const on = (l: Record<string, string>) => l['cluster'] === cluster && l['verb'] === verb;
    const n = sum(xs, 'rest_client_requests_total', on);
    const codes = xs
      .filter(
        (x) =>
          x.name === 'rest_client_requests_total' &&
          on(x.labels) &&
          x.labels['code'] !== '200' &&
          x.labels['code'] !== '201',
      )
      .map((x) => `${x.labels['code']}×${x.value}`)
      .join(' ');
    const mean =
      sum(xs, 'rest_client_request_duration_seconds_sum', on) /
      Math.max(1, sum(xs, 'rest_client_request_duration_seconds_count', on));
    rows.push([`${cluster} ${verb}`, fmt(n), fmt(n / jobs, 2), fmt(mean * 1000, 1), codes]);
  }
  const queues = new Set(xs.filter((x) => x.name === 'workqueue_adds_total').map((x) => x.labels['name'] ?? ''));
  const qrows: string[][] = [];
  for (const q of [...queues].sort()) {
    const on = (l: Record<string, string>) => l['name'] === q;
    const work = sum(xs, 'workqueue_work_duration_seconds_sum', on);
    const count = sum(xs, 'workqueue_work_duration_seconds_count', on);
    const wait = sum(xs, 'workqueue_queue_duration_seconds_sum', on);
    qrows.push([
      q,
      fmt(sum(xs, 'workqueue_adds_total', on)),
      fmt(count),
      fmt((work / Math.max(1, count)) * 1000, 1),
      fmt((wait / Math.max(1, count)) * 1000, 1),
      fmt(sum(xs, 'workqueue_retries_total', on)),
    ]);
  }
  const cycles = sum(xs, 'nvdax_placement_cycle_seconds_count');
  qrows.push([
    'placement cycles',
    fmt(cycles),
    fmt(sum(xs, 'nvdax_placement_decisions_total', (l) => l['result'] === 'placed')),
    fmt((sum(xs, 'nvdax_placement_cycle_seconds_sum') / Math.max(1, cycles)) * 1000, 1),
    '–',
    fmt(sum(xs, 'nvdax_placement_decisions_total', (l) => l['result'] === 'unplaced')),
  ]);
  return { rows, qrows };
}

const children = new Set<ReturnType<typeof spawn>>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
// an interrupted run leaves no operator behind (signals skip 'exit' handlers unless they exit)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

/** The operator's Node.js flags as the chart ships them (charts/nvdax-operator/values.yaml, nodeOptions). */
const chartNodeOptions =
  (parseYaml(readFileSync(join(root, 'charts', 'nvdax-operator', 'values.yaml'), 'utf8')) as { nodeOptions?: string[] })
    .nodeOptions ?? [];

async function startOperator() {
  const child = spawn(
    process.execPath,
    [
      ...chartNodeOptions,
      // BENCH_CPU_PROF=DIR: the operator's CPU profile (written when it stops) for `node --cpu-prof` tools
      ...(process.env['BENCH_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CPU_PROF']}`] : []),
      join(root, 'operator', 'main.ts'),
      '--kubeconfig',
      kubeconfigs[0]!,
      '--no-leader-elect',
      '--ops-bind-address',
      `127.0.0.1:${opsPort}`,
      '--log-level',
      'warn',
      '--max-concurrent-reconciles',
      process.env['BENCH_CONCURRENCY'] ?? '16',
      '--leader-election-namespace',
      opNs,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.add(child);
  child.once('exit', (code) => {
    children.delete(child);
    if (code && code !== 143) process.stderr.write(`operator exited with ${code}\n`);
  });
  return child;
}

async function pools() {
  await ensureNs(hub, opNs);
  for (const [i, f] of kubeconfigs.entries()) {
    if (i === 0) continue;
    await hub.apply(resources.secrets, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: names[i], namespace: opNs },
      stringData: { kubeconfig: readFileSync(f, 'utf8') },
    } as KubeObject);
  }
  for (const [i, name] of names.entries()) {
    await hub.apply(providerPools, {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'ProviderPool',
      metadata: { name },
      spec: {
        provider: { address: `0x${String(i + 1).repeat(40)}` },
        region: 'eu-west',
        jurisdiction: 'IE',
        cluster: i === 0 ? { mode: 'Local' } : { mode: 'KubeconfigSecret', secretRef: { name, namespace: opNs } },
        baseRates: [
          { gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: `2.${i}0` },
          { gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Confidential', pricePerGpuHour: `2.${i}5` },
        ],
        confidentialRuntimes: [{ runtimeClassName: 'kata-qemu-nvidia-gpu-snp', teeType: 'snp' }],
      },
    } as unknown as KubeObject);
  }
}

async function poolsReady() {
  const t0 = now();
  for (;;) {
    const ready = (await hub.listAll<KubeObject & { status?: { phase?: string } }>(providerPools)).items.filter(
      (p) => p.status?.phase === 'Ready',
    ).length;
    if (ready === 3) return;
    progress('pools Ready', ready, 3, t0);
    await sleep(2000);
  }
}

type Times = { created: Map<string, number>; scheduled: Map<string, number>; running: Map<string, number> };

/** Watches jobs on the hub and records when each is first seen Scheduled=True and Running. */
function track(stop: AbortSignal): Times {
  const t: Times = { created: new Map(), scheduled: new Map(), running: new Map() };
  void (async () => {
    while (!stop.aborted) {
      try {
        for await (const ev of hub.watch<KubeObject & InferenceJob>(inferenceJobs, {
          namespace: jobsNs,
          signal: stop,
        })) {
          const j = ev.object;
          const name = j.metadata?.name ?? '';
          const at = now();
          if (
            !t.scheduled.has(name) &&
            j.status?.conditions?.some((c) => c.type === 'Scheduled' && c.status === 'True')
          )
            t.scheduled.set(name, at);
          if (!t.running.has(name) && j.status?.phase === 'Running') t.running.set(name, at);
        }
      } catch {
        if (!stop.aborted) await sleep(200);
      }
    }
  })();
  return t;
}

const results: Array<Record<string, number>> = [];
const kubectl = (args: string[]) =>
  execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', kubeconfigs[0]!, ...args], { encoding: 'utf8' });
kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(root, 'crds')]);
kubectl(['wait', '--for=condition=Established', 'crd/inferencejobs.nvdax.io', '--timeout=60s']);
await ensureNs(hub, jobsNs);
await pools();
for (const n of sizes) {
  say(`## ${fmt(n)} one-GPU InferenceJobs over three member clusters`);
  const nodes = await addNodes(n);
  say(
    `Nodes: ${fmt(nodes.container)} container H100 ×8 (a tenth tainted), ${fmt(nodes.confidential)} SNP H100 ×8; Node ${process.version}.`,
  );
  process.stderr.write(`== ceiling: ${n} pods straight into the members\n`);
  const c0 = simCpu();
  const ceilStart = now();
  const ceil = await ceiling(n);
  const ceilCpu = cpuDelta(c0, simCpu());
  const ceilWall = (now() - ceilStart) / 1000;
  process.stderr.write(`== operator: ${n} InferenceJobs on the hub\n`);
  const op = await startOperator();
  await poolsReady();
  const stop = new AbortController();
  const times = track(stop.signal);
  await sleep(3000);
  const jobs = Array.from({ length: n }, (_, i) => jobManifest(i, `n${n}`));
  const o0 = simCpu();
  const opCpu0 = procStats(op.pid!).cpuS;
  const m0 = await operatorMetrics();
  const t0 = now();
  await pool(jobs, 48, async (j) => {
    times.created.set(j.metadata?.name ?? '', now());
    await hub.create(inferenceJobs, j);
  });
  const tick = setInterval(() => progress('jobs Running', times.running.size, n, t0), 10_000);
  // where the operator's resident memory is: V8's heap (committed and in use) and memory outside it
  const mem = { heapTotal: 0, heapUsed: 0, external: 0, rssAtHeapPeak: 0 };
  const memTick = setInterval(() => {
    void operatorMetrics()
      .then((xs) => {
        const mib = (name: string) => sum(xs, name) / 1048576;
        const heapTotal = mib('nodejs_heap_size_total_bytes');
        if (heapTotal > mem.heapTotal) {
          mem.heapTotal = heapTotal;
          mem.rssAtHeapPeak = mib('process_resident_memory_bytes');
        }
        mem.heapUsed = Math.max(mem.heapUsed, mib('nodejs_heap_size_used_bytes'));
        mem.external = Math.max(mem.external, mib('nodejs_external_memory_bytes'));
      })
      .catch(() => undefined);
  }, 15_000);
  while (times.running.size < n && now() - t0 < 3_600_000) {
    if (op.exitCode !== null)
      throw new Error(`the operator exited (${op.exitCode}) with ${times.running.size}/${n} Running`);
    await sleep(500);
  }
  clearInterval(tick);
  clearInterval(memTick);
  const last = Math.max(...times.running.values());
  const stats = procStats(op.pid!);
  const opCpu = cpuDelta(o0, simCpu());
  const opWall = (now() - t0) / 1000;
  const m1 = await operatorMetrics();
  const opWrites = (xs: Sample[], hubSide: boolean) =>
    sum(xs, 'rest_client_requests_total', (l) => isWrite(l) && (l['cluster'] === 'hub') === hubSide);
  const hubWrites = opWrites(m1, true) - opWrites(m0, true);
  const memberWrites = opWrites(m1, false) - opWrites(m0, false);
  const diag = diagnose(
    m1.map((x) => ({
      ...x,
      value: x.value - (m0.find((y) => y.name === x.name && canonical(y.labels) === canonical(x.labels))?.value ?? 0),
    })),
    n,
  );
  const lat = (m: Map<string, number>) => [...m].map(([k, t]) => t - (times.created.get(k) ?? t0));
  const statusWrites = (cause: string) => {
    const f = (l: Record<string, string>) => l['cause'] === cause;
    return sum(m1, 'nvdax_job_status_writes_total', f) - sum(m0, 'nvdax_job_status_writes_total', f);
  };
  const r = {
    jobs: n,
    jobsRunning: times.running.size,
    jobsRunningPerSec: times.running.size / ((last - t0) / 1000),
    ceilingPodsRunningPerSec: ceil.podsRunningPerSec,
    ratio: times.running.size / ((last - t0) / 1000) / ceil.podsRunningPerSec,
    // the operator's own writes (its client's counters), not the member controllers' that follow
    writesPerJob: (hubWrites + memberWrites) / n,
    hubWritesPerJob: hubWrites / n,
    memberWritesPerJob: memberWrites / n,
    // of the hub writes, the job controller's status writes by cause (metering alone is budgeted: --usage-meter-qps)
    changeStatusWritesPerJob: statusWrites('change') / n,
    progressStatusWritesPerJob: statusWrites('progress') / n,
    meteringStatusWritesPerJob: statusWrites('metering') / n,
    p50CreateToScheduledMs: pct(lat(times.scheduled), 50),
    p99CreateToScheduledMs: pct(lat(times.scheduled), 99),
    p50CreateToRunningMs: pct(lat(times.running), 50),
    p99CreateToRunningMs: pct(lat(times.running), 99),
    ceilingP99CreateToRunningMs: ceil.p99CreateToRunningMs,
    operatorCpuSeconds: stats.cpuS - opCpu0,
    operatorPeakRssMiB: stats.peakRssMiB,
    // sampled every 15 s: the most V8 heap committed (and resident memory then), in use, and outside the heap
    operatorPeakHeapTotalMiB: mem.heapTotal,
    operatorRssAtHeapPeakMiB: mem.rssAtHeapPeak,
    operatorPeakHeapUsedMiB: mem.heapUsed,
    operatorPeakExternalMiB: mem.external,
    // every process's CPU until all are Running, per job (operator included) and per ceiling pod
    cpuMsPerJob: (([...opCpu.values()].reduce((a, b) => a + b, 0) + stats.cpuS - opCpu0) * 1000) / n,
    ceilingCpuMsPerPod: (ceil.cpuToRunningS * 1000) / n,
  };
  results.push(r);
  save(); // what is measured is kept, whatever the cleanup after it does
  table(
    [
      'jobs',
      'Running/s',
      'ceiling pods Running/s',
      'ratio',
      'writes/job (hub + members)',
      'p50/p99 →Scheduled ms',
      'p50/p99 →Running ms',
      'operator CPU s',
      'peak RSS MiB',
    ],
    [
      [
        fmt(n),
        fmt(r.jobsRunningPerSec, 1),
        fmt(r.ceilingPodsRunningPerSec, 1),
        `${fmt(r.ratio * 100, 0)}%`,
        `${fmt(r.writesPerJob, 2)} (${fmt(r.hubWritesPerJob, 2)} + ${fmt(r.memberWritesPerJob, 2)})`,
        `${fmt(r.p50CreateToScheduledMs)} / ${fmt(r.p99CreateToScheduledMs)}`,
        `${fmt(r.p50CreateToRunningMs)} / ${fmt(r.p99CreateToRunningMs)}`,
        fmt(r.operatorCpuSeconds, 1),
        fmt(r.operatorPeakRssMiB),
      ],
    ],
  );
  // where the two cores went: a side bound by the members' components, not by the operator, shows here
  const comps = [...new Set([...ceilCpu.keys(), ...opCpu.keys()])].sort();
  say('CPU seconds by process, ceiling run vs operator run (two cores: 2 CPU-s a second at most):');
  table(
    ['process', `ceiling (${fmt(ceilWall)} s wall)`, `operator run (${fmt(opWall)} s wall)`],
    [
      ...comps.map((c) => [c, fmt(ceilCpu.get(c) ?? 0, 1), fmt(opCpu.get(c) ?? 0, 1)]),
      ['operator', '–', fmt(r.operatorCpuSeconds, 1)],
    ],
  );
  // a job path that needs X CPU-ms runs at most cores×1000/X jobs a second on this machine, however it is written
  const cores = availableParallelism();
  const capPerSec = (cores * 1000) / r.cpuMsPerJob;
  say(
    `CPU until all Running, every process: ${fmt(r.cpuMsPerJob)} ms a job against ${fmt(r.ceilingCpuMsPerPod)} ms a ` +
      `ceiling pod (${fmt(r.cpuMsPerJob / r.ceilingCpuMsPerPod, 1)}×). At that cost ${cores} cores run at most ` +
      `${fmt(capPerSec, 1)} jobs a second: ${fmt((capPerSec / r.ceilingPodsRunningPerSec) * 100, 0)}% of this ceiling.`,
  );
  say(
    `Operator memory (sampled every 15 s): V8 heap committed at most ${fmt(r.operatorPeakHeapTotalMiB)} MiB ` +
      `(resident ${fmt(r.operatorRssAtHeapPeakMiB)} MiB then), in use at most ${fmt(r.operatorPeakHeapUsedMiB)} MiB, ` +
      `outside the heap (buffers) at most ${fmt(r.operatorPeakExternalMiB)} MiB; resident peak ${fmt(r.operatorPeakRssMiB)} MiB.`,
  );
  say(
    `Job status writes a job: ${fmt(r.changeStatusWritesPerJob, 2)} change, ` +
      `${fmt(r.progressStatusWritesPerJob, 2)} progress, ${fmt(r.meteringStatusWritesPerJob, 2)} metering.`,
  );
  say("The operator's requests during the run (its client's counters):");
  table(['cluster verb', 'requests', 'per job', 'mean ms', 'other codes'], diag.rows);
  say('Work queues and placement cycles during the run (for cycles: count, jobs placed, mean decide ms, –, unplaced):');
  table(['queue', 'adds', 'processed', 'mean work ms', 'mean wait ms', 'retries'], diag.qrows);
  // steady arrivals on the largest size's warm operator only once, at the end
  if (n === sizes[sizes.length - 1] && steadySeconds > 0) {
    process.stderr.write(`== steady: ${steadyRate} jobs/s for ${steadySeconds} s\n`);
    await deleteAll(`n${n}`);
    const steady = Array.from({ length: steadyRate * steadySeconds }, (_, i) => jobManifest(i, 'steady'));
    // GPUs for every steady job: arrivals are what is measured, not a pool running dry
    await addNodes(steady.length);
    const s0 = now();
    for (const [i, j] of steady.entries()) {
      const due = s0 + (i * 1000) / steadyRate;
      if (due > now()) await sleep(due - now());
      times.created.set(j.metadata?.name ?? '', now());
      void hub.create(inferenceJobs, j);
    }
    while (
      steady.some((j) => !times.scheduled.has(j.metadata?.name ?? '')) &&
      now() - s0 < steadySeconds * 1000 + 120_000
    )
      await sleep(500);
    const sl = steady.map(
      (j) =>
        (times.scheduled.get(j.metadata?.name ?? '') ?? Infinity) - (times.created.get(j.metadata?.name ?? '') ?? 0),
    );
    const s = {
      steadyRate,
      steadySeconds,
      steadyJobs: steady.length,
      steadyP50CreateToScheduledMs: pct(sl, 50),
      steadyP99CreateToScheduledMs: pct(sl, 99),
    };
    results.push(s);
    save();
    say(
      `Steady arrivals, ${steadyRate} jobs/s for ${steadySeconds} s: create→Scheduled p50 ${fmt(s.steadyP50CreateToScheduledMs)} ms, p99 ${fmt(s.steadyP99CreateToScheduledMs)} ms.`,
    );
    say();
    await deleteAll('steady');
    await removeNodes(steady.length);
  } else {
    await deleteAll(`n${n}`);
  }
  stop.abort();
  if (op.exitCode === null && op.signalCode === null) {
    const exited = new Promise((r) => op.once('exit', r));
    op.kill('SIGTERM');
    await exited;
  }
  await removeNodes(n);
}

/** Deletes a batch of jobs and waits until the hub and the members hold none of them. */
async function deleteAll(prefix: string) {
  const t0 = now();
  // a hub still busy with thousands of steady jobs can time a list out: look again rather than end the run
  for (;;) {
    const list = await quiet(
      hub.listAll<KubeObject>(inferenceJobs, { namespace: jobsNs, labelSelector: `bench=${prefix}` }),
    );
    if (list) {
      await pool(list.items, 48, (j) => quiet(hub.delete(inferenceJobs, j.metadata?.name ?? '', jobsNs)));
      break;
    }
    if (now() - t0 > 600_000) throw new Error(`jobs ${prefix} not listed after 10 min`);
    await sleep(1000);
  }
  for (;;) {
    const left = (
      await quiet(hub.list(inferenceJobs, { namespace: jobsNs, labelSelector: `bench=${prefix}`, limit: 1 }))
    )?.items.length;
    if (left === 0) break;
    if (now() - t0 > 600_000) throw new Error(`jobs ${prefix} not deleted after 10 min`);
    await sleep(1000);
  }
  for (const c of clients) {
    for (;;) {
      const left = (await quiet(c.list(resources.pods, { namespace: tenant, limit: 1 })))?.items.length ?? 0;
      if (!left) break;
      await sleep(1000);
    }
  }
}

mkdirSync(join(import.meta.dirname, 'out'), { recursive: true });
save();
const outDir = join(import.meta.dirname, 'out');
const measuredAt = new Date().toISOString();
const previous = quietSync(
  () => JSON.parse(readFileSync(join(outDir, 'placement.json'), 'utf8')) as Array<Record<string, unknown>>,
);
const steadyRan = results.some((r) => 'steadyRate' in r);
const kept = (previous ?? []).filter((r) => ('steadyRate' in r ? !steadyRan : !sizes.includes(Number(r['jobs']))));
writeFileSync(
  join(outDir, 'placement.json'),
  `${JSON.stringify([...kept, ...results.map((r) => ({ ...r, measuredAt }))], null, 2)}\n`,
);
// placement.md: every size's latest tables, smallest run first (an older run of any size run now goes)
for (const f of readdirSync(outDir)) {
  const m = /^placement-([\d-]+)\.md$/.exec(f);
  if (m && m[1] !== sizes.join('-') && m[1]?.split('-').some((x) => sizes.includes(Number(x)))) {
    unlinkSync(join(outDir, f));
  }
}
const runs = readdirSync(outDir)
  .filter((f) => /^placement-[\d-]+\.md$/.test(f))
  .sort((a, b) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]));
writeFileSync(join(outDir, 'placement.md'), runs.map((f) => readFileSync(join(outDir, f), 'utf8')).join('\n'));
for (const c of clients) await c.close();
process.exit(0);
