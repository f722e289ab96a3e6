// Original file: operator/training/proto/federated.proto

import type { EncryptedShare as _nvdax_training_v1_EncryptedShare, EncryptedShare__Output as _nvdax_training_v1_EncryptedShare__Output } from '../../../nvdax/training/v1/EncryptedShare.gen.ts';

export interface ShareDelivery {
  'round'?: (number);
  'shares'?: (_nvdax_training_v1_EncryptedShare)[];
}

export interface ShareDelivery__Output {
  'round': (number);
  'shares': (_nvdax_training_v1_EncryptedShare__Output)[];
}
