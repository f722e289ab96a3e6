// Original file: operator/training/proto/federated.proto


export interface Admitted {
  'rounds'?: (number);
  'aggregation'?: (string);
}

export interface Admitted__Output {
  'rounds': (number);
  'aggregation': (string);
}
