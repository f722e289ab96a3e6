import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { checkpointUri, FileStore } from '../../../operator/training/store.ts';

test('file and pvc URIs map to paths; a pvc URI cannot leave its volume', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'nvdax-store-'));
  const s = new FileStore({ pvcRoot: root });
  t.is(s.path('pvc://claim/jobs/a/round-00001.ckpt'), join(root, 'claim', 'jobs', 'a', 'round-00001.ckpt'));
  t.is(s.path('file:///tmp/x.ckpt'), '/tmp/x.ckpt');
  // URL parsing folds dot segments; encoded slashes would escape, and are refused.
  t.is(s.path('pvc://claim/../../../etc/passwd'), join(root, 'claim', 'etc', 'passwd'));
  t.throws(() => s.path('pvc://claim/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd'), { message: /leaves the volume/ });
  t.throws(() => s.path('s3://bucket/x'), { message: /not supported/ });
  const uri = checkpointUri('pvc://claim/jobs/a/', 7);
  t.is(uri, 'pvc://claim/jobs/a/round-00007.ckpt');
  t.is(await s.get(uri), undefined);
  await s.put(uri, Buffer.from('model'));
  t.deepEqual(Buffer.from((await s.get(uri))!), Buffer.from('model'));
});
