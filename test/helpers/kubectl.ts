// The pinned kubectl against one simulated cluster, for tests that drive clusters as a user would.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import YAML from 'yaml';
import { binDir, kubeconfigPath } from './sim.ts';

/** Runs kubectl on `cluster`; throws (with stderr) on a non-zero exit. */
export const kubectl = (cluster: string, args: string[], input?: string): string =>
  execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', kubeconfigPath(cluster), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...(input ? { input } : {}),
  });

/** Server-side applies `objs` (YAML 1.1, as kubectl reads it) on `cluster`. */
export const apply = (cluster: string, objs: object[]): string =>
  kubectl(
    cluster,
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    objs.map((o) => YAML.stringify(o, { version: '1.1' })).join('---\n'),
  );

/** `kubectl … -o json`, parsed. */
export const getJson = <T>(cluster: string, args: string[]): T =>
  JSON.parse(kubectl(cluster, [...args, '-o', 'json'])) as T;
