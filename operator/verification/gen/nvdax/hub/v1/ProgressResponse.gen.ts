// Original file: operator/verification/proto/reports.proto


export interface ProgressResponse {
  'accepted'?: (boolean);
  'head'?: (string);
  'message'?: (string);
}

export interface ProgressResponse__Output {
  'accepted': (boolean);
  'head': (string);
  'message': (string);
}
