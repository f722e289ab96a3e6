// The settlement CLI (nvdax provider|escrow|governance) run as a child process, as a user runs it, against a
// real anvil with the contracts deployed: the deployment written to a temporary deployment.json, keys in key
// files. Checks the chain's state after each command, to the wei, and the three output formats.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { HDNodeWallet } from 'ethers';
import { parse } from 'yaml';
import { type Chain, mineBlocks, startChain } from '../helpers/chain.ts';
import { type System, system, TOKEN, testParams } from './fixture.ts';

const root = join(import.meta.dirname, '..', '..');
let chain: Chain;
let sys: System;
let dir: string;
let depFile: string;

test.before(async () => {
  chain = await startChain(16);
  sys = await system(chain);
  dir = mkdtempSync(join(tmpdir(), 'nvdax-cli-'));
  depFile = join(dir, 'deployment.json');
  writeFileSync(depFile, JSON.stringify({ ...sys.dep, rpcUrl: chain.rpcUrl }, null, 2));
});
test.after.always(async () => {
  await chain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function keyFile(w: HDNodeWallet): string {
  const f = join(dir, `${w.address}.key`);
  writeFileSync(f, `${w.privateKey}\n`);
  return f;
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** `node cli/nvdax.ts ...args` with the deployment; no key in the environment unless given. */
function nvdax(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'cli', 'nvdax.ts'), ...args, '--deployment', depFile],
      { cwd: root, env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...env }, timeout: 60_000 },
      (err, out, errOut) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: out.toString(), err: errOut.toString() });
      },
    );
  });
}

