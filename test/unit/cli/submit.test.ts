import test from 'ava';
import { Wallet } from 'ethers';
import { parse } from 'yaml';
import { main } from '../../../cli/nvdax.ts';
import type { InferenceJobObject } from '../../../operator/api/resources.ts';
import { checkJobTask } from '../../../operator/settlement/job-task.ts';
import { taskDomain } from '../../../operator/settlement/task.ts';
import { FakeHub, NOW, testIo } from './fixtures.ts';

const key = new Wallet(`0x${'41'.repeat(32)}`);
const other = new Wallet(`0x${'42'.repeat(32)}`);
const SETTLEMENT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const domain = taskDomain(31337n, SETTLEMENT);
const chain = ['--chain-id', '31337', '--settlement-address', SETTLEMENT];

const manifest = (requester = key.address, extra = '    maxTotal: "100"\n') => `apiVersion: nvdax.io/v1alpha1
kind: InferenceJob
metadata:
  name: chat
spec:
  model: { id: org/model, hash: "sha256:${'cd'.repeat(32)}" }
  runtime: { engine: vLLM }
  resources: { gpus: 1 }
  sla: { priceCap: "2.5" }
  payment:
    requester: "${requester}"
    escrowId: "0x${'11'.repeat(32)}"
${extra}`;

test('submit --dry-run prints the manifest with nonce, deadline and a signature the operator accepts', async (t) => {
  const io = testIo(undefined, { 'job.yaml': manifest(), key: `${key.privateKey.slice(2)}\n` });
  const code = await main(
    [
      'submit',
      '-f',
      'job.yaml',
      '--key-file',
      'key',
      ...chain,
      '--nonce',
      '9',
      '--deadline',
      '2h',
      '-n',
      'team-a',
      '--dry-run',
    ],
    io,
  );
  t.is(code, 0, io.stderr.join('\n'));
  const job = parse(io.stdout.join('\n')) as InferenceJobObject;
  t.is(job.metadata?.namespace, 'team-a');
  t.is(job.spec.payment.nonce, '9');
  t.is(job.spec.payment.deadline, '2026-03-01T14:00:00Z');
  t.regex(job.spec.payment.signature ?? '', /^0x[0-9a-f]{130}$/);
  t.like(checkJobTask(job, domain, NOW), { ok: true });
  // the same job under another chain's domain is not signed
  t.like(checkJobTask(job, taskDomain(1n, SETTLEMENT), NOW), { ok: false, reason: 'TaskSignatureInvalid' });
  t.deepEqual(io.opened, [], 'a dry run does not open the hub');
});

test('submit creates the signed job on the hub, in the namespace it signed', async (t) => {
  const hub = new FakeHub('team-b');
  const io = testIo(hub, { 'job.yaml': manifest() }, { env: { NVDAX_REQUESTER_KEY: key.privateKey } });
  const code = await main(['submit', '-f', 'job.yaml', ...chain], io);
  t.is(code, 0, io.stderr.join('\n'));
  t.like(hub.calls, [{ verb: 'create', plural: 'inferencejobs', name: 'chat', namespace: 'team-b' }]);
  const created = hub.objects[0] as InferenceJobObject;
  t.regex(created.spec.payment.nonce ?? '', /^[0-9]+$/);
  t.like(checkJobTask(created, domain, NOW), { ok: true });
  t.regex(io.stdout.join('\n'), /^inferencejob\.nvdax\.io\/chat created \(task 0x[0-9a-f]{64} signed by 0x/);
  t.true(hub.closed);
});

test("submit refuses a key that is not the requester's, naming both addresses", async (t) => {
  const hub = new FakeHub();
  const io = testIo(hub, { 'job.yaml': manifest(other.address), key: key.privateKey });
  t.is(await main(['submit', '-f', 'job.yaml', '--key-file', 'key', ...chain], io), 1);
  t.is(
    io.stderr.join('\n'),
    `nvdax submit: InferenceJob/chat: spec.payment.requester: ${other.address} is not the signing key's address ${key.address}: sign with the requester's key`,
  );
  t.deepEqual(hub.objects, [], 'nothing created');
});

test('submit needs maxTotal, a key, and a valid domain', async (t) => {
  const noTotal = testIo(new FakeHub(), { 'job.yaml': manifest(key.address, ''), key: key.privateKey });
  t.is(await main(['submit', '-f', 'job.yaml', '--key-file', 'key', ...chain, '--dry-run', '-n', 'a'], noTotal), 1);
  t.regex(noTotal.stderr.join('\n'), /spec\.payment\.maxTotal: must be set/);

  const noKey = testIo(undefined, { 'job.yaml': manifest() }, { env: {} });
  t.is(await main(['submit', '-f', 'job.yaml', ...chain, '--dry-run', '-n', 'a'], noKey), 1);
  t.regex(noKey.stderr.join('\n'), /no key: pass --key-file FILE or set \$NVDAX_REQUESTER_KEY/);

  const badKey = testIo(undefined, { 'job.yaml': manifest(), key: 'nope' });
  t.is(await main(['submit', '-f', 'job.yaml', '--key-file', 'key', ...chain, '--dry-run', '-n', 'a'], badKey), 1);
  t.regex(badKey.stderr.join('\n'), /--key-file key: not a private key/);

  const badChain = testIo(undefined, { 'job.yaml': manifest(), key: key.privateKey });
  const args = ['submit', '-f', 'job.yaml', '--key-file', 'key', '--chain-id', 'x', '--settlement-address', SETTLEMENT];
  t.is(await main(args, badChain), 1);
  t.regex(badChain.stderr.join('\n'), /--chain-id must be a positive integer/);
});

test('validate with --chain-id checks signatures offline', async (t) => {
  const signer = testIo(undefined, { 'job.yaml': manifest(), key: key.privateKey });
  const args = ['submit', '-f', 'job.yaml', '--key-file', 'key', ...chain, '-n', 'team-a', '--dry-run'];
  t.is(await main(args, signer), 0);
  const signed = signer.stdout.join('\n');

  const ok = testIo(undefined, { 'signed.yaml': signed });
  t.is(await main(['validate', '-f', 'signed.yaml', ...chain], ok), 0, ok.stderr.join('\n'));

  const tampered = testIo(undefined, { 'signed.yaml': signed.replace('priceCap: "2.5"', 'priceCap: "9"') });
  t.is(await main(['validate', '-f', 'signed.yaml', ...chain], tampered), 1);
  t.regex(
    tampered.stderr[0] ?? '',
    /^signed\.yaml:\d+: InferenceJob\/chat: spec\.payment\.signature: recovers to 0x[0-9a-fA-F]{40}, not spec\.payment\.requester .*\(TaskSignatureInvalid\)$/,
  );

  const unsigned = testIo(undefined, { 'job.yaml': manifest() });
  t.is(await main(['validate', '-f', 'job.yaml'], unsigned), 0, 'without a domain, signatures are not checked');
  const missing = testIo(undefined, { 'job.yaml': manifest() });
  t.is(await main(['validate', '-f', 'job.yaml', ...chain], missing), 1);
  t.regex(missing.stderr[0] ?? '', /spec\.payment\.signature: not set.*\(TaskSignatureMissing\)$/);

  const half = testIo(undefined, { 'job.yaml': manifest() });
  t.is(await main(['validate', '-f', 'job.yaml', '--chain-id', '1'], half), 2);
  t.regex(half.stderr[0] ?? '', /--settlement-address must be/);
});
