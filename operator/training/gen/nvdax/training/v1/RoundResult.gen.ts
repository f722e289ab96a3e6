// Original file: operator/training/proto/federated.proto


export interface RoundResult {
  'round'?: (number);
  'model'?: (Buffer | Uint8Array | string);
  'modelSha256'?: (string);
  'checkpointUri'?: (string);
  'checkpointParent'?: (string);
}

export interface RoundResult__Output {
  'round': (number);
  'model': (Buffer);
  'modelSha256': (string);
  'checkpointUri': (string);
  'checkpointParent': (string);
}
