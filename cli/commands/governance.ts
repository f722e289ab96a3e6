// nvdax governance propose|vote|queue|execute|status: parameter changes through the NVDAx governor and its
// time-lock. A proposal sets named parameters (--set feeBps=300); the proposal's calls are read back from its
// ProposalCreated event to queue and execute it, so nothing is stored locally.
import { parseCommandArgs } from '../args.ts';
import {
  addressArg,
  amountArg,
  type ChainSession,
  chainOptions,
  nvdax,
  type Output,
  openChain,
  print,
  runChainCommand,
  send,
} from '../chain.ts';
import { isoSeconds } from '../format.ts';
import { CliError } from '../hub.ts';
import type { Command, Io } from '../io.ts';

const ACTIONS = ['propose', 'vote', 'queue', 'execute', 'status'] as const;
type Action = (typeof ACTIONS)[number];
const usage =
  'nvdax governance propose --set NAME=VALUE --description TEXT | vote --proposal ID --support for|against|abstain | ' +
  'queue --proposal ID | execute --proposal ID | status [--proposal ID]';
const KEY_ENVS = ['NVDAX_KEY'];

/** The parameters a proposal can set: contract, setter and how its value is read. */
const PARAMS: Record<
  string,
  { contract: 'settlement' | 'registry'; setter: string; kind: 'int' | 'amount' | 'address' }
> = {
  feeBps: { contract: 'settlement', setter: 'setFeeBps', kind: 'int' },
  stakeLockBps: { contract: 'settlement', setter: 'setStakeLockBps', kind: 'int' },
  disputeWindow: { contract: 'settlement', setter: 'setDisputeWindow', kind: 'int' },
  settleWindow: { contract: 'settlement', setter: 'setSettleWindow', kind: 'int' },
  feeRecipient: { contract: 'settlement', setter: 'setFeeRecipient', kind: 'address' },
  minStake: { contract: 'registry', setter: 'setMinStake', kind: 'amount' },
  unbondingDelay: { contract: 'registry', setter: 'setUnbondingDelay', kind: 'int' },
  slashVerifierBps: { contract: 'registry', setter: 'setSlashVerifierBps', kind: 'int' },
  maxSlash: { contract: 'registry', setter: 'setMaxSlash', kind: 'amount' },
};

/** OpenZeppelin's IGovernor.ProposalState, in order. */
const STATES = ['Pending', 'Active', 'Canceled', 'Defeated', 'Succeeded', 'Queued', 'Expired', 'Executed'];
const SUPPORT: Record<string, number> = { against: 0, for: 1, abstain: 2 };

export const governanceCommand: Command = {
  name: 'governance',
  summary: 'propose, vote on, queue and execute parameter changes (governor and time-lock)',
  usage,
  positionals: '<action>',
  builder: (y) =>
    chainOptions(
      y
        .positional('action', { describe: 'what to do', type: 'string', choices: [...ACTIONS] })
        .option('set', {
          type: 'string',
          array: true,
          requiresArg: true,
          describe: `propose: NAME=VALUE, repeatable; NAME one of ${Object.keys(PARAMS).join(', ')}`,
        })
        .option('description', { type: 'string', requiresArg: true, describe: 'propose: what and why' })
        .option('proposal', { type: 'string', requiresArg: true, describe: 'the proposal id (decimal)' })
        .option('support', {
          type: 'string',
          choices: Object.keys(SUPPORT),
          describe: 'vote: for, against or abstain',
        })
        .option('reason', { type: 'string', requiresArg: true, describe: 'vote: a reason, recorded on chain' }),
    )
      .example('nvdax governance propose --set feeBps=300 --description "fee to 3%"', 'propose; prints the proposal id')
      .example('nvdax governance vote --proposal 123… --support for', 'vote with the key’s delegated votes')
      .example('nvdax governance queue --proposal 123…', 'after the vote succeeded: into the time-lock')
      .example('nvdax governance execute --proposal 123…', 'after the time-lock delay')
      .epilog(
        'Amounts (minStake, maxSlash) are NVDAx decimals; windows and delays are seconds; *Bps are basis points.\n' +
          'Votes count the key’s delegated voting power at the proposal’s snapshot (delegate before proposing).\n' +
          'Key: --key-file, else $NVDAX_KEY. Exit codes: 0 done; 1 the chain or the contracts refused; 2 wrong arguments.',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(governanceCommand, args, io);
    if ('code' in parsed) return parsed.code;
    return runChainCommand('governance', () => governance(parsed.argv, io), io);
  },
};

