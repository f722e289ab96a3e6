// The operator's Replay wiring without clusters: the flags (--verifier-sample-rate off by default, the backend,
// the slash amount), a replay mismatch slashing the provider once through submitSlash with the job's
// requester compensated, and the incident written by the intake's own pool writer.
import test from 'ava';
import type { Contract } from 'ethers';
import { Wallet } from 'ethers';
import { type ReplayOptions, ReportIntake, replayOptions } from '../../../operator/controllers/reports/intake.ts';
import type { KubeClient } from '../../../operator/kube/client.ts';
import { createLogger } from '../../../operator/runtime/log.ts';
import { parseNvdax } from '../../../operator/settlement/contracts.ts';
import { hubJobId } from '../../../operator/settlement/task.ts';
import { contentHash, type Receipt, receiptDomain, signReceipt } from '../../../operator/verification/receipt.ts';
import { slashEvidence } from '../../../operator/verification/verifier.ts';

const provider = Wallet.createRandom();
const requester = '0x3333333333333333333333333333333333333333';
const domain = receiptDomain(31337n, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
const modelHash = `0x${'ab'.repeat(32)}`;

/** A provider registry that records `slash` calls (verifier share 10%). */
function fakeRegistry() {
  const calls: unknown[][] = [];
  const registry = {
    getFunction(name: string) {
      if (name === 'slashVerifierBps') return async () => 1000n;
      const f = async (...args: unknown[]) => {
        calls.push(args.slice(0, 5));
        return { hash: `0x${'99'.repeat(32)}`, wait: async () => ({ status: 1, blockNumber: 7 }) };
      };
      return Object.assign(f, { estimateGas: async () => 100_000n });
    },
  } as unknown as Contract;
  return { registry, calls };
}

const receipt = (i: number, outputHash: string): Receipt => ({
  provider: provider.address,
  job: hubJobId({ namespace: 'team-a', name: 'audited' }),
  modelHash,
  inputHash: contentHash(`in ${i}`),
  outputHash,
  latencyUs: 900,
  deviceTimeUs: 500,
  price: '0',
  requestId: `0x${String(i).padStart(64, '0')}`,
  gatewayKey: `0x${'44'.repeat(32)}`,
  time: 1_800_000_000_000 + i,
  inputTokens: 0,
  outputTokens: 0,
});

test('the flags: off by default, a share in 0..1, a backend, a slash amount only with a registry', (t) => {
  t.is(replayOptions({ sampleRate: '', backend: '' }), undefined);
  t.is(replayOptions({ sampleRate: '0', backend: '127.0.0.1:1' }), undefined);
  t.throws(() => replayOptions({ sampleRate: '1.5', backend: 'x:1' }), { message: /--verifier-sample-rate/ });
  t.throws(() => replayOptions({ sampleRate: 'abc', backend: 'x:1' }), { message: /--verifier-sample-rate/ });
  t.throws(() => replayOptions({ sampleRate: '0.1', backend: '' }), { message: /--verifier-backend/ });
  t.throws(() => replayOptions({ sampleRate: '0.1', backend: 'x:1', slashAmount: '10' }), {
    message: /--settlement-deployment/,
  });
  t.throws(
    () => replayOptions({ sampleRate: '0.1', backend: 'x:1', slashAmount: 'ten', registry: fakeRegistry().registry }),
    {
      message: /--verifier-slash-amount/,
    },
  );
  const o = replayOptions({ sampleRate: '0.25', backend: 'x:1', seed: 'kept' });
  t.is(o?.share, 0.25);
  t.is(o?.seed, 'kept');
  t.is(o?.slash, undefined);
  t.not(
    replayOptions({ sampleRate: '1', backend: 'x:1' })?.seed,
    replayOptions({ sampleRate: '1', backend: 'x:1' })?.seed,
  );
});

test('the slash goes through submitSlash: the evidence hash, the amount, the requester compensated', async (t) => {
  const { registry, calls } = fakeRegistry();
  const o = replayOptions({ sampleRate: '1', backend: 'x:1', slashAmount: '10', registry });
  const s = await signReceipt(provider, domain, receipt(1, contentHash('out')));
  const ev = slashEvidence('replay-mismatch', s, { receiptOutputHash: contentHash('out') });
  const sub = await o?.slash?.(ev, [requester]);
  t.is(sub?.txHash, `0x${'99'.repeat(32)}`);
  t.deepEqual(calls, [[provider.address, parseNvdax('10'), ev.evidenceHash, [requester], [parseNvdax('9')]]]);
});

test('Replay: a mismatch is written as a pool incident once and slashed once; honest records pass', async (t) => {
  const pool = {
    metadata: { name: 'pool-a', resourceVersion: '1' },
    spec: { provider: { address: provider.address } },
    status: {} as { incidents?: Array<{ kind: string; message?: string; job?: string }>; reputation?: string },
  };
  const job = {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { namespace: 'team-a', name: 'audited', uid: 'u1' },
    spec: { model: { id: 'org/mlp', hash: `sha256:${'ab'.repeat(32)}` }, payment: { requester } },
    status: { phase: 'Running', attempts: 1, placement: { pool: 'pool-a', attempt: 1, mode: 'Confidential' } },
  };
  const writes: Array<{ manager: string; status: typeof pool.status }> = [];
  // the pool as the intake's read-modify-write (KubeClient.updateStatus, tested against a real API server in
  // test/integration/runtime-kube.test.ts) sees it: one copy, each write recorded with its field manager
  const hub = {
    updateStatus: async (
      _res: unknown,
      _ref: unknown,
      change: (o: typeof pool) => Promise<typeof pool.status | undefined> | typeof pool.status | undefined,
      o: { fieldManager: string },
    ) => {
      const status = await change(structuredClone(pool));
      if (status === undefined) return 'unchanged';
      writes.push({ manager: o.fieldManager, status });
      pool.status = structuredClone(status);
      return 'written';
    },
  } as unknown as KubeClient;
  const slashed: string[] = [];
  const replay: ReplayOptions = {
    share: 1,
    seed: 's',
    // the reference answers "out <i>" for "in <i>"
    reference: () => (input) => `out ${String(Buffer.from(input as Uint8Array).toString()).slice(3)}`,
    slash: async (ev, requesters) => {
      slashed.push(`${ev.kind} ${requesters.join(',')}`);
      return { txHash: '0xfeed' };
    },
  };
  const intake = new ReportIntake({
    hub,
    clock: { now: () => 1_800_000_000_000 } as never,
    log: createLogger({ level: 'silent' }),
    pools: { get: () => pool } as never,
    jobs: { InferenceJob: { get: () => job }, TrainingJob: { get: () => undefined } } as never,
    receiptDomain: domain,
    replay,
  });
  const rec = async (i: number, output: string) => {
    const s = await signReceipt(provider, domain, receipt(i, contentHash(output)));
    return {
      receipt: { receiptJson: JSON.stringify(s.receipt), signature: s.signature, scheme: 'eip712' },
      input: Buffer.from(`in ${i}`),
    };
  };
  const ref = { kind: 'InferenceJob', namespace: 'team-a', name: 'audited' };
  const honest = await intake.replay({ job: ref, records: [await rec(1, 'out 1')] } as never);
  t.deepEqual(honest, { checked: 1, replayed: 1, evidence: [], refused: [] });
  t.is(writes.length, 0);
  const wrong = await rec(2, 'something else');
  const bad = await intake.replay({ job: ref, records: [wrong] } as never);
  t.regex(bad.evidence?.[0] ?? '', /replay-mismatch evidence 0x[0-9a-f]{64}, slashed in 0xfeed/);
  t.deepEqual(slashed, [`replay-mismatch ${requester}`]);
  t.is(pool.status.incidents?.length, 1);
  t.is(pool.status.incidents?.[0]?.kind, 'ReplayMismatch');
  t.is(pool.status.incidents?.[0]?.job, 'team-a/audited');
  t.true(Number(pool.status.reputation) < 1);
  t.true(writes.every((w) => w.manager === 'nvdax-reports'));
  // offered again: recorded before, not slashed again
  const again = await intake.replay({ job: ref, records: [wrong] } as never);
  t.regex(again.evidence?.[0] ?? '', /recorded before/);
  t.is(slashed.length, 1);
  t.is(pool.status.incidents?.length, 1);
});
