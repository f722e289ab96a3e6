// Original file: operator/training/proto/federated.proto


export interface PlainUpdate {
  'round'?: (number);
  'vector'?: (Buffer | Uint8Array | string);
}

export interface PlainUpdate__Output {
  'round': (number);
  'vector': (Buffer);
}
