// Access to the simulated clusters that `make test` starts once for the whole run
// (`make sim-test-up`: clusters hub, gpu-a, gpu-b, gpu-c, gpu-d under .sim-test/; gpu-c
// is reserved for the pool test that stops its API server, gpu-d for the fleet test that
// stops its API server and rotates its credentials). Integration
// tests never start or skip on their own: a missing sim is a loud failure.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';

export const projectRoot = resolve(import.meta.dirname, '..', '..');

/** State folder of the test sim; NVDAX_SIM_DIR overrides (e.g. to run tests against `.sim`). */
export function simDir(): string {
  return resolve(process.env['NVDAX_SIM_DIR'] ?? join(projectRoot, '.sim-test'));
}

/** Path of a cluster's admin kubeconfig; throws with the command to run when the sim is not up. */
export function kubeconfigPath(cluster: string): string {
  const p = join(simDir(), cluster, 'kubeconfig');
  if (!existsSync(p)) {
    throw new Error(`simulated cluster "${cluster}" is not running (no ${p}); start it with: make sim-test-up`);
  }
  return p;
}

export function loadKubeConfig(cluster: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath(cluster));
  return kc;
}

/** The pinned binaries folder (kubectl, helm, ...), as written by hack/build-binaries.sh. */
export function binDir(): string {
  const env = readFileSync(join(projectRoot, 'hack', 'versions.env'), 'utf8');
  const version = /^K8S_VERSION=(\S+)/m.exec(env)?.[1];
  if (!version) throw new Error('hack/versions.env has no K8S_VERSION');
  const cache = process.env['NVDAX_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'nvdax');
  return join(cache, 'bin', version);
}

/** A DNS-1123 name unique to this test run, for namespaces and cluster-scoped objects. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}
