// Gas per settled job on a local anvil node: batch settlement at 1, 10, 100 and 1,000 jobs with 1, 10 and 100
// distinct payers and payees, beside escrow deposit + task opening, refund (closing tasks) and dispute per
// job, and one plain ERC-20 transfer in the same run. Writes bench/out/settlement.json and settlement.md.
//
//   node bench/settlement.ts        (make bench-settlement)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUnits } from 'ethers';
import { buildTask, signTask, taskDomain, toContractTask } from '../operator/settlement/task.ts';
import { deployAll, measureSettle, mustTx, startChain, taskFields } from '../test/helpers/chain.ts';
import { fmt, report } from './kit.ts';

const SIZES = [1, 10, 100, 1000];
const PARTIES = [1, 10, 100];
const TARGETS: Record<string, number> = { '100': 3000, '1000': 2000 };

const chain = await startChain(5 + 2 * 100 + 2);
const r = report('settlement');
const settle: Record<string, Record<string, number>> = {};
const first: Record<string, Record<string, number>> = {};
const deposit: Record<string, number> = {};
const open: Record<string, number> = {};
const refund: Record<string, number> = {};
const dispute: Record<string, number> = {};
let erc20Transfer = 0;
try {
  const snap = await chain.send<string>('evm_snapshot');
  let current = snap;
  const fresh = async () => {
    await chain.send('evm_revert', [current]);
    current = await chain.send<string>('evm_snapshot');
    return deployAll(chain);
  };
  for (const parties of PARTIES) {
    for (const n of SIZES.filter((s) => s >= parties)) {
      const t0 = performance.now();
      const d = await fresh();
      const g = await measureSettle(d, n, parties);
      const steadyPerJob = Math.round(Number(g.steady) / n);
      const firstPerJob = Math.round(Number(g.first) / n);
      settle[parties] = { ...settle[parties], [n]: steadyPerJob };
      first[parties] = { ...first[parties], [n]: firstPerJob };
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      console.log(
        `settle ${n} jobs, ${parties} payer(s)/payee(s): ${fmt(steadyPerJob)} gas/job (first ${fmt(firstPerJob)}; ${secs} s)`,
      );
      if (parties !== 1) continue;

      // Same run, one pair: dispute every item of the steady batch within its window.
      const all = Array.from({ length: n }, (_, i) => i);
      const dis = await mustTx(chain, d.roles.verifier, d.c.settlement, 'dispute', [
        g.batchId,
        g.items,
        g.releaseAt,
        200,
        all,
        `0x${'ab'.repeat(32)}`,
      ]);
      dispute[n] = Math.round(Number(dis.gasUsed) / n);
      // Close the tasks (their future periods' lock returns to the requester).
      const tasks = Array.from({ length: n }, (_, i) => g.scenario.firstTask + i);
      const cl = await mustTx(chain, d.roles.coordinator, d.c.settlement, 'closeTasks', [tasks]);
      refund[n] = Math.round(Number(cl.gasUsed) / n);
    }
  }
  // Deposit and open: one requester funds n jobs with one deposit and the coordinator opens them in one call.
  for (const n of SIZES) {
    const d = await fresh();
    const w = chain.wallets;
    const payer = w[5]!;
    const provider = w[6]!;
    const { token, settlement, registry } = d.c;
    const deployer = w[0]!.address;
    await mustTx(chain, deployer, token, 'transfer', [payer.address, parseUnits('48', 18) * BigInt(n)]);
    await mustTx(chain, deployer, token, 'transfer', [provider.address, parseUnits('100000', 18)]);
    await mustTx(chain, provider.address, token, 'approve', [await registry.getAddress(), parseUnits('100000', 18)]);
    await mustTx(chain, provider.address, registry, 'stake', [parseUnits('100000', 18)]);
    await mustTx(chain, payer.address, token, 'approve', [
      await settlement.getAddress(),
      parseUnits('48', 18) * BigInt(n),
    ]);
    const dep = await mustTx(chain, payer.address, settlement, 'deposit', [parseUnits('48', 18) * BigInt(n)]);
    const domain = taskDomain(BigInt(d.dep.chainId), d.dep.contracts.settlement);
    let gas = 0n;
    for (let i = 0; i < n; i += 100) {
      const part = await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, async () => {
          const v = buildTask(taskFields(payer.address));
          return { task: toContractTask(v), signature: await signTask(payer, domain, v), provider: provider.address };
        }),
      );
      gas += (await mustTx(chain, d.roles.coordinator, settlement, 'openTasks', [part])).gasUsed;
    }
    open[n] = Math.round(Number(gas) / n);
    deposit[n] = Math.round(Number(gas + dep.gasUsed) / n);
    if (n === 1) {
      // A plain ERC-20 transfer between two accounts that already hold tokens, for scale.
      await mustTx(chain, deployer, token, 'transfer', [w[7]!.address, 1n]);
      const tr = await mustTx(chain, deployer, token, 'transfer', [w[7]!.address, 1n]);
      erc20Transfer = Number(tr.gasUsed);
    }
    console.log(`deposit + open ${n} jobs: ${fmt(deposit[n]!)} gas/job`);
  }

  r.say('# Settlement gas per job (anvil, Prague rules, solc 0.8.37, optimizer on)');
  r.say();
  r.say('Settle, steady state (second period over the same tasks), gas per job by batch size and by distinct');
  r.say('payers and payees per batch; target: < 3,000 at 100 jobs, < 2,000 at 1,000 jobs.');
  r.say();
  r.table(
    ['payers = payees', ...SIZES.map((s) => `batch ${fmt(s)}`)],
    PARTIES.map((p) => [String(p), ...SIZES.map((s) => (settle[p]?.[s] !== undefined ? fmt(settle[p][s]) : 'n/a'))]),
  );
  r.say("First batch (each party's balance slot created from zero):");
  r.say();
  r.table(
    ['payers = payees', ...SIZES.map((s) => `batch ${fmt(s)}`)],
    PARTIES.map((p) => [String(p), ...SIZES.map((s) => (first[p]?.[s] !== undefined ? fmt(first[p][s]) : 'n/a'))]),
  );
  r.say('Other operations, gas per job, one payer and one payee:');
  r.say();
  r.table(
    ['operation', ...SIZES.map((s) => `batch ${fmt(s)}`)],
    [
      ['settle', ...SIZES.map((s) => fmt(settle[1]![s]!))],
      ['deposit (escrow deposit + signed task open)', ...SIZES.map((s) => fmt(deposit[s]!))],
      ['open (signed task open alone)', ...SIZES.map((s) => fmt(open[s]!))],
      ['refund (close task: future periods back to escrow)', ...SIZES.map((s) => fmt(refund[s]!))],
      ['dispute (reverse settled items)', ...SIZES.map((s) => fmt(dispute[s]!))],
    ],
  );
  r.say(`One plain ERC-20 transfer in the same run: ${fmt(erc20Transfer)} gas.`);
  r.save();
  const out = {
    unit: 'gas per job',
    settle: settle[1],
    settleByParties: settle,
    settleFirstBatch: first,
    deposit,
    open,
    refund,
    dispute,
    erc20Transfer,
    targets: TARGETS,
  };
  mkdirSync(join(import.meta.dirname, 'out'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'out', 'settlement.json'), `${JSON.stringify(out, null, 2)}\n`);
} finally {
  await chain.stop();
}
