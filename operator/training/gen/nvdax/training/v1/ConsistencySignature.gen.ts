// Original file: operator/training/proto/federated.proto


export interface ConsistencySignature {
  'round'?: (number);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface ConsistencySignature__Output {
  'round': (number);
  'signature': (Buffer);
}
