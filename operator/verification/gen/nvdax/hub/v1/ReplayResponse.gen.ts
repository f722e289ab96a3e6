// Original file: operator/verification/proto/reports.proto


export interface ReplayResponse {
  'checked'?: (number);
  'replayed'?: (number);
  'evidence'?: (string)[];
  'refused'?: (string)[];
}

export interface ReplayResponse__Output {
  'checked': (number);
  'replayed': (number);
  'evidence': (string)[];
  'refused': (string)[];
}
