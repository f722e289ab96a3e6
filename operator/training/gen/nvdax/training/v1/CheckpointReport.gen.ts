// Original file: operator/training/proto/federated.proto

import type { Long } from '@grpc/proto-loader';

export interface CheckpointReport {
  'step'?: (number | string | Long);
  'uri'?: (string);
  'sha256'?: (string);
  'parent'?: (string);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface CheckpointReport__Output {
  'step': (number);
  'uri': (string);
  'sha256': (string);
  'parent': (string);
  'signature': (Buffer);
}
