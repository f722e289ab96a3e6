// Every privileged call reverts for every account that does not hold its role (the guardian included, except
// for pause), and gets past the access check for the one that does (so the table cannot pass vacuously).
import test from 'ava';
import { type Contract, id, ZeroAddress } from 'ethers';
import { type Chain, decodeError, startChain } from '../helpers/chain.ts';
import { type System, system } from './fixture.ts';

let chain: Chain;
let sys: System;

test.before(async () => {
  chain = await startChain(16);
  sys = await system(chain);
});
test.after.always(async () => {
  await chain?.stop();
});

const ACCESS_ERRORS = new Set([
  'AccessControlUnauthorizedAccount',
  'GovernorOnlyExecutor',
  'TimelockUnauthorizedCaller',
  'NotFeeRecipient',
  'NotRegistry',
]);

/** The custom error a call from `from` reverts with, or 'ok'. */
async function outcome(from: string, c: Contract, method: string, args: unknown[]): Promise<string> {
  try {
    await chain.send('eth_call', [
      { from, to: await c.getAddress(), data: c.interface.encodeFunctionData(method, args) },
    ]);
    return 'ok';
  } catch (e) {
    const data =
      (e as { info?: { error?: { data?: string } }; data?: string }).info?.error?.data ?? (e as { data?: string }).data;
    return decodeError(typeof data === 'string' ? data : undefined).name;
  }
}

type Who =
  | 'timelock'
  | 'governor'
  | 'coordinator'
  | 'verifier'
  | 'guardian'
  | 'feeRecipient'
  | 'settlement'
  | 'registry';
interface Row {
  name: string;
  contract: (s: System) => Contract;
  method: string;
  args: (s: System) => unknown[];
  allowed: Who[];
}

const item = () => ['0x000000000000000000000001'];
const rows: Row[] = [
  {
    name: 'settlement.openTasks',
    contract: (s) => s.c.settlement,
    method: 'openTasks',
    args: () => [[]],
    allowed: ['coordinator'],
  },
  {
    name: 'settlement.settle',
    contract: (s) => s.c.settlement,
    method: 'settle',
    args: item,
    allowed: ['coordinator'],
  },
  {
    name: 'settlement.closeTasks',
    contract: (s) => s.c.settlement,
    method: 'closeTasks',
    args: () => [[]],
    allowed: ['coordinator'],
  },
  {
    name: 'settlement.anchorLineages',
    contract: (s) => s.c.settlement,
    method: 'anchorLineages',
    args: () => [[]],
    allowed: ['coordinator'],
  },
  {
    name: 'settlement.dispute',
    contract: (s) => s.c.settlement,
    method: 'dispute',
    args: () => [0, '0x', 0, 0, [], id('x')],
    allowed: ['verifier', 'timelock'],
  },
  ...(['setFeeBps', 'setStakeLockBps', 'setDisputeWindow', 'setSettleWindow'] as const).map((m) => ({
    name: `settlement.${m}`,
    contract: (s: System) => s.c.settlement,
    method: m,
    args: () => [600],
    allowed: ['timelock' as const],
  })),
  {
    name: 'settlement.setFeeRecipient',
    contract: (s) => s.c.settlement,
    method: 'setFeeRecipient',
    args: (s) => [s.stranger.address],
    allowed: ['timelock'],
  },
  {
    name: 'settlement.pause',
    contract: (s) => s.c.settlement,
    method: 'pause',
    args: () => [],
    allowed: ['guardian', 'timelock'],
  },
  {
    name: 'settlement.unpause',
    contract: (s) => s.c.settlement,
    method: 'unpause',
    args: () => [],
    allowed: ['timelock'],
  },
  {
    name: 'settlement.grantRole',
    contract: (s) => s.c.settlement,
    method: 'grantRole',
    args: (s) => [id('COORDINATOR_ROLE'), s.stranger.address],
    allowed: ['timelock'],
  },
  {
    name: 'settlement.creditSlash',
    contract: (s) => s.c.settlement,
    method: 'creditSlash',
    args: () => [[], []],
    allowed: ['registry'],
  },
  {
    name: 'settlement.withdrawFees',
    contract: (s) => s.c.settlement,
    method: 'withdrawFees',
    args: () => [],
    allowed: ['feeRecipient'],
  },
  {
    name: 'registry.lock',
    contract: (s) => s.c.registry,
    method: 'lock',
    args: (s) => [s.providers[0]!.address, 0],
    allowed: ['settlement'],
  },
  {
    name: 'registry.unlock',
    contract: (s) => s.c.registry,
    method: 'unlock',
    args: (s) => [s.providers[0]!.address, 0],
    allowed: ['settlement'],
  },
  {
    name: 'registry.slash',
    contract: (s) => s.c.registry,
    method: 'slash',
    args: (s) => [s.providers[0]!.address, 1, id('e'), [], []],
    allowed: ['verifier', 'timelock'],
  },
  ...(['setMinStake', 'setUnbondingDelay', 'setSlashVerifierBps', 'setMaxSlash'] as const).map((m) => ({
    name: `registry.${m}`,
    contract: (s: System) => s.c.registry,
    method: m,
    args: () => [100],
    allowed: ['timelock' as const],
  })),
  {
    name: 'registry.setSettlement',
    contract: (s) => s.c.registry,
    method: 'setSettlement',
    args: (s) => [s.dep.contracts.settlement],
    allowed: ['timelock'],
  },
  {
    name: 'registry.setEmission',
    contract: (s) => s.c.registry,
    method: 'setEmission',
    args: () => [1, 0],
    allowed: ['timelock'],
  },
  {
    name: 'registry.pause',
    contract: (s) => s.c.registry,
    method: 'pause',
    args: () => [],
    allowed: ['guardian', 'timelock'],
  },
  { name: 'registry.unpause', contract: (s) => s.c.registry, method: 'unpause', args: () => [], allowed: ['timelock'] },
  {
    name: 'registry.grantRole',
    contract: (s) => s.c.registry,
    method: 'grantRole',
    args: (s) => [id('SLASHER_ROLE'), s.stranger.address],
    allowed: ['timelock'],
  },
  ...(
    [
      ['setVotingDelay', [2]],
      ['setVotingPeriod', [10]],
      ['setProposalThreshold', [1]],
      ['updateQuorumNumerator', [10]],
      ['updateTimelock', [ZeroAddress]],
    ] as const
  ).map(([m, a]) => ({
    name: `governor.${m}`,
    contract: (s: System) => s.c.governor,
    method: m,
    args: () => [...a],
    allowed: ['timelock' as const],
  })),
  {
    name: 'timelock.schedule',
    contract: (s) => s.c.timelock,
    method: 'schedule',
    args: (s) => [s.dep.contracts.settlement, 0, '0x', id('0'), id('salt'), 1800],
    allowed: ['governor'],
  },
  {
    name: 'timelock.execute',
    contract: (s) => s.c.timelock,
    method: 'execute',
    args: (s) => [s.dep.contracts.settlement, 0, '0x', id('0'), id('salt')],
    allowed: ['governor'],
  },
  {
    name: 'timelock.cancel',
    contract: (s) => s.c.timelock,
    method: 'cancel',
    args: () => [id('op')],
    allowed: ['governor'],
  },
  {
    name: 'timelock.updateDelay',
    contract: (s) => s.c.timelock,
    method: 'updateDelay',
    args: () => [1],
    allowed: ['timelock'],
  },
];

