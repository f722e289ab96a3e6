// Original file: operator/training/proto/federated.proto

import type { PublicKeys as _nvdax_training_v1_PublicKeys, PublicKeys__Output as _nvdax_training_v1_PublicKeys__Output } from '../../../nvdax/training/v1/PublicKeys.gen.ts';

export interface KeyList {
  'round'?: (number);
  'keys'?: (_nvdax_training_v1_PublicKeys)[];
  'threshold'?: (number);
}

export interface KeyList__Output {
  'round': (number);
  'keys': (_nvdax_training_v1_PublicKeys__Output)[];
  'threshold': (number);
}