interface Call {
  name: string;
  value: string;
  target: string;
  data: string;
}

async function callOf(s: ChainSession, text: string): Promise<Call> {
  const m = /^([A-Za-z]+)=(.+)$/.exec(text);
  const name = m?.[1] ?? '';
  const raw = (m?.[2] ?? '').trim();
  const p = Object.hasOwn(PARAMS, name) ? PARAMS[name] : undefined;
  if (!m || !p) {
    throw new CliError(`--set ${text}: expected NAME=VALUE with NAME one of ${Object.keys(PARAMS).join(', ')}`);
  }
  let arg: bigint | string;
  if (p.kind === 'int') {
    if (!/^(0|[1-9][0-9]*)$/.test(raw)) throw new CliError(`--set ${name}=${raw}: expected a whole number`);
    arg = BigInt(raw);
  } else if (p.kind === 'amount') {
    arg = await amountArg(raw, `--set ${name}`);
  } else {
    arg = await addressArg(raw, `--set ${name}`);
  }
  const c = s.c[p.contract];
  return {
    name,
    value: raw,
    target: await c.getAddress(),
    data: c.interface.encodeFunctionData(p.setter, [arg]),
  };
}

function proposalArg(v: unknown): bigint {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]{0,77}|0x[0-9a-fA-F]{1,64})$/.test(v)) {
    throw new CliError(`--proposal ${String(v ?? '')}: expected a proposal id (a decimal number, as propose prints)`);
  }
  return BigInt(v);
}

interface Created {
  id: bigint;
  proposer: string;
  targets: string[];
  values: bigint[];
  calldatas: string[];
  description: string;
}

/** Proposals as created on chain (ProposalCreated since the deployment's block). */
async function created(s: ChainSession): Promise<Created[]> {
  const g = s.c.governor;
  const logs = await g.queryFilter(g.getEvent('ProposalCreated'), s.deployment.deployedAtBlock ?? 0);
  // ProposalCreated(proposalId, proposer, targets, values, signatures, calldatas, voteStart, voteEnd, description)
  return logs.map((l) => {
    const a = (l as unknown as { args: unknown[] }).args;
    return {
      id: a[0] as bigint,
      proposer: a[1] as string,
      targets: [...(a[2] as string[])],
      values: [...(a[3] as bigint[])],
      calldatas: [...(a[5] as string[])],
      description: a[8] as string,
    };
  });
}

/** `settlement.setFeeBps(300)` for a call of the deployment's contracts. */
function describeCall(s: ChainSession, target: string, data: string): string {
  for (const name of ['settlement', 'registry', 'governor', 'timelock', 'token'] as const) {
    if (s.deployment.contracts[name].toLowerCase() !== target.toLowerCase()) continue;
    try {
      const f = s.c[name].interface.parseTransaction({ data });
      if (f) return `${name}.${f.name}(${f.args.map(String).join(', ')})`;
    } catch {}
    return `${name} ${data.slice(0, 10)}`;
  }
  return `${target} ${data.slice(0, 10)}`;
}

async function statusOf(s: ChainSession, p: Created) {
  const g = s.c.governor;
  const [state, snapshot, deadline, votes, eta] = await Promise.all([
    g.getFunction('state')(p.id) as Promise<bigint>,
    g.getFunction('proposalSnapshot')(p.id) as Promise<bigint>,
    g.getFunction('proposalDeadline')(p.id) as Promise<bigint>,
    g.getFunction('proposalVotes')(p.id) as Promise<[bigint, bigint, bigint]>,
    g.getFunction('proposalEta')(p.id) as Promise<bigint>,
  ]);
  let quorum: bigint | null = null;
  try {
    quorum = (await g.getFunction('quorum')(snapshot)) as bigint;
  } catch {
    // the snapshot is still in the future
  }
  return {
    proposalId: p.id,
    state: STATES[Number(state)] ?? String(state),
    description: p.description,
    calls: p.targets.map((t, i) => describeCall(s, t, p.calldatas[i] ?? '0x')),
    proposer: p.proposer,
    snapshotBlock: Number(snapshot),
    deadlineBlock: Number(deadline),
    votesFor: nvdax(votes[1]),
    votesAgainst: nvdax(votes[0]),
    votesAbstain: nvdax(votes[2]),
    quorum: quorum === null ? null : nvdax(quorum),
    eta: eta === 0n ? null : isoSeconds(Number(eta) * 1000),
  };
}

type Status = Awaited<ReturnType<typeof statusOf>>;

