// Original file: provider-runtime/gateway/proto/gateway.proto


export interface Limits {
  'maxPayloadBytes'?: (number);
  'requesterRps'?: (number | string);
  'requesterBurst'?: (number);
  'jobRps'?: (number | string);
  'jobBurst'?: (number);
  'maxConcurrentPerRequester'?: (number);
}

export interface Limits__Output {
  'maxPayloadBytes': (number);
  'requesterRps': (number);
  'requesterBurst': (number);
  'jobRps': (number);
  'jobBurst': (number);
  'maxConcurrentPerRequester': (number);
}
