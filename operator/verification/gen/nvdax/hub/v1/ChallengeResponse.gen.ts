// Original file: operator/verification/proto/reports.proto

import type { Long } from '@grpc/proto-loader';

export interface ChallengeResponse {
  'nonce'?: (string);
  'expiresUnixMs'?: (number | string | Long);
}

export interface ChallengeResponse__Output {
  'nonce': (string);
  'expiresUnixMs': (number);
}
