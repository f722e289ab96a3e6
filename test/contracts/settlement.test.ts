// Example-based checks of the settlement contract: the EIP-712 task check, settlement bounds, disputes and
// the dispute window, and reentrancy through a hook-calling ERC-20.
import test from 'ava';
import { type Contract, ContractFactory, id, MaxUint256, parseUnits } from 'ethers';
import { artifact, encodeItems, UNIT } from '../../operator/settlement/contracts.ts';
import {
  buildTask,
  signTask,
  type TaskValue,
  taskDigest,
  taskDomain,
  toContractTask,
} from '../../operator/settlement/task.ts';
import { type Chain, mustTx, startChain, taskFields, tx, warpTo } from '../helpers/chain.ts';
import { type System, system, TOKEN } from './fixture.ts';

let chain: Chain;
let sys: System;
let snap: string;

test.before(async () => {
  chain = await startChain(16);
  sys = await system(chain);
  const { settlement, registry } = sys.c;
  for (const r of sys.requesters) await mustTx(chain, r.address, settlement, 'deposit', [1000n * TOKEN]);
  for (const p of sys.providers) await mustTx(chain, p.address, registry, 'stake', [500n * TOKEN]);
  snap = await chain.send<string>('evm_snapshot');
});
test.after.always(async () => {
  await chain?.stop();
});
// Each test starts from the same funded state.
test.beforeEach(async () => {
  await chain.send('evm_revert', [snap]);
  snap = await chain.send<string>('evm_snapshot');
});

const domain = () => taskDomain(BigInt(sys.dep.chainId), sys.dep.contracts.settlement);

async function open(value: TaskValue, signature: string, provider = sys.providers[0]!.address) {
  return tx(chain, sys.roles.coordinator, sys.c.settlement, 'openTasks', [
    [{ task: toContractTask(value), signature, provider }],
  ]);
}

async function nextPeriod(): Promise<number> {
  const s = sys.c.settlement;
  const period = Number(await s.getFunction('currentPeriod')());
  const genesis = Number(await s.getFunction('genesis')());
  await warpTo(chain, genesis + (period + 1) * 3600 + 1);
  return period;
}

// ---------------------------------------------------------------------------------------- EIP-712

test.serial('the contract computes the same EIP-712 digest as task.ts', async (t) => {
  const v = buildTask(taskFields(sys.requesters[0]!.address, { confidential: { required: true, teeTypes: ['snp'] } }));
  const onChain = await sys.c.settlement.getFunction('taskDigest')(toContractTask(v));
  t.is(onChain, taskDigest(domain(), v));
});

test.serial('a task signed by its requester opens and locks cap x span from the escrow', async (t) => {
  const r = sys.requesters[0]!;
  const v = buildTask(taskFields(r.address, { gpus: 2, maxTotal: '10', sla: { priceCap: '1.5' } }));
  const res = await open(v, await signTask(r, domain(), v));
  t.true(res.ok, res.error);
  // cap = 1.5 * 2 GPUs * 1 h = 3 tokens per period; span = floor(10 / 3) = 3; lock 9 tokens
  const [reqId, , cap, , span] = (await sys.c.settlement.getFunction('taskRecord')(0)) as bigint[];
  t.is(reqId, 1n);
  t.is(cap, (3n * TOKEN) / UNIT);
  t.is(span, 3n);
  t.deepEqual([...(await sys.c.settlement.getFunction('escrowOf')(r.address))], [991n * TOKEN, 9n * TOKEN]);
});

test.serial('EIP-712: wrong signer, changed field, replayed nonce, expired and cancelled are refused', async (t) => {
  const [r, other] = [sys.requesters[0]!, sys.requesters[1]!];
  const v = buildTask(taskFields(r.address));
  const good = await signTask(r, domain(), v);

  t.is((await open(v, await signTask(other, domain(), v))).error, 'BadSignature', 'signed by another account');
  t.is((await open({ ...v, maxTotal: v.maxTotal * 2n }, good)).error, 'BadSignature', 'maxTotal changed');
  t.is(
    (await open({ ...v, sla: { ...v.sla, priceCap: v.sla.priceCap + 1n } }, good)).error,
    'BadSignature',
    'price cap',
  );
  t.is((await open({ ...v, sla: { ...v.sla, regions: ['us-east'] } }, good)).error, 'BadSignature', 'regions changed');
  t.is((await open(v, `${good.slice(0, -2)}05`)).error, 'BadSignature', 'malformed signature (v = 5)');
  t.true((await open(v, good)).ok, 'the genuine one opens');
  t.is((await open(v, good)).error, 'NonceAlreadyUsed', 'replayed');

  const expired = buildTask(taskFields(r.address, { deadline: 1 }));
  t.is((await open(expired, await signTask(r, domain(), expired))).error, 'SignatureExpired');

  const cancelled = buildTask(taskFields(r.address));
  await mustTx(chain, r.address, sys.c.settlement, 'cancelNonce', [cancelled.nonce]);
  t.is((await open(cancelled, await signTask(r, domain(), cancelled))).error, 'NonceAlreadyUsed', 'cancelled nonce');
});

