// Original file: operator/training/proto/federated.proto


export interface Hello {
  'participantId'?: (string);
  'job'?: (string);
}

export interface Hello__Output {
  'participantId': (string);
  'job': (string);
}
