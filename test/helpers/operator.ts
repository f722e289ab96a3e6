// Runs the real operator entrypoint (operator/main.ts) as a child process against the
// hub sim, with short intervals, reconciling only the pools labelled for one test.
import { join } from 'node:path';
import { JsonProc } from './runtime-kit.ts';
import { kubeconfigPath, projectRoot } from './sim.ts';

export interface OperatorProc {
  proc: JsonProc;
  opsPort: () => Promise<number>;
  /** SIGTERM and wait for exit. */
  stop: () => Promise<void>;
  /** SIGKILL: a crash, nothing flushed or released. */
  kill: () => Promise<void>;
}

export function startOperator(opts: {
  identity: string;
  poolSelector: string;
  leaseNamespace: string;
  extra?: string[];
}): OperatorProc {
  const proc = new JsonProc(join(projectRoot, 'operator', 'main.ts'), [
    '--kubeconfig',
    kubeconfigPath('hub'),
    '--identity',
    opts.identity,
    '--leader-election-namespace',
    opts.leaseNamespace,
    '--leader-election-id',
    `nvdax-operator-${opts.identity.replace(/-\d+$/, '')}`,
    '--lease-duration',
    '4s',
    '--renew-deadline',
    '3s',
    '--retry-period',
    '500ms',
    '--ops-bind-address',
    '127.0.0.1:0',
    '--heartbeat-interval',
    '3s',
    '--member-probe-interval',
    '1s',
    '--member-probe-timeout',
    '1s',
    '--pool-selector',
    opts.poolSelector,
    '--log-level',
    'debug',
    // jobs too: an operator of another test must not place this test's jobs on its pools
    ...(opts.extra?.includes('--job-selector') ? [] : ['--job-selector', opts.poolSelector]),
    ...(opts.extra ?? []),
  ]);
  return {
    proc,
    opsPort: async () =>
      Number((await proc.waitFor('ops server port', (l) => l.msg === 'Serving health and metrics')).port),
    stop: async () => {
      proc.child.kill('SIGTERM');
      await proc.exited;
    },
    kill: async () => {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}
