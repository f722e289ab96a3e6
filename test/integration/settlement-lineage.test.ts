// Checkpoint provenance reaches the chain: a paid Distributed TrainingJob with signed checkpoints in
// status.checkpoints runs to Succeeded on the simulated clusters; the real operator (--settlement-deployment)
// anchors its lineage on the settlement contract (anchorLineages) before it closes the job's task, and
// records it in status.settlement.lineage. The test rebuilds the anchor from status.checkpoints alone and finds
// the same 32 bytes in status, in the contract's storage (lineageOf) and in the LineageAnchored event of the
// transaction status names, which was mined before the task's close. The operator is killed with the anchoring
// transaction written to its outbox and not yet mined; the one started after it finishes that transaction, and
// the task is anchored once.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Interface, MaxUint256, parseUnits } from 'ethers';
import type { TrainingJob } from '../../operator/api/types.gen.ts';
import { artifact } from '../../operator/settlement/contracts.ts';
import { signJobTask } from '../../operator/settlement/job-task.ts';
import { taskDomain } from '../../operator/settlement/task.ts';
import { generateSigningKey } from '../../operator/training/keys.ts';
import {
  Lineage,
  type LineageSnapshot,
  lineageAnchor,
  signCheckpoint,
  verifyLineage,
} from '../../operator/training/lineage.ts';
import { sha256 } from '../../operator/training/vector.ts';
import { ACCOUNTS, type Chain, type Deployed, deployAll, mustTx, startChain } from '../helpers/chain.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { placementRun } from '../helpers/placement-run.ts';

const r = placementRun('anchor', ['gpu-a']);
const { run, jobsNs, label } = r;
const dir = mkdtempSync(join(tmpdir(), 'nvdax-anchor-'));

type Job = TrainingJob & { metadata: { name: string } };

let chain: Chain;
let d: Deployed;
let op: OperatorProc | undefined;
const operator = (n: number): OperatorProc =>
  r.startOp(n, [
    '--failover-grace',
    '60s',
    '--settlement-deployment',
    join(dir, 'deployment.json'),
    '--chain-key-file',
    join(dir, 'coordinator.key'),
    '--settlement-interval',
    '500ms',
    '--usage-meter-interval',
    '3s',
  ]);

const requester = () => chain.wallets[5]!;
const provider = () => chain.wallets[6]!;

test.before(async () => {
  chain = await startChain(20);
  d = await deployAll(chain, { periodSeconds: 60, disputeWindow: 60, settleWindow: 3600 }, parseUnits('10000', 18));
  const { token, settlement, registry } = d.c;
  await mustTx(chain, requester().address, token, 'approve', [await settlement.getAddress(), MaxUint256]);
  await mustTx(chain, requester().address, settlement, 'deposit', [parseUnits('100', 18)]);
  await mustTx(chain, provider().address, token, 'approve', [await registry.getAddress(), MaxUint256]);
  await mustTx(chain, provider().address, registry, 'stake', [parseUnits('2000', 18)]);
  writeFileSync(join(dir, 'deployment.json'), JSON.stringify({ ...d.dep, rpcUrl: chain.rpcUrl }));
  writeFileSync(join(dir, 'coordinator.key'), chain.wallets[ACCOUNTS.coordinator]!.privateKey);

  await r.setUp();
  const selector = r.nodes('gpu-a', 'train', 1);
  apply('hub', [
    r.pool(`${run}-staked`, 'gpu-a', selector, '2.10', {
      provider: { address: provider().address },
      baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' }],
    }),
  ]);
  op = operator(1);
  await r.poolReady(`${run}-staked`);
});

