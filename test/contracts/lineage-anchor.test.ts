// Settlement.anchorLineages: the coordinator records a training job's checkpoint lineage anchor once per opened
// task, and anyone reads it back (lineageOf) or from the LineageAnchored event; a second anchor, an unknown task,
// a zero head, another account and a paused contract are refused. The gas of one anchor, and per anchor in a
// batch, is measured and bounded.
import test from 'ava';
import { Interface } from 'ethers';
import { artifact } from '../../operator/settlement/contracts.ts';
import { generateSigningKey } from '../../operator/training/keys.ts';
import { Lineage, lineageAnchor, signCheckpoint } from '../../operator/training/lineage.ts';
import { sha256 } from '../../operator/training/vector.ts';
import { type Chain, mustTx, openTasks, startChain, taskFields, tx } from '../helpers/chain.ts';
import { buildTask } from '../../operator/settlement/task.ts';
import { type System, system, TOKEN } from './fixture.ts';

let chain: Chain;
let sys: System;
let snap: string;

test.before(async () => {
  chain = await startChain(16);
  sys = await system(chain);
  const { settlement, registry } = sys.c;
  await mustTx(chain, sys.requesters[0]!.address, settlement, 'deposit', [1000n * TOKEN]);
  await mustTx(chain, sys.providers[0]!.address, registry, 'stake', [500n * TOKEN]);
  // twelve tasks open
  await openTasks(
    sys,
    Array.from({ length: 12 }, () => ({
      wallet: sys.requesters[0]!,
      provider: sys.providers[0]!.address,
      value: buildTask(taskFields(sys.requesters[0]!.address, { maxTotal: '4' })),
    })),
  );
  snap = await chain.send<string>('evm_snapshot');
});
test.after.always(async () => {
  await chain?.stop();
});
test.beforeEach(async () => {
  await chain.send('evm_revert', [snap]);
  snap = await chain.send<string>('evm_snapshot');
});

const iface = new Interface(artifact('Settlement').abi);
const anchor = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
const anchorTx = (from: string, anchors: Array<{ task: number; head: string; step: number }>) =>
  tx(chain, from, sys.c.settlement, 'anchorLineages', [anchors]);
const lineageOf = (task: number) => sys.c.settlement.getFunction('lineageOf')(task) as Promise<string>;

/** A real lineage of three signed checkpoints, as status.checkpoints holds it. */
function realLineage() {
  const job = 'team-a/ft';
  const key = generateSigningKey();
  const l = new Lineage(job, 2);
  for (const step of [10, 20, 30]) {
    l.append(signCheckpoint(job, key, { step, uri: `s3://ck/${step}`, sha256: sha256(`w${step}`), parent: l.head }));
  }
  return l.snapshot();
}

test.serial('an opened task is anchored once: stored, evented, read back', async (t) => {
  const a = lineageAnchor(realLineage());
  if (!a) return t.fail('no anchor');
  t.is(await lineageOf(3), anchor(0), 'nothing anchored yet');
  const r = await anchorTx(sys.roles.coordinator, [{ task: 3, head: a.anchor, step: a.step }]);
  t.true(r.ok, r.error);
  t.is(await lineageOf(3), a.anchor);
  const ev = r.receipt.logs.map((l) => iface.parseLog(l)).find((e) => e?.name === 'LineageAnchored');
  t.is(Number(ev?.args['task']), 3);
  t.is(ev?.args['head'], a.anchor);
  t.is(Number(ev?.args['step']), 30);
  t.is(await lineageOf(4), anchor(0), 'another task untouched');

  const again = await anchorTx(sys.roles.coordinator, [{ task: 3, head: anchor(7), step: 40 }]);
  t.is(again.error, 'LineageAlreadyAnchored');
  t.deepEqual(again.errorArgs?.map(String), ['3', a.anchor]);
  t.is(await lineageOf(3), a.anchor, 'the first anchor stays');
});

test.serial(
  'refused: a task never opened, a zero head, a batch naming a task twice, anyone but the coordinator',
  async (t) => {
    const unknown = await anchorTx(sys.roles.coordinator, [{ task: 12, head: anchor(1), step: 1 }]);
    t.is(unknown.error, 'UnknownTask');
    t.is(String(unknown.errorArgs?.[0]), '12');
    t.is((await anchorTx(sys.roles.coordinator, [{ task: 2 ** 40, head: anchor(1), step: 1 }])).error, 'UnknownTask');
    t.is((await anchorTx(sys.roles.coordinator, [{ task: 0, head: anchor(0), step: 1 }])).error, 'ZeroLineageHead');
    const twice = await anchorTx(sys.roles.coordinator, [
      { task: 1, head: anchor(1), step: 1 },
      { task: 1, head: anchor(2), step: 2 },
    ]);
    t.is(twice.error, 'LineageAlreadyAnchored');
    t.is(await lineageOf(1), anchor(0), 'a refused batch anchors nothing');
    for (const who of [sys.stranger.address, sys.requesters[0]!.address, sys.roles.verifier]) {
      t.is((await anchorTx(who, [{ task: 0, head: anchor(1), step: 1 }])).error, 'AccessControlUnauthorizedAccount');
    }
    await mustTx(chain, sys.roles.guardian, sys.c.settlement, 'pause', []);
    t.is((await anchorTx(sys.roles.coordinator, [{ task: 0, head: anchor(1), step: 1 }])).error, 'EnforcedPause');
    t.is(await lineageOf(0), anchor(0));
  },
);

test.serial('gas: one anchor in its own transaction, and per anchor in a batch of ten', async (t) => {
  const one = await anchorTx(sys.roles.coordinator, [{ task: 0, head: anchor(1), step: 30 }]);
  t.true(one.ok, one.error);
  const ten = await anchorTx(
    sys.roles.coordinator,
    Array.from({ length: 10 }, (_, i) => ({ task: i + 1, head: anchor(100 + i), step: 30 })),
  );
  t.true(ten.ok, ten.error);
  const perAnchor = Number(ten.gasUsed) / 10;
  t.log(`anchorLineages: ${one.gasUsed} gas for one anchor; ${ten.gasUsed} for ten (${perAnchor.toFixed(0)} each)`);
  // one fresh storage slot (22,100) is most of it; the rest is the transaction, calldata, checks and the event
  t.true(one.gasUsed < 56_000n, `${one.gasUsed} gas for one anchor`);
  t.true(perAnchor < 29_000, `${perAnchor} gas per anchor in a batch`);
});
