// Proves the adapter reuses connections: undici reports every new socket on the
// diagnostics channel 'undici:client:connected' (independently of our own counting
// connect hook), so the stock client-node path and ours are measured the same way.
import test from 'ava';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { CoreV1Api } from '@kubernetes/client-node';
import { KubeClient } from '../../operator/kube/client.ts';
import { PooledKubeConfig } from '../../operator/kube/pooled-config.ts';
import { resources } from '../../operator/kube/types.ts';
import { loadKubeConfig } from '../helpers/sim.ts';

// HTTP/1.1 keep-alive (see docs/decisions.md): undici returns a socket to its pool a tick
// after the response body ends, so a request sent at once can take a second socket. What
// matters is that connections are bounded by concurrency, not by the number of requests:
// at most two per concurrent request, for 100 requests.
const perWorker = 2;

/** ALPN protocols of the connections seen by the last countConnections call. */
const protocols = new Set<string>();

async function countConnections(fn: () => Promise<void>): Promise<number> {
  const port = new URL(loadKubeConfig('hub').getCurrentCluster()!.server).port;
  let n = 0;
  protocols.clear();
  const onConnect = (msg: unknown): void => {
    const m = msg as { connectParams?: { port?: string | number }; socket?: { alpnProtocol?: string | false } };
    if (String(m.connectParams?.port) !== port) return;
    n++;
    protocols.add(String(m.socket?.alpnProtocol));
  };
  subscribe('undici:client:connected', onConnect);
  try {
    await fn();
  } finally {
    unsubscribe('undici:client:connected', onConnect);
  }
  return n;
}

test.serial('stock client-node opens a connection per request (the trap we avoid)', async (t) => {
  const api = loadKubeConfig('hub').makeApiClient(CoreV1Api);
  const opened = await countConnections(async () => {
    for (let i = 0; i < 20; i++) await api.readNamespace({ name: 'default' });
  });
  t.log(`stock KubeConfig: ${opened} connections for 20 requests`);
  t.true(opened >= 18, `expected about one connection per request, saw ${opened}`);
});

test.serial('KubeClient: 100 sequential requests reuse one or two connections', async (t) => {
  const client = new KubeClient(loadKubeConfig('hub'));
  const opened = await countConnections(async () => {
    for (let i = 0; i < 100; i++) await client.get(resources.namespaces, 'default');
  });
  t.log(`KubeClient sequential: ${opened} connections (hook: ${client.connectionsOpened}) for 100 requests`);
  t.true(opened <= perWorker, `saw ${opened}`);
  t.is(client.connectionsOpened, opened, 'the built-in counter agrees with undici');
  await client.close();
});

test.serial('KubeClient: 100 requests at concurrency 8 open at most 16 connections', async (t) => {
  const client = new KubeClient(loadKubeConfig('hub'));
  const opened = await countConnections(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next++ < 100) await client.list(resources.namespaces);
      }),
    );
  });
  t.log(`KubeClient concurrency 8: ${opened} connections for 100 requests (HTTP/1.1 keep-alive)`);
  t.true(opened <= 8 * perWorker, `saw ${opened}`);
  t.false(
    protocols.has('h2'),
    'HTTP/1.1 on purpose: closing an undici h2 session with a watch open crashed the process',
  );
  await client.close();
});

test.serial('generated client-node APIs built from a PooledKubeConfig reuse the pool too', async (t) => {
  const kc = PooledKubeConfig.from(loadKubeConfig('hub'));
  const api = kc.makeApiClient(CoreV1Api);
  const opened = await countConnections(async () => {
    for (let i = 0; i < 100; i++) await api.readNamespace({ name: 'default' });
  });
  t.log(`PooledKubeConfig + CoreV1Api: ${opened} connections for 100 requests`);
  t.true(opened <= perWorker, `saw ${opened}`);
  await kc.close();
});
