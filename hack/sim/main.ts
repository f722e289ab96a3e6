#!/usr/bin/env node
// Simulated clusters on loopback: real etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (simulated NVIDIA GPU nodes), one set per cluster.
//   node hack/sim/main.ts up --clusters hub,gpu-a,gpu-b [--dir .sim] [--port-base 20000]
//   node hack/sim/main.ts down | status [--dir .sim]
//   node hack/sim/main.ts stop|start --cluster gpu-a --component kube-apiserver [--dir .sim]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import {
  components,
  down,
  isRunning,
  kubeconfigFor,
  pidsOf,
  serverURL,
  startComponent,
  stopComponent,
  up,
  type Component,
} from './cluster.ts';
import { ensurePki } from './pki.ts';
import { rssMiB, stopProc } from './procs.ts';
import {
  binDirFromVersions,
  loadShapes,
  planClusters,
  projectRoot,
  readState,
  writeState,
  type SimState,
} from './state.ts';

const usage = `usage: sim <up|down|status|stop|start> [options]
  up      --clusters a,b,c   start clusters (default hub,gpu-a,gpu-b), replacing any running ones in --dir
  down                       stop every cluster in --dir
  status                     print clusters, nodes, GPUs, memory
  stop    --cluster N --component C   stop one component (${components.join(', ')})
  stop-extra --name N        stop a process the demo started beside the clusters (<dir>/run/N.pid)
  start   --cluster N --component C   start it again
options: --dir DIR (default .sim; env NVDAX_SIM_DIR)  --port-base N (default 20000; env NVDAX_SIM_PORT_BASE)
         --shapes FILE (default hack/sim/shapes.yaml; env SIM_SHAPES)`;

