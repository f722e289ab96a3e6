// Original file: operator/training/proto/federated.proto


export interface Refused {
  'reason'?: (string);
  'message'?: (string);
}

export interface Refused__Output {
  'reason': (string);
  'message': (string);
}
