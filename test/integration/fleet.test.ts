// The fleet on real member API servers: one member (one connection pool, one set of
// caches) per cluster whatever the number of pools on it, caches a controller attaches
// with their map back to hub keys, the ready gate across a lost API server, and a
// credential rotation after which the old credentials are never used again.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { Fleet as FleetType, MemberSource } from '../../operator/fleet/fleet.ts';
import { Fleet } from '../../operator/fleet/fleet.ts';
import { snapshotInput } from '../../operator/fleet/snapshot-input.ts';
import { ReservationLedger } from '../../operator/scheduling/ledger.ts';
import { buildSnapshot } from '../../operator/scheduling/snapshot.ts';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { Member, PodObject } from '../../operator/fleet/member.ts';
import { isClosed } from '../../operator/kube/errors.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { resources } from '../../operator/kube/types.ts';
import { realClock } from '../../operator/runtime/clock.ts';
import { createLogger } from '../../operator/runtime/log.ts';
import { Manager } from '../../operator/runtime/manager.ts';
import { startComponent, stopComponent } from '../../hack/sim/cluster.ts';
import { readState } from '../../hack/sim/state.ts';
import { hubClient, poll } from '../helpers/runtime-kit.ts';
import { binDir, kubeconfigPath, loadKubeConfig, simDir, uniqueName } from '../helpers/sim.ts';

const kubectl = (cluster: string, args: string[], input?: string) =>
  execFileSync(join(binDir(), 'kubectl'), ['--kubeconfig', kubeconfigPath(cluster), ...args], {
    encoding: 'utf8',
    ...(input ? { input } : {}),
  });
type KubeconfigSource = Extract<MemberSource, { kind: 'Kubeconfig' }>;
const source = (cluster: string, kubeconfig = readFileSync(kubeconfigPath(cluster), 'utf8')): KubeconfigSource => ({
  kind: 'Kubeconfig',
  kubeconfig,
  origin: `test Secret ${cluster}`,
});

/** A manager and a fleet on the hub sim, stopped when the test ends. */
async function fleetFor(t: {
  teardown(fn: () => Promise<void>): void;
}): Promise<{ fleet: FleetType; manager: Manager }> {
  const manager = new Manager({
    client: hubClient(),
    log: createLogger({ level: 'silent' }),
    leaderElection: false,
    ops: false,
  });
  const fleet = new Fleet({
    manager,
    hubKubeConfig: loadKubeConfig('hub'),
    clock: realClock,
    probeIntervalMs: 300,
    probeTimeoutMs: 2000,
  });
  const stop = new AbortController();
  const running = manager.start(stop.signal);
  t.teardown(async () => {
    await fleet.stop();
    stop.abort();
    await running;
  });
  return { fleet, manager };
}

const podIn = (ns: string, name: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c', image: 'x' }], tolerations: [{ operator: 'Exists' }] },
});

test('three pools on one cluster share one member: one connection pool and one set of caches', async (t) => {
  const { fleet } = await fleetFor(t);
  const first = await fleet.acquire('providerpool', 'p1', source('gpu-a'));
  await poll('member ready', () => first.ready(), 20_000);
  const second = await fleet.acquire('providerpool', 'p2', source('gpu-a'));
  const third = await fleet.acquire('providerpool', 'p3', source('gpu-a'));
  t.is(second, first);
  t.is(third, first);
  t.is(fleet.members().length, 1);
  t.deepEqual(fleet.usersOf(first, 'providerpool').sort(), ['p1', 'p2', 'p3']);
  // let the probe and the three watches run while the member sees a change
  const ns = uniqueName('fleet-share');
  kubectl('gpu-a', ['create', 'namespace', ns]);
  t.teardown(() => void kubectl('gpu-a', ['delete', 'namespace', ns, '--wait=false']));
  kubectl('gpu-a', ['apply', '-f', '-'], YAML.stringify(podIn(ns, 'seen', {})));
  await poll('the pod reaches the shared cache', () => first.pods().some((p) => p.metadata?.name === 'seen'), 20_000);
  const stats = first.cacheStats();
  t.deepEqual(Object.keys(stats).sort(), ['nodes', 'pods', 'runtimeclasses']);
  // Three long-lived watches hold a socket each; the probe and lists share the rest (undici hands a
  // socket back a tick after a body ends, so back-to-back requests may open a second one). A member
  // per pool would hold three times the watches.
  const opened = first.client.connectionsOpened;
  t.log(`sockets opened for one member cluster with three pools on it: ${opened}`);
  t.true(opened >= 3 && opened <= 8, `sockets opened for one member with three pools: ${opened}`);
  await fleet.release('providerpool', 'p1');
  await fleet.release('providerpool', 'p2');
  t.is(fleet.members().length, 1, 'the member stays while a pool uses it');
  await fleet.release('providerpool', 'p3');
  t.is(fleet.members().length, 0, 'the last release closes it');
  const closed = await t.throwsAsync(first.client.request('GET', '/version'));
  t.true(isClosed(closed), "a released member's client is closed for good");
});

