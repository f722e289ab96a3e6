// Original file: operator/verification/proto/reports.proto


export interface ReceiptsResponse {
  'accepted'?: (number);
  'duplicates'?: (number);
  'refused'?: (string)[];
}

export interface ReceiptsResponse__Output {
  'accepted': (number);
  'duplicates': (number);
  'refused': (string)[];
}
