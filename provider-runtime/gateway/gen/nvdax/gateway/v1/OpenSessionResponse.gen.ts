// Original file: provider-runtime/gateway/proto/gateway.proto

import type { Long } from '@grpc/proto-loader';

export interface OpenSessionResponse {
  'sessionId'?: (Buffer | Uint8Array | string);
  'expiresAtMs'?: (number | string | Long);
}

export interface OpenSessionResponse__Output {
  'sessionId': (Buffer);
  'expiresAtMs': (number);
}
