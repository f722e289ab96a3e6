// Original file: provider-runtime/gateway/proto/gateway.proto


export interface CapabilityRequest {
  'nonce'?: (Buffer | Uint8Array | string);
}

export interface CapabilityRequest__Output {
  'nonce': (Buffer);
}
