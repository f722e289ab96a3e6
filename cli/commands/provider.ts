// nvdax provider register|stake|unbond|status: a provider's stake in the ProviderRegistry (and its earnings in the
// Settlement contract). Staking approves the token first when needed; amounts are NVDAx decimals, exact to the wei.
import { parseCommandArgs } from '../args.ts';
import {
  addressArg,
  amountArg,
  type ChainSession,
  chainOptions,
  ensureAllowance,
  nvdax,
  type Output,
  openChain,
  print,
  runChainCommand,
  send,
  signerOf,
} from '../chain.ts';
import { isoSeconds } from '../format.ts';
import { CliError } from '../hub.ts';
import type { Command, Io } from '../io.ts';

const ACTIONS = ['register', 'stake', 'unbond', 'status'] as const;
type Action = (typeof ACTIONS)[number];
const usage =
  'nvdax provider register|stake|unbond|status [--amount N] [--withdraw] [--deployment F] [--key-file F] [-o table|json|yaml]';
const KEY_ENVS = ['NVDAX_KEY', 'NVDAX_PROVIDER_KEY'];

export const providerCommand: Command = {
  name: 'provider',
  summary: "a provider's stake on the registry: register, stake, unbond, status",
  usage,
  positionals: '<action>',
  builder: (y) =>
    chainOptions(
      y
        .positional('action', { describe: 'what to do', type: 'string', choices: [...ACTIONS] })
        .option('amount', {
          type: 'string',
          requiresArg: true,
          describe: 'NVDAx, in decimals (e.g. 1000 or 12.5): register, stake, unbond',
        })
        .option('withdraw', {
          type: 'boolean',
          default: false,
          describe: 'unbond: withdraw the stake whose unbonding delay has passed',
        })
        .option('address', {
          type: 'string',
          requiresArg: true,
          describe: "status of this provider (default: the key's address)",
        }),
    )
      .example('nvdax provider register --amount 1000 --key-file key.hex', 'approve, stake and register')
      .example('nvdax provider unbond --amount 200', 'start unbonding 200 NVDAx (withdrawable after the delay)')
      .example('nvdax provider unbond --withdraw', 'withdraw what finished unbonding')
      .example('nvdax provider status -o yaml', 'stake, lock, unbonding, rewards and earnings')
      .epilog(
        'The first stake registers the provider and must reach the minimum stake. Locked stake backs open tasks\n' +
          'and cannot be unbonded; unbonding stake stays slashable until it is withdrawn.\n' +
          'Key: --key-file, else $NVDAX_KEY or $NVDAX_PROVIDER_KEY.\n' +
          'Exit codes: 0 done; 1 the chain, the deployment or the contract refused; 2 wrong arguments.',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(providerCommand, args, io);
    if ('code' in parsed) return parsed.code;
    return runChainCommand('provider', () => provider(parsed.argv, io), io);
  },
};

async function statusOf(s: ChainSession, who: string) {
  const reg = s.c.registry;
  const [p, id, minStake, earned, earnings] = await Promise.all([
    reg.getFunction('provider')(who) as Promise<{
      staked: bigint;
      locked: bigint;
      unbonding: bigint;
      unbondAt: bigint;
    }>,
    reg.getFunction('idOf')(who) as Promise<bigint>,
    reg.getFunction('minStake')() as Promise<bigint>,
    reg.getFunction('earned')(who) as Promise<bigint>,
    s.c.settlement.getFunction('earningsOf')(who) as Promise<[bigint, bigint]>,
  ]);
  return {
    address: who,
    providerId: Number(id),
    registered: id !== 0n,
    staked: nvdax(p.staked),
    locked: nvdax(p.locked),
    free: nvdax(p.staked - p.locked),
    unbonding: nvdax(p.unbonding),
    unbondAt: p.unbonding > 0n ? isoSeconds(Number(p.unbondAt) * 1000) : null,
    rewards: nvdax(earned),
    earningsAvailable: nvdax(earnings[0]),
    earningsPending: nvdax(earnings[1]),
    minStake: nvdax(minStake),
    stakedWei: p.staked,
    lockedWei: p.locked,
    unbondingWei: p.unbonding,
    rewardsWei: earned,
  };
}

