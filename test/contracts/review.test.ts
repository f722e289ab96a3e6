// The review's findings, each checked on a real anvil: bounded slashing paid through the escrow, the time-lock
// at least the unbonding delay, settle deadlines extended by pauses, a requester closing its own task, the
// provider named in the signed task, and the minor bounds (requester ids, periodSeconds, the dispute window a
// stake release waits for). Each test fails on the contracts as they were before the fixes.
import test from 'ava';
import { ContractFactory, id, parseUnits, toBeHex, ZeroAddress } from 'ethers';
import { artifact, encodeItems, UNIT } from '../../operator/settlement/contracts.ts';
import { defaultParams, deploy } from '../../operator/settlement/deploy.ts';
import { buildTask, signTask, type TaskValue, taskDomain, toContractTask } from '../../operator/settlement/task.ts';
import {
  type Chain,
  decodeError,
  latestTimestamp,
  mustTx,
  nextBlockAt,
  startChain,
  taskFields,
  tx,
  warpTo,
} from '../helpers/chain.ts';
import { type System, system, TOKEN, testParams } from './fixture.ts';

let chain: Chain;
let sys: System;
let snap: string;

test.before(async () => {
  chain = await startChain(16);
  sys = await system(chain);
  const { settlement, registry } = sys.c;
  for (const r of sys.requesters) await mustTx(chain, r.address, settlement, 'deposit', [1000n * TOKEN]);
  for (const p of sys.providers) await mustTx(chain, p.address, registry, 'stake', [500n * TOKEN]);
  const tl = sys.dep.contracts.timelock;
  await chain.send('anvil_impersonateAccount', [tl]);
  await chain.send('anvil_setBalance', [tl, toBeHex(10n ** 20n)]);
  snap = await chain.send<string>('evm_snapshot');
});
test.after.always(async () => {
  await chain?.stop();
});
test.beforeEach(async () => {
  await chain.send('evm_revert', [snap]);
  snap = await chain.send<string>('evm_snapshot');
});

const P = testParams.periodSeconds!;
const SW = testParams.settleWindow!;
const W = testParams.disputeWindow!;
const domain = () => taskDomain(BigInt(sys.dep.chainId), sys.dep.contracts.settlement);
const settlementAt = (name: string) => sys.c.settlement.getFunction(name);
/** A call made by governance (the timelock, impersonated: what an executed proposal does). */
const asGovernance = (c: 'settlement' | 'registry', method: string, args: unknown[]) =>
  tx(chain, sys.dep.contracts.timelock, sys.c[c], method, args);

async function open(value: TaskValue, provider = sys.providers[0]!.address, signer = sys.requesters[0]!) {
  return tx(chain, sys.roles.coordinator, sys.c.settlement, 'openTasks', [
    [{ task: toContractTask(value), signature: await signTask(signer, domain(), value), provider }],
  ]);
}

/** Opens a task for requester 0 on provider 0: cap `price` tokens per period, `periods` periods. */
async function openTask(price: number, periods: number): Promise<{ task: number; start: number; cap: bigint }> {
  const task = Number(await settlementAt('taskCount')());
  const v = buildTask(
    taskFields(sys.requesters[0]!.address, { maxTotal: String(price * periods), sla: { priceCap: String(price) } }),
  );
  const r = await open(v);
  if (!r.ok) throw new Error(`open: ${r.error}`);
  const [, , cap, start] = (await settlementAt('taskRecord')(task)) as bigint[];
  return { task, start: Number(start), cap: cap! };
}

const genesis = async () => Number(await settlementAt('genesis')());
const escrow = async (a: string) => [...((await settlementAt('escrowOf')(a)) as bigint[])];
const stakeOf = async (a: string) =>
  (await sys.c.registry.getFunction('provider')(a)) as { staked: bigint; locked: bigint; unbonding: bigint };

// ------------------------------------------------------------------------------- 1: bounded slashing