async function json<T = Record<string, unknown>>(args: string[], env?: Record<string, string>): Promise<T> {
  const r = await nvdax([...args, '-o', 'json'], env);
  if (r.code !== 0) throw new Error(`nvdax ${args.join(' ')}: exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

test.serial('escrow deposit, balance and withdraw, to the wei, in json, yaml and table', async (t) => {
  const r = sys.requesters[0]!;
  const key = keyFile(r);
  const s = sys.c.settlement;
  const dep = await json(['escrow', 'deposit', '--amount', '12.345678901234567891', '--key-file', key]);
  t.is(dep['freeWei'], '12345678901234567891');
  t.is(dep['free'], '12.345678901234567891');
  t.deepEqual([...(await s.getFunction('escrowOf')(r.address))], [12_345_678_901_234_567_891n, 0n]);

  // Balance of an address, no key needed; YAML and the table say the same.
  const y = await nvdax(['escrow', 'balance', '--address', r.address, '-o', 'yaml']);
  t.is(y.code, 0, y.err);
  t.is(parse(y.out).freeWei, '12345678901234567891');
  const tbl = await nvdax(['escrow', 'balance', '--address', r.address]);
  t.is(tbl.code, 0, tbl.err);
  t.regex(tbl.out, /^ADDRESS\s+REQUESTER ID\s+FREE \(NVDAX\)\s+LOCKED \(NVDAX\)\n/);
  t.true(tbl.out.includes(r.address) && tbl.out.includes('12.345678901234567891'));

  // The key from the environment, as nvdax submit reads it.
  const w = await json(['escrow', 'withdraw', '--amount', '0.000000000000000891'], {
    NVDAX_REQUESTER_KEY: r.privateKey,
  });
  t.is(w['freeWei'], '12345678901234567000');
  t.is(w['withdrawnWei'], '891');
  const bal = (await sys.c.token.getFunction('balanceOf')(r.address)) as bigint;
  const all = await json(['escrow', 'withdraw', '--all', '--key-file', key]);
  t.is(all['freeWei'], '0');
  t.is((await sys.c.token.getFunction('balanceOf')(r.address)) - bal, 12_345_678_901_234_567_000n);

  // The contract's refusal is named.
  const over = await nvdax(['escrow', 'withdraw', '--amount', '1', '--key-file', key]);
  t.is(over.code, 1);
  t.regex(over.err, /nvdax escrow: escrow withdraw: refused by the contract: InsufficientEscrow\(/);
});

test.serial('deposit for another requester', async (t) => {
  const [a, b] = [sys.requesters[1]!, sys.requesters[2]!];
  const res = await json(['escrow', 'deposit', '--amount', '5', '--for', b.address, '--key-file', keyFile(a)]);
  t.is(res['address'], b.address);
  t.is(res['freeWei'], (5n * TOKEN).toString());
});

test.serial('wrong arguments name the flag and what is allowed', async (t) => {
  const key = keyFile(sys.requesters[0]!);
  let r = await nvdax(['escrow', 'deposit', '--amount', '1.5e3', '--key-file', key]);
  t.is(r.code, 1);
  t.regex(r.err, /--amount "1\.5e3": expected an NVDAx amount, a decimal number with at most 18 decimals/);
  r = await nvdax(['escrow', 'deposit', '--amount', `0.${'1'.repeat(19)}`, '--key-file', key]);
  t.regex(r.err, /--amount .*at most 18 decimals/);
  r = await nvdax(['escrow', 'deposit', '--key-file', key]);
  t.regex(r.err, /--amount is required/);
  r = await nvdax(['escrow', 'balance', '--address', sys.requesters[0]!.address, '-o', 'xml']);
  t.is(r.code, 2);
  t.regex(r.err, /invalid --output "xml"; use one of: table, yaml, json/);
  r = await nvdax(['escrow', 'refund']);
  t.is(r.code, 2);
  t.regex(r.err, /invalid --action "refund"|action/);
  r = await nvdax(['escrow', 'balance']);
  t.is(r.code, 1);
  t.regex(r.err, /no key: pass --key-file FILE or set \$NVDAX_KEY or \$NVDAX_REQUESTER_KEY/);
  r = await nvdax(['escrow', 'balance', '--address', 'bob']);
  t.regex(r.err, /--address bob: expected an Ethereum address/);
  r = await nvdax(['escrow', 'balance', '--address', sys.requesters[0]!.address, '--rpc-url', 'nope']);
  t.regex(r.err, /--rpc-url nope: expected an http/);
  r = await nvdax(['governance', 'propose', '--set', 'colour=blue', '--description', 'x', '--key-file', key]);
  t.regex(r.err, /--set colour=blue: expected NAME=VALUE with NAME one of feeBps, /);
});

test.serial('provider register, stake, status, unbond and withdraw after the delay', async (t) => {
  const p = sys.providers[0]!;
  const key = keyFile(p);
  const reg = sys.c.registry;
  let r = await nvdax(['provider', 'register', '--amount', '99.5', '--key-file', key]);
  t.is(r.code, 1);
  t.regex(r.err, /below the minimum stake 100/);
  const st = await json(['provider', 'register', '--amount', '150.25', '--key-file', key]);
  t.is(st['stakedWei'], (15_025n * TOKEN) / 100n + '');
  t.true((st['providerId'] as number) > 0);
  r = await nvdax(['provider', 'register', '--amount', '1', '--key-file', key]);
  t.regex(r.err, /already provider \d+; add stake with nvdax provider stake/);
  await json(['provider', 'stake', '--amount', '49.75', '--key-file', key]);
  t.is(((await reg.getFunction('provider')(p.address)) as { staked: bigint }).staked, 200n * TOKEN);

  const y = await nvdax(['provider', 'status', '--address', p.address, '-o', 'yaml']);
  t.is(y.code, 0, y.err);
  t.is(parse(y.out).staked, '200');
  const tbl = await nvdax(['provider', 'status', '--key-file', key]);
  t.regex(tbl.out, /^ADDRESS\s+ID\s+STAKED\s+LOCKED\s+FREE\s+UNBONDING/);

  const u = await json(['provider', 'unbond', '--amount', '200', '--key-file', key]);
  t.is(u['unbondingWei'], (200n * TOKEN).toString());
  t.is(u['stakedWei'], '0');
  r = await nvdax(['provider', 'unbond', '--withdraw', '--key-file', key]);
  t.is(r.code, 1);
  t.regex(r.err, /refused by the contract: StillUnbonding\(/);
  await chain.send('evm_increaseTime', [testParams.unbondingDelay!]);
  await chain.send('evm_mine', []);
  const before = (await sys.c.token.getFunction('balanceOf')(p.address)) as bigint;
  const w = await json(['provider', 'unbond', '--withdraw', '--key-file', key]);
  t.is(w['unbondingWei'], '0');
  t.is((await sys.c.token.getFunction('balanceOf')(p.address)) - before, 200n * TOKEN);
});

test.serial('governance: a proposal changing feeBps passes vote, queue and execute after the time-lock', async (t) => {
  const voter = keyFile(sys.voters[0]!);
  const s = sys.c.settlement;
  t.is(((await s.getFunction('params')()) as { feeBps: bigint }).feeBps, 250n);
  const p = await json([
    'governance',
    'propose',
    '--set',
    'feeBps=300',
    '--description',
    'fee to 3%',
    '--key-file',
    voter,
  ]);
  const id = p['proposalId'] as string;
  t.is(p['state'], 'Pending');
  t.deepEqual(p['calls'], ['settlement.setFeeBps(300)']);
  let r = await nvdax(['governance', 'queue', '--proposal', id, '--key-file', voter]);
  t.regex(r.err, /is Pending; queue needs it Succeeded/);

  await mineBlocks(chain, testParams.votingDelay! + 1);
  const v = await json(['governance', 'vote', '--proposal', id, '--support', 'for', '--key-file', voter]);
  t.is(v['state'], 'Active');
  t.is(v['votesFor'], '100000');
  await mineBlocks(chain, testParams.votingPeriod! + 1);
  const st = await json(['governance', 'status', '--proposal', id]);
  t.is(st['state'], 'Succeeded');
  r = await nvdax(['governance', 'execute', '--proposal', id, '--key-file', voter]);
  t.regex(r.err, /succeeded but is not queued: run governance queue first/);
  const q = await json(['governance', 'queue', '--proposal', id, '--key-file', voter]);
  t.is(q['state'], 'Queued');
  t.truthy(q['eta']);
  r = await nvdax(['governance', 'execute', '--proposal', id, '--key-file', voter]);
  t.is(r.code, 1);
  t.regex(r.err, /refused by the contract: TimelockUnexpectedOperationState|GovernorUnexpectedProposalState|refused/);

  await chain.send('evm_increaseTime', [testParams.timelockDelay!]);
  await chain.send('evm_mine', []);
  const e = await nvdax(['governance', 'execute', '--proposal', id, '--key-file', voter, '-o', 'yaml']);
  t.is(e.code, 0, e.err);
  t.is(parse(e.out).state, 'Executed');
  t.is(((await s.getFunction('params')()) as { feeBps: bigint }).feeBps, 300n);
  const list = await nvdax(['governance', 'status']);
  t.regex(list.out, /^PROPOSAL\s+STATE\s+FOR\s+AGAINST/);
  t.regex(list.out, /Executed\s+100000\s+0\s+0/);
  t.true(list.out.includes('settlement.setFeeBps(300)'));
});
