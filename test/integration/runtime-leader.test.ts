// Two operator processes (test/helpers/leader-proc.ts) share one Lease: exactly one
// reconciles; when it is killed (-9) the standby takes over after the lease expires,
// and when it is stopped gracefully it finishes its in-flight reconcile and releases
// the lease so the standby takes over at once. Never both reconcile at the same time.
import test from 'ava';
import { join } from 'node:path';
import type { KubeClient } from '../../operator/kube/client.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { resources } from '../../operator/kube/types.ts';
import {
  configMap,
  freshNamespace,
  httpGet,
  hubClient,
  JsonProc,
  lineTime,
  metricValue,
  poll,
} from '../helpers/runtime-kit.ts';
import type { LogLine } from '../helpers/runtime-kit.ts';
import { kubeconfigPath, projectRoot } from '../helpers/sim.ts';

const script = join(projectRoot, 'test', 'helpers', 'leader-proc.ts');

function startProc(ns: string, identity: string, lease: { duration: string; renew: string; retry: string }): JsonProc {
  return new JsonProc(script, [
    '--kubeconfig',
    kubeconfigPath('hub'),
    '--namespace',
    ns,
    '--leader-election-namespace',
    ns,
    '--leader-election-id',
    'leader-test',
    '--identity',
    identity,
    '--lease-duration',
    lease.duration,
    '--renew-deadline',
    lease.renew,
    '--retry-period',
    lease.retry,
    '--ops-bind-address',
    '127.0.0.1:0',
    '--max-concurrent-reconciles',
    '2',
    '--shutdown-timeout',
    '10s',
  ]);
}

async function opsUrl(p: JsonProc): Promise<string> {
  const line = await p.waitFor('ops server', (l) => l.msg === 'Serving health and metrics');
  return `http://127.0.0.1:${String(line['port'])}`;
}

const reconciledKeys = (p: JsonProc): Set<string> => new Set(p.find('reconcile end').map((l) => String(l['key'])));

async function setup(
  t: { teardown: (fn: () => Promise<void>) => void },
  prefix: string,
  count: number,
  annotations: Record<string, string> = {},
): Promise<{ client: KubeClient; ns: string }> {
  const client = hubClient();
  const ns = await freshNamespace(client, prefix);
  for (let i = 0; i < count; i++) {
    const cm = configMap(ns, `cm-${i}`, {}, { 'leader-test': 'true' });
    cm.metadata!.annotations = annotations;
    await client.create(resources.configMaps, cm);
  }
  t.teardown(async () => {
    await client.delete(resources.namespaces, ns);
    await client.close();
  });
  return { client, ns };
}

function whoLeads(procs: JsonProc[]): Promise<{ leader: JsonProc; standby: JsonProc }> {
  return poll('a leader', () => {
    const leaders = procs.filter((p) => p.find('Started leading').length > 0);
    if (leaders.length > 1) throw new Error('two leaders');
    const leader = leaders[0];
    return leader ? { leader, standby: procs.find((p) => p !== leader) as JsonProc } : undefined;
  });
}

