// Original file: operator/verification/proto/reports.proto

import type { JobRef as _nvdax_hub_v1_JobRef, JobRef__Output as _nvdax_hub_v1_JobRef__Output } from '../../../nvdax/hub/v1/JobRef.gen.ts';
import type { SignedReceipt as _nvdax_hub_v1_SignedReceipt, SignedReceipt__Output as _nvdax_hub_v1_SignedReceipt__Output } from '../../../nvdax/hub/v1/SignedReceipt.gen.ts';

export interface ReceiptsRequest {
  'job'?: (_nvdax_hub_v1_JobRef | null);
  'receipts'?: (_nvdax_hub_v1_SignedReceipt)[];
}

export interface ReceiptsRequest__Output {
  'job': (_nvdax_hub_v1_JobRef__Output | null);
  'receipts': (_nvdax_hub_v1_SignedReceipt__Output)[];
}
