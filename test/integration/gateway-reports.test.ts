// The attested gateway reports itself to the hub: the real operator serves Reports on a fixed port and
// advertises it (--reports-advertise-address), so a confidential InferenceJob's pod gets NVDAX_HUB_REPORTS and
// its own name as NVDAX_INSTANCE; a REAL gateway process (provider-runtime/gateway/main.ts, embedded ONNX model,
// development attester over the pod's init-data) started as that instance attests (Attested=True), and every
// inference the SDK makes is counted once into status.usage.requests, also across a hub restart (receipts are
// kept while the hub is down), a gateway stop (the queue is flushed) and a gateway crash (with
// --receipt-journal-dir the next process reports what the crashed one held). A gateway whose evidence the hub
// refuses stays unattested, and its receipts are not counted.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { MODEL_PATH } from '../../hack/model/make-model.ts';
import { initData } from '../../operator/materialize/initdata.ts';
import { contentModelHash } from '../../operator/verification/model-hash.ts';
import { createDevAttester, type DevAttester, devPolicy } from '../../provider-runtime/attester/attester.ts';
import { ConfidentialClient, fp32Outputs, fp32Request } from '../../provider-runtime/sdk/client.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { CHAIN_ID, reportsRun, SETTLEMENT } from '../helpers/reports-run.ts';
import { JsonProc } from '../helpers/runtime-kit.ts';
import { projectRoot } from '../helpers/sim.ts';

const { r, dir, provider, getJob, cond } = reportsRun('gwr', 'served');
const { run, jobsNs, tenant, label } = r;
const requester = Wallet.createRandom();
const modelHash =
  contentModelHash(`sha256:${createHash('sha256').update(readFileSync(MODEL_PATH)).digest('hex')}`) ?? '';

let op: OperatorProc;
let reportsPort = 0;
let attester: DevAttester;
const gateways: JsonProc[] = [];

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

const opArgs = () => [
  '--failover-grace',
  '60s',
  '--reports-bind-address',
  `127.0.0.1:${reportsPort}`,
  '--reports-advertise-address',
  `127.0.0.1:${reportsPort}`,
  '--attestation-policy',
  join(dir, 'policy.json'),
  '--chain-id',
  String(CHAIN_ID),
  '--settlement-address',
  SETTLEMENT,
];

/** A gateway process for the job, as `instance`, with the init-data in `initFile`, reporting to the hub. */
async function startGatewayProc(
  instance: string,
  initFile: string,
  extra: string[] = [],
): Promise<{ proc: JsonProc; port: number; ops: number }> {
  const proc = new JsonProc(join(projectRoot, 'provider-runtime', 'gateway', 'main.ts'), [
    '--listen=127.0.0.1:0',
    '--ops-listen=127.0.0.1:0',
    `--job=${jobsNs}/served`,
    '--price=1000',
    `--chain-id=${CHAIN_ID}`,
    `--settlement=${SETTLEMENT}`,
    `--provider-key-file=${join(dir, 'provider.key')}`,
    `--model=${MODEL_PATH}`,
    '--model-name=mlp',
    `--model-hash=${modelHash}`,
    '--dev-attester',
    `--dev-attester-keys=${join(dir, 'attester.json')}`,
    `--init-data=${initFile}`,
    `--hub-reports=127.0.0.1:${reportsPort}`,
    `--instance=${instance}`,
    ...extra,
  ]);
  gateways.push(proc);
  const line = await proc.waitFor('gateway serving', (l) => l.msg === 'gateway serving', 60_000);
  return { proc, port: Number(line['port']), ops: Number(line['opsPort']) };
}

const stopProc = async (p: JsonProc) => {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
};

const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37));

test.before(async () => {
  attester = await createDevAttester();
  // the gateway's development attester reuses these keys; the hub trusts them
  writeFileSync(join(dir, 'attester.json'), JSON.stringify(attester.keys), { mode: 0o600 });
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(devPolicy(attester)));
  writeFileSync(join(dir, 'provider.key'), provider.privateKey, { mode: 0o600 });
  reportsPort = await freePort();
  await r.setUp();
  const selector = r.nodes('gpu-a', 'cc', 1, 'H100', { tee: 'snp' });
  apply('hub', [r.devConfidentialPool(`${run}-dev`, 'gpu-a', selector, provider.address)]);
  op = r.startOp(1, opArgs());
  await op.proc.waitFor('reports port', (l) => l.msg === 'Serving reports', 60_000);
  await r.poolReady(`${run}-dev`);
});

test.after.always(async () => {
  for (const g of gateways) await stopProc(g).catch(() => {});
  await op?.stop();
  await r.tearDown();
  rmSync(dir, { recursive: true, force: true });
});