const log = (m: string) => process.stderr.write(`[sim ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

function writeMergedKubeconfig(s: SimState): string {
  const merged = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': '',
    preferences: {},
    clusters: [] as unknown[],
    users: [] as unknown[],
    contexts: [] as unknown[],
  };
  for (const c of s.clusters) {
    const kc = kubeconfigFor(c, ensurePki(join(c.dir, 'pki'), c.name)) as {
      clusters: unknown[];
      users: unknown[];
      contexts: unknown[];
    };
    merged.clusters.push(...kc.clusters);
    merged.users.push(...kc.users);
    merged.contexts.push(...kc.contexts);
  }
  merged['current-context'] = `nvdax-${s.clusters[0]?.name ?? 'hub'}`;
  const f = join(s.dir, 'kubeconfig');
  writeFileSync(f, YAML.stringify(merged), { mode: 0o600 });
  return f;
}

interface NodeList {
  items: Array<{
    metadata: { name: string; labels?: Record<string, string> };
    status?: { capacity?: Record<string, string> };
  }>;
}

function status(s: SimState): void {
  const rel = (p: string) => {
    const r = relative(process.cwd(), p) || '.';
    return r.startsWith('..') ? p : r;
  };
  const rows: string[] = [];
  for (const c of s.clusters) {
    const pids = pidsOf(c);
    const rss = Object.values(pids).reduce((a, pid) => a + rssMiB(pid), 0);
    const running = isRunning(c);
    let nodes = '-',
      gpus = '-';
    if (running) {
      try {
        const list = JSON.parse(
          execFileSync(
            join(s.binDir, 'kubectl'),
            ['--kubeconfig', join(c.dir, 'kubeconfig'), 'get', 'nodes', '-o', 'json'],
            // 420 nodes are ~4 MB of JSON: past execFileSync's 1 MiB default (ENOBUFS)
            { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
          ),
        ) as NodeList;
        nodes = String(list.items.length);
        const byRes = new Map<string, number>();
        for (const n of list.items) {
          for (const [r, q] of Object.entries(n.status?.capacity ?? {})) {
            if (!r.startsWith('nvidia.com/')) continue;
            const product = n.metadata.labels?.['nvidia.com/gpu.product'];
            const key = product ? `${r}(${product})` : r;
            byRes.set(key, (byRes.get(key) ?? 0) + Number(q));
          }
        }
        gpus = [...byRes].map(([k, v]) => `${v}×${k}`).join(' ') || 'none';
      } catch (e) {
        nodes = `error: ${String(e).slice(0, 60)}`;
      }
    }
    rows.push(
      `${c.name.padEnd(8)} ${(running ? 'running' : Object.keys(pids).length ? 'partial' : 'stopped').padEnd(8)} ${serverURL(c).padEnd(24)} nodes=${nodes.padEnd(3)} rss=${String(rss).padStart(4)}MiB  ${rel(join(c.dir, 'kubeconfig'))}\n         GPUs: ${gpus}`,
    );
  }
  process.stdout.write(
    `${rows.join('\n')}\n\nAll clusters as contexts nvdax-<name> in ${rel(join(s.dir, 'kubeconfig'))}, e.g.\n  ${rel(join(s.binDir, 'kubectl'))} --kubeconfig ${rel(join(s.dir, 'kubeconfig'))} --context nvdax-${s.clusters[0]?.name ?? 'hub'} get nodes -L nvidia.com/gpu.product,nvidia.com/cc.ready.state\n`,
  );
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      clusters: { type: 'string' },
      cluster: { type: 'string' },
      component: { type: 'string' },
      dir: { type: 'string' },
      name: { type: 'string' },
      'port-base': { type: 'string' },
      shapes: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) {
    process.stdout.write(usage + '\n');
    return;
  }
  const dir = resolve(values.dir ?? process.env['NVDAX_SIM_DIR'] ?? join(projectRoot, '.sim'));
  const state = readState(dir);
  switch (cmd) {
    case 'up': {
      const names = (values.clusters ?? process.env['CLUSTERS'] ?? 'hub,gpu-a,gpu-b')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const portBase = Number(values['port-base'] ?? process.env['NVDAX_SIM_PORT_BASE'] ?? 20000);
      if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65000)
        throw new Error(`--port-base: must be an integer in 1024..65000, got ${values['port-base']}`);
      const binDir = binDirFromVersions();
      for (const b of [...components, 'kubectl']) {
        if (!existsSync(join(binDir, b)))
          throw new Error(`${join(binDir, b)} is missing: run hack/build-binaries.sh (make binaries) first`);
      }
      if (state) {
        log(`stopping clusters already in ${dir}`);
        await Promise.all(state.clusters.map(down));
      }
      const shapes = loadShapes(
        resolve(values.shapes ?? process.env['SIM_SHAPES'] ?? join(import.meta.dirname, 'shapes.yaml')),
      );
      const plan = planClusters(dir, names, portBase, shapes, binDir);
      mkdirSync(dir, { recursive: true });
      writeState(plan);
      const t0 = Date.now();
      log(`starting ${names.join(', ')} in ${dir} (ports from ${portBase})`);
      await Promise.all(
        plan.clusters.map(async (c) => {
          const t = Date.now();
          await up(c);
          log(`${c.name} ready at ${serverURL(c)} in ${((Date.now() - t) / 1000).toFixed(1)}s`);
        }),
      );
      writeMergedKubeconfig(plan);
      log(`all clusters ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      status(plan);
      return;
    }
    case 'stop-extra': {
      if (!values.name) throw new Error('--name: required');
      await stopProc(join(dir, 'run', `${values.name}.pid`));
      return;
    }
    case 'down': {
      // processes started beside the clusters (the demo's operator) go first
      const extras = existsSync(join(dir, 'run'))
        ? readdirSync(join(dir, 'run')).filter((f) => f.endsWith('.pid'))
        : [];
      await Promise.all(extras.map((f) => stopProc(join(dir, 'run', f))));
      if (!state) {
        log(`nothing to stop in ${dir}`);
        return;
      }
      await Promise.all(state.clusters.map(down));
      rmSync(join(dir, 'state.json'), { force: true });
      for (const c of state.clusters) rmSync(join(c.dir, 'kubeconfig'), { force: true });
      rmSync(join(dir, 'kubeconfig'), { force: true });
      log(`stopped ${state.clusters.map((c) => c.name).join(', ')}`);
      return;
    }
    case 'status': {
      if (!state) {
        process.stdout.write(`no simulated clusters in ${dir}\n`);
        return;
      }
      status(state);
      return;
    }
    case 'stop':
    case 'start': {
      if (!state) throw new Error(`no simulated clusters in ${dir}`);
      const c = state.clusters.find((x) => x.name === values.cluster);
      if (!c)
        throw new Error(`--cluster: "${values.cluster}" is not one of ${state.clusters.map((x) => x.name).join(', ')}`);
      const comp = values.component as Component;
      if (!components.includes(comp))
        throw new Error(
          `--component: Unsupported value "${values.component}": supported values: ${components.join(', ')}`,
        );
      if (cmd === 'stop') await stopComponent(c, comp);
      else await startComponent(c, comp);
      log(`${cmd === 'stop' ? 'stopped' : 'started'} ${comp} of ${c.name}`);
      return;
    }
    default:
      throw new Error(`unknown command "${cmd}"\n${usage}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`sim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
