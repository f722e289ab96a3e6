// Original file: operator/verification/proto/reports.proto


export interface TelemetryResponse {
  'accepted'?: (boolean);
  'reputation'?: (string);
  'message'?: (string);
}

export interface TelemetryResponse__Output {
  'accepted': (boolean);
  'reputation': (string);
  'message': (string);
}