function show(io: Io, output: Output, st: Awaited<ReturnType<typeof statusOf>>, extra: Record<string, unknown> = {}) {
  print(
    io,
    output,
    { ...extra, ...st },
    {
      head: ['ADDRESS', 'ID', 'STAKED', 'LOCKED', 'FREE', 'UNBONDING', 'UNBOND AT', 'REWARDS', 'EARNINGS', 'PENDING'],
      rows: [
        [
          st.address,
          st.providerId || '-',
          st.staked,
          st.locked,
          st.free,
          st.unbonding,
          st.unbondAt ?? '-',
          st.rewards,
          st.earningsAvailable,
          st.earningsPending,
        ],
      ],
    },
  );
}

async function provider(a: Record<string, unknown>, io: Io): Promise<number> {
  const action = a['action'] as Action;
  const output = a['output'] as Output;
  const withdraw = a['withdraw'] === true;
  if (withdraw && action !== 'unbond') throw new CliError(`provider ${action}: --withdraw applies to unbond only`);
  if (action === 'unbond' && withdraw && a['amount'] !== undefined) {
    throw new CliError('provider unbond: give --amount (start unbonding) or --withdraw (take what finished), not both');
  }
  const needsAmount = action === 'register' || action === 'stake' || (action === 'unbond' && !withdraw);
  if (needsAmount && a['amount'] === undefined) {
    throw new CliError(`provider ${action}: --amount is required (NVDAx, e.g. 1000)`);
  }
  if (!needsAmount && a['amount'] !== undefined) throw new CliError(`provider ${action}: --amount does not apply`);
  if (action !== 'status' && a['address'] !== undefined) {
    throw new CliError(`provider ${action}: --address applies to status only (the key's address acts)`);
  }
  const amount = needsAmount ? await amountArg(a['amount'], '--amount') : 0n;
  const s = await openChain(a, io, { keyEnvs: KEY_ENVS, needKey: action !== 'status' || a['address'] === undefined });
  try {
    const reg = s.c.registry;
    const me = action === 'status' && a['address'] !== undefined ? '' : signerOf(s);
    switch (action) {
      case 'status': {
        const who = a['address'] !== undefined ? await addressArg(a['address'], '--address') : me;
        show(io, output, await statusOf(s, who));
        return 0;
      }
      case 'register':
      case 'stake': {
        const id = (await reg.getFunction('idOf')(me)) as bigint;
        if (action === 'register' && id !== 0n) {
          throw new CliError(`provider register: ${me} is already provider ${id}; add stake with nvdax provider stake`);
        }
        if (action === 'stake' && id === 0n) {
          throw new CliError(
            `provider stake: ${me} is not registered; register first: nvdax provider register --amount N`,
          );
        }
        const min = (await reg.getFunction('minStake')()) as bigint;
        const st = (await reg.getFunction('provider')(me)) as { staked: bigint };
        if (st.staked + amount < min) {
          throw new CliError(
            `provider ${action}: --amount ${nvdax(amount)} leaves the stake at ${nvdax(st.staked + amount)} NVDAx, ` +
              `below the minimum stake ${nvdax(min)}`,
          );
        }
        await ensureAllowance(s, s.deployment.contracts.registry, amount, `provider ${action}`);
        const tx = await send(reg, 'stake', [amount], `provider ${action}`);
        show(io, output, await statusOf(s, me), { staked_now: nvdax(amount), tx: tx.hash });
        return 0;
      }
      case 'unbond': {
        const tx = withdraw
          ? await send(reg, 'withdrawUnbonded', [], 'provider unbond --withdraw')
          : await send(reg, 'requestUnbond', [amount], 'provider unbond');
        show(io, output, await statusOf(s, me), {
          ...(withdraw ? { withdrawn: true } : { unbonded_now: nvdax(amount) }),
          tx: tx.hash,
        });
        return 0;
      }
    }
  } finally {
    s.close();
  }
}
