// Signed telemetry and reputation end to end: providers report latency per tier to the real operator's
// Reports service, signed with their keys; the operator verifies each report against the pool's provider
// address and keeps a sliding window in the pool's status (latency per tier, reputation). A forged report
// and a repeated sequence are refused and counted. Against a job's latency SLA, the pool with worse latency
// history is priced higher and ranked lower — by `nvdax quote` and by the placement loop, in the same run.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Wallet } from 'ethers';
import { stringify } from 'yaml';
import type { InferenceJob, ProviderPool } from '../../operator/api/types.gen.ts';
import { reportsProto } from '../../operator/controllers/reports/intake.ts';
import type { ReportsClient } from '../../operator/verification/gen/nvdax/hub/v1/Reports.gen.ts';
import {
  signTelemetry,
  TELEMETRY_TYPES,
  type TelemetryReport,
  telemetryDomain,
} from '../../operator/verification/telemetry.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { placementRun } from '../helpers/placement-run.ts';
import { projectRoot, simDir } from '../helpers/sim.ts';

const r = placementRun('rpt', ['gpu-a']);
const { run, jobsNs } = r;
const dir = mkdtempSync(join(tmpdir(), 'nvdax-reputation-'));
const CHAIN_ID = 31337n;
const SETTLEMENT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const domain = telemetryDomain(CHAIN_ID, SETTLEMENT);
const providers = { fast: new Wallet(`0x${'71'.repeat(32)}`), slow: new Wallet(`0x${'72'.repeat(32)}`) };
const stranger = new Wallet(`0x${'73'.repeat(32)}`);
const poolName = (p: 'fast' | 'slow') => `${run}-${p}`;
const getPool = (p: 'fast' | 'slow') => getJson<ProviderPool>('hub', ['get', 'providerpool', poolName(p)]);

let op: OperatorProc;
let client: ReportsClient;

function telemetry(call: 'Telemetry', req: object): Promise<{ accepted: boolean; reputation: string }> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (r: object, cb: (e: grpc.ServiceError | null, r: never) => void) => void>)[
      call
    ]!.call(client, req, (e, r) => (e ? reject(e) : resolve(r))),
  );
}

function report(p: 'fast' | 'slow', sequence: number, p95Ms: number, violations = 0): TelemetryReport {
  return {
    provider: providers[p].address,
    pool: poolName(p),
    sequence,
    time: Date.now() - 1_000,
    windowSeconds: 60,
    gpusTotal: 8,
    gpusUsed: 1,
    tiers: [
      { tier: 0, requests: 1_000, slaViolations: violations, p50Ms: Math.floor(p95Ms / 2), p95Ms, p99Ms: p95Ms * 2 },
    ],
  };
}
const send = async (r: TelemetryReport, signer: Wallet) => {
  const s = await signTelemetry(signer, domain, r);
  return telemetry('Telemetry', { pool: r.pool, reportJson: JSON.stringify(s.report), signature: s.signature });
};

test.before(async () => {
  await r.setUp();
  for (const p of ['fast', 'slow'] as const) {
    const selector = r.nodes('gpu-a', p, 1);
    apply('hub', [
      r.pool(poolName(p), 'gpu-a', selector, '2.00', {
        provider: { address: providers[p].address },
        baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.00' }],
      }),
    ]);
  }
  op = r.startOp(1, [
    '--failover-grace',
    '60s',
    '--reports-bind-address',
    '127.0.0.1:0',
    '--chain-id',
    String(CHAIN_ID),
    '--settlement-address',
    SETTLEMENT,
  ]);
  const line = await op.proc.waitFor('reports port', (l) => l.msg === 'Serving reports', 60_000);
  client = new (reportsProto().nvdax.hub.v1.Reports)(
    `127.0.0.1:${Number(line.port)}`,
    grpc.credentials.createInsecure(),
  );
  for (const p of ['fast', 'slow'] as const) await r.poolReady(poolName(p));
});

