// Original file: operator/verification/proto/reports.proto


export interface JobRef {
  'kind'?: (string);
  'namespace'?: (string);
  'name'?: (string);
}

export interface JobRef__Output {
  'kind': (string);
  'namespace': (string);
  'name': (string);
}
