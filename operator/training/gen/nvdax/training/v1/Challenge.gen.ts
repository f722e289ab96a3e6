// Original file: operator/training/proto/federated.proto


export interface Challenge {
  'nonce'?: (string);
}

export interface Challenge__Output {
  'nonce': (string);
}
