// Original file: operator/training/proto/federated.proto


export interface PublicKeys {
  'id'?: (string);
  'cPk'?: (Buffer | Uint8Array | string);
  'sPk'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
  'signingKey'?: (Buffer | Uint8Array | string);
  'evidence'?: (Buffer | Uint8Array | string);
  'nonce'?: (string);
}

export interface PublicKeys__Output {
  'id': (string);
  'cPk': (Buffer);
  'sPk': (Buffer);
  'signature': (Buffer);
  'signingKey': (Buffer);
  'evidence': (Buffer);
  'nonce': (string);
}