test.after.always(async () => {
  await op?.stop();
  await r.tearDown();
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial(
  'an ended TrainingJob’s lineage head is anchored on chain before its task closes, as status says',
  async (t) => {
    t.timeout(300_000);
    const name = 'ft';
    const jobKey = `${jobsNs}/${name}`;
    const job: Job = {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name, namespace: jobsNs, labels: label },
      spec: {
        mode: 'Distributed',
        model: { id: 'org/base', hash: `sha256:${'cd'.repeat(32)}` },
        runtime: { engine: 'Custom', image: `ghcr.io/nvdax/ft@sha256:${'ab'.repeat(32)}` },
        workers: 1,
        resources: { gpus: 1, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
        sla: { priceCap: '10' },
        payment: {
          requester: requester().address,
          escrowId: `0x${'11'.repeat(32)}`,
          maxTotal: '5',
          nonce: String(Date.now()),
          deadline: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      },
    } as Job;
    const signature = await signJobTask(job, requester(), taskDomain(31337n, d.dep.contracts.settlement));
    const fromBlock = await chain.provider.getBlockNumber();
    apply('hub', [{ ...job, spec: { ...job.spec, payment: { ...job.spec.payment, signature } } }]);

    // the workload's signed checkpoints, as the report intake keeps them (keep 2: one record is folded)
    const key = generateSigningKey();
    const l = new Lineage(jobKey, 2);
    for (const step of [10, 20, 30]) {
      const rec = signCheckpoint(jobKey, key, {
        step,
        uri: `s3://ck/ft/${step}`,
        sha256: sha256(`w${step}`),
        parent: l.head,
      });
      l.append({ ...rec, time: new Date().toISOString() });
    }
    const written = l.snapshot();
    kubectl('hub', [
      '-n',
      jobsNs,
      'patch',
      'tj',
      name,
      '--subresource=status',
      '--type=merge',
      '--field-manager=test-checkpoints',
      '-p',
      JSON.stringify({ status: { checkpoints: written } }),
    ]);

    const getTj = () => getJson<Job>('hub', ['-n', jobsNs, 'get', 'tj', name]);
    // once the task is open, blocks are mined only when the test says so: the anchoring transaction waits.
    // Seen on the chain itself (its TaskOpened log, polled every 50 ms), not through the job's status: the job's
    // pod ends 1-6 s after it is Ready, and the operator anchors right after, which a status poll could miss
    const taskOpened = new Interface(artifact('Settlement').abi).getEvent('TaskOpened')!.topicHash;
    await eventually(
      'TaskOpened on chain',
      async () =>
        (await chain.provider.getLogs({ address: d.dep.contracts.settlement, topics: [taskOpened], fromBlock }))
          .length > 0 || undefined,
      120_000,
      50,
    );
    await chain.send('evm_setAutomine', [false]);
    await eventually('task opened in status', async () => getTj().status?.settlement?.task !== undefined, 120_000, 250);
    const entry = await eventually(
      'the anchoring transaction in the outbox',
      async () => {
        const text = kubectl('hub', [
          '-n',
          r.opNs,
          'get',
          'configmap',
          'nvdax-settlement-outbox',
          '-o',
          'jsonpath={.data.entry}',
          '--ignore-not-found',
        ]);
        const e = text ? (JSON.parse(text) as { kind: string; txs: Array<{ hash: string }> }) : undefined;
        return e?.kind === 'anchor' ? e : undefined;
      },
      120_000,
      250,
    );
    await op?.kill();
    t.is(await chain.provider.getTransactionReceipt(entry.txs[0]!.hash), null, 'not mined while the operator ran');
    await chain.send('evm_setAutomine', [true]);
    await chain.send('evm_mine');
    op = operator(2);

    let last: Job | undefined;
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      last = getTj();
      if (last.status?.settlement?.closed && last.status.settlement.lineage?.txHash) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    const st = last?.status;
    t.is(st?.phase, 'Succeeded', 'the job ran to its end');
    t.true(st?.settlement?.closed, 'its task was closed');
    const s = st?.settlement;
    const lin = s?.lineage;
    t.truthy(lin?.txHash, `status.settlement.lineage: ${JSON.stringify(lin)}`);

    // anyone rebuilds the anchor from status.checkpoints alone
    const cps = st?.checkpoints as LineageSnapshot;
    t.notThrows(() => verifyLineage(cps));
    t.is(cps.folded.count, 1);
    const rebuilt = lineageAnchor(cps);
    t.is(rebuilt?.anchor, lineageAnchor(written)?.anchor, 'status holds the lineage the workload wrote');
    t.is(lin?.anchor, rebuilt?.anchor);
    t.is(lin?.head, rebuilt?.head);
    t.is(lin?.step, 30);
    t.is(lin?.records, 3);

    // the chain holds the same 32 bytes for the job's task, from the transaction status names
    const { settlement } = d.c;
    t.is(await settlement.getFunction('lineageOf')(s?.task), rebuilt?.anchor);
    const iface = new Interface(artifact('Settlement').abi);
    const anchorReceipt = await chain.provider.getTransactionReceipt(lin?.txHash ?? '');
    t.is(anchorReceipt?.status, 1);
    t.is(anchorReceipt?.blockNumber, lin?.blockNumber);
    const ev = anchorReceipt?.logs.map((x) => iface.parseLog(x)).find((e) => e?.name === 'LineageAnchored');
    t.is(Number(ev?.args['task']), Number(s?.task));
    t.is(ev?.args['head'], rebuilt?.anchor);
    t.is(Number(ev?.args['step']), 30);
    t.true(
      entry.txs.some((x) => x.hash === lin?.txHash),
      'status names the transaction the killed operator stored',
    );
    const anchored = await settlement.queryFilter(
      settlement.filters['LineageAnchored']!(s?.task),
      d.dep.deployedAtBlock,
    );
    t.is(anchored.length, 1, 'anchored once');

    // and it was mined before the task was closed
    const close = s?.transactions?.find((x) => x.type === 'Close');
    t.truthy(close, 'the close transaction is recorded');
    const closeReceipt = await chain.provider.getTransactionReceipt(close?.txHash ?? '');
    t.true(
      (anchorReceipt?.blockNumber ?? Infinity) < (closeReceipt?.blockNumber ?? -1) ||
        (anchorReceipt?.blockNumber === closeReceipt?.blockNumber &&
          (anchorReceipt?.index ?? Infinity) < (closeReceipt?.index ?? -1)),
      'anchored before closing',
    );
  },
);
