// The pooled KubeConfig keeps one dispatcher while the cluster's endpoint and TLS material stay the same, and
// builds a new one when they change: a certificate rotated on disk, another server.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../../../operator/kube/pooled-config.ts';

function pooled(dir: string, server = 'https://127.0.0.1:6443'): PooledKubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return PooledKubeConfig.from(kc);
}

test('one dispatcher while the material is unchanged; a new one after the CA file changes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.crt'), 'first CA bytes');
  const kc = pooled(dir);
  t.teardown(() => kc.destroy());
  const a = await kc.prepare();
  const b = await kc.prepare();
  t.truthy(a.dispatcher);
  t.is(b.dispatcher, a.dispatcher, 'the same material shares one pool');
  t.is(a.headers.Authorization, 'Bearer secret-token');
  // same length, other bytes: the key hashes the content, not its size
  writeFileSync(join(dir, 'ca.crt'), 'firsT CA bytes');
  const c = await kc.prepare();
  t.not(c.dispatcher, a.dispatcher, 'a rotated CA builds a new pool');
  t.is((await kc.prepare()).dispatcher, c.dispatcher, 'and keeps it');
});

test('another server is another pool', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvdax-pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.crt'), 'CA');
  const one = pooled(dir, 'https://127.0.0.1:6443');
  const two = pooled(dir, 'https://127.0.0.1:6444');
  t.teardown(() => Promise.all([one.destroy(), two.destroy()]));
  const [a, b] = [await one.prepare(), await two.prepare()];
  t.not(a.dispatcher, b.dispatcher);
  // each config keys its own pool; the same config switched to another context builds anew
  one.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6444', caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const c = await one.prepare();
  t.is(c.server, 'https://127.0.0.1:6444');
  t.not(c.dispatcher, a.dispatcher);
});