test.serial(
  '1: a verifier slash is bounded by the locked stake and maxSlash; requesters are paid into escrow',
  async (t) => {
    const reg = sys.c.registry;
    const p0 = sys.providers[0]!.address;
    const [r0, r1] = [sys.requesters[0]!.address, sys.requesters[1]!.address];
    const slash = (amount: bigint, split: bigint[], from = sys.roles.verifier) =>
      tx(chain, from, reg, 'slash', [p0, amount, id('ev'), [r0, r1], split]);

    // Nothing locked: nothing at risk, so nothing to slash (before the fix: the whole 500 could go).
    let r = await slash(100n * TOKEN, [45n * TOKEN, 45n * TOKEN]);
    t.is(r.error, 'SlashAboveLimit');
    t.deepEqual(r.errorArgs?.slice(1), [0n, 100n * TOKEN]);

    // A task of 900 tokens locks 10% = 90 tokens of stake; maxSlash is 60.
    await openTask(100, 9);
    t.is((await stakeOf(p0)).locked, 90n * TOKEN);
    r = await slash(61n * TOKEN, [27_450n * 10n ** 15n, 27_450n * 10n ** 15n]);
    t.is(r.error, 'SlashAboveLimit', 'above maxSlash');
    t.deepEqual(r.errorArgs?.slice(1), [60n * TOKEN, 61n * TOKEN]);

    const [free0] = await escrow(r0);
    const verifierBefore = (await sys.c.token.getFunction('balanceOf')(sys.roles.verifier)) as bigint;
    const r1Before = (await sys.c.token.getFunction('balanceOf')(r1)) as bigint;
    r = await slash(50n * TOKEN, [30n * TOKEN, 15n * TOKEN]);
    t.true(r.ok, r.error);
    t.is(
      (await sys.c.token.getFunction('balanceOf')(sys.roles.verifier)) - verifierBefore,
      5n * TOKEN,
      'verifier share',
    );
    t.is((await escrow(r0))[0]! - free0!, 30n * TOKEN, "credited to requester 0's escrow free");
    t.is((await sys.c.token.getFunction('balanceOf')(r1)) as bigint, r1Before, 'no raw transfer to the requester');
    const s = await stakeOf(p0);
    t.is(s.staked, 450n * TOKEN);
    t.is(s.locked, 40n * TOKEN, 'the lock shrinks by what was taken: at most what was at risk, in total');
    t.is((await slash(41n * TOKEN, [20n * TOKEN, 169n * 10n ** 17n])).error, 'SlashAboveLimit', 'lock spent');
    // The requester withdraws the credit like any escrow.
    const bal = (await sys.c.token.getFunction('balanceOf')(r1)) as bigint;
    t.true((await tx(chain, r1, sys.c.settlement, 'withdrawEscrow', [1015n * TOKEN])).ok);
    t.is((await sys.c.token.getFunction('balanceOf')(r1)) - bal, 1015n * TOKEN);
  },
);

test.serial('1: governance (through the time-lock) may slash beyond the lock, unbonding stake included', async (t) => {
  const p1 = sys.providers[1]!;
  await mustTx(chain, p1.address, sys.c.registry, 'requestUnbond', [200n * TOKEN]);
  const r = await asGovernance('registry', 'slash', [
    p1.address,
    450n * TOKEN,
    id('ev'),
    [sys.requesters[0]!.address],
    [405n * TOKEN],
  ]);
  t.true(r.ok, r.error);
  const s = await stakeOf(p1.address);
  t.is(s.staked, 0n);
  t.is(s.unbonding, 50n * TOKEN);
  t.is((await escrow(sys.requesters[0]!.address))[0], 1405n * TOKEN);
  t.is(
    (await tx(chain, sys.stranger.address, sys.c.settlement, 'creditSlash', [[sys.stranger.address], [1n]])).error,
    'NotRegistry',
    'only the registry credits escrow from a slash',
  );
  // A slash share goes only to an address holding an escrow (a requester), not to any address named.
  await mustTx(chain, p1.address, sys.c.registry, 'stake', [200n * TOKEN]);
  const r2 = await asGovernance('registry', 'slash', [
    p1.address,
    10n * TOKEN,
    id('ev'),
    [sys.stranger.address],
    [9n * TOKEN],
  ]);
  t.is(r2.error, 'NoEscrow');
});

// ------------------------------------------------------------------------------------- 2: time-lock

