// Original file: operator/verification/proto/reports.proto

import type { JobRef as _nvdax_hub_v1_JobRef, JobRef__Output as _nvdax_hub_v1_JobRef__Output } from '../../../nvdax/hub/v1/JobRef.gen.ts';
import type { ReplayRecord as _nvdax_hub_v1_ReplayRecord, ReplayRecord__Output as _nvdax_hub_v1_ReplayRecord__Output } from '../../../nvdax/hub/v1/ReplayRecord.gen.ts';

export interface ReplayRequest {
  'job'?: (_nvdax_hub_v1_JobRef | null);
  'records'?: (_nvdax_hub_v1_ReplayRecord)[];
}

export interface ReplayRequest__Output {
  'job': (_nvdax_hub_v1_JobRef__Output | null);
  'records': (_nvdax_hub_v1_ReplayRecord__Output)[];
}
