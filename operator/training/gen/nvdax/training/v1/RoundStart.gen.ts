// Original file: operator/training/proto/federated.proto


export interface RoundStart {
  'round'?: (number);
  'model'?: (Buffer | Uint8Array | string);
  'aggregation'?: (string);
}

export interface RoundStart__Output {
  'round': (number);
  'model': (Buffer);
  'aggregation': (string);
}
