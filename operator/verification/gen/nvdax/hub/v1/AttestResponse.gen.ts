// Original file: operator/verification/proto/reports.proto


export interface AttestResponse {
  'verified'?: (boolean);
  'message'?: (string);
  'evidenceHash'?: (string);
  'gatewayKey'?: (string);
}

export interface AttestResponse__Output {
  'verified': (boolean);
  'message': (string);
  'evidenceHash': (string);
  'gatewayKey': (string);
}
