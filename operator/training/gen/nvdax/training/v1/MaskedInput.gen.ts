// Original file: operator/training/proto/federated.proto


export interface MaskedInput {
  'round'?: (number);
  'masked'?: (Buffer | Uint8Array | string);
}

export interface MaskedInput__Output {
  'round': (number);
  'masked': (Buffer);
}
