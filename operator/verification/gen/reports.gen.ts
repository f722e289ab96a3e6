import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AttestRequest as _nvdax_hub_v1_AttestRequest, AttestRequest__Output as _nvdax_hub_v1_AttestRequest__Output } from './nvdax/hub/v1/AttestRequest.gen.ts';
import type { AttestResponse as _nvdax_hub_v1_AttestResponse, AttestResponse__Output as _nvdax_hub_v1_AttestResponse__Output } from './nvdax/hub/v1/AttestResponse.gen.ts';
import type { ChallengeRequest as _nvdax_hub_v1_ChallengeRequest, ChallengeRequest__Output as _nvdax_hub_v1_ChallengeRequest__Output } from './nvdax/hub/v1/ChallengeRequest.gen.ts';
import type { ChallengeResponse as _nvdax_hub_v1_ChallengeResponse, ChallengeResponse__Output as _nvdax_hub_v1_ChallengeResponse__Output } from './nvdax/hub/v1/ChallengeResponse.gen.ts';
import type { JobRef as _nvdax_hub_v1_JobRef, JobRef__Output as _nvdax_hub_v1_JobRef__Output } from './nvdax/hub/v1/JobRef.gen.ts';
import type { ProgressRequest as _nvdax_hub_v1_ProgressRequest, ProgressRequest__Output as _nvdax_hub_v1_ProgressRequest__Output } from './nvdax/hub/v1/ProgressRequest.gen.ts';
import type { ProgressResponse as _nvdax_hub_v1_ProgressResponse, ProgressResponse__Output as _nvdax_hub_v1_ProgressResponse__Output } from './nvdax/hub/v1/ProgressResponse.gen.ts';
import type { ReceiptsRequest as _nvdax_hub_v1_ReceiptsRequest, ReceiptsRequest__Output as _nvdax_hub_v1_ReceiptsRequest__Output } from './nvdax/hub/v1/ReceiptsRequest.gen.ts';
import type { ReceiptsResponse as _nvdax_hub_v1_ReceiptsResponse, ReceiptsResponse__Output as _nvdax_hub_v1_ReceiptsResponse__Output } from './nvdax/hub/v1/ReceiptsResponse.gen.ts';
import type { ReplayRecord as _nvdax_hub_v1_ReplayRecord, ReplayRecord__Output as _nvdax_hub_v1_ReplayRecord__Output } from './nvdax/hub/v1/ReplayRecord.gen.ts';
import type { ReplayRequest as _nvdax_hub_v1_ReplayRequest, ReplayRequest__Output as _nvdax_hub_v1_ReplayRequest__Output } from './nvdax/hub/v1/ReplayRequest.gen.ts';
import type { ReplayResponse as _nvdax_hub_v1_ReplayResponse, ReplayResponse__Output as _nvdax_hub_v1_ReplayResponse__Output } from './nvdax/hub/v1/ReplayResponse.gen.ts';
import type { ReportsClient as _nvdax_hub_v1_ReportsClient, ReportsDefinition as _nvdax_hub_v1_ReportsDefinition } from './nvdax/hub/v1/Reports.gen.ts';
import type { SignedReceipt as _nvdax_hub_v1_SignedReceipt, SignedReceipt__Output as _nvdax_hub_v1_SignedReceipt__Output } from './nvdax/hub/v1/SignedReceipt.gen.ts';
import type { TelemetryRequest as _nvdax_hub_v1_TelemetryRequest, TelemetryRequest__Output as _nvdax_hub_v1_TelemetryRequest__Output } from './nvdax/hub/v1/TelemetryRequest.gen.ts';
import type { TelemetryResponse as _nvdax_hub_v1_TelemetryResponse, TelemetryResponse__Output as _nvdax_hub_v1_TelemetryResponse__Output } from './nvdax/hub/v1/TelemetryResponse.gen.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  nvdax: {
    hub: {
      v1: {
        AttestRequest: MessageTypeDefinition<_nvdax_hub_v1_AttestRequest, _nvdax_hub_v1_AttestRequest__Output>
        AttestResponse: MessageTypeDefinition<_nvdax_hub_v1_AttestResponse, _nvdax_hub_v1_AttestResponse__Output>
        ChallengeRequest: MessageTypeDefinition<_nvdax_hub_v1_ChallengeRequest, _nvdax_hub_v1_ChallengeRequest__Output>
        ChallengeResponse: MessageTypeDefinition<_nvdax_hub_v1_ChallengeResponse, _nvdax_hub_v1_ChallengeResponse__Output>
        JobRef: MessageTypeDefinition<_nvdax_hub_v1_JobRef, _nvdax_hub_v1_JobRef__Output>
        ProgressRequest: MessageTypeDefinition<_nvdax_hub_v1_ProgressRequest, _nvdax_hub_v1_ProgressRequest__Output>
        ProgressResponse: MessageTypeDefinition<_nvdax_hub_v1_ProgressResponse, _nvdax_hub_v1_ProgressResponse__Output>
        ReceiptsRequest: MessageTypeDefinition<_nvdax_hub_v1_ReceiptsRequest, _nvdax_hub_v1_ReceiptsRequest__Output>
        ReceiptsResponse: MessageTypeDefinition<_nvdax_hub_v1_ReceiptsResponse, _nvdax_hub_v1_ReceiptsResponse__Output>
        ReplayRecord: MessageTypeDefinition<_nvdax_hub_v1_ReplayRecord, _nvdax_hub_v1_ReplayRecord__Output>
        ReplayRequest: MessageTypeDefinition<_nvdax_hub_v1_ReplayRequest, _nvdax_hub_v1_ReplayRequest__Output>
        ReplayResponse: MessageTypeDefinition<_nvdax_hub_v1_ReplayResponse, _nvdax_hub_v1_ReplayResponse__Output>
        Reports: SubtypeConstructor<typeof grpc.Client, _nvdax_hub_v1_ReportsClient> & { service: _nvdax_hub_v1_ReportsDefinition }
        SignedReceipt: MessageTypeDefinition<_nvdax_hub_v1_SignedReceipt, _nvdax_hub_v1_SignedReceipt__Output>
        TelemetryRequest: MessageTypeDefinition<_nvdax_hub_v1_TelemetryRequest, _nvdax_hub_v1_TelemetryRequest__Output>
        TelemetryResponse: MessageTypeDefinition<_nvdax_hub_v1_TelemetryResponse, _nvdax_hub_v1_TelemetryResponse__Output>
      }
    }
  }
}

