// Settlement end to end on a real local chain (anvil, its state kept in a file so it can be stopped and
// started again) and the simulated clusters: the real operator with --settlement-deployment opens a signed
// job's task before its workload starts, refuses a job whose requester has no escrow and a pool whose
// provider has no stake, settles the job's metered usage period by period, and — after being killed with a
// settle transaction pending and the chain node stopped and started again — settles every period exactly
// once; deleting the job closes its task, and the balances on chain match to the wei.
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HDNodeWallet,
  Interface,
  JsonRpcProvider,
  MaxUint256,
  Mnemonic,
  parseUnits,
  type TransactionResponse,
} from 'ethers';
import { DEV_MNEMONIC, freePort, spawnAnvil, stopChild, waitForRpc } from '../../hack/chain/anvil.ts';
import type { InferenceJob } from '../../operator/api/types.gen.ts';
import { artifact, decodeItems, UNIT } from '../../operator/settlement/contracts.ts';
import { signJobTask } from '../../operator/settlement/job-task.ts';
import { taskDomain } from '../../operator/settlement/task.ts';
import { ACCOUNTS, type Chain, type Deployed, deployAll, mustTx } from '../helpers/chain.ts';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { placementRun } from '../helpers/placement-run.ts';

const r = placementRun('settle', ['gpu-a']);
const { run, jobsNs, label, opNs } = r;
const dir = mkdtempSync(join(tmpdir(), 'nvdax-settle-'));
const stateFile = join(dir, 'anvil-state.json');

type Job = InferenceJob & { metadata: { name: string } };
const getJob = (name: string) => getJson<Job>('hub', ['-n', jobsNs, 'get', 'ij', name]);
const cond = (j: Job, type: string) => j.status?.conditions?.find((c) => c.type === type);

let port: number;
let anvil: ChildProcess | undefined;
let chain: Chain;
let d: Deployed;
let op: OperatorProc | undefined;

async function startAnvil(): Promise<void> {
  anvil = spawnAnvil({ port, accounts: 20, extraArgs: ['--state', stateFile] });
  const child = anvil;
  await waitForRpc(`http://127.0.0.1:${port}`, 30_000, () => child.exitCode === null);
}

const rpc = <T>(method: string, params: unknown[] = []) => chain.provider.send(method, params) as Promise<T>;

const operator = (n: number): OperatorProc =>
  r.startOp(n, [
    // a busy CI machine may miss a heartbeat or two; failover is not what this test is about
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
const staked = () => chain.wallets[6]!;
const unstaked = () => chain.wallets[7]!;
const broke = () => chain.wallets[8]!;

function inferenceJob(name: string, payer: string, extra: Partial<InferenceJob['spec']['sla']> = {}): Job {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name, namespace: jobsNs, labels: label },
    spec: {
      model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
      runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
      resources: { gpus: 1, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
      sla: { priceCap: '10', ...extra },
      payment: {
        requester: payer,
        escrowId: `0x${'11'.repeat(32)}`,
        maxTotal: '5',
        nonce: String(Date.now()),
        deadline: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    },
  } as Job;
}

async function signed(job: Job, key: HDNodeWallet): Promise<Job> {
  const domain = taskDomain(31337n, d.dep.contracts.settlement);
  const signature = await signJobTask(job, key, domain);
  return { ...job, spec: { ...job.spec, payment: { ...job.spec.payment, signature } } };
}

test.before(async () => {
  port = await freePort();
  await startAnvil();
  const provider = new JsonRpcProvider(`http://127.0.0.1:${port}`, undefined, {
    staticNetwork: true,
    batchStallTime: 0,
    cacheTimeout: -1,
  });
  const root = HDNodeWallet.fromSeed(Mnemonic.fromPhrase(DEV_MNEMONIC).computeSeed());
  chain = {
    rpcUrl: `http://127.0.0.1:${port}`,
    provider,
    wallets: Array.from({ length: 20 }, (_, i) => root.derivePath(`m/44'/60'/0'/0/${i}`).connect(provider)),
    send: (method, params = []) => provider.send(method, params),
    stop: async () => {},
  };
  d = await deployAll(chain, { periodSeconds: 60, disputeWindow: 60, settleWindow: 3600 }, parseUnits('10000', 18));
  const { token, settlement, registry } = d.c;
  await mustTx(chain, requester().address, token, 'approve', [await settlement.getAddress(), MaxUint256]);
  await mustTx(chain, requester().address, settlement, 'deposit', [parseUnits('100', 18)]);
  await mustTx(chain, staked().address, token, 'approve', [await registry.getAddress(), MaxUint256]);
  await mustTx(chain, staked().address, registry, 'stake', [parseUnits('2000', 18)]);
  writeFileSync(join(dir, 'deployment.json'), JSON.stringify({ ...d.dep, rpcUrl: chain.rpcUrl }));
  writeFileSync(join(dir, 'coordinator.key'), chain.wallets[ACCOUNTS.coordinator]!.privateKey);

  await r.setUp();
  // the pool without stake is the cheaper one, and the only one in us-east: only stake keeps jobs off it
  for (const [p, wallet, region, rate] of [
    ['staked', staked(), 'eu-west', '2.10'],
    ['unstaked', unstaked(), 'us-east', '1.00'],
  ] as const) {
    const selector = r.nodes('gpu-a', p, 1);
    apply('hub', [
      r.pool(`${run}-${p}`, 'gpu-a', selector, rate, {
        provider: { address: wallet.address },
        region,
        baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: rate }],
      }),
    ]);
  }
  op = operator(1);
  for (const p of ['staked', 'unstaked']) await r.poolReady(`${run}-${p}`);
});