test('--reports-advertise-address is checked before anything runs', (t) => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [join(projectRoot, 'operator', 'main.ts'), ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });
  const alone = run(['--reports-advertise-address', 'hub:9443']);
  t.is(alone.status, 2);
  t.regex(alone.stderr, /--reports-advertise-address needs --reports-bind-address/);
  const bad = run(['--reports-bind-address', '0.0.0.0:9443', '--reports-advertise-address', 'hub:0']);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--reports-advertise-address: "hub:0" is not HOST:PORT/);
});

test.serial(
  'a real gateway attests itself and every receipt is counted once, across hub and gateway restarts and a crash',
  async (t) => {
    apply('hub', [
      {
        apiVersion: 'nvdax.io/v1alpha1',
        kind: 'InferenceJob',
        metadata: { name: 'served', namespace: jobsNs, labels: label },
        spec: {
          model: { id: 'org/mlp', hash: modelHash },
          runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
          gateway: { modelName: 'mlp' },
          resources: { gpus: 1 },
          confidential: { required: true, teeTypes: ['snp'] },
          sla: { priceCap: '50' },
          payment: { requester: requester.address, escrowId: `0x${'11'.repeat(32)}` },
        },
      },
    ]);
    const running = await eventually(
      'served Running',
      async () => {
        const j = getJob();
        return j.status?.phase === 'Running' ? j : undefined;
      },
      120_000,
      250,
    );
    type Pod = {
      metadata: { name: string; annotations?: Record<string, string> };
      spec: { containers: Array<{ name: string; env?: Array<{ name: string; value?: string; valueFrom?: unknown }> }> };
    };
    const pods = getJson<{ items: Pod[] }>('gpu-a', ['-n', tenant, 'get', 'pods']).items;
    t.is(pods.length, 1);
    const pod = pods[0]!;
    // the pod is told where to report, and as whom
    const env = Object.fromEntries(
      (pod.spec.containers.find((c) => c.name === 'gateway')?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]),
    );
    t.is(env['NVDAX_HUB_REPORTS'], `127.0.0.1:${reportsPort}`);
    t.is((env['NVDAX_INSTANCE'] as { fieldRef?: { fieldPath?: string } })?.fieldRef?.fieldPath, 'metadata.name');
    const instance = pod.metadata.name;
    const annotation = pod.metadata.annotations?.['io.katacontainers.config.hypervisor.cc_init_data'] ?? '';
    t.not(annotation, '');
    writeFileSync(join(dir, 'init-data'), annotation);

    // the gateway, run here as the pod's instance (the simulated nodes run no containers)
    let gw = await startGatewayProc(instance, join(dir, 'init-data'));
    await gw.proc.waitFor('attested to the hub', (l) => l.msg === 'attested to the hub', 60_000);
    const attested = await eventually('Attested=True', async () => {
      const j = getJob();
      return cond(j, 'Attested')?.status === 'True' ? j : undefined;
    });
    const entry = attested.status?.attestations?.find((a) => a.instance === instance);
    t.is(entry?.verified, true);
    t.regex(entry?.receiptKey ?? '', /^0x[0-9a-f]{64}$/);

    const connect = (port: number) =>
      ConfidentialClient.connect({
        address: `127.0.0.1:${port}`,
        requester,
        policy: devPolicy(attester),
        expected: { initDataDigest: running.status?.placement?.initDataDigest ?? '' },
        provider: provider.address,
        job: { namespace: jobsNs, name: 'served' },
        modelHash,
        chainId: CHAIN_ID,
        settlement: SETTLEMENT,
      });
    const infer = async (c: ConfidentialClient, n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await c.infer(fp32Request('x', x, [1, 256]));
        t.deepEqual(fp32Outputs(res.response)['y']?.shape, [1, 4]);
      }
    };
    const requestsAre = (n: number, what: string) =>
      eventually(
        what,
        async () => {
          const j = getJob();
          return j.status?.usage?.requests === n ? j : undefined;
        },
        60_000,
        500,
      );

    let c = await connect(gw.port);
    await infer(c, 5);
    await requestsAre(5, 'usage.requests = 5');

    // the hub goes away: the gateway keeps serving and keeps its receipts; the next hub counts them
    await op.stop();
    await infer(c, 3);
    await gw.proc.waitFor(
      'a failed report',
      (l) => l.msg === 'could not report receipts to the hub; kept for later',
      30_000,
    );
    op = r.startOp(2, opArgs());
    await op.proc.waitFor('reports port', (l) => l.msg === 'Serving reports', 60_000);
    await requestsAre(8, 'usage.requests = 8 after the hub restarted');

    // a gateway stopped right after serving sends what it holds before it exits
    await infer(c, 2);
    c.close();
    await stopProc(gw.proc);
    const final = await requestsAre(10, 'usage.requests = 10 after the gateway stopped');
    t.is(final.status?.usage?.requests, 10);
    await new Promise((res) => setTimeout(res, 3000));
    t.is(getJob().status?.usage?.requests, 10, 'nothing counted twice');

    // a new gateway process for the same pod (a container restart: new keys) attests again and is counted on
    gw = await startGatewayProc(instance, join(dir, 'init-data'));
    await gw.proc.waitFor('attested again', (l) => l.msg === 'attested to the hub', 60_000);
    c = await connect(gw.port);
    await infer(c, 1);
    c.close();
    await requestsAre(11, 'usage.requests = 11 after the gateway restarted');
    await stopProc(gw.proc);

    // a gateway that crashes with receipts the hub has not answered: with --receipt-journal-dir the next process
    // of the pod (new keys) reloads them and reports them; the hub takes them under the crashed process's key,
    // which it keeps as one of the instance's previousKeys, and counts each once
    const journal = [`--receipt-journal-dir=${join(dir, 'journal')}`];
    gw = await startGatewayProc(instance, join(dir, 'init-data'), journal);
    await gw.proc.waitFor('attested with a journal', (l) => l.msg === 'attested to the hub', 60_000);
    const crashedKey = await eventually('the crashing process attested', async () => {
      const a = getJob().status?.attestations?.find((x) => x.instance === instance);
      return a?.verified && a.gatewayKey ? a.gatewayKey : undefined;
    });
    await op.stop();
    c = await connect(gw.port);
    await infer(c, 3);
    c.close();
    await gw.proc.waitFor(
      'a failed report before the crash',
      (l) => l.msg === 'could not report receipts to the hub; kept for later',
      30_000,
    );
    gw.proc.child.kill('SIGKILL');
    await gw.proc.exited;
    op = r.startOp(3, opArgs());
    await op.proc.waitFor('reports port', (l) => l.msg === 'Serving reports', 60_000);
    gw = await startGatewayProc(instance, join(dir, 'init-data'), journal);
    const reloaded = await gw.proc.waitFor(
      'reloaded',
      (l) => l.msg === 'receipts the hub had not answered reloaded from the journal',
      30_000,
    );
    t.is(reloaded['reloaded'], 3);
    await requestsAre(14, 'usage.requests = 14: the crashed process’s receipts, from the journal');
    const after = getJob().status?.attestations?.find((x) => x.instance === instance);
    t.not(after?.gatewayKey, crashedKey, 'the restarted process attested a new key');
    t.true(after?.previousKeys?.some((k) => k.gatewayKey === crashedKey) ?? false, 'the crashed key is kept');
    c = await connect(gw.port);
    await infer(c, 1);
    c.close();
    await requestsAre(15, 'usage.requests = 15 after the restarted process served one more');
    await stopProc(gw.proc);
    // stopped after every receipt was answered: the next start reloads nothing, and nothing is counted twice
    gw = await startGatewayProc(instance, join(dir, 'init-data'), journal);
    await gw.proc.waitFor('attested after a clean stop', (l) => l.msg === 'attested to the hub', 60_000);
    await new Promise((res) => setTimeout(res, 3000));
    t.is(getJob().status?.usage?.requests, 15, 'nothing counted twice');
    t.false(gw.proc.lines.some((l) => l.msg === 'receipts the hub had not answered reloaded from the journal'));
  },
);