test('a job-controller-shaped controller attaches a Pod cache to every member and gets hub keys back', async (t) => {
  const { fleet, manager } = await fleetFor(t);
  const jobLabel = 'fleet-test.nvdax.io/job';
  const nsLabel = 'fleet-test.nvdax.io/job-namespace';
  const reconciled: Array<{ key: string; pods: string[]; member: string }> = [];
  let membersOf: (key: string) => Array<[string, PodObject[]]> = () => [];
  const ctl = manager.controller({
    name: 'fleet-test-jobs',
    reconcile: (key) => {
      for (const [member, pods] of membersOf(key)) {
        reconciled.push({ key, member, pods: pods.map((p) => p.metadata?.name ?? '').sort() });
      }
    },
  });
  const pods = fleet.attach<PodObject>({
    name: 'fleet-test-job-pods',
    resource: resources.pods,
    labelSelector: jobLabel,
    hubKey: (p) => {
      const l = p.metadata?.labels ?? {};
      return l[jobLabel] && l[nsLabel] ? `${l[nsLabel]}/${l[jobLabel]}` : undefined;
    },
    onChange: (key) => ctl.enqueue(key),
  });
  membersOf = (key) =>
    fleet
      .members()
      .map((m) => [m.key, pods.byHubKey(m.key, key)] as [string, PodObject[]])
      .filter(([, p]) => p.length);
  const a = await fleet.acquire('providerpool', 'pa', source('gpu-a'));
  const ns = uniqueName('fleet-jobs');
  for (const c of ['gpu-a', 'gpu-b']) {
    kubectl(c, ['create', 'namespace', ns]);
    t.teardown(() => void kubectl(c, ['delete', 'namespace', ns, '--wait=false']));
  }
  const job = (name: string) => ({ [jobLabel]: name, [nsLabel]: 'team-x' });
  kubectl(
    'gpu-a',
    ['apply', '-f', '-'],
    [podIn(ns, 'a-0', job('a')), podIn(ns, 'a-1', job('a')), podIn(ns, 'b-0', job('b')), podIn(ns, 'unrelated', {})]
      .map((p) => YAML.stringify(p))
      .join('---\n'),
  );
  await poll(
    'job a reconciled with both its pods',
    () => reconciled.some((r) => r.key === 'team-x/a' && r.pods.length === 2),
    20_000,
  );
  await poll('job b reconciled', () => reconciled.some((r) => r.key === 'team-x/b'), 20_000);
  t.deepEqual(
    pods
      .byHubKey(a.key, 'team-x/a')
      .map((p) => p.metadata?.name)
      .sort(),
    ['a-0', 'a-1'],
  );
  t.false(
    reconciled.some((r) => r.pods.includes('unrelated')),
    'unlabelled pods are not in the cache',
  );
  t.true(a.cacheStats()['fleet-test-job-pods'] !== undefined, 'the attached cache lives on the member');
  t.true(
    pods.byHubKey(a.key, 'team-x/a')[0]?.spec !== undefined,
    'the attached cache holds whole pods, not the slim capacity view',
  );
  // a member acquired after attach gets the cache too
  const b = await fleet.acquire('providerpool', 'pb', source('gpu-b'));
  kubectl('gpu-b', ['apply', '-f', '-'], YAML.stringify(podIn(ns, 'a-2', job('a'))));
  await poll(
    'job a seen on the second member',
    () => reconciled.some((r) => r.key === 'team-x/a' && r.member === b.key),
    20_000,
  );
  // cached objects are shared: a controller cannot change them by mistake
  const cached = pods.byHubKey(a.key, 'team-x/a')[0] as KubeObject;
  t.throws(
    () => {
      (cached.metadata as { name: string }).name = 'mutated';
    },
    { instanceOf: TypeError },
  );
});

