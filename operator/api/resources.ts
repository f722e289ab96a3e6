// REST coordinates of our kinds, for the Kubernetes adapter (informers, clients), and
// the object types it hands out: the generated kind types with metadata as it arrives.
import { resourceType } from '../kube/types.ts';
import type { KubeObject, ResourceType } from '../kube/types.ts';
import { API_VERSION, resources } from './constants.ts';
import type { InferenceJob, ProviderPool, TrainingJob, Work } from './types.gen.ts';

const namespaced = (scope: 'Namespaced' | 'Cluster'): boolean => scope === 'Namespaced';

export const providerPools: ResourceType = resourceType(
  API_VERSION,
  'ProviderPool',
  resources.ProviderPool.plural,
  namespaced(resources.ProviderPool.scope),
);
export const inferenceJobs: ResourceType = resourceType(
  API_VERSION,
  'InferenceJob',
  resources.InferenceJob.plural,
  namespaced(resources.InferenceJob.scope),
);
export const trainingJobs: ResourceType = resourceType(
  API_VERSION,
  'TrainingJob',
  resources.TrainingJob.plural,
  namespaced(resources.TrainingJob.scope),
);

export const works: ResourceType = resourceType(
  API_VERSION,
  'Work',
  resources.Work.plural,
  namespaced(resources.Work.scope),
);

export type ProviderPoolObject = ProviderPool & KubeObject;
export type InferenceJobObject = InferenceJob & KubeObject;
export type TrainingJobObject = TrainingJob & KubeObject;
export type WorkObject = Work & KubeObject;
