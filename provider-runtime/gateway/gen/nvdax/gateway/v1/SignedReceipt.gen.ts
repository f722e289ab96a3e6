// Original file: provider-runtime/gateway/proto/gateway.proto

import type { Receipt as _nvdax_gateway_v1_Receipt, Receipt__Output as _nvdax_gateway_v1_Receipt__Output } from '../../../nvdax/gateway/v1/Receipt.gen.ts';

export interface SignedReceipt {
  'receipt'?: (_nvdax_gateway_v1_Receipt | null);
  'scheme'?: (string);
  'signature'?: (string);
}

export interface SignedReceipt__Output {
  'receipt': (_nvdax_gateway_v1_Receipt__Output | null);
  'scheme': (string);
  'signature': (string);
}