test.serial(
  'the ready gate closes when a member API server stops and opens only after every cache listed again',
  async (t) => {
    const { fleet } = await fleetFor(t);
    const gpuD = readState(simDir())?.clusters.find((c) => c.name === 'gpu-d');
    if (!gpuD) throw new Error('the test sim has no gpu-d cluster (make sim-test-up starts it)');
    const m = await fleet.acquire('providerpool', 'pd', source('gpu-d'));
    await poll('member ready', () => m.ready(), 20_000);
    const transitions: Array<{ ready: boolean; stats: ReturnType<Member['cacheStats']> }> = [];
    let last = true;
    fleet.watch({
      changed: (x) => {
        if (x !== m || x.ready() === last) return;
        last = x.ready();
        transitions.push({ ready: last, stats: x.cacheStats() });
      },
    });
    const before = m.cacheStats();
    await stopComponent(gpuD, 'kube-apiserver');
    try {
      await poll('gate closed', () => !m.ready(), 15_000, 20);
      t.false(m.health().connected);
    } finally {
      await startComponent(gpuD, 'kube-apiserver');
    }
    await poll('gate open again', () => m.ready(), 30_000, 20);
    const opened = transitions.find((x) => x.ready);
    t.truthy(opened);
    t.is(transitions[0]?.ready, false, 'the gate closed first');
    for (const [name, s] of Object.entries(opened?.stats ?? {})) {
      t.true(s.fresh, `${name} listed since the loss`);
      t.true(s.lists > (before[name]?.lists ?? 0), `${name} listed again before the gate opened`);
    }
    t.is(transitions.filter((x) => x.ready).length, 1, 'no flapping');
  },
);

test.serial('a rotated kubeconfig is used at once and the replaced one never again', async (t) => {
  const { fleet } = await fleetFor(t);
  const ns = 'kube-system';
  const id = uniqueName('rot');
  const accounts = [`${id}-old`, `${id}-new`];
  for (const sa of accounts) {
    kubectl('gpu-d', ['-n', ns, 'create', 'serviceaccount', sa]);
    kubectl('gpu-d', [
      'create',
      'clusterrolebinding',
      sa,
      '--clusterrole=cluster-admin',
      `--serviceaccount=${ns}:${sa}`,
    ]);
  }
  t.teardown(() => {
    for (const sa of accounts) kubectl('gpu-d', ['delete', 'clusterrolebinding', sa, '--ignore-not-found']);
  });
  const admin = YAML.parse(readFileSync(kubeconfigPath('gpu-d'), 'utf8')) as {
    clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
  };
  const withToken = (sa: string) =>
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [{ name: 'c', cluster: admin.clusters[0]?.cluster }],
      users: [
        { name: sa, user: { token: kubectl('gpu-d', ['-n', ns, 'create', 'token', sa, '--duration=1h']).trim() } },
      ],
      contexts: [{ name: 'c', context: { cluster: 'c', user: sa } }],
    });
  const whoami = async (m: Member) => {
    const r = await m.client.request<{ status: { userInfo: { username: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      },
    );
    return r.status.userInfo.username;
  };
  const m = await fleet.acquire('providerpool', 'rot', {
    ...source('gpu-d', withToken(accounts[0]!)),
    origin: 'Secret x/rot',
  });
  await poll('ready with the old credentials', () => m.ready(), 20_000);
  t.is(await whoami(m), `system:serviceaccount:${ns}:${accounts[0]}`);
  const oldClient = m.client;
  const rotated = await fleet.acquire('providerpool', 'rot', {
    ...source('gpu-d', withToken(accounts[1]!)),
    origin: 'Secret x/rot',
  });
  t.is(rotated, m, 'the same member, its client swapped');
  t.not(m.client, oldClient);
  t.false(m.ready(), 'the gate is closed until the caches listed with the new credentials');
  t.is(await whoami(m), `system:serviceaccount:${ns}:${accounts[1]}`, 'the new credentials are used at once');
  const openedBefore = oldClient.connectionsOpened;
  const err = await t.throwsAsync(oldClient.request('GET', '/version'));
  t.true(isClosed(err), `the old client is closed for good: ${err?.message}`);
  // revoke the old identity: a member still using it would lose contact
  kubectl('gpu-d', ['delete', 'clusterrolebinding', accounts[0]!]);
  kubectl('gpu-d', ['-n', ns, 'delete', 'serviceaccount', accounts[0]!]);
  await poll('ready with the new credentials', () => m.ready(), 20_000);
  const since = Date.now();
  await poll('three more probes', () => (m.health().lastContact ?? 0) > since + 900, 10_000);
  t.true(m.ready());
  t.true(m.health().connected);
  t.deepEqual(m.cacheErrors(), {});
  t.is(oldClient.connectionsOpened, openedBefore, 'the replaced credentials opened no connection after the rotation');
  // a second Secret with other credentials for the same cluster is refused, naming the fix
  await t.throwsAsync(fleet.acquire('providerpool', 'other', { ...source('gpu-d'), origin: 'Secret x/other' }), {
    message: /already connected through Secret x\/rot .*share one kubeconfig Secret/,
  });
});

