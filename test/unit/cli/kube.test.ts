// The real hub path: kubeconfig lookup and errors, context and namespace, and the commands
// over a KubeClient against a loopback HTTP server (no cluster).
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CliError } from '../../../cli/hub.ts';
import type { Io } from '../../../cli/io.ts';
import { connectHub, locateKubeconfig } from '../../../cli/kube.ts';
import { main } from '../../../cli/nvdax.ts';
import { json, loopback } from '../kube/loopback.ts';
import { servingJob, testIo, waitingJob } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'nvdax-cli-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(file: string, server: string, opts: { namespace?: string; current?: string } = {}): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'hub', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'me', user: { token: 't0ken' } }],
      contexts: [
        {
          name: 'main',
          context: { cluster: 'hub', user: 'me', ...(opts.namespace ? { namespace: opts.namespace } : {}) },
        },
        { name: 'other', context: { cluster: 'hub', user: 'me', namespace: 'other-ns' } },
      ],
      'current-context': opts.current ?? 'main',
    }),
  );
  return path;
}

/** An Io that opens the real hub (no connect override). */
function realIo(): Io & { stdout: string[]; stderr: string[] } {
  const io = testIo();
  delete io.connect;
  return io;
}

test('kubeconfig lookup: --kubeconfig, then $KUBECONFIG, then ~/.kube/config, else a clear error', (t) => {
  const have = new Set(['/k/a', '/k/b', '/home/u/.kube/config']);
  const exists = (p: string) => have.has(p);
  t.deepEqual(locateKubeconfig('/k/a', {}, '/home/u', exists), { file: '/k/a' });
  t.throws(() => locateKubeconfig('/k/none', {}, '/home/u', exists), {
    instanceOf: CliError,
    message: 'kubeconfig "/k/none" not found',
  });
  t.deepEqual(locateKubeconfig(undefined, { KUBECONFIG: '/k/a:/k/b' }, '/home/u', exists), { env: ['/k/a', '/k/b'] });
  t.throws(() => locateKubeconfig(undefined, { KUBECONFIG: '/k/a:/k/gone' }, '/home/u', exists), {
    message: '$KUBECONFIG names a file that does not exist: /k/gone',
  });
  t.deepEqual(locateKubeconfig(undefined, { KUBECONFIG: '' }, '/home/u', exists), {
    file: '/home/u/.kube/config',
  });
  t.throws(() => locateKubeconfig(undefined, {}, '/home/v', exists), {
    message:
      'no kubeconfig: pass --kubeconfig FILE, set $KUBECONFIG, or create /home/v/.kube/config ' +
      '(e.g. with your cloud\'s "get-credentials")',
  });
});

test('connect: the namespace comes from --namespace, else the context, else default; --context picks one', async (t) => {
  const file = kubeconfig('ns.yaml', 'http://127.0.0.1:1', { namespace: 'team-a' });
  let hub = connectHub({ kubeconfig: file });
  t.is(hub.namespace, 'team-a');
  t.is(hub.context, 'main');
  await hub.close();
  hub = connectHub({ kubeconfig: file, namespace: 'x' });
  t.is(hub.namespace, 'x');
  await hub.close();
  hub = connectHub({ kubeconfig: file, context: 'other' });
  t.is(hub.namespace, 'other-ns');
  await hub.close();
  hub = connectHub({ kubeconfig: kubeconfig('nons.yaml', 'http://127.0.0.1:1') });
  t.is(hub.namespace, 'default');
  await hub.close();
  t.throws(() => connectHub({ kubeconfig: file, context: 'nope' }), {
    instanceOf: CliError,
    message: `kubeconfig ${file}: kubeconfig has no context named "nope"`,
  });
  const broken = kubeconfig('broken.yaml', 'http://127.0.0.1:1', { current: 'missing' });
  t.throws(() => connectHub({ kubeconfig: broken }), {
    message: `kubeconfig ${broken} has no usable current context; pass --context NAME (contexts: main, other)`,
  });
});

test('nvdax get over HTTP: the CRD path, the token, the namespace of the context', async (t) => {
  const srv = await loopback(Date.now, (req, res) => {
    if (req.url.pathname === '/apis/nvdax.io/v1alpha1/namespaces/team-a/inferencejobs') {
      json(res, 200, { kind: 'InferenceJobList', metadata: { resourceVersion: '5' }, items: [servingJob()] });
    } else json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' });
  });
  t.teardown(() => srv.close());
  const file = kubeconfig('get.yaml', srv.url, { namespace: 'team-a' });
  const io = realIo();
  t.is(await main(['get', 'ij', '--kubeconfig', file], io), 0, io.stderr.join('\n'));
  t.regex(
    io.stdout[0]!,
    /^NAME\s+KIND\s+PHASE\s+POOL\s+PRICE\s+GPUS\s+READY\s+REASON\s+AGE\nchat\s+InferenceJob\s+Running\s+pool-a\s+2\.57/,
  );
  t.is(srv.requests[0]?.headers.authorization, 'Bearer t0ken');
  const io2 = realIo();
  t.is(await main(['describe', 'ij', 'nope', '--kubeconfig', file], io2), 1);
  t.deepEqual(io2.stderr, ['nvdax describe: InferenceJob "nope" in namespace "team-a" not found']);
});

test('nvdax watch over HTTP: a real watch by name from the read version, resumed after the server ends it', async (t) => {
  const pending = waitingJob();
  pending.metadata.name = 'chat';
  pending.metadata.resourceVersion = '10';
  const running = servingJob();
  running.metadata.resourceVersion = '12';
  const base = '/apis/nvdax.io/v1alpha1/namespaces/team-a/inferencejobs';
  let watches = 0;
  const srv = await loopback(Date.now, (req, res) => {
    if (req.url.pathname === `${base}/chat`) return json(res, 200, pending);
    if (req.url.pathname === base && req.url.searchParams.get('watch') === 'true') {
      watches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (watches === 1) {
        // the server ends the first watch after a bookmark
        res.end(
          `${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'InferenceJob', metadata: { resourceVersion: '11' } } })}\n`,
        );
      } else res.end(`${JSON.stringify({ type: 'MODIFIED', object: running })}\n`);
      return;
    }
    json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' });
  });
  t.teardown(() => srv.close());
  const file = kubeconfig('watch.yaml', srv.url, { namespace: 'team-a' });
  const io = realIo();
  t.is(await main(['watch', 'ij', 'chat', '--kubeconfig', file, '--timeout', '10s'], io), 0, io.stderr.join('\n'));
  t.deepEqual(
    io.stdout.map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /, '')),
    [
      'Pending NoMatchingPool: no pool fits: 2 pools: InsufficientGpus 1, PriceCapExceeded 1',
      'Running Funded: escrow covers the quote',
      'Running Placed: placed on pool-a',
      'Running WorkloadReady: 2/2 replicas ready',
      'InferenceJob team-a/chat is running and ready on pool-a at 2.57 NVDAx/GPU-hour (2 replicas ready)',
    ],
  );
  const w = srv.requests.filter((r) => r.url.searchParams.get('watch') === 'true').map((r) => r.url.searchParams);
  t.deepEqual(
    w.map((q) => [q.get('fieldSelector'), q.get('resourceVersion')]),
    [
      ['metadata.name=chat', '10'],
      ['metadata.name=chat', '11'],
    ],
  );
});
