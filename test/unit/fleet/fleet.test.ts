// The fleet's bookkeeping without a server: members are keyed by cluster, shared by
// their users, rotated in place, refused for a second Secret, and closed with the last
// user. The manager never starts, so no informer or probe touches the network.
import test from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { Fleet, MemberSourceError } from '../../../operator/fleet/fleet.ts';
import { KubeClient } from '../../../operator/kube/client.ts';
import { isClosed } from '../../../operator/kube/errors.ts';
import { FakeClock } from '../../../operator/runtime/clock.ts';
import { Manager } from '../../../operator/runtime/manager.ts';

const kubeconfig = (server: string, token: string) =>
  YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  });
const src = (server: string, token: string, origin = 'Secret ns/a') => ({
  kind: 'Kubeconfig' as const,
  kubeconfig: kubeconfig(server, token),
  origin,
});

function fleet(): Fleet {
  const hub = new KubeConfig();
  hub.loadFromString(kubeconfig('https://127.0.0.1:1', 'hub'));
  const clock = new FakeClock();
  const manager = new Manager({ client: new KubeClient(hub), leaderElection: false, ops: false, clock });
  return new Fleet({ manager, hubKubeConfig: hub, clock, probeIntervalMs: 1000, probeTimeoutMs: 500 });
}

test('pools on one cluster share one member; other clusters get their own', async (t) => {
  const f = fleet();
  const a1 = await f.acquire('providerpool', 'a1', src('https://10.0.0.1:6443', 't'));
  const a2 = await f.acquire('providerpool', 'a2', src('https://10.0.0.1:6443/', 't', 'Secret ns/a-copy'));
  const b = await f.acquire('providerpool', 'b', src('https://10.0.0.2:6443', 't'));
  const local = await f.acquire('providerpool', 'l', { kind: 'Local' });
  t.is(a1, a2, 'a trailing slash names the same API server');
  t.not(a1, b);
  t.deepEqual(
    f
      .members()
      .map((m) => m.name)
      .sort(),
    ['10.0.0.1:6443', '10.0.0.2:6443', 'local'],
  );
  t.deepEqual(f.usersOf(a1, 'providerpool').sort(), ['a1', 'a2']);
  t.is(f.memberOf('providerpool', 'l'), local);
  await f.stop();
});

test('the same Secret with new credentials rotates the member in place and closes the old client for good', async (t) => {
  const f = fleet();
  const changed: string[] = [];
  f.watch({ changed: (m) => changed.push(m.name) });
  const m = await f.acquire('providerpool', 'a', src('https://10.0.0.1:6443', 'old'));
  await f.acquire('providerpool', 'a2', src('https://10.0.0.1:6443', 'old'));
  const oldClient = m.client;
  const again = await f.acquire('providerpool', 'a', src('https://10.0.0.1:6443', 'new'));
  t.is(again, m);
  t.not(m.client, oldClient);
  t.false(m.ready());
  t.true(changed.includes('10.0.0.1:6443'), 'users hear the rotation');
  const e = await t.throwsAsync(oldClient.request('GET', '/version'));
  t.true(isClosed(e), String(e?.message));
  t.is(oldClient.connectionsOpened, 0, 'the closed client opened nothing');
  await f.stop();
});

test('a second Secret with other credentials for a connected cluster is refused, naming the one in use', async (t) => {
  const f = fleet();
  await f.acquire('providerpool', 'a', src('https://10.0.0.1:6443', 'one', 'Secret ns/first'));
  const e = await t.throwsAsync(
    f.acquire('providerpool', 'b', src('https://10.0.0.1:6443', 'two', 'Secret ns/second')),
    {
      instanceOf: MemberSourceError,
    },
  );
  t.regex(
    e?.message ?? '',
    /already connected through Secret ns\/first \(used by providerpool a\).*share one kubeconfig Secret/,
  );
  t.is(f.memberOf('providerpool', 'b'), undefined);
  await f.stop();
});

test('a user whose source moves to another cluster leaves the old member; the last release closes it', async (t) => {
  const f = fleet();
  const removed: string[] = [];
  f.watch({ removed: (m) => removed.push(m.name) });
  const a = await f.acquire('providerpool', 'p', src('https://10.0.0.1:6443', 't'));
  await f.acquire('providerpool', 'p', src('https://10.0.0.2:6443', 't'));
  t.deepEqual(removed, ['10.0.0.1:6443']);
  t.true(isClosed(await t.throwsAsync(a.client.request('GET', '/version'))));
  await f.release('providerpool', 'p');
  t.deepEqual(f.members(), []);
  await f.stop();
});

test('caches attached before and after a member exists run on every member, and detach stops them', async (t) => {
  const f = fleet();
  const a = await f.acquire('providerpool', 'a', src('https://10.0.0.1:6443', 't'));
  const att = f.attach({
    name: 'jobs',
    resource: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
    hubKey: () => 'k',
  });
  const b = await f.acquire('providerpool', 'b', src('https://10.0.0.2:6443', 't'));
  t.truthy(a.cacheStats()['jobs']);
  t.truthy(b.cacheStats()['jobs']);
  t.deepEqual(att.byHubKey(a.key, 'k'), []);
  t.throws(() =>
    f.attach({
      name: 'jobs',
      resource: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
      hubKey: () => 'k',
    }),
  );
  await att.detach();
  t.is(a.cacheStats()['jobs'], undefined);
  t.is(b.cacheStats()['jobs'], undefined);
  await f.stop();
});

test('unusable sources are refused with the field and the fix', async (t) => {
  const f = fleet();
  await t.throwsAsync(f.acquire('providerpool', 'x', { kind: 'Kubeconfig', kubeconfig: 'not: [yaml', origin: 's' }), {
    message: /not a kubeconfig/,
  });
  const noContext = YAML.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] });
  await t.throwsAsync(f.acquire('providerpool', 'x', { kind: 'Kubeconfig', kubeconfig: noContext, origin: 's' }), {
    message: /no current-context cluster/,
  });
  await f.stop();
});
