// Gas guard: settling a batch costs under 3,000 gas per job at 100 jobs and under 2,000 at 1,000 jobs.
// Gas is deterministic on a fresh node, so these are exact measurements, not samples. Steady state: the
// second period's batch over the same tasks (the first one also pays for creating the parties' balance slots).
import test from 'ava';
import { type Chain, deployAll, measureSettle, startChain } from '../helpers/chain.ts';

let chain: Chain;
let snap: string;

test.before(async () => {
  chain = await startChain(5 + 2 * 10);
  snap = await chain.send<string>('evm_snapshot');
});
test.after.always(async () => {
  await chain?.stop();
});

const cases: Array<[jobs: number, parties: number, limit: number]> = [
  [100, 1, 3000],
  [1000, 10, 2000],
];

for (const [jobs, parties, limit] of cases) {
  test.serial(`settle: ${jobs} jobs, ${parties} payer(s) and payee(s): under ${limit} gas per job`, async (t) => {
    await chain.send('evm_revert', [snap]);
    snap = await chain.send<string>('evm_snapshot');
    const d = await deployAll(chain);
    const g = await measureSettle(d, jobs, parties);
    const perJob = Number(g.steady) / jobs;
    t.log(`${g.steady} gas for ${jobs} jobs: ${perJob.toFixed(0)} per job (first batch ${Number(g.first) / jobs})`);
    t.true(perJob < limit, `${perJob.toFixed(0)} gas per job is not under ${limit}`);
  });
}
