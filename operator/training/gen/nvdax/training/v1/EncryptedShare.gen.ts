// Original file: operator/training/proto/federated.proto


export interface EncryptedShare {
  'peer'?: (string);
  'ciphertext'?: (Buffer | Uint8Array | string);
}

export interface EncryptedShare__Output {
  'peer': (string);
  'ciphertext': (Buffer);
}