function address(s: System, who: Who | 'stranger' | 'deployer'): string {
  switch (who) {
    case 'timelock':
      return s.dep.contracts.timelock;
    case 'governor':
      return s.dep.contracts.governor;
    case 'settlement':
      return s.dep.contracts.settlement;
    case 'registry':
      return s.dep.contracts.registry;
    case 'stranger':
      return s.stranger.address;
    case 'deployer':
      return s.dep.deployer;
    default:
      return s.roles[who];
  }
}

const everyone: Array<Who | 'stranger' | 'deployer'> = [
  'stranger',
  'deployer',
  'coordinator',
  'verifier',
  'guardian',
  'feeRecipient',
  'timelock',
  'governor',
  'settlement',
  'registry',
];

for (const row of rows) {
  test.serial(`${row.name}: only ${row.allowed.join(', ')}`, async (t) => {
    const c = row.contract(sys);
    for (const who of everyone) {
      const r = await outcome(address(sys, who), c, row.method, row.args(sys));
      if ((row.allowed as string[]).includes(who)) {
        t.false(ACCESS_ERRORS.has(r), `${who} holds the role but got ${r}`);
      } else {
        t.true(ACCESS_ERRORS.has(r), `${who} must be refused, got ${r}`);
      }
    }
  });
}

test('the token has no mint function: its supply is fixed at deployment', (t) => {
  const names = sys.c.token.interface.fragments
    .filter((f) => f.type === 'function')
    .map((f) => (f as unknown as { name: string }).name);
  t.false(
    names.some((n) => /mint/i.test(n)),
    names.join(', '),
  );
});

test.serial('the deployer kept no admin role anywhere', async (t) => {
  const admin = `0x${'00'.repeat(32)}`;
  for (const c of [sys.c.settlement, sys.c.registry, sys.c.timelock]) {
    t.false(await c.getFunction('hasRole')(admin, sys.dep.deployer));
    t.true(await c.getFunction('hasRole')(admin, sys.dep.contracts.timelock));
  }
});
