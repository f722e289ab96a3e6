// Original file: operator/training/proto/federated.proto


export interface Attest {
  'evidence'?: (Buffer | Uint8Array | string);
  'signingKey'?: (Buffer | Uint8Array | string);
}

export interface Attest__Output {
  'evidence': (Buffer);
  'signingKey': (Buffer);
}
