// Original file: provider-runtime/gateway/proto/gateway.proto

import type { Long } from '@grpc/proto-loader';

export interface SealedRequest {
  'sessionId'?: (Buffer | Uint8Array | string);
  'seq'?: (number | string | Long);
  'ciphertext'?: (Buffer | Uint8Array | string);
}

export interface SealedRequest__Output {
  'sessionId': (Buffer);
  'seq': (number);
  'ciphertext': (Buffer);
}
