// Original file: provider-runtime/gateway/proto/gateway.proto

import type { Long } from '@grpc/proto-loader';

export interface OpenSessionRequest {
  'requesterPublicKey'?: (Buffer | Uint8Array | string);
  'capabilityNonce'?: (Buffer | Uint8Array | string);
  'requester'?: (string);
  'issuedAtMs'?: (number | string | Long);
  'signature'?: (string);
}

export interface OpenSessionRequest__Output {
  'requesterPublicKey': (Buffer);
  'capabilityNonce': (Buffer);
  'requester': (string);
  'issuedAtMs': (number);
  'signature': (string);
}
