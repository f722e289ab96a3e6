// Original file: operator/training/proto/federated.proto


export interface Finished {
  'reason'?: (string);
  'message'?: (string);
}

export interface Finished__Output {
  'reason': (string);
  'message': (string);
}
