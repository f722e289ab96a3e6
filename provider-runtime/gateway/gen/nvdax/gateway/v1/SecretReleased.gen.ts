// Original file: provider-runtime/gateway/proto/gateway.proto


export interface SecretReleased {
  'name'?: (string);
  'valueHash'?: (Buffer | Uint8Array | string);
}

export interface SecretReleased__Output {
  'name': (string);
  'valueHash': (Buffer);
}
