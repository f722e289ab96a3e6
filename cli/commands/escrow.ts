// nvdax escrow deposit|balance|withdraw: a requester's escrow in the Settlement contract. Deposits approve the
// token first when needed; amounts are NVDAx decimals (12.5), exact to the wei.
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
import { CliError } from '../hub.ts';
import type { Command, Io } from '../io.ts';

const ACTIONS = ['deposit', 'balance', 'withdraw'] as const;
type Action = (typeof ACTIONS)[number];
const usage = 'nvdax escrow deposit|balance|withdraw [--amount N] [--deployment F] [--key-file F] [-o table|json|yaml]';
/** A requester's key: $NVDAX_KEY, else the one `nvdax submit` signs with. */
const KEY_ENVS = ['NVDAX_KEY', 'NVDAX_REQUESTER_KEY'];

export const escrowCommand: Command = {
  name: 'escrow',
  summary: "a requester's escrow on the settlement contract: deposit, balance, withdraw",
  usage,
  positionals: '<action>',
  builder: (y) =>
    chainOptions(
      y
        .positional('action', { describe: 'what to do', type: 'string', choices: [...ACTIONS] })
        .option('amount', {
          type: 'string',
          requiresArg: true,
          describe: 'NVDAx, in decimals (e.g. 12.5): deposit and withdraw',
        })
        .option('for', {
          type: 'string',
          requiresArg: true,
          describe: "deposit into this requester's escrow (default: the key's address)",
        })
        .option('address', {
          type: 'string',
          requiresArg: true,
          describe: "balance of this requester (default: the key's address)",
        })
        .option('all', { type: 'boolean', default: false, describe: 'withdraw: all of the free escrow' }),
    )
      .example('nvdax escrow deposit --amount 250 --key-file key.hex', 'approve and deposit 250 NVDAx')
      .example('nvdax escrow balance --address 0x… -o json', 'free and locked escrow, in wei and NVDAx')
      .example('nvdax escrow withdraw --all', 'take back all free escrow')
      .epilog(
        'FREE can be withdrawn or locked by a new task; LOCKED backs open tasks. Slash shares are credited to FREE.\n' +
          'Exit codes: 0 done; 1 the chain, the deployment or the contract refused; 2 wrong arguments.',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(escrowCommand, args, io);
    if ('code' in parsed) return parsed.code;
    return runChainCommand('escrow', () => escrow(parsed.argv, io), io);
  },
};

async function balanceOf(s: ChainSession, who: string) {
  const [free, locked] = (await s.c.settlement.getFunction('escrowOf')(who)) as [bigint, bigint];
  const id = (await s.c.settlement.getFunction('requesterId')(who)) as bigint;
  return {
    address: who,
    requesterId: Number(id),
    free: nvdax(free),
    locked: nvdax(locked),
    freeWei: free,
    lockedWei: locked,
  };
}

function show(io: Io, output: Output, b: Awaited<ReturnType<typeof balanceOf>>, extra: Record<string, unknown> = {}) {
  print(
    io,
    output,
    { ...extra, ...b },
    {
      head: ['ADDRESS', 'REQUESTER ID', 'FREE (NVDAX)', 'LOCKED (NVDAX)'],
      rows: [[b.address, b.requesterId || '-', b.free, b.locked]],
    },
  );
}

async function escrow(a: Record<string, unknown>, io: Io): Promise<number> {
  const action = a['action'] as Action;
  const output = a['output'] as Output;
  const needKey = action !== 'balance' || a['address'] === undefined;
  if (action === 'deposit' || (action === 'withdraw' && !a['all'])) {
    if (a['amount'] === undefined) throw new CliError(`escrow ${action}: --amount is required (NVDAx, e.g. 12.5)`);
  }
  if (action === 'withdraw' && a['all'] && a['amount'] !== undefined) {
    throw new CliError('escrow withdraw: give --amount or --all, not both');
  }
  if (action !== 'deposit' && a['for'] !== undefined)
    throw new CliError(`escrow ${action}: --for applies to deposit only`);
  if (action !== 'balance' && a['address'] !== undefined) {
    throw new CliError(`escrow ${action}: --address applies to balance only (the key's address acts)`);
  }
  const amount = a['amount'] !== undefined ? await amountArg(a['amount'], '--amount') : 0n;
  const s = await openChain(a, io, { keyEnvs: KEY_ENVS, needKey });
  try {
    const settlement = s.deployment.contracts.settlement;
    switch (action) {
      case 'balance': {
        const who = a['address'] !== undefined ? await addressArg(a['address'], '--address') : signerOf(s);
        show(io, output, await balanceOf(s, who));
        return 0;
      }
      case 'deposit': {
        const to = a['for'] !== undefined ? await addressArg(a['for'], '--for') : signerOf(s);
        await ensureAllowance(s, settlement, amount, 'escrow deposit');
        const tx =
          to === s.signer
            ? await send(s.c.settlement, 'deposit', [amount], 'escrow deposit')
            : await send(s.c.settlement, 'depositFor', [to, amount], 'escrow deposit');
        show(io, output, await balanceOf(s, to), { deposited: nvdax(amount), depositedWei: amount, tx: tx.hash });
        return 0;
      }
      case 'withdraw': {
        let wei = amount;
        if (a['all']) {
          [wei] = (await s.c.settlement.getFunction('escrowOf')(s.signer)) as [bigint, bigint];
          if (wei === 0n) throw new CliError(`escrow withdraw: ${s.signer} has no free escrow`);
        }
        const tx = await send(s.c.settlement, 'withdrawEscrow', [wei], 'escrow withdraw');
        show(io, output, await balanceOf(s, signerOf(s)), { withdrawn: nvdax(wei), withdrawnWei: wei, tx: tx.hash });
        return 0;
      }
    }
  } finally {
    s.close();
  }
}