test.serial('a gateway the hub refuses stays unattested and its receipts are not counted', async (t) => {
  const before = getJob();
  const counted = before.status?.usage?.requests ?? 0;
  const instance = `${(before.status?.attestations ?? [])[0]?.instance ?? 'served-a1'}-rogue`;
  // evidence over other init-data than the pod's: the hub's init_data check fails
  const other = initData({ kbsUrl: 'http://elsewhere.example:8080' });
  writeFileSync(join(dir, 'other-init.toml'), other.toml);
  const gw = await startGatewayProc(instance, join(dir, 'other-init.toml'));
  const refused = await gw.proc.waitFor('refused', (l) => l.msg === 'the hub refused the attestation', 60_000);
  t.regex(String(refused['message']), /init_data/);
  const recorded = await eventually('the refusal recorded', async () => {
    const j = getJob();
    return j.status?.attestations?.find((a) => a.instance === instance);
  });
  t.false(recorded.verified);
  // a requester that accepts this evidence is served, but the hub counts nothing of it
  const c = await ConfidentialClient.connect({
    address: `127.0.0.1:${gw.port}`,
    requester,
    policy: devPolicy(attester),
    expected: { initDataDigest: other.digest },
    provider: provider.address,
    job: { namespace: jobsNs, name: 'served' },
  });
  for (let i = 0; i < 3; i++) await c.infer(fp32Request('x', x, [1, 256]));
  c.close();
  await new Promise((res) => setTimeout(res, 5000));
  t.is(getJob().status?.usage?.requests ?? 0, counted);
  const metrics = await (await fetch(`http://127.0.0.1:${gw.ops}/metrics`)).text();
  t.regex(metrics, /nvdax_gateway_hub_attested 0/);
  t.regex(metrics, /nvdax_gateway_hub_receipt_queue 3/);
  t.regex(metrics, /nvdax_gateway_hub_attestations_total\{result="refused"\} [1-9]/);
});
