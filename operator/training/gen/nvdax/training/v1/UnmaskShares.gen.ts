// Original file: operator/training/proto/federated.proto

import type { Share as _nvdax_training_v1_Share, Share__Output as _nvdax_training_v1_Share__Output } from '../../../nvdax/training/v1/Share.gen.ts';

export interface UnmaskShares {
  'round'?: (number);
  'seedShares'?: (_nvdax_training_v1_Share)[];
  'keyShares'?: (_nvdax_training_v1_Share)[];
}

export interface UnmaskShares__Output {
  'round': (number);
  'seedShares': (_nvdax_training_v1_Share__Output)[];
  'keyShares': (_nvdax_training_v1_Share__Output)[];
}
