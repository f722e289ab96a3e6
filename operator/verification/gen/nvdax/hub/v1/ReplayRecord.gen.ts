// Original file: operator/verification/proto/reports.proto

import type { SignedReceipt as _nvdax_hub_v1_SignedReceipt, SignedReceipt__Output as _nvdax_hub_v1_SignedReceipt__Output } from '../../../nvdax/hub/v1/SignedReceipt.gen.ts';

export interface ReplayRecord {
  'receipt'?: (_nvdax_hub_v1_SignedReceipt | null);
  'input'?: (Buffer | Uint8Array | string);
}

export interface ReplayRecord__Output {
  'receipt': (_nvdax_hub_v1_SignedReceipt__Output | null);
  'input': (Buffer);
}
