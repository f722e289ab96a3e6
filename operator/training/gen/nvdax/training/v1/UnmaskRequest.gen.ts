// Original file: operator/training/proto/federated.proto

import type { SignedSurvivors as _nvdax_training_v1_SignedSurvivors, SignedSurvivors__Output as _nvdax_training_v1_SignedSurvivors__Output } from '../../../nvdax/training/v1/SignedSurvivors.gen.ts';

export interface UnmaskRequest {
  'round'?: (number);
  'survivors'?: (string)[];
  'signatures'?: (_nvdax_training_v1_SignedSurvivors)[];
}

export interface UnmaskRequest__Output {
  'round': (number);
  'survivors': (string)[];
  'signatures': (_nvdax_training_v1_SignedSurvivors__Output)[];
}
