import test from 'ava';
import { refuseUnsafe } from '../../../operator/fleet/fleet.ts';

const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    clusters: [
      { name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': 'Zm9v', ...cluster } },
    ],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  });

test('inline credentials are accepted', (t) => {
  t.notThrows(() => refuseUnsafe(kubeconfig({ 'client-certificate-data': 'Zm9v', 'client-key-data': 'YmFy' })));
  t.notThrows(() => refuseUnsafe(kubeconfig({ token: 'abc' })));
});

for (const [what, user, cluster, field] of [
  [
    'an exec plugin (runs a command in the operator)',
    { exec: { command: 'sh', args: ['-c', 'id'] } },
    {},
    'users[].user.exec',
  ],
  ['an auth-provider', { 'auth-provider': { name: 'oidc' } }, {}, 'users[].user.auth-provider'],
  [
    "a token file (e.g. the operator's own service account token)",
    { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    {},
    'users[].user.tokenFile',
  ],
  [
    'a client certificate file',
    { 'client-certificate': '/etc/passwd', 'client-key-data': 'YmFy' },
    {},
    'users[].user.client-certificate',
  ],
  [
    'a CA file',
    { token: 'abc' },
    { 'certificate-authority': '/etc/ssl/ca.pem' },
    'clusters[].cluster.certificate-authority',
  ],
] as const) {
  test(`a kubeconfig with ${what} is refused, naming the field`, (t) => {
    const e = t.throws(() =>
      refuseUnsafe(kubeconfig(user as Record<string, unknown>, cluster as Record<string, unknown>)),
    );
    t.true(e?.message.startsWith(`${field} is not allowed in a member kubeconfig`), e?.message);
  });
}

test('garbage is refused as not a kubeconfig', (t) => {
  t.throws(() => refuseUnsafe('{{{'), { message: /^not a kubeconfig/ });
});
