// Original file: operator/training/proto/federated.proto

import type { Hello as _nvdax_training_v1_Hello, Hello__Output as _nvdax_training_v1_Hello__Output } from '../../../nvdax/training/v1/Hello.gen.ts';
import type { Attest as _nvdax_training_v1_Attest, Attest__Output as _nvdax_training_v1_Attest__Output } from '../../../nvdax/training/v1/Attest.gen.ts';
import type { AdvertiseKeys as _nvdax_training_v1_AdvertiseKeys, AdvertiseKeys__Output as _nvdax_training_v1_AdvertiseKeys__Output } from '../../../nvdax/training/v1/AdvertiseKeys.gen.ts';
import type { ShareKeys as _nvdax_training_v1_ShareKeys, ShareKeys__Output as _nvdax_training_v1_ShareKeys__Output } from '../../../nvdax/training/v1/ShareKeys.gen.ts';
import type { MaskedInput as _nvdax_training_v1_MaskedInput, MaskedInput__Output as _nvdax_training_v1_MaskedInput__Output } from '../../../nvdax/training/v1/MaskedInput.gen.ts';
import type { PlainUpdate as _nvdax_training_v1_PlainUpdate, PlainUpdate__Output as _nvdax_training_v1_PlainUpdate__Output } from '../../../nvdax/training/v1/PlainUpdate.gen.ts';
import type { ConsistencySignature as _nvdax_training_v1_ConsistencySignature, ConsistencySignature__Output as _nvdax_training_v1_ConsistencySignature__Output } from '../../../nvdax/training/v1/ConsistencySignature.gen.ts';
import type { UnmaskShares as _nvdax_training_v1_UnmaskShares, UnmaskShares__Output as _nvdax_training_v1_UnmaskShares__Output } from '../../../nvdax/training/v1/UnmaskShares.gen.ts';
import type { CheckpointReport as _nvdax_training_v1_CheckpointReport, CheckpointReport__Output as _nvdax_training_v1_CheckpointReport__Output } from '../../../nvdax/training/v1/CheckpointReport.gen.ts';

export interface ParticipantMessage {
  'hello'?: (_nvdax_training_v1_Hello | null);
  'attest'?: (_nvdax_training_v1_Attest | null);
  'advertiseKeys'?: (_nvdax_training_v1_AdvertiseKeys | null);
  'shareKeys'?: (_nvdax_training_v1_ShareKeys | null);
  'maskedInput'?: (_nvdax_training_v1_MaskedInput | null);
  'plainUpdate'?: (_nvdax_training_v1_PlainUpdate | null);
  'consistency'?: (_nvdax_training_v1_ConsistencySignature | null);
  'unmask'?: (_nvdax_training_v1_UnmaskShares | null);
  'checkpoint'?: (_nvdax_training_v1_CheckpointReport | null);
  'body'?: "hello"|"attest"|"advertiseKeys"|"shareKeys"|"maskedInput"|"plainUpdate"|"consistency"|"unmask"|"checkpoint";
}

export interface ParticipantMessage__Output {
  'hello'?: (_nvdax_training_v1_Hello__Output | null);
  'attest'?: (_nvdax_training_v1_Attest__Output | null);
  'advertiseKeys'?: (_nvdax_training_v1_AdvertiseKeys__Output | null);
  'shareKeys'?: (_nvdax_training_v1_ShareKeys__Output | null);
  'maskedInput'?: (_nvdax_training_v1_MaskedInput__Output | null);
  'plainUpdate'?: (_nvdax_training_v1_PlainUpdate__Output | null);
  'consistency'?: (_nvdax_training_v1_ConsistencySignature__Output | null);
  'unmask'?: (_nvdax_training_v1_UnmaskShares__Output | null);
  'checkpoint'?: (_nvdax_training_v1_CheckpointReport__Output | null);
  'body'?: "hello"|"attest"|"advertiseKeys"|"shareKeys"|"maskedInput"|"plainUpdate"|"consistency"|"unmask"|"checkpoint";
}