test.serial(
  'one leader reconciles; after kill -9 the standby takes over within the lease duration, never both',
  async (t) => {
    const lease = { duration: '3s', renew: '2s', retry: '500ms' };
    const { client, ns } = await setup(t, 'leader-kill', 5);
    const procs = [startProc(ns, 'proc-a', lease), startProc(ns, 'proc-b', lease)];
    t.teardown(() => {
      for (const p of procs) p.child.kill('SIGKILL');
    });
    const { leader, standby } = await whoLeads(procs);
    const [leaderUrl, standbyUrl] = await Promise.all([opsUrl(leader), opsUrl(standby)]);
    await poll('leader reconciled all', () => reconciledKeys(leader).size === 5);

    await poll(
      'both ready',
      async () =>
        (await httpGet(`${leaderUrl}/readyz`)).status === 200 && (await httpGet(`${standbyUrl}/readyz`)).status === 200,
    );
    const lm = (await httpGet(`${leaderUrl}/metrics`)).body;
    const sm = (await httpGet(`${standbyUrl}/metrics`)).body;
    t.true(
      (metricValue(lm, 'controller_runtime_reconcile_total', { controller: 'configmaps', result: 'success' }) ?? 0) >=
        5,
    );
    t.is(metricValue(lm, 'leader_election_master_status', { name: 'leader-test' }), 1);
    t.is(metricValue(sm, 'leader_election_master_status', { name: 'leader-test' }), 0);
    t.is(
      metricValue(sm, 'controller_runtime_reconcile_total', { controller: 'configmaps', result: 'success' }),
      undefined,
    );
    t.true(
      (metricValue(sm, 'workqueue_depth', { name: 'configmaps' }) ?? 0) >= 5,
      'the standby queues keys but does not work them',
    );
    t.is(standby.find('reconcile start').length, 0, 'the standby reconciled nothing');

    leader.child.kill('SIGKILL');
    const killedAt = Date.now();
    await leader.exited;
    for (let i = 5; i < 8; i++)
      await client.create(resources.configMaps, configMap(ns, `cm-${i}`, {}, { 'leader-test': 'true' }));
    const took = lineTime(await standby.waitFor('takeover', (l) => l.msg === 'Started leading', 20_000)) - killedAt;
    t.log(`takeover ${took} ms after kill -9 (lease 3 s, retry 0.5 s)`);
    t.true(took <= 3000 + 2 * 1100, `took ${took} ms`);
    await poll('standby reconciled all', () => reconciledKeys(standby).size === 8);

    const lastOfLeader = Math.max(...leader.lines.map(lineTime).filter(Number.isFinite));
    const firstOfStandby = Math.min(...standby.find('reconcile start').map(lineTime));
    t.true(firstOfStandby > lastOfLeader, 'no reconcile overlapped between the two processes');
    const cms = await client.list<KubeObject>(resources.configMaps, {
      namespace: ns,
      labelSelector: 'leader-test=true',
    });
    await poll('all annotated by the new leader', async () => {
      const l = await client.list<KubeObject>(resources.configMaps, {
        namespace: ns,
        labelSelector: 'leader-test=true',
      });
      return l.items.every((c) => c.metadata?.annotations?.['leader-test/reconciled-by'] === standbyIdentity(standby));
    });
    t.is(cms.items.length, 8);
    standby.child.kill('SIGTERM');
    t.is(await standby.exited, 0);
  },
);

function standbyIdentity(p: JsonProc): string {
  return String(p.lines.find((l) => typeof l['identity'] === 'string')?.['identity']);
}

test.serial(
  'a graceful stop finishes the in-flight reconcile and releases the lease; the standby takes over at once',
  async (t) => {
    const lease = { duration: '10s', renew: '6s', retry: '500ms' };
    const { ns } = await setup(t, 'leader-stop', 1, { 'leader-test/sleep-ms': '1500' });
    const procs = [startProc(ns, 'proc-c', lease), startProc(ns, 'proc-d', lease)];
    t.teardown(() => {
      for (const p of procs) p.child.kill('SIGKILL');
    });
    const { leader, standby } = await whoLeads(procs);
    const key = `${ns}/cm-0`;
    await leader.waitFor('slow reconcile started', (l) => l.msg === 'reconcile start' && l['key'] === key);
    leader.child.kill('SIGTERM');
    const sentAt = Date.now();
    t.is(await leader.exited, 0);
    const end = leader.find('reconcile end').find((l) => l['key'] === key) as LogLine | undefined;
    t.truthy(end, 'the in-flight reconcile finished before exit');
    t.true(leader.find('Lease released').length === 1);
    const took = lineTime(await standby.waitFor('takeover', (l) => l.msg === 'Started leading', 20_000)) - sentAt;
    t.log(`takeover ${took} ms after SIGTERM (lease 10 s; includes the 1.5 s in-flight reconcile)`);
    t.true(took < 4000, `took ${took} ms, far below the 10 s lease`);
    const first = await standby.waitFor('standby reconciles', (l) => l.msg === 'reconcile start');
    t.true(lineTime(first) >= lineTime(end!), 'the standby started after the leader finished');
    standby.child.kill('SIGTERM');
    t.is(await standby.exited, 0);
  },
);
