// Original file: provider-runtime/gateway/proto/gateway.proto

import type { SignedReceipt as _nvdax_gateway_v1_SignedReceipt, SignedReceipt__Output as _nvdax_gateway_v1_SignedReceipt__Output } from '../../../nvdax/gateway/v1/SignedReceipt.gen.ts';
import type { Long } from '@grpc/proto-loader';

export interface SealedChunk {
  'seq'?: (number | string | Long);
  'index'?: (number);
  'ciphertext'?: (Buffer | Uint8Array | string);
  'receipt'?: (_nvdax_gateway_v1_SignedReceipt | null);
}

export interface SealedChunk__Output {
  'seq': (number);
  'index': (number);
  'ciphertext': (Buffer);
  'receipt': (_nvdax_gateway_v1_SignedReceipt__Output | null);
}