test.after.always(async () => {
  client?.close();
  await op?.stop();
  await r.tearDown();
  rmSync(dir, { recursive: true, force: true });
});

test.serial(
  'telemetry is verified and counted; worse latency history prices a pool higher and ranks it lower',
  async (t) => {
    t.true((await send(report('fast', 1, 60), providers.fast)).accepted);
    const slow = await send(report('slow', 1, 240, 50), providers.slow);
    t.true(slow.accepted);
    t.is(slow.reputation, '0.975'); // 1 − 0.5 × 50/1000

    // a report for the slow pool that its provider did not sign, and an old sequence: refused, counted
    const forgedReport = report('slow', 2, 10);
    const forged = await t.throwsAsync(
      telemetry('Telemetry', {
        pool: forgedReport.pool,
        reportJson: JSON.stringify(forgedReport),
        signature: await stranger.signTypedData(domain, TELEMETRY_TYPES, forgedReport),
      }),
    );
    t.is((forged as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);
    t.regex((forged as grpc.ServiceError).details, /telemetry signature: recovers to 0x/);
    const stale = await t.throwsAsync(send(report('fast', 1, 10), providers.fast));
    t.regex((stale as grpc.ServiceError).details, /telemetry sequence: 1 is not after the last accepted 1/);
    const counted = await eventually('refusals counted', async () => {
      const s = getPool('slow').status;
      return s?.telemetry?.refused === 1 ? s : undefined;
    });
    t.deepEqual(
      counted.latency?.map((l) => [l.tier, l.p95Ms, l.requests, l.slaViolations]),
      [['BestEffort', 240, 1000, 50]],
    );
    t.is(counted.reputation, '0.975');
    t.is(getPool('fast').status?.telemetry?.refused, 1);
    const metrics = await (await fetch(`http://127.0.0.1:${await op.opsPort()}/metrics`)).text();
    t.regex(metrics, /nvdax_reports_telemetry_total\{result="refused"\} 2/);
    t.regex(metrics, /nvdax_reports_telemetry_total\{result="accepted"\} 2/);

    // the same run: against a 300 ms SLA, quote and placement both put the fast pool first
    const job: InferenceJob = {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'InferenceJob',
      metadata: { name: 'chat', namespace: jobsNs, labels: r.label },
      spec: {
        model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
        runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
        resources: { gpus: 1 },
        sla: { priceCap: '10', maxLatencyMs: 300 },
        payment: { requester: '0x3333333333333333333333333333333333333333', escrowId: `0x${'11'.repeat(32)}` },
      },
    } as InferenceJob;
    const file = join(dir, 'job.yaml');
    writeFileSync(file, stringify(job));
    const quote = spawnSync(
      process.execPath,
      [
        join(projectRoot, 'cli', 'nvdax.ts'),
        'quote',
        '-f',
        file,
        '--kubeconfig',
        join(simDir(), 'kubeconfig'),
        '--context',
        'nvdax-hub',
      ],
      { encoding: 'utf8' },
    );
    t.is(quote.status, 0, quote.stderr);
    const rows = quote.stdout.split('\n').filter((l) => l.startsWith(run));
    t.deepEqual(
      rows.map((l) => l.split(/\s+/).filter(Boolean)).map((c) => [c[0], c.at(-4), c.at(-1)]),
      [
        [poolName('fast'), '1.05', '2.15'], // 2 × (1 + 0.25 × 60/300) + 0.05
        [poolName('slow'), '1.20', '2.45'], // 2 × (1 + 0.25 × 240/300) + 0.05
      ],
    );
    apply('hub', [job]);
    const placed = await eventually(
      'chat placed',
      async () => {
        const j = getJson<InferenceJob>('hub', ['-n', jobsNs, 'get', 'ij', 'chat']);
        return j.status?.placement?.pool ? j : undefined;
      },
      60_000,
    );
    t.is(placed.status?.placement?.pool, poolName('fast'));
    t.is(placed.status?.placement?.quote?.latencyFactor, '1.05');
  },
);
