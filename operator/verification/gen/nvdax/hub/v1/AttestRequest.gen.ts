// Original file: operator/verification/proto/reports.proto

import type { JobRef as _nvdax_hub_v1_JobRef, JobRef__Output as _nvdax_hub_v1_JobRef__Output } from '../../../nvdax/hub/v1/JobRef.gen.ts';

export interface AttestRequest {
  'job'?: (_nvdax_hub_v1_JobRef | null);
  'instance'?: (string);
  'nonce'?: (string);
  'teePubKeyJson'?: (string);
  'ear'?: (string);
  'nrasJson'?: (string);
  'capabilityJson'?: (string);
  'capabilitySignature'?: (string);
}

export interface AttestRequest__Output {
  'job': (_nvdax_hub_v1_JobRef__Output | null);
  'instance': (string);
  'nonce': (string);
  'teePubKeyJson': (string);
  'ear': (string);
  'nrasJson': (string);
  'capabilityJson': (string);
  'capabilitySignature': (string);
}
