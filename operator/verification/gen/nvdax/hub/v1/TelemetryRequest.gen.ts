// Original file: operator/verification/proto/reports.proto


export interface TelemetryRequest {
  'pool'?: (string);
  'reportJson'?: (string);
  'signature'?: (string);
}

export interface TelemetryRequest__Output {
  'pool': (string);
  'reportJson': (string);
  'signature': (string);
}