test.after.always(async () => {
  await op?.stop();
  await r.tearDown();
  chain?.provider.destroy();
  if (anvil) await stopChild(anvil);
  rmSync(dir, { recursive: true, force: true });
});

test.serial('a paid job settles exactly once through an operator crash and a chain restart, to the wei', async (t) => {
  t.timeout(420_000);
  const { settlement } = d.c;
  const iface = new Interface(artifact('Settlement').abi);
  const [free0] = (await settlement.getFunction('escrowOf')(requester().address)) as [bigint, bigint];
  t.is(free0, parseUnits('100', 18));

  apply('hub', [
    await signed(inferenceJob('paid', requester().address), requester()),
    await signed(inferenceJob('broke', broke().address), broke()),
    await signed(inferenceJob('east', requester().address, { regions: ['us-east'] }), requester()),
  ]);

  // the requester without escrow is refused before matching, with the reason
  const b = await eventually('broke refused', async () => {
    const j = getJob('broke');
    return cond(j, 'Scheduled')?.reason === 'EscrowMissing' ? j : undefined;
  });
  t.regex(cond(b, 'Scheduled')?.message ?? '', /has 0 NVDAx free; the task locks 4\.99998/);
  t.is(b.status?.placement, undefined);
  // the pool whose provider has no stake takes no paid work, although it is cheaper
  const e = await eventually('east refused', async () => {
    const j = getJob('east');
    return j.status?.rejections?.some((r) => r.reason === 'NoActiveStake') ? j : undefined;
  });
  t.regex(e.status?.rejections?.find((r) => r.reason === 'NoActiveStake')?.message ?? '', /below the minimum 1000/);

  // the paid job: task opened (escrow locked) before its workload runs, on the staked pool
  const opened = await eventually(
    'paid opened and running',
    async () => {
      const j = getJob('paid');
      return j.status?.settlement?.task !== undefined && cond(j, 'Ready')?.status === 'True' ? j : undefined;
    },
    120_000,
    250,
  );
  t.is(opened.status?.placement?.pool, `${run}-staked`);
  t.is(cond(opened, 'Escrowed')?.status, 'True');
  const s0 = opened.status?.settlement;
  t.is(s0?.provider, staked().address);
  t.is(s0?.escrowed, '4.99998'); // 0.166666 per 60 s period (10/GPU-hour, 1 GPU) × 30 periods
  const [freeOpen, lockedOpen] = (await settlement.getFunction('escrowOf')(requester().address)) as [bigint, bigint];
  t.is(lockedOpen, parseUnits('4.99998', 18));
  t.is(freeOpen, parseUnits('100', 18) - lockedOpen);

  // a settle transaction held in the node's pool: the operator is killed with it pending, the node is stopped
  // (its pool is lost) and started again from its state file; a new operator must finish it, once
  await rpc('evm_setAutomine', [false]);
  const pending = await eventually(
    'a settle transaction in the outbox',
    async () => {
      const text = kubectl('hub', [
        '-n',
        opNs,
        'get',
        'configmap',
        'nvdax-settlement-outbox',
        '-o',
        'jsonpath={.data.entry}',
        '--ignore-not-found',
      ]);
      const entry = text ? (JSON.parse(text) as { kind: string; txs: Array<{ hash: string }> }) : undefined;
      return entry?.kind === 'settle' ? entry : undefined;
    },
    150_000,
    250,
  );
  await op?.kill();
  t.is(await chain.provider.getTransactionReceipt(pending.txs[0]!.hash), null, 'not mined while the operator ran');
  if (anvil) await stopChild(anvil);
  await startAnvil();
  op = operator(2);

  const settledOnce = await eventually(
    'first period settled after the restart',
    async () => {
      const j = getJob('paid');
      return (j.status?.settlement?.settledPeriods ?? 0) >= 1 ? j : undefined;
    },
    120_000,
    250,
  );
  t.truthy(await chain.provider.getTransactionReceipt(pending.txs.at(-1)!.hash), 'the stored transaction was mined');
  t.is(settledOnce.status?.settlement?.task, s0?.task);

  // the job is deleted: its task closes, the rest settles, and only then does it go
  let last = getJob('paid');
  kubectl('hub', ['-n', jobsNs, 'delete', 'ij', 'paid', '--wait=false']);
  await eventually(
    'paid settled and gone',
    async () => {
      try {
        last = getJob('paid');
        return false;
      } catch {
        return true;
      }
    },
    150_000,
    250,
  );

  // every coordinator transaction succeeded (a duplicate settle would revert) and every period of the task
  // is settled in exactly one batch
  const coordinator = chain.wallets[ACCOUNTS.coordinator]!.address.toLowerCase();
  const head = await chain.provider.getBlockNumber();
  const items: Array<{ task: number; period: number; amount: bigint }> = [];
  let closedSpan: number | undefined;
  let refundedAtClose = 0n;
  for (let n = d.dep.deployedAtBlock; n <= head; n++) {
    const block = await chain.provider.getBlock(n, true);
    for (const tx of (block?.prefetchedTransactions ?? []) as TransactionResponse[]) {
      if (tx.from.toLowerCase() !== coordinator) continue;
      const receipt = await chain.provider.getTransactionReceipt(tx.hash);
      t.is(receipt?.status, 1, `coordinator transaction ${tx.hash} succeeded`);
      const call = iface.parseTransaction({ data: tx.data });
      if (call?.name === 'settle') {
        for (const i of decodeItems(String(call.args[0]))) {
          if (Number(i.task) === s0?.task)
            items.push({ task: Number(i.task), period: Number(i.period), amount: i.amount });
        }
      }
      for (const log of receipt?.logs ?? []) {
        const ev = iface.parseLog(log);
        if (ev?.name === 'TaskClosed' && Number(ev.args['task']) === s0?.task) {
          closedSpan = Number(ev.args['span']);
          refundedAtClose = BigInt(ev.args['refunded']);
        }
      }
    }
  }
  t.truthy(closedSpan, 'the task was closed');
  const periods = items.map((i) => i.period).sort((a, b) => a - b);
  t.deepEqual(
    periods,
    Array.from({ length: closedSpan ?? 0 }, (_, k) => (s0?.startPeriod ?? 0) + k),
    'each period of the task settled once',
  );
  for (const p of periods) t.true(await settlement.getFunction('isSettled')(s0?.task, p));

  // balances to the wei
  const charged = items.reduce((a, i) => a + i.amount * UNIT, 0n);
  const feeBps = BigInt(d.dep.params.feeBps);
  const fees = items.reduce((a, i) => a + ((i.amount * feeBps) / 10_000n) * UNIT, 0n);
  const [free, locked] = (await settlement.getFunction('escrowOf')(requester().address)) as [bigint, bigint];
  t.is(locked, 0n, 'nothing left locked');
  t.is(free, parseUnits('100', 18) - charged, 'the requester paid exactly what was charged');
  t.true(refundedAtClose > 0n, 'closing returned the periods after the job');
  const [avail, pendingEarn] = (await settlement.getFunction('earningsOf')(staked().address)) as [bigint, bigint];
  t.is(avail + pendingEarn, charged - fees, 'the provider earns the charge less the verifier fee');
  const [fAvail, fPending] = (await settlement.getFunction('feeEarnings')()) as [bigint, bigint];
  t.is(fAvail + fPending, fees);

  // and the charge is the metered usage at the quoted price (each period rounds down to a UNIT)
  const gpuSeconds = BigInt(last.status?.usage?.gpuSeconds ?? 0);
  const price = parseUnits(last.status?.placement?.price ?? '0', 18);
  t.true(gpuSeconds > 0n, 'the job ran');
  t.true(charged > 0n);
  const exact = (gpuSeconds * price) / 3600n;
  t.true(charged <= exact, `charged ${charged} ≤ usage × price ${exact}`);
  t.true(exact - charged < BigInt(items.length + 1) * UNIT, `charged ${charged} within rounding of ${exact}`);
  t.is(cond(last, 'Escrowed')?.status, 'True');
});