function show(io: Io, output: Output, list: Status[], single: boolean, extra: Record<string, unknown> = {}) {
  const value = single ? { ...extra, ...list[0] } : list;
  print(io, output, value, {
    head: ['PROPOSAL', 'STATE', 'FOR', 'AGAINST', 'ABSTAIN', 'QUORUM', 'ETA', 'CALLS', 'DESCRIPTION'],
    rows: list.map((p) => [
      p.proposalId.toString(),
      p.state,
      p.votesFor,
      p.votesAgainst,
      p.votesAbstain,
      p.quorum ?? '-',
      p.eta ?? '-',
      p.calls.join('; '),
      p.description,
    ]),
  });
}

async function find(s: ChainSession, id: bigint): Promise<Created> {
  const p = (await created(s)).find((x) => x.id === id);
  if (!p) throw new CliError(`--proposal ${id}: no such proposal on governor ${s.deployment.contracts.governor}`);
  return p;
}

async function governance(a: Record<string, unknown>, io: Io): Promise<number> {
  const action = a['action'] as Action;
  const output = a['output'] as Output;
  const only = (flag: string, actions: Action[]) => {
    if (a[flag] !== undefined && !actions.includes(action)) {
      throw new CliError(`governance ${action}: --${flag} applies to ${actions.join(', ')} only`);
    }
  };
  only('set', ['propose']);
  only('description', ['propose']);
  only('support', ['vote']);
  only('reason', ['vote']);
  only('proposal', ['vote', 'queue', 'execute', 'status']);
  if (action === 'propose') {
    if (!(a['set'] as string[] | undefined)?.length) {
      throw new CliError(`governance propose: --set NAME=VALUE is required (NAME: ${Object.keys(PARAMS).join(', ')})`);
    }
    if (!a['description']) throw new CliError('governance propose: --description is required (what and why)');
  }
  if (action === 'vote' && a['support'] === undefined) {
    throw new CliError('governance vote: --support is required: for, against or abstain');
  }
  const id = a['proposal'] !== undefined ? proposalArg(a['proposal']) : undefined;
  if (id === undefined && ['vote', 'queue', 'execute'].includes(action)) {
    throw new CliError(`governance ${action}: --proposal is required (the id propose printed)`);
  }
  const s = await openChain(a, io, { keyEnvs: KEY_ENVS, needKey: action !== 'status' });
  // keccak256 of the description's UTF-8 bytes: how the governor names a description
  const { id: idOfText } = await import('ethers');
  try {
    const g = s.c.governor;
    switch (action) {
      case 'status': {
        const list = id !== undefined ? [await find(s, id)] : await created(s);
        show(io, output, await Promise.all(list.map((p) => statusOf(s, p))), id !== undefined);
        return 0;
      }
      case 'propose': {
        const calls = await Promise.all((a['set'] as string[]).map((t) => callOf(s, t)));
        const description = a['description'] as string;
        const args = [calls.map((c) => c.target), calls.map(() => 0n), calls.map((c) => c.data), description];
        const pid = (await g.getFunction('getProposalId')(...args.slice(0, 3), idOfText(description))) as bigint;
        const tx = await send(g, 'propose', args, 'governance propose');
        show(io, output, [await statusOf(s, await find(s, pid))], true, { tx: tx.hash });
        return 0;
      }
      case 'vote': {
        const p = await find(s, id ?? 0n);
        const support = SUPPORT[a['support'] as string] ?? 1;
        const tx = a['reason']
          ? await send(g, 'castVoteWithReason', [p.id, support, a['reason']], 'governance vote')
          : await send(g, 'castVote', [p.id, support], 'governance vote');
        show(io, output, [await statusOf(s, p)], true, { voted: a['support'], voter: s.signer, tx: tx.hash });
        return 0;
      }
      case 'queue':
      case 'execute': {
        const p = await find(s, id ?? 0n);
        const st = await statusOf(s, p);
        if (action === 'execute' && st.state === 'Succeeded') {
          throw new CliError(
            `governance execute: proposal ${p.id} succeeded but is not queued: run governance queue first`,
          );
        }
        const expected = action === 'queue' ? 'Succeeded' : 'Queued';
        if (st.state !== expected) {
          throw new CliError(`governance ${action}: proposal ${p.id} is ${st.state}; ${action} needs it ${expected}`);
        }
        const tx = await send(
          g,
          action,
          [p.targets, p.values, p.calldatas, idOfText(p.description)],
          `governance ${action}`,
        );
        show(io, output, [await statusOf(s, p)], true, { tx: tx.hash });
        return 0;
      }
    }
  } finally {
    s.close();
  }
}
