// Original file: provider-runtime/gateway/proto/gateway.proto


export interface Evidence {
  'tee'?: (string);
  'earToken'?: (string);
  'nrasAnswer'?: (string);
  'instance'?: (string);
}

export interface Evidence__Output {
  'tee': (string);
  'earToken': (string);
  'nrasAnswer': (string);
  'instance': (string);
}