test.serial('a task needs escrow and the provider free stake', async (t) => {
  const r = sys.requesters[0]!;
  const big = buildTask(taskFields(r.address, { maxTotal: '5000', sla: { priceCap: '100' } }));
  t.is((await open(big, await signTask(r, domain(), big))).error, 'InsufficientEscrow');
  const v = buildTask(taskFields(r.address));
  t.is((await open(v, await signTask(r, domain(), v), sys.stranger.address)).error, 'NotRegistered');
});

// -------------------------------------------------------------------------------------- settlement

async function oneTask(): Promise<{ cap: bigint; period: number }> {
  const r = sys.requesters[0]!;
  const v = buildTask(taskFields(r.address, { maxTotal: '8', sla: { priceCap: '2' } })); // cap 2 tokens, 4 periods
  t0ok(await open(v, await signTask(r, domain(), v)));
  return { cap: (2n * TOKEN) / UNIT, period: await nextPeriod() };
}
function t0ok(r: { ok: boolean; error?: string }) {
  if (!r.ok) throw new Error(`open failed: ${r.error}`);
}

test.serial(
  'settle pays the provider after the dispute window, returns the unused cap, refuses bad items',
  async (t) => {
    const { cap, period } = await oneTask();
    const s = sys.c.settlement;
    const settle = (items: Array<{ task: number; period: number; amount: bigint }>) =>
      tx(chain, sys.roles.coordinator, s, 'settle', [encodeItems(items)]);

    t.is((await settle([{ task: 0, period, amount: cap + 1n }])).error, 'AmountAboveCap');
    t.is((await settle([{ task: 0, period: period + 1, amount: 1n }])).error, 'PeriodOutOfRange', 'period not over');
    t.is((await settle([{ task: 1, period, amount: 1n }])).error, 'PeriodOutOfRange', 'unknown task');
    t.is(
      (
        await settle([
          { task: 0, period, amount: 1n },
          { task: 0, period, amount: 1n },
        ])
      ).error,
      'AlreadySettled',
      'duplicate inside a batch',
    );
    const amount = (cap * 3n) / 4n;
    t.true((await settle([{ task: 0, period, amount }])).ok);
    t.is((await settle([{ task: 0, period, amount: 1n }])).error, 'AlreadySettled', 'duplicate across batches');

    const [free, locked] = (await s.getFunction('escrowOf')(sys.requesters[0]!.address)) as bigint[];
    t.is(locked, 3n * cap * UNIT, 'three periods still locked');
    t.is(free, 1000n * TOKEN - 4n * cap * UNIT + (cap - amount) * UNIT, 'the unused quarter came back');

    const fee = (amount * 250n) / 10_000n;
    const p0 = sys.providers[0]!;
    t.deepEqual([...(await s.getFunction('earningsOf')(p0.address))], [0n, (amount - fee) * UNIT]);
    t.is((await tx(chain, p0.address, s, 'withdrawEarnings', [])).error, 'NothingToWithdraw', 'not before the window');
    const b = await chain.provider.getBlock('latest');
    await warpTo(chain, b!.timestamp + 1300);
    const before = (await sys.c.token.getFunction('balanceOf')(p0.address)) as bigint;
    t.true((await tx(chain, p0.address, s, 'withdrawEarnings', [])).ok);
    t.is((await sys.c.token.getFunction('balanceOf')(p0.address)) - before, (amount - fee) * UNIT);
  },
);

