// The kinds of the API, in the order the generator writes them.
import type { Kind } from './constants.ts';
import type { KindDef } from './crd.ts';
import { inferenceJob } from './inferencejob.ts';
import { providerPool } from './providerpool.ts';
import { trainingJob } from './trainingjob.ts';
import { work } from './work.ts';

export const kindDefs: Record<Kind, KindDef> = {
  InferenceJob: inferenceJob,
  TrainingJob: trainingJob,
  ProviderPool: providerPool,
  Work: work,
};
