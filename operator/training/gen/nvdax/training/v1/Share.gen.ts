// Original file: operator/training/proto/federated.proto


export interface Share {
  'of'?: (string);
  'share'?: (Buffer | Uint8Array | string);
}

export interface Share__Output {
  'of': (string);
  'share': (Buffer);
}
