// Original file: provider-runtime/gateway/proto/gateway.proto


export interface SecretPayload {
  'name'?: (string);
  'value'?: (Buffer | Uint8Array | string);
}

export interface SecretPayload__Output {
  'name': (string);
  'value': (Buffer);
}
