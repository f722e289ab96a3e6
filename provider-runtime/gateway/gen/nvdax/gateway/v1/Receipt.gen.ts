// Original file: provider-runtime/gateway/proto/gateway.proto

import type { Long } from '@grpc/proto-loader';

export interface Receipt {
  'provider'?: (string);
  'job'?: (string);
  'modelHash'?: (string);
  'inputHash'?: (string);
  'outputHash'?: (string);
  'latencyUs'?: (number | string | Long);
  'deviceTimeUs'?: (number | string | Long);
  'price'?: (string);
  'requestId'?: (string);
  'gatewayKey'?: (string);
  'time'?: (number | string | Long);
  'inputTokens'?: (number | string | Long);
  'outputTokens'?: (number | string | Long);
}

export interface Receipt__Output {
  'provider': (string);
  'job': (string);
  'modelHash': (string);
  'inputHash': (string);
  'outputHash': (string);
  'latencyUs': (number);
  'deviceTimeUs': (number);
  'price': (string);
  'requestId': (string);
  'gatewayKey': (string);
  'time': (number);
  'inputTokens': (number);
  'outputTokens': (number);
}
