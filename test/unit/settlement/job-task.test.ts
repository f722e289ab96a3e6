import test from 'ava';
import { Wallet } from 'ethers';
import type { InferenceJobObject, TrainingJobObject } from '../../../operator/api/resources.ts';
import {
  checkJobTask,
  TaskCheckCache,
  jobTaskFields,
  jobTaskValue,
  signJobTask,
  totalGpus,
  verifyJobTask,
} from '../../../operator/settlement/job-task.ts';
import { signTask, taskDomain } from '../../../operator/settlement/task.ts';

// Fixed keys: deterministic signatures.
const requester = new Wallet(`0x${'11'.repeat(32)}`);
const other = new Wallet(`0x${'22'.repeat(32)}`);
const domain = taskDomain(31337n, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
const NOW = Date.parse('2026-03-01T12:00:00Z');
const DEADLINE = '2026-03-02T12:00:00Z';

function job(payment: Record<string, string> = {}): InferenceJobObject {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name: 'chat', namespace: 'team-a' },
    spec: {
      model: { id: 'meta-llama/Llama-3.1-8B-Instruct', hash: `sha256:${'a'.repeat(64)}` },
      runtime: { engine: 'vLLM' },
      resources: { gpus: 2 },
      replicas: 3,
      sla: { tier: 'Premium', maxLatencyMs: 300, priceCap: '3.5', regions: ['eu-west'], dataResidency: ['EU'] },
      confidential: { required: true, teeTypes: ['snp'] },
      payment: {
        requester: requester.address.toLowerCase(),
        escrowId: `0x${'2'.repeat(64)}`,
        maxTotal: '100',
        nonce: '42',
        deadline: DEADLINE,
        ...payment,
      },
    },
  } as InferenceJobObject;
}

async function signed(j: InferenceJobObject, key = requester): Promise<InferenceJobObject> {
  // a forger signs the requester's very task (signJobTask refuses a key that is not the requester's)
  const signature =
    key === requester ? await signJobTask(j, key, domain) : await signTask(key, domain, jobTaskValue(j));
  return { ...j, spec: { ...j.spec, payment: { ...j.spec.payment, signature } } };
}

test('a job signed by its requester passes, with the task digest', async (t) => {
  const r = checkJobTask(await signed(job()), domain, NOW);
  t.true(r.ok);
  if (r.ok) t.regex(r.digest, /^0x[0-9a-f]{64}$/);
});

test('no signature: TaskSignatureMissing', (t) => {
  const r = checkJobTask(job(), domain, NOW);
  t.like(r, { ok: false, reason: 'TaskSignatureMissing' });
  if (!r.ok) t.regex(r.message, /^spec\.payment\.signature: not set/);
});

test('signed by another key: TaskSignatureInvalid naming both addresses', async (t) => {
  const r = checkJobTask(await signed(job(), other), domain, NOW);
  t.like(r, { ok: false, reason: 'TaskSignatureInvalid' });
  if (!r.ok) {
    t.true(r.message.startsWith(`spec.payment.signature: recovers to ${other.address}, not spec.payment.requester`));
    t.true(r.message.includes(requester.address));
  }
});

test('a signed field changed after signing: TaskSignatureInvalid', async (t) => {
  const j = await signed(job());
  j.spec.sla.priceCap = '9';
  t.like(checkJobTask(j, domain, NOW), { ok: false, reason: 'TaskSignatureInvalid' });
  const moved = await signed(job());
  moved.metadata = { ...moved.metadata, name: 'other' };
  t.like(checkJobTask(moved, domain, NOW), { ok: false, reason: 'TaskSignatureInvalid' });
});

test('another chain or settlement contract: TaskSignatureInvalid', async (t) => {
  const j = await signed(job());
  t.like(checkJobTask(j, taskDomain(1n, '0x5FbDB2315678afecb367f032d93F642f64180aa3'), NOW), {
    ok: false,
    reason: 'TaskSignatureInvalid',
  });
});

test('a malformed signature: TaskSignatureInvalid', (t) => {
  const r = checkJobTask(job({ signature: `0x${'00'.repeat(65)}` }), domain, NOW);
  t.like(r, { ok: false, reason: 'TaskSignatureInvalid' });
  if (!r.ok) t.regex(r.message, /^spec\.payment\.signature: not a valid signature/);
});

