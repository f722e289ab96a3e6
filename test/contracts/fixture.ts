// A deployed system with short windows for the contract tests: roles, three requesters, three providers and
// two voters funded, allowances given, voters self-delegated. Not a test file (no .test suffix).
import type { Contract, HDNodeWallet } from 'ethers';
import { MaxUint256, parseUnits } from 'ethers';
import type { DeployParams } from '../../operator/settlement/deploy.ts';
import { type Chain, type Deployed, deployAll, mustTx } from '../helpers/chain.ts';

export const TOKEN = 10n ** 18n;

export const testParams: Partial<DeployParams> = {
  supply: parseUnits('1000000', 18),
  rewardReserve: parseUnits('1000', 18),
  emissionRate: parseUnits('0.01', 18),
  minStake: parseUnits('100', 18),
  unbondingDelay: 1800,
  slashVerifierBps: 1000,
  maxSlash: parseUnits('60', 18),
  periodSeconds: 3600,
  feeBps: 250,
  stakeLockBps: 1000,
  disputeWindow: 600,
  settleWindow: 7200,
  votingDelay: 1,
  votingPeriod: 5,
  proposalThreshold: 0n,
  quorumPercent: 4,
  // At least the unbonding delay (deploy.ts refuses less); short, so the tests stay fast.
  timelockDelay: 1800,
};

export interface System extends Deployed {
  requesters: HDNodeWallet[];
  providers: HDNodeWallet[];
  voters: HDNodeWallet[];
  stranger: HDNodeWallet;
}

/** Accounts: 0-4 deployer and roles, 5-7 requesters, 8-10 providers, 11-12 voters, 13 a stranger. */
export async function system(chain: Chain): Promise<System> {
  const d = await deployAll(chain, testParams);
  const w = chain.wallets;
  const requesters = w.slice(5, 8);
  const providers = w.slice(8, 11);
  const voters = w.slice(11, 13);
  const stranger = w[13]!;
  const deployer = w[0]!.address;
  const { token, settlement, registry } = d.c;
  const funds: Array<[HDNodeWallet, bigint]> = [
    ...requesters.map((a) => [a, 10_000n * TOKEN] as [HDNodeWallet, bigint]),
    ...providers.map((a) => [a, 10_000n * TOKEN] as [HDNodeWallet, bigint]),
    [voters[0]!, 100_000n * TOKEN], // 10% of the supply: reaches the 4% quorum alone
    [voters[1]!, 20_000n * TOKEN], // 2%: does not
    [stranger, 1_000n * TOKEN],
  ];
  for (const [a, amount] of funds) await mustTx(chain, deployer, token, 'transfer', [a.address, amount]);
  for (const a of [...requesters, stranger]) {
    await mustTx(chain, a.address, token, 'approve', [await settlement.getAddress(), MaxUint256]);
  }
  for (const a of [...providers, stranger]) {
    await mustTx(chain, a.address, token, 'approve', [await registry.getAddress(), MaxUint256]);
  }
  for (const v of voters) await mustTx(chain, v.address, token, 'delegate', [v.address]);
  return { ...d, requesters, providers, voters, stranger };
}

export async function addressOf(c: Contract): Promise<string> {
  return c.getAddress();
}
