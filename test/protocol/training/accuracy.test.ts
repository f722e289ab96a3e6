// The federated model learns: trained by four participant processes on their own shards with secure
// aggregation, it reaches the accuracy of the same model trained on the pooled data, within 2 points.
import test from 'ava';
import { DEFAULT_TASK, pooled, testSet } from '../../../provider-runtime/participant/data.ts';
import { federatedRun, model } from './fixture.ts';

const PARTICIPANTS = 4;
const ROUNDS = 12;
const SAMPLES = 150;

test('federated accuracy is within 2 points of training on the pooled data', async (t) => {
  const run = await federatedRun({
    participants: PARTICIPANTS,
    aggregation: 'SecureAggregation',
    minParticipants: 3,
    rounds: ROUNDS,
    samples: SAMPLES,
    epochs: 1,
  });
  t.is(run.result.state, 'Succeeded', run.result.message);
  t.is(run.rounds.length, ROUNDS);
  const test_ = testSet(DEFAULT_TASK, 4000);
  const federated = model.evaluate(run.result.model, test_).accuracy;
  // The same model, optimizer and number of passes over the data, on the union of the shards.
  const central = model.sgd(model.init(), pooled(DEFAULT_TASK, PARTICIPANTS, SAMPLES), {
    epochs: ROUNDS,
    learningRate: 0.1,
    batch: 16,
    seed: 1,
  });
  const pooledAcc = model.evaluate(central, test_).accuracy;
  t.log(`test accuracy: federated ${(federated * 100).toFixed(2)}%, pooled ${(pooledAcc * 100).toFixed(2)}%`);
  t.true(Math.abs(federated - pooledAcc) <= 0.02, `federated ${federated} vs pooled ${pooledAcc}`);
  const untrained = model.evaluate(model.init(), test_).accuracy;
  t.true(federated > untrained + 0.3, `federated ${federated} vs untrained ${untrained}`);
  // Training loss fell over the rounds.
  t.true(run.rounds.at(-1)!.loss < run.rounds[0]!.loss);
});
