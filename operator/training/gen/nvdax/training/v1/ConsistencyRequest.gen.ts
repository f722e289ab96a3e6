// Original file: operator/training/proto/federated.proto


export interface ConsistencyRequest {
  'round'?: (number);
  'survivors'?: (string)[];
}

export interface ConsistencyRequest__Output {
  'round': (number);
  'survivors': (string)[];
}
