// The sim's state file (<simDir>/state.json): which clusters run on which ports,
// so later commands (down, status, tests restarting an API server) find them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import type { ClusterPlan, ClusterShape } from './cluster.ts';
import { isGpuModelName } from '../../operator/hardware/catalog.ts';

export interface SimState {
  dir: string;
  binDir: string;
  clusters: ClusterPlan[];
}

export const projectRoot = resolve(import.meta.dirname, '..', '..');

export function binDirFromVersions(): string {
  const env = readFileSync(join(projectRoot, 'hack', 'versions.env'), 'utf8');
  const version = /^K8S_VERSION=(\S+)/m.exec(env)?.[1];
  if (!version) throw new Error('hack/versions.env: K8S_VERSION is missing');
  const cache = process.env['NVDAX_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'nvdax');
  return join(cache, 'bin', version);
}

export function readState(dir: string): SimState | undefined {
  const f = join(dir, 'state.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as SimState) : undefined;
}

export function writeState(s: SimState): void {
  writeFileSync(join(s.dir, 'state.json'), JSON.stringify(s, null, 2) + '\n');
}

/** Loads cluster shapes, checking each field so a typo in shapes.yaml names itself. */
export function loadShapes(file: string): Record<string, ClusterShape> {
  const doc = YAML.parse(readFileSync(file, 'utf8')) as { clusters?: Record<string, ClusterShape> };
  const clusters = doc?.clusters;
  if (!clusters || typeof clusters !== 'object')
    throw new Error(`${file}: clusters: required map of cluster name to shape`);
  for (const [name, shape] of Object.entries(clusters)) {
    if (typeof shape.region !== 'string') throw new Error(`${file}: clusters.${name}.region: required string`);
    if (!Array.isArray(shape.nodes)) throw new Error(`${file}: clusters.${name}.nodes: required list`);
    shape.nodes.forEach((g, i) => {
      const at = `${file}: clusters.${name}.nodes[${i}]`;
      if (!['cpu', 'gpu-container', 'gpu-confidential'].includes(g.template)) {
        throw new Error(
          `${at}.template: Unsupported value "${g.template}": supported values: "cpu", "gpu-container", "gpu-confidential"`,
        );
      }
      if (!Number.isInteger(g.count) || g.count < 0) throw new Error(`${at}.count: must be an integer >= 0`);
      if (g.gpu !== undefined && !isGpuModelName(g.gpu))
        throw new Error(`${at}.gpu: Unsupported value "${g.gpu}": supported values: "H100", "H200", "A100", "L4"`);
      if (g.tee !== undefined && g.tee !== 'snp' && g.tee !== 'tdx')
        throw new Error(`${at}.tee: Unsupported value "${g.tee}": supported values: "snp", "tdx"`);
    });
  }
  return clusters;
}

export function planClusters(
  dir: string,
  names: string[],
  portBase: number,
  shapes: Record<string, ClusterShape>,
  binDir: string,
): SimState {
  const bad = names.filter((n) => !/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/.test(n));
  if (bad.length) throw new Error(`CLUSTERS: invalid cluster name(s) ${bad.join(', ')}: use lower-case DNS labels`);
  const fallback = shapes['default'];
  return {
    dir,
    binDir,
    clusters: names.map((name, i) => {
      const shape = shapes[name] ?? fallback;
      if (!shape) throw new Error(`no shape for cluster "${name}" and no "default" shape`);
      return { name, dir: join(dir, name), binDir, portBase: portBase + i * 10, shape };
    }),
  };
}