test('two back-to-back reservations on the last free GPUs of a node cannot both succeed, on real member caches', async (t) => {
  const { fleet } = await fleetFor(t);
  const run = uniqueName('resv');
  const label = { 'nvdax.io/test-resv': run };
  const nodes = buildNodes(
    run,
    { template: 'gpu-container', gpu: 'L4', gpusPerNode: 4, count: 1, labels: label },
    'eu-west',
    'eu-west-a',
  );
  const node = nodes[0]?.metadata.name as string;
  kubectl('gpu-a', ['create', '-f', '-'], YAML.stringify(nodes[0], { version: '1.1' }));
  kubectl('gpu-a', ['create', 'namespace', run]);
  t.teardown(() => {
    kubectl('gpu-a', ['delete', 'namespace', run, '--wait=false']);
    kubectl('gpu-a', ['delete', 'node', node, '--wait=false']);
  });
  const m = await fleet.acquire('providerpool', run, source('gpu-a'));
  const pools = [{ name: run, nodeSelector: label }];
  const ledger = new ReservationLedger();
  const snap = () => buildSnapshot(snapshotInput(fleet, pools, ledger.pins()));
  await poll(
    'the new node Ready in the member cache',
    () =>
      m.ready() &&
      snap()
        .nodes({ pool: run })
        .some((n) => n.node === node && n.free === 4),
    30_000,
  );
  const ask = (id: string, pods: number, gpus: number) => ({
    id,
    pools: run,
    gpusPerPod: gpus,
    podKeys: Array.from({ length: pods }, (_, i) => `${run}/${id}-${i}`),
  });
  const s = snap();
  const first = ledger.reserve(s, ask('job-a', 2, 2), Date.now());
  const second = ledger.reserve(s, ask('job-b', 1, 1), Date.now());
  t.true(first.ok);
  t.false(second.ok, 'the same GPUs are never booked twice');
  if (!second.ok) t.like(second.reasons[0], { pool: run, reason: 'InsufficientGpus' });
  t.false(ledger.reserve(snap(), ask('job-b', 1, 1), Date.now()).ok, 'nor against a fresh snapshot');
  // the first placement's pods appear in the member cache: counted once, by the snapshot
  if (!first.ok) return;
  for (const p of first.reservation.pods) {
    const name = p.key.split('/')[1] as string;
    kubectl(
      'gpu-a',
      ['apply', '-f', '-'],
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: run },
        spec: {
          nodeName: p.node,
          containers: [{ name: 'c', image: 'x', resources: { limits: { 'nvidia.com/gpu': '2' } } }],
        },
      }),
    );
  }
  await poll(
    'both pods bound in the cache',
    () => first.reservation.pods.every((p) => snap().podState(m.key, p.key) === 'bound'),
    20_000,
  );
  t.deepEqual(
    ledger.observe(snap()).map((r) => r.id),
    ['job-a'],
    'the reservation is dropped once its pods show',
  );
  t.is(ledger.list().length, 0);
  t.is(
    snap()
      .nodes({ pool: run })
      .find((n) => n.node === node)?.free,
    0,
    'no double count, no lost count',
  );
  t.false(ledger.reserve(snap(), ask('job-b', 1, 1), Date.now()).ok);
  kubectl('gpu-a', ['-n', run, 'delete', 'pod', `job-a-0`, '--grace-period=0', '--force']);
  await poll(
    'freed GPUs seen',
    () =>
      snap()
        .nodes({ pool: run })
        .find((n) => n.node === node)?.free === 2,
    20_000,
  );
  t.true(ledger.reserve(snap(), ask('job-b', 1, 1), Date.now()).ok);
});
