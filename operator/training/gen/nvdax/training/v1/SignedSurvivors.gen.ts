// Original file: operator/training/proto/federated.proto


export interface SignedSurvivors {
  'id'?: (string);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface SignedSurvivors__Output {
  'id': (string);
  'signature': (Buffer);
}