test.serial('a dispute inside the window reverses an item exactly; after it, it is refused', async (t) => {
  const { cap, period } = await oneTask();
  const s = sys.c.settlement;
  const items = encodeItems([{ task: 0, period, amount: cap }]);
  const r = await mustTx(chain, sys.roles.coordinator, s, 'settle', [items]);
  const ev = s.interface.parseLog(r.receipt.logs.find((l) => l.address === sys.dep.contracts.settlement)!)!;
  t.is(ev.name, 'BatchSettled');
  const releaseAt = ev.args['releaseAt'] as bigint;
  const args = [0, items, releaseAt, 250, [0], id('bad meter')];
  t.is((await tx(chain, sys.roles.verifier, s, 'dispute', [0, items, releaseAt, 300, [0], id('x')])).error, 'BadBatch');
  const [freeBefore] = (await s.getFunction('escrowOf')(sys.requesters[0]!.address)) as bigint[];
  t.true((await tx(chain, sys.roles.verifier, s, 'dispute', args)).ok);
  const [freeAfter] = (await s.getFunction('escrowOf')(sys.requesters[0]!.address)) as bigint[];
  t.is(freeAfter! - freeBefore!, cap * UNIT, 'the whole amount is back with the requester');
  t.deepEqual([...(await s.getFunction('earningsOf')(sys.providers[0]!.address))], [0n, 0n]);
  t.deepEqual([...(await s.getFunction('feeEarnings')())], [0n, 0n]);
  t.is((await tx(chain, sys.roles.verifier, s, 'dispute', args)).error, 'AlreadyDisputed');

  // A second batch, disputed too late.
  await nextPeriod();
  const items2 = encodeItems([{ task: 0, period: period + 1, amount: cap }]);
  const r2 = await mustTx(chain, sys.roles.coordinator, s, 'settle', [items2]);
  const rel2 = s.interface.parseLog(r2.receipt.logs.find((l) => l.address === sys.dep.contracts.settlement)!)!.args[
    'releaseAt'
  ] as bigint;
  await warpTo(chain, Number(rel2));
  t.is(
    (await tx(chain, sys.roles.verifier, s, 'dispute', [1, items2, rel2, 250, [0], id('late')])).error,
    'DisputeWindowOver',
  );
});

test.serial(
  'closing a task returns its future periods; unsettled old periods can be refunded; stake released',
  async (t) => {
    const { cap, period } = await oneTask();
    const s = sys.c.settlement;
    t.true((await tx(chain, sys.roles.coordinator, s, 'closeTasks', [[0]])).ok);
    // Closed in period+1: periods period and period+1 remain, two refunded now.
    const [, locked] = (await s.getFunction('escrowOf')(sys.requesters[0]!.address)) as bigint[];
    t.is(locked, 2n * cap * UNIT);
    t.is((await tx(chain, sys.stranger.address, s, 'refundPeriods', [0, [period]])).error, 'RefundTooEarly');
    t.is((await tx(chain, sys.stranger.address, s, 'releaseStake', [[0]])).error, 'StakeLockedUntil');
    const genesis = Number(await s.getFunction('genesis')());
    await warpTo(chain, genesis + (period + 2) * 3600 + 7200 + 1200);
    t.true((await tx(chain, sys.stranger.address, s, 'refundPeriods', [0, [period, period + 1]])).ok);
    t.deepEqual([...(await s.getFunction('escrowOf')(sys.requesters[0]!.address))], [1000n * TOKEN, 0n]);
    const reg = sys.c.registry;
    t.true(((await reg.getFunction('provider')(sys.providers[0]!.address)) as { locked: bigint }).locked > 0n);
    t.true((await tx(chain, sys.stranger.address, s, 'releaseStake', [[0]])).ok);
    t.is(((await reg.getFunction('provider')(sys.providers[0]!.address)) as { locked: bigint }).locked, 0n);
  },
);

test.serial('slashing pays the verifier its share and the requesters the rest, with the evidence hash', async (t) => {
  const reg = sys.c.registry;
  const [r0, r1] = [sys.requesters[0]!.address, sys.requesters[1]!.address];
  // A slash by the verifier is bounded by the stake locked for tasks (and maxSlash, 60): lock 10% of 900.
  const big = buildTask(taskFields(r0, { maxTotal: '900', sla: { priceCap: '100' } }));
  t0ok(await open(big, await signTask(sys.requesters[0]!, domain(), big)));
  const amount = 50n * TOKEN;
  t.is(
    (
      await tx(chain, sys.roles.verifier, reg, 'slash', [
        sys.providers[0]!.address,
        amount,
        id('ev'),
        [r0, r1],
        [25n * TOKEN, 25n * TOKEN],
      ])
    ).error,
    'SlashSplitMismatch',
  );
  const res = await tx(chain, sys.roles.verifier, reg, 'slash', [
    sys.providers[0]!.address,
    amount,
    id('ev'),
    [r0, r1],
    [22_500n * 10n ** 15n, 22_500n * 10n ** 15n],
  ]);
  t.true(res.ok, res.error);
  const ev = res.receipt.logs.map((l) => reg.interface.parseLog(l)).find((l) => l?.name === 'Slashed')!;
  t.is(ev.args['evidence'], id('ev'));
  t.is(ev.args['verifierAmount'], 5n * TOKEN);
  t.is(((await reg.getFunction('provider')(sys.providers[0]!.address)) as { staked: bigint }).staked, 450n * TOKEN);
  // The requesters' share went to their escrow (free), not to their wallets.
  t.deepEqual([...(await sys.c.settlement.getFunction('escrowOf')(r1))], [1022_500n * 10n ** 15n, 0n]);
});

