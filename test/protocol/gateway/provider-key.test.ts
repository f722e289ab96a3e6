// The gateway's provider key from the attested secret-release path: fetched inside the TEE from the guest's
// confidential-data-hub (CoCo api-server-rest, /cdh/resource/<repo>/<type>/<tag>), retried while attestation
// is under way, and checked against the pool's provider address.
import { createServer, type Server } from 'node:http';
import test from 'ava';
import { Wallet } from 'ethers';
import { MODEL_PATH } from '../../../hack/model/make-model.ts';
import { fetchKbsResource, main } from '../../../provider-runtime/gateway/main.ts';

/** A stand-in for the guest's CDH REST API: 503 for the first `failures` calls, then the key. */
async function cdh(key: string, failures: number): Promise<{ url: string; paths: string[]; server: Server }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    if (paths.length <= failures) res.writeHead(503).end('attestation in progress');
    else if (req.url === '/cdh/resource/nvdax/provider-key/pool-cc') res.writeHead(200).end(`${key}\n`);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, paths, server };
}

test('the key is fetched from the CDH by its kbs:/// reference, retried until released', async (t) => {
  const key = Wallet.createRandom().privateKey;
  const c = await cdh(key, 2);
  t.teardown(() => c.server.close());
  const got = await fetchKbsResource('kbs:///nvdax/provider-key/pool-cc', { cdhUrl: c.url, delayMs: 10 });
  t.is(got.trim(), key);
  t.deepEqual(c.paths, Array(3).fill('/cdh/resource/nvdax/provider-key/pool-cc'));
  await t.throwsAsync(fetchKbsResource('kbs:///nvdax/provider-key', { cdhUrl: c.url }), { message: /not kbs/ });
  const never = await cdh(key, 100);
  t.teardown(() => never.server.close());
  await t.throwsAsync(
    fetchKbsResource('kbs:///nvdax/provider-key/pool-cc', { cdhUrl: never.url, attempts: 3, delayMs: 5 }),
    { message: /did not release kbs:\/\/\/nvdax\/provider-key\/pool-cc \(HTTP 503\)/ },
  );
});

test("the gateway refuses a released key that is not the pool's provider's", async (t) => {
  const key = Wallet.createRandom().privateKey;
  const c = await cdh(key, 0);
  t.teardown(() => c.server.close());
  const err = await t.throwsAsync(
    main(['--backend', 'onnx', '--model', MODEL_PATH, '--listen', '127.0.0.1:0', '--ops-listen', '127.0.0.1:0'], {
      NVDAX_JOB: 'team-a/mlp',
      NVDAX_PROVIDER_KEY_RESOURCE: 'kbs:///nvdax/provider-key/pool-cc',
      NVDAX_CDH_URL: c.url,
      NVDAX_PROVIDER_ADDRESS: Wallet.createRandom().address,
    }),
  );
  t.regex(err?.message ?? '', /the provider key is 0x[0-9a-fA-F]{40}'s, not 0x[0-9a-fA-F]{40}'s/);
  t.is(c.paths.length, 1);
});
