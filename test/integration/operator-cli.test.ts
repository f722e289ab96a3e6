// The operator entrypoint refuses bad input with the flag or the fix named, before doing anything.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kubeconfigPath, projectRoot } from '../helpers/sim.ts';

const operator = (args: string[]) =>
  spawnSync(process.execPath, [join(projectRoot, 'operator', 'main.ts'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });

test('a hub without the CRDs is refused with the command that installs them', (t) => {
  // gpu-a is a member cluster: nobody installs CRDs there
  const r = operator([
    '--kubeconfig',
    kubeconfigPath('gpu-a'),
    '--no-leader-elect',
    '--ops-bind-address',
    '127.0.0.1:0',
  ]);
  t.is(r.status, 2);
  t.regex(
    r.stderr,
    /the hub has no CRD \w+\.nvdax\.io: install the CRDs first with kubectl apply --server-side -f crds\//,
  );
});

test('bad flags and unreadable kubeconfigs name the flag', (t) => {
  const d = operator(['--lease-duration', '5x']);
  t.is(d.status, 2);
  t.regex(d.stderr, /--lease-duration: invalid duration "5x"/);
  const k = operator(['--kubeconfig', '/nonexistent/kubeconfig']);
  t.is(k.status, 2);
  t.regex(k.stderr, /--kubeconfig \/nonexistent\/kubeconfig: ENOENT/);
  const h = operator(['--help']);
  t.is(h.status, 0);
  t.regex(h.stdout, /--member-probe-interval/);
});

test('a malformed --pool-selector and a busy --ops-bind-address are refused, naming the flag', async (t) => {
  const sel = operator([
    '--kubeconfig',
    kubeconfigPath('hub'),
    '--no-leader-elect',
    '--ops-bind-address',
    '127.0.0.1:0',
    '--pool-selector',
    'a in (b',
  ]);
  t.is(sel.status, 2);
  t.regex(sel.stderr, /--pool-selector "a in \(b": /);
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const port = (busy.address() as { port: number }).port;
  try {
    const r = operator([
      '--kubeconfig',
      kubeconfigPath('hub'),
      '--no-leader-elect',
      '--ops-bind-address',
      `127.0.0.1:${port}`,
      '--pool-selector',
      'nvdax.io/none=x',
    ]);
    t.is(r.status, 2);
    t.regex(r.stderr, new RegExp(`--ops-bind-address 127\\.0\\.0\\.1:${port}: address already in use`));
  } finally {
    busy.close();
  }
});