test.serial(
  '2: the time-lock delay is at least the unbonding delay, by default, at deployment and on chain',
  async (t) => {
    t.true(defaultParams.timelockDelay >= defaultParams.unbondingDelay);
    t.true(
      ((await sys.c.timelock.getFunction('getMinDelay')()) as bigint) >=
        ((await sys.c.registry.getFunction('unbondingDelay')()) as bigint),
    );
    await t.throwsAsync(
      deploy({
        deployer: chain.wallets[0]! as never,
        roles: sys.roles,
        params: { ...testParams, timelockDelay: 60, unbondingDelay: 61 },
      }),
      { instanceOf: RangeError, message: /params\.timelockDelay: 60 s is shorter than params\.unbondingDelay 61 s/ },
    );
    const delay = testParams.timelockDelay!;
    const r = await asGovernance('registry', 'setUnbondingDelay', [delay + 1]);
    t.is(r.error, 'ParameterOutOfRange', 'a proposal may not make unbonding outlast the time-lock');
    t.true((await asGovernance('registry', 'setUnbondingDelay', [delay])).ok);
  },
);

// ------------------------------------------------------------------------------------------ 3: pause

test.serial(
  '3: a pause longer than the settle window extends the deadlines: no refund of what could not be settled',
  async (t) => {
    const { task, start, cap } = await openTask(2, 4);
    const g = await genesis();
    // Period `start` ends; paused right away for longer than the settle window.
    // Both transactions' blocks are stamped exactly: with a warp and the wall clock between them, a second could
    // tick after the pause and not before the unpause, and the pause would measure a second short.
    await nextBlockAt(chain, g + (start + 1) * P + 10);
    await mustTx(chain, sys.roles.guardian, sys.c.settlement, 'pause', []);
    await nextBlockAt(chain, g + (start + 1) * P + 10 + SW + 3600);
    t.true((await asGovernance('settlement', 'unpause', [])).ok);
    t.is(Number(await settlementAt('pausedTime')()), SW + 3600);
    // Before the fix anyone could refund the period now, though the coordinator never had the chance to settle.
    t.is(
      (await tx(chain, sys.stranger.address, sys.c.settlement, 'refundPeriods', [task, [start]])).error,
      'RefundTooEarly',
    );
    t.true(
      (
        await tx(chain, sys.roles.coordinator, sys.c.settlement, 'settle', [
          encodeItems([{ task, period: start, amount: cap }]),
        ])
      ).ok,
      'the coordinator still settles it after the unpause',
    );
    // Period start+1 ended during the pause: its settle window counts from the unpause.
    const now = await latestTimestamp(chain);
    t.is(
      (await tx(chain, sys.stranger.address, sys.c.settlement, 'refundPeriods', [task, [start + 1]])).error,
      'RefundTooEarly',
    );
    await warpTo(chain, now + SW + 1);
    t.true((await tx(chain, sys.stranger.address, sys.c.settlement, 'refundPeriods', [task, [start + 1]])).ok);
  },
);

// ------------------------------------------------------------------------------- 4: requester closes

test.serial("4: a requester closes its own task after one period of notice; not another requester's", async (t) => {
  const { task, start, cap } = await openTask(2, 6);
  const [r0, r1] = sys.requesters;
  const s = sys.c.settlement;
  t.is((await tx(chain, r1!.address, s, 'closeOwnTasks', [[task]])).error, 'NotTaskOwner');
  t.is((await tx(chain, sys.stranger.address, s, 'closeOwnTasks', [[task]])).error, 'NoEscrow');
  const [, lockedBefore] = await escrow(r0!.address);
  const current = Number(await settlementAt('currentPeriod')());
  const r = await tx(chain, r0!.address, s, 'closeOwnTasks', [[task]]);
  t.true(r.ok, r.error);
  // The current period and the next stay; the other four come back now.
  const kept = current + 2 - start;
  const [, , , , span] = (await settlementAt('taskRecord')(task)) as bigint[];
  t.is(Number(span), kept);
  const [, lockedAfter] = await escrow(r0!.address);
  t.is(lockedBefore! - lockedAfter!, cap * UNIT * BigInt(6 - kept));
  const ev = r.receipt.logs.map((l) => s.interface.parseLog(l)).find((l) => l?.name === 'TaskClosed')!;
  t.is(ev.args['refunded'], cap * UNIT * BigInt(6 - kept));
});

// -------------------------------------------------------------------------------- 5: named provider

