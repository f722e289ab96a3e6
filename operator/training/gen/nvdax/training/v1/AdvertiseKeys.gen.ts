// Original file: operator/training/proto/federated.proto


export interface AdvertiseKeys {
  'round'?: (number);
  'cPk'?: (Buffer | Uint8Array | string);
  'sPk'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface AdvertiseKeys__Output {
  'round': (number);
  'cPk': (Buffer);
  'sPk': (Buffer);
  'signature': (Buffer);
}
