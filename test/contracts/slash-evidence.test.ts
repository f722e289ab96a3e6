// From a wrong answer to a slashed stake, on a real local chain (anvil): a provider stakes, a requester's task
// locks part of that stake, the provider's gateway signs a receipt for an output the reference model does not
// give, the verifier's replay turns it into evidence, and submitSlash takes the stake through
// ProviderRegistry.slash. Balances, stake and the Slashed event are checked to the wei.
import test from 'ava';
import type { Contract, HDNodeWallet } from 'ethers';
import { buildTask } from '../../operator/settlement/task.ts';
import { contentHash, gatewayKeyHash, receiptDomain, signReceipt } from '../../operator/verification/receipt.ts';
import { type SlashEvidence, submitSlash, Verifier } from '../../operator/verification/verifier.ts';
import { ACCOUNTS, type Chain, decodeError, mustTx, openTasks, startChain, taskFields } from '../helpers/chain.ts';
import { type System, system, TOKEN } from './fixture.ts';

let chain: Chain;
let sys: System;
let provider: HDNodeWallet;
let requester: HDNodeWallet;
let verifierWallet: HDNodeWallet;

test.before(async () => {
  chain = await startChain(16);
  sys = await system(chain);
  provider = sys.providers[0]!;
  requester = sys.requesters[0]!;
  verifierWallet = chain.wallets[ACCOUNTS.verifier]!;
  await mustTx(chain, provider.address, sys.c.registry, 'stake', [500n * TOKEN]);
  await mustTx(chain, requester.address, sys.c.settlement, 'deposit', [100n * TOKEN]);
  // The requester's task on this provider locks part of its stake: what a verifier may slash.
  await openTasks(sys, [
    { wallet: requester, provider: provider.address, value: buildTask(taskFields(requester.address)) },
  ]);
});
test.after.always(async () => {
  await chain?.stop();
});

const reference = (input: Uint8Array | string) =>
  (typeof input === 'string' ? input : Buffer.from(input).toString()).toUpperCase();

async function mismatchEvidence(i: number): Promise<SlashEvidence> {
  const domain = receiptDomain(BigInt(sys.dep.chainId), sys.dep.contracts.settlement);
  const input = `what is ${i} + ${i}?`;
  const signed = await signReceipt(provider, domain, {
    provider: provider.address,
    job: `0x${'ab'.repeat(32)}`,
    modelHash: contentHash('upper-case model'),
    inputHash: contentHash(input),
    outputHash: contentHash('an answer from a cheaper model'),
    latencyUs: 12_000,
    deviceTimeUs: 9_000,
    price: '1000000000000000',
    requestId: contentHash(`request-${i}`),
    gatewayKey: gatewayKeyHash('gateway key'),
    time: 1_795_000_000_000 + i,
    inputTokens: 0,
    outputTokens: 0,
  });
  const v = new Verifier({ domain, share: 1, seed: 'verifier-seed', infer: reference });
  const out = await v.check({ receipt: signed, input });
  if (out.status !== 'evidence') throw new Error(`expected evidence, got ${out.status}`);
  return out.evidence;
}

interface Snapshot {
  staked: bigint;
  locked: bigint;
  totalStaked: bigint;
  verifierTokens: bigint;
  registryTokens: bigint;
  settlementTokens: bigint;
  requesterFree: bigint;
}

async function snapshot(): Promise<Snapshot> {
  const { registry, token, settlement } = sys.c;
  const p = await registry.getFunction('provider')(provider.address);
  const [free] = (await settlement.getFunction('escrowOf')(requester.address)) as [bigint, bigint];
  return {
    staked: p.staked as bigint,
    locked: p.locked as bigint,
    totalStaked: (await registry.getFunction('totalStaked')()) as bigint,
    verifierTokens: (await token.getFunction('balanceOf')(verifierWallet.address)) as bigint,
    registryTokens: (await token.getFunction('balanceOf')(await registry.getAddress())) as bigint,
    settlementTokens: (await token.getFunction('balanceOf')(await settlement.getAddress())) as bigint,
    requesterFree: free,
  };
}

test.serial('a replay mismatch becomes evidence and submitSlash slashes the stake, to the wei', async (t) => {
  const evidence = await mismatchEvidence(1);
  t.is(evidence.kind, 'replay-mismatch');
  t.is(evidence.provider, provider.address);

  const before = await snapshot();
  t.true(before.locked > 0n, 'the open task locked stake');
  const amount = before.locked / 2n;
  const bps = BigInt(await sys.c.registry.getFunction('slashVerifierBps')());
  t.is(bps, 1000n);
  const verifierAmount = (amount * bps) / 10_000n;
  const rest = amount - verifierAmount;

  const registry = sys.c.registry.connect(verifierWallet) as Contract;
  const sub = await submitSlash(registry, evidence, { amount, requesters: [requester.address] });
  t.is(sub.evidenceHash, evidence.evidenceHash);
  t.is(sub.verifierAmount, verifierAmount);
  t.deepEqual(sub.requesterAmounts, [rest]);

  const after = await snapshot();
  t.is(after.staked, before.staked - amount);
  t.is(after.locked, before.locked - amount);
  t.is(after.totalStaked, before.totalStaked - amount);
  t.is(after.verifierTokens, before.verifierTokens + verifierAmount);
  t.is(after.registryTokens, before.registryTokens - amount);
  t.is(after.settlementTokens, before.settlementTokens + rest);
  t.is(after.requesterFree, before.requesterFree + rest);

  // The Slashed event carries the evidence hash (indexed, so it can be found by it).
  const rc = await chain.provider.getTransactionReceipt(sub.txHash);
  const events = rc!.logs
    .filter((l) => l.address.toLowerCase() === sys.dep.contracts.registry.toLowerCase())
    .map((l) => sys.c.registry.interface.parseLog(l))
    .filter((l) => l?.name === 'Slashed');
  t.is(events.length, 1);
  const ev = events[0]!.args;
  t.is(ev['provider'], provider.address);
  t.is(ev['evidence'], evidence.evidenceHash);
  t.is(ev['amount'], amount);
  t.is(ev['verifier'], verifierWallet.address);
  t.is(ev['verifierAmount'], verifierAmount);
  t.deepEqual([...ev['requesters']], [requester.address]);
  t.deepEqual([...ev['requesterAmounts']], [rest]);
  const found = await sys.c.registry.queryFilter(
    sys.c.registry.filters['Slashed']!(provider.address, evidence.evidenceHash),
  );
  t.is(found.length, 1);
  t.is(found[0]!.transactionHash, sub.txHash);
});

test.serial('an account without the slasher role cannot slash, and a tampered record is not sent', async (t) => {
  const evidence = await mismatchEvidence(2);
  const before = await snapshot();
  const stranger = sys.c.registry.connect(sys.stranger) as Contract;
  const denied = await t.throwsAsync(
    submitSlash(stranger, evidence, { amount: 1n * TOKEN, requesters: [requester.address] }),
  );
  t.is(decodeError((denied as { data?: string }).data).name, 'AccessControlUnauthorizedAccount');
  const registry = sys.c.registry.connect(verifierWallet) as Contract;
  const tampered = { ...evidence, detail: { ...evidence.detail, replayedOutputHash: contentHash('x') } };
  await t.throwsAsync(submitSlash(registry, tampered, { amount: 1n * TOKEN, requesters: [requester.address] }), {
    message: /evidence hash/,
  });
  // More than the locked stake is refused on chain.
  await t.throwsAsync(submitSlash(registry, evidence, { amount: before.locked + 1n, requesters: [requester.address] }));
  t.deepEqual(await snapshot(), before);
});
