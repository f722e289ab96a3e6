// Original file: operator/training/proto/federated.proto

import type { Challenge as _nvdax_training_v1_Challenge, Challenge__Output as _nvdax_training_v1_Challenge__Output } from '../../../nvdax/training/v1/Challenge.gen.ts';
import type { Admitted as _nvdax_training_v1_Admitted, Admitted__Output as _nvdax_training_v1_Admitted__Output } from '../../../nvdax/training/v1/Admitted.gen.ts';
import type { Refused as _nvdax_training_v1_Refused, Refused__Output as _nvdax_training_v1_Refused__Output } from '../../../nvdax/training/v1/Refused.gen.ts';
import type { RoundStart as _nvdax_training_v1_RoundStart, RoundStart__Output as _nvdax_training_v1_RoundStart__Output } from '../../../nvdax/training/v1/RoundStart.gen.ts';
import type { KeyList as _nvdax_training_v1_KeyList, KeyList__Output as _nvdax_training_v1_KeyList__Output } from '../../../nvdax/training/v1/KeyList.gen.ts';
import type { ShareDelivery as _nvdax_training_v1_ShareDelivery, ShareDelivery__Output as _nvdax_training_v1_ShareDelivery__Output } from '../../../nvdax/training/v1/ShareDelivery.gen.ts';
import type { ConsistencyRequest as _nvdax_training_v1_ConsistencyRequest, ConsistencyRequest__Output as _nvdax_training_v1_ConsistencyRequest__Output } from '../../../nvdax/training/v1/ConsistencyRequest.gen.ts';
import type { UnmaskRequest as _nvdax_training_v1_UnmaskRequest, UnmaskRequest__Output as _nvdax_training_v1_UnmaskRequest__Output } from '../../../nvdax/training/v1/UnmaskRequest.gen.ts';
import type { RoundResult as _nvdax_training_v1_RoundResult, RoundResult__Output as _nvdax_training_v1_RoundResult__Output } from '../../../nvdax/training/v1/RoundResult.gen.ts';
import type { Finished as _nvdax_training_v1_Finished, Finished__Output as _nvdax_training_v1_Finished__Output } from '../../../nvdax/training/v1/Finished.gen.ts';

export interface CoordinatorMessage {
  'challenge'?: (_nvdax_training_v1_Challenge | null);
  'admitted'?: (_nvdax_training_v1_Admitted | null);
  'refused'?: (_nvdax_training_v1_Refused | null);
  'roundStart'?: (_nvdax_training_v1_RoundStart | null);
  'keyList'?: (_nvdax_training_v1_KeyList | null);
  'shareDelivery'?: (_nvdax_training_v1_ShareDelivery | null);
  'consistencyRequest'?: (_nvdax_training_v1_ConsistencyRequest | null);
  'unmaskRequest'?: (_nvdax_training_v1_UnmaskRequest | null);
  'roundResult'?: (_nvdax_training_v1_RoundResult | null);
  'finished'?: (_nvdax_training_v1_Finished | null);
  'body'?: "challenge"|"admitted"|"refused"|"roundStart"|"keyList"|"shareDelivery"|"consistencyRequest"|"unmaskRequest"|"roundResult"|"finished";
}

export interface CoordinatorMessage__Output {
  'challenge'?: (_nvdax_training_v1_Challenge__Output | null);
  'admitted'?: (_nvdax_training_v1_Admitted__Output | null);
  'refused'?: (_nvdax_training_v1_Refused__Output | null);
  'roundStart'?: (_nvdax_training_v1_RoundStart__Output | null);
  'keyList'?: (_nvdax_training_v1_KeyList__Output | null);
  'shareDelivery'?: (_nvdax_training_v1_ShareDelivery__Output | null);
  'consistencyRequest'?: (_nvdax_training_v1_ConsistencyRequest__Output | null);
  'unmaskRequest'?: (_nvdax_training_v1_UnmaskRequest__Output | null);
  'roundResult'?: (_nvdax_training_v1_RoundResult__Output | null);
  'finished'?: (_nvdax_training_v1_Finished__Output | null);
  'body'?: "challenge"|"admitted"|"refused"|"roundStart"|"keyList"|"shareDelivery"|"consistencyRequest"|"unmaskRequest"|"roundResult"|"finished";
}
