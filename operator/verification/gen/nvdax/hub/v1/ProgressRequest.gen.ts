// Original file: operator/verification/proto/reports.proto

import type { JobRef as _nvdax_hub_v1_JobRef, JobRef__Output as _nvdax_hub_v1_JobRef__Output } from '../../../nvdax/hub/v1/JobRef.gen.ts';
import type { Long } from '@grpc/proto-loader';

export interface ProgressRequest {
  'job'?: (_nvdax_hub_v1_JobRef | null);
  'instance'?: (string);
  'step'?: (number | string | Long);
  'totalSteps'?: (number | string | Long);
  'timeUnixMs'?: (number | string | Long);
  'signer'?: (string);
  'signature'?: (string);
  'checkpointJson'?: (string);
}

export interface ProgressRequest__Output {
  'job': (_nvdax_hub_v1_JobRef__Output | null);
  'instance': (string);
  'step': (number);
  'totalSteps': (number);
  'timeUnixMs': (number);
  'signer': (string);
  'signature': (string);
  'checkpointJson': (string);
}
