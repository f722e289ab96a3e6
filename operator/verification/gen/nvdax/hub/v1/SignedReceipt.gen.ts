// Original file: operator/verification/proto/reports.proto


export interface SignedReceipt {
  'receiptJson'?: (string);
  'signature'?: (string);
  'scheme'?: (string);
}

export interface SignedReceipt__Output {
  'receiptJson': (string);
  'signature': (string);
  'scheme': (string);
}