test('past the deadline: TaskSignatureExpired, before it: ok', async (t) => {
  const j = await signed(job());
  t.true(checkJobTask(j, domain, Date.parse(DEADLINE)).ok);
  const r = checkJobTask(j, domain, Date.parse(DEADLINE) + 1000);
  t.like(r, { ok: false, reason: 'TaskSignatureExpired' });
  if (!r.ok) t.regex(r.message, /^spec\.payment\.deadline: the signature expired at 2026-03-02T12:00:00\.000Z/);
});

test('a task that cannot be built: TaskInvalid naming the job field', async (t) => {
  const noTotal = await signed(job());
  delete noTotal.spec.payment.maxTotal;
  const r = checkJobTask(noTotal, domain, NOW);
  t.like(r, { ok: false, reason: 'TaskInvalid' });
  if (!r.ok) t.regex(r.message, /^spec\.payment\.maxTotal: /);
  const badTotal = job({ maxTotal: '0', signature: `0x${'00'.repeat(65)}` });
  const b = checkJobTask(badTotal, domain, NOW);
  t.like(b, { ok: false, reason: 'TaskInvalid' });
  if (!b.ok) t.regex(b.message, /^spec\.payment\.maxTotal: must be greater than 0/);
  const noNonce = await signed(job());
  delete noNonce.spec.payment.nonce;
  const n = verifyJobTask(noNonce, domain);
  t.like(n, { ok: false, reason: 'TaskInvalid' });
  if (!n.ok) t.regex(n.message, /^spec\.payment\.nonce: must be set/);
});

test('signing with a key that is not the requester is refused', async (t) => {
  await t.throwsAsync(signJobTask(job(), other, domain), {
    message: /^spec\.payment\.requester: 0x.* is not the signing key's address/,
  });
});

test("the schema's defaults are signed as the API server applies them", (t) => {
  const j = job();
  delete j.spec.retries;
  delete j.spec.sla.tier;
  const f = jobTaskFields(j);
  t.is(f.retries, 3);
  t.is(f.sla.tier, 'BestEffort');
  t.deepEqual(f.hubJob, { namespace: 'team-a', name: 'chat' });
  t.is(f.model, `sha256:${'a'.repeat(64)}`);
  t.is(f.nonce, 42n);
  t.is(f.deadline, Date.parse(DEADLINE) / 1000);
});

test('total GPUs: per pod times replicas or workers', (t) => {
  t.is(totalGpus(job()), 6);
  const auto = job();
  delete auto.spec.replicas;
  auto.spec.autoscaling = { minReplicas: 1, maxReplicas: 4 };
  t.is(totalGpus(auto), 8);
  const training = {
    kind: 'TrainingJob',
    metadata: { name: 't', namespace: 'ns' },
    spec: { ...job().spec, workers: 5 },
  } as unknown as TrainingJobObject;
  t.is(totalGpus(training), 10);
});

test('TaskCheckCache verifies each job generation once; a new generation is checked anew, the deadline every time', async (t) => {
  let verified = 0;
  const cache = new TaskCheckCache(domain, (j, d) => {
    verified++;
    return verifyJobTask(j, d);
  });
  const j = await signed(job());
  j.metadata = { ...j.metadata, uid: 'u1', generation: 1 };
  t.true(cache.check(j, NOW).ok);
  t.true(cache.check(j, NOW).ok);
  t.is(verified, 1, 'the same generation is not verified twice');
  // past the deadline: refused without verifying again, unless the deadline does not apply (a re-placement)
  t.like(cache.check(j, Date.parse(DEADLINE) + 1000), { ok: false, reason: 'TaskSignatureExpired' });
  t.true(cache.check(j, Date.parse(DEADLINE) + 1000, { deadline: false }).ok);
  t.is(verified, 1);
  // a changed spec is a new generation: checked again, and the old signature no longer matches
  const changed = structuredClone(j);
  changed.spec.sla.priceCap = '9';
  changed.metadata = { ...changed.metadata, generation: 2 };
  t.like(cache.check(changed, NOW), { ok: false, reason: 'TaskSignatureInvalid' });
  t.is(verified, 2);
  t.is(cache.size, 1, 'one entry per job');
});