test.serial('staking rewards follow the emission rate and stop at the cap', async (t) => {
  const reg = sys.c.registry;
  const p = sys.providers;
  const b = await chain.provider.getBlock('latest');
  await warpTo(chain, b!.timestamp + 1000);
  const earned = (await Promise.all(p.map((x) => reg.getFunction('earned')(x.address)))) as bigint[];
  const total = earned.reduce((x, y) => x + y, 0n);
  // 0.01 token/s shared by three equal stakes for ~1000 s (rounding down, never above)
  t.true(total <= 11n * TOKEN && total >= 9n * TOKEN, `${total}`);
  // After 10^5 s the 1,000-token cap is reached and no more accrues.
  await warpTo(chain, b!.timestamp + 200_000);
  const capped = ((await Promise.all(p.map((x) => reg.getFunction('earned')(x.address)))) as bigint[]).reduce(
    (x, y) => x + y,
    0n,
  );
  t.true(capped <= parseUnits('1000', 18) && capped > parseUnits('999', 18), `${capped}`);
  t.true((await tx(chain, p[0]!.address, reg, 'claimRewards', [])).ok);
});

// -------------------------------------------------------------------------------------- reentrancy

test.serial('a token that calls back into the contracts cannot reenter them', async (t) => {
  const w = chain.wallets;
  const deployer = w[0]!;
  const hook = await new ContractFactory(
    artifact('test/HookToken').abi,
    artifact('test/HookToken').bytecode,
    deployer,
  ).deploy(deployer.address, 10n ** 24n);
  await hook.waitForDeployment();
  const attacker = await new ContractFactory(
    artifact('test/Reenterer').abi,
    artifact('test/Reenterer').bytecode,
    deployer,
  ).deploy();
  await attacker.waitForDeployment();
  const reg = await new ContractFactory(
    artifact('ProviderRegistry').abi,
    artifact('ProviderRegistry').bytecode,
    deployer,
  ).deploy(await hook.getAddress(), deployer.address, 1n, 0, 0, 0, 1n);
  await reg.waitForDeployment();
  const set = await new ContractFactory(artifact('Settlement').abi, artifact('Settlement').bytecode, deployer).deploy(
    await hook.getAddress(),
    await reg.getAddress(),
    deployer.address,
    3600,
    { feeBps: 0, stakeLockBps: 0, disputeWindow: 600, settleWindow: 600, feeRecipient: deployer.address },
  );
  await set.waitForDeployment();
  const [A, S, R] = await Promise.all([attacker.getAddress(), set.getAddress(), reg.getAddress()]);
  const hookC = hook.connect(chain.provider) as unknown as Contract;
  const atk = attacker.connect(chain.provider) as unknown as Contract;
  await mustTx(chain, deployer.address, hookC, 'transfer', [A, 1000n]);
  await mustTx(chain, deployer.address, atk, 'exec', [
    await hook.getAddress(),
    hook.interface.encodeFunctionData('hookMe', []),
  ]);
  await mustTx(chain, deployer.address, atk, 'approve', [await hook.getAddress(), S, MaxUint256]);
  await mustTx(chain, deployer.address, atk, 'approve', [await hook.getAddress(), R, MaxUint256]);
  const exec = (to: string, data: string) => mustTx(chain, deployer.address, atk, 'exec', [to, data]);

  // Escrow: deposit 100, withdraw 50 and, from inside the token transfer, try to withdraw 50 more.
  await exec(S, set.interface.encodeFunctionData('deposit', [100n]));
  await mustTx(chain, deployer.address, atk, 'arm', [S, set.interface.encodeFunctionData('withdrawEscrow', [50n])]);
  await exec(S, set.interface.encodeFunctionData('withdrawEscrow', [50n]));
  t.true(await atk.getFunction('attempted')());
  t.false(await atk.getFunction('reentered')(), 'the nested withdraw must fail');
  t.is(set.interface.parseError((await atk.getFunction('result')()) as string)?.name, 'ReentrancyGuardReentrantCall');
  t.deepEqual([...(await set.connect(chain.provider).getFunction('escrowOf')(A))], [50n, 0n]);

  // Registry: stake, unbond, and reenter withdrawUnbonded from inside its transfer.
  await exec(R, reg.interface.encodeFunctionData('stake', [10n]));
  await exec(R, reg.interface.encodeFunctionData('requestUnbond', [10n]));
  await mustTx(chain, deployer.address, atk, 'arm', [R, reg.interface.encodeFunctionData('withdrawUnbonded', [])]);
  await exec(R, reg.interface.encodeFunctionData('withdrawUnbonded', []));
  t.false(await atk.getFunction('reentered')());
  t.is(reg.interface.parseError((await atk.getFunction('result')()) as string)?.name, 'ReentrancyGuardReentrantCall');
  t.is(await hookC.getFunction('balanceOf')(A), 1000n - 50n, 'received exactly what it was owed');
});