test.serial('5: a task that names its provider opens only on that provider; zero means any', async (t) => {
  const r = sys.requesters[0]!.address;
  const [p0, p1] = [sys.providers[0]!.address, sys.providers[1]!.address];
  const named = buildTask(taskFields(r, { provider: p0 }));
  const res = await open(named, p1);
  t.is(res.error, 'ProviderNotAllowed');
  t.deepEqual(res.errorArgs, [p0, p1]);
  t.true((await open(named, p0)).ok);
  const any = buildTask(taskFields(r));
  t.is(any.provider, ZeroAddress);
  t.true((await open(any, p1)).ok);
  // The provider is signed: naming another one after signing breaks the signature.
  const v = buildTask(taskFields(r, { provider: p0 }));
  const sig = await signTask(sys.requesters[0]!, domain(), v);
  const forged = await tx(chain, sys.roles.coordinator, sys.c.settlement, 'openTasks', [
    [{ task: toContractTask({ ...v, provider: p1 }), signature: sig, provider: p1 }],
  ]);
  t.is(forged.error, 'BadSignature');
});

// ---------------------------------------------------------------------------------------- 6: minor

test.serial('6: requester ids run out with a named error', async (t) => {
  const s = sys.c.settlement;
  const addr = sys.dep.contracts.settlement;
  // _requesters (the id table) is storage slot 6; its length is the requester count.
  const slot6 = await chain.send<string>('eth_getStorageAt', [addr, '0x6', 'latest']);
  t.is(BigInt(slot6), (await s.getFunction('requesterCount')()) as bigint, 'slot 6 is the requester table');
  await chain.send('anvil_setStorageAt', [addr, toBeHex(6, 32), toBeHex(2 ** 24 - 1, 32)]);
  const r = await tx(chain, sys.stranger.address, s, 'deposit', [TOKEN]);
  t.is(r.error, 'TooManyRequesters');
  t.deepEqual(r.errorArgs, [BigInt(2 ** 24 - 1)]);
  t.true((await tx(chain, sys.requesters[0]!.address, s, 'deposit', [TOKEN])).ok, 'known requesters still deposit');
});

test.serial('6: periodSeconds below 60 is refused at construction', async (t) => {
  const a = artifact('Settlement');
  const f = new ContractFactory(a.abi, a.bytecode, chain.wallets[0]!);
  const params = {
    feeBps: 0,
    stakeLockBps: 0,
    disputeWindow: 600,
    settleWindow: 600,
    feeRecipient: sys.roles.feeRecipient,
  };
  const err = await t.throwsAsync(
    f.deploy(sys.dep.contracts.token, sys.dep.contracts.registry, sys.roles.guardian, 59, params),
  );
  const e = decodeError((err as unknown as { data?: string }).data);
  t.is(e.name, 'ParameterOutOfRange');
  t.is(e.args[1], 59n);
  const ok = await f.deploy(sys.dep.contracts.token, sys.dep.contracts.registry, sys.roles.guardian, 60, params);
  await ok.waitForDeployment();
  t.is(await ok.getFunction('periodSeconds')(), 60n);
});

test.serial("6: a shorter dispute window set later does not release a task's stake early", async (t) => {
  const { task, start } = await openTask(2, 2);
  const [held, windowAtOpen] = (await settlementAt('taskStakeLockOf')(task)) as bigint[];
  t.is(windowAtOpen, BigInt(W));
  t.true(held! > 0n);
  t.true((await asGovernance('settlement', 'setDisputeWindow', [60])).ok);
  const end = (await genesis()) + (start + 2) * P;
  // Past the settle window and twice the new (60 s) window, but not twice the window of the day (600 s).
  await warpTo(chain, end + SW + 2 * 60 + 10);
  t.is((await tx(chain, sys.stranger.address, sys.c.settlement, 'releaseStake', [[task]])).error, 'StakeLockedUntil');
  await warpTo(chain, end + SW + 2 * W);
  t.true((await tx(chain, sys.stranger.address, sys.c.settlement, 'releaseStake', [[task]])).ok);
  t.is((await stakeOf(sys.providers[0]!.address)).locked, 0n);
});

test('the default deployment keeps maxSlash positive and parameters documented', (t) => {
  t.true(defaultParams.maxSlash > 0n);
  t.is(defaultParams.maxSlash, parseUnits('1000', 18));
});
