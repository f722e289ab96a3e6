// Original file: provider-runtime/gateway/proto/gateway.proto

import type { Evidence as _nvdax_gateway_v1_Evidence, Evidence__Output as _nvdax_gateway_v1_Evidence__Output } from '../../../nvdax/gateway/v1/Evidence.gen.ts';
import type { Limits as _nvdax_gateway_v1_Limits, Limits__Output as _nvdax_gateway_v1_Limits__Output } from '../../../nvdax/gateway/v1/Limits.gen.ts';
import type { Long } from '@grpc/proto-loader';

export interface Capability {
  'job'?: (string);
  'modelName'?: (string);
  'modelHash'?: (string);
  'pricePerRequest'?: (string);
  'provider'?: (string);
  'gatewayPublicKey'?: (Buffer | Uint8Array | string);
  'receiptPublicKey'?: (Buffer | Uint8Array | string);
  'nonce'?: (Buffer | Uint8Array | string);
  'evidence'?: (_nvdax_gateway_v1_Evidence | null);
  'issuedAtMs'?: (number | string | Long);
  'expiresAtMs'?: (number | string | Long);
  'limits'?: (_nvdax_gateway_v1_Limits | null);
  'chainId'?: (string);
  'verifyingContract'?: (string);
  'signature'?: (string);
  'jobName'?: (string);
  'protocol'?: (string);
}

export interface Capability__Output {
  'job': (string);
  'modelName': (string);
  'modelHash': (string);
  'pricePerRequest': (string);
  'provider': (string);
  'gatewayPublicKey': (Buffer);
  'receiptPublicKey': (Buffer);
  'nonce': (Buffer);
  'evidence': (_nvdax_gateway_v1_Evidence__Output | null);
  'issuedAtMs': (number);
  'expiresAtMs': (number);
  'limits': (_nvdax_gateway_v1_Limits__Output | null);
  'chainId': (string);
  'verifyingContract': (string);
  'signature': (string);
  'jobName': (string);
  'protocol': (string);
}
