import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Admitted as _nvdax_training_v1_Admitted, Admitted__Output as _nvdax_training_v1_Admitted__Output } from './nvdax/training/v1/Admitted.gen.ts';
import type { AdvertiseKeys as _nvdax_training_v1_AdvertiseKeys, AdvertiseKeys__Output as _nvdax_training_v1_AdvertiseKeys__Output } from './nvdax/training/v1/AdvertiseKeys.gen.ts';
import type { Attest as _nvdax_training_v1_Attest, Attest__Output as _nvdax_training_v1_Attest__Output } from './nvdax/training/v1/Attest.gen.ts';
import type { Challenge as _nvdax_training_v1_Challenge, Challenge__Output as _nvdax_training_v1_Challenge__Output } from './nvdax/training/v1/Challenge.gen.ts';
import type { CheckpointReport as _nvdax_training_v1_CheckpointReport, CheckpointReport__Output as _nvdax_training_v1_CheckpointReport__Output } from './nvdax/training/v1/CheckpointReport.gen.ts';
import type { ConsistencyRequest as _nvdax_training_v1_ConsistencyRequest, ConsistencyRequest__Output as _nvdax_training_v1_ConsistencyRequest__Output } from './nvdax/training/v1/ConsistencyRequest.gen.ts';
import type { ConsistencySignature as _nvdax_training_v1_ConsistencySignature, ConsistencySignature__Output as _nvdax_training_v1_ConsistencySignature__Output } from './nvdax/training/v1/ConsistencySignature.gen.ts';
import type { CoordinatorMessage as _nvdax_training_v1_CoordinatorMessage, CoordinatorMessage__Output as _nvdax_training_v1_CoordinatorMessage__Output } from './nvdax/training/v1/CoordinatorMessage.gen.ts';
import type { EncryptedShare as _nvdax_training_v1_EncryptedShare, EncryptedShare__Output as _nvdax_training_v1_EncryptedShare__Output } from './nvdax/training/v1/EncryptedShare.gen.ts';
import type { FederatedCoordinatorClient as _nvdax_training_v1_FederatedCoordinatorClient, FederatedCoordinatorDefinition as _nvdax_training_v1_FederatedCoordinatorDefinition } from './nvdax/training/v1/FederatedCoordinator.gen.ts';
import type { Finished as _nvdax_training_v1_Finished, Finished__Output as _nvdax_training_v1_Finished__Output } from './nvdax/training/v1/Finished.gen.ts';
import type { Hello as _nvdax_training_v1_Hello, Hello__Output as _nvdax_training_v1_Hello__Output } from './nvdax/training/v1/Hello.gen.ts';
import type { KeyList as _nvdax_training_v1_KeyList, KeyList__Output as _nvdax_training_v1_KeyList__Output } from './nvdax/training/v1/KeyList.gen.ts';
import type { MaskedInput as _nvdax_training_v1_MaskedInput, MaskedInput__Output as _nvdax_training_v1_MaskedInput__Output } from './nvdax/training/v1/MaskedInput.gen.ts';
import type { ParticipantMessage as _nvdax_training_v1_ParticipantMessage, ParticipantMessage__Output as _nvdax_training_v1_ParticipantMessage__Output } from './nvdax/training/v1/ParticipantMessage.gen.ts';
import type { PlainUpdate as _nvdax_training_v1_PlainUpdate, PlainUpdate__Output as _nvdax_training_v1_PlainUpdate__Output } from './nvdax/training/v1/PlainUpdate.gen.ts';
import type { PublicKeys as _nvdax_training_v1_PublicKeys, PublicKeys__Output as _nvdax_training_v1_PublicKeys__Output } from './nvdax/training/v1/PublicKeys.gen.ts';
import type { Refused as _nvdax_training_v1_Refused, Refused__Output as _nvdax_training_v1_Refused__Output } from './nvdax/training/v1/Refused.gen.ts';
import type { RoundResult as _nvdax_training_v1_RoundResult, RoundResult__Output as _nvdax_training_v1_RoundResult__Output } from './nvdax/training/v1/RoundResult.gen.ts';
import type { RoundStart as _nvdax_training_v1_RoundStart, RoundStart__Output as _nvdax_training_v1_RoundStart__Output } from './nvdax/training/v1/RoundStart.gen.ts';
import type { Share as _nvdax_training_v1_Share, Share__Output as _nvdax_training_v1_Share__Output } from './nvdax/training/v1/Share.gen.ts';
import type { ShareDelivery as _nvdax_training_v1_ShareDelivery, ShareDelivery__Output as _nvdax_training_v1_ShareDelivery__Output } from './nvdax/training/v1/ShareDelivery.gen.ts';
import type { ShareKeys as _nvdax_training_v1_ShareKeys, ShareKeys__Output as _nvdax_training_v1_ShareKeys__Output } from './nvdax/training/v1/ShareKeys.gen.ts';
import type { SignedSurvivors as _nvdax_training_v1_SignedSurvivors, SignedSurvivors__Output as _nvdax_training_v1_SignedSurvivors__Output } from './nvdax/training/v1/SignedSurvivors.gen.ts';
import type { UnmaskRequest as _nvdax_training_v1_UnmaskRequest, UnmaskRequest__Output as _nvdax_training_v1_UnmaskRequest__Output } from './nvdax/training/v1/UnmaskRequest.gen.ts';
import type { UnmaskShares as _nvdax_training_v1_UnmaskShares, UnmaskShares__Output as _nvdax_training_v1_UnmaskShares__Output } from './nvdax/training/v1/UnmaskShares.gen.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  nvdax: {
    training: {
      v1: {
        Admitted: MessageTypeDefinition<_nvdax_training_v1_Admitted, _nvdax_training_v1_Admitted__Output>
        AdvertiseKeys: MessageTypeDefinition<_nvdax_training_v1_AdvertiseKeys, _nvdax_training_v1_AdvertiseKeys__Output>
        Attest: MessageTypeDefinition<_nvdax_training_v1_Attest, _nvdax_training_v1_Attest__Output>
        Challenge: MessageTypeDefinition<_nvdax_training_v1_Challenge, _nvdax_training_v1_Challenge__Output>
        CheckpointReport: MessageTypeDefinition<_nvdax_training_v1_CheckpointReport, _nvdax_training_v1_CheckpointReport__Output>
        ConsistencyRequest: MessageTypeDefinition<_nvdax_training_v1_ConsistencyRequest, _nvdax_training_v1_ConsistencyRequest__Output>
        ConsistencySignature: MessageTypeDefinition<_nvdax_training_v1_ConsistencySignature, _nvdax_training_v1_ConsistencySignature__Output>
        CoordinatorMessage: MessageTypeDefinition<_nvdax_training_v1_CoordinatorMessage, _nvdax_training_v1_CoordinatorMessage__Output>
        EncryptedShare: MessageTypeDefinition<_nvdax_training_v1_EncryptedShare, _nvdax_training_v1_EncryptedShare__Output>
        FederatedCoordinator: SubtypeConstructor<typeof grpc.Client, _nvdax_training_v1_FederatedCoordinatorClient> & { service: _nvdax_training_v1_FederatedCoordinatorDefinition }
        Finished: MessageTypeDefinition<_nvdax_training_v1_Finished, _nvdax_training_v1_Finished__Output>
        Hello: MessageTypeDefinition<_nvdax_training_v1_Hello, _nvdax_training_v1_Hello__Output>
        KeyList: MessageTypeDefinition<_nvdax_training_v1_KeyList, _nvdax_training_v1_KeyList__Output>
        MaskedInput: MessageTypeDefinition<_nvdax_training_v1_MaskedInput, _nvdax_training_v1_MaskedInput__Output>
        ParticipantMessage: MessageTypeDefinition<_nvdax_training_v1_ParticipantMessage, _nvdax_training_v1_ParticipantMessage__Output>
        PlainUpdate: MessageTypeDefinition<_nvdax_training_v1_PlainUpdate, _nvdax_training_v1_PlainUpdate__Output>
        PublicKeys: MessageTypeDefinition<_nvdax_training_v1_PublicKeys, _nvdax_training_v1_PublicKeys__Output>
        Refused: MessageTypeDefinition<_nvdax_training_v1_Refused, _nvdax_training_v1_Refused__Output>
        RoundResult: MessageTypeDefinition<_nvdax_training_v1_RoundResult, _nvdax_training_v1_RoundResult__Output>
        RoundStart: MessageTypeDefinition<_nvdax_training_v1_RoundStart, _nvdax_training_v1_RoundStart__Output>
        Share: MessageTypeDefinition<_nvdax_training_v1_Share, _nvdax_training_v1_Share__Output>
        ShareDelivery: MessageTypeDefinition<_nvdax_training_v1_ShareDelivery, _nvdax_training_v1_ShareDelivery__Output>
        ShareKeys: MessageTypeDefinition<_nvdax_training_v1_ShareKeys, _nvdax_training_v1_ShareKeys__Output>
        SignedSurvivors: MessageTypeDefinition<_nvdax_training_v1_SignedSurvivors, _nvdax_training_v1_SignedSurvivors__Output>
        UnmaskRequest: MessageTypeDefinition<_nvdax_training_v1_UnmaskRequest, _nvdax_training_v1_UnmaskRequest__Output>
        UnmaskShares: MessageTypeDefinition<_nvdax_training_v1_UnmaskShares, _nvdax_training_v1_UnmaskShares__Output>
      }
    }
  }
}

