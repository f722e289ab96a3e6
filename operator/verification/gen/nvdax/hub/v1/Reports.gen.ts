// Original file: operator/verification/proto/reports.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AttestRequest as _nvdax_hub_v1_AttestRequest, AttestRequest__Output as _nvdax_hub_v1_AttestRequest__Output } from '../../../nvdax/hub/v1/AttestRequest.gen.ts';
import type { AttestResponse as _nvdax_hub_v1_AttestResponse, AttestResponse__Output as _nvdax_hub_v1_AttestResponse__Output } from '../../../nvdax/hub/v1/AttestResponse.gen.ts';
import type { ChallengeRequest as _nvdax_hub_v1_ChallengeRequest, ChallengeRequest__Output as _nvdax_hub_v1_ChallengeRequest__Output } from '../../../nvdax/hub/v1/ChallengeRequest.gen.ts';
import type { ChallengeResponse as _nvdax_hub_v1_ChallengeResponse, ChallengeResponse__Output as _nvdax_hub_v1_ChallengeResponse__Output } from '../../../nvdax/hub/v1/ChallengeResponse.gen.ts';
import type { ProgressRequest as _nvdax_hub_v1_ProgressRequest, ProgressRequest__Output as _nvdax_hub_v1_ProgressRequest__Output } from '../../../nvdax/hub/v1/ProgressRequest.gen.ts';
import type { ProgressResponse as _nvdax_hub_v1_ProgressResponse, ProgressResponse__Output as _nvdax_hub_v1_ProgressResponse__Output } from '../../../nvdax/hub/v1/ProgressResponse.gen.ts';
import type { ReceiptsRequest as _nvdax_hub_v1_ReceiptsRequest, ReceiptsRequest__Output as _nvdax_hub_v1_ReceiptsRequest__Output } from '../../../nvdax/hub/v1/ReceiptsRequest.gen.ts';
import type { ReceiptsResponse as _nvdax_hub_v1_ReceiptsResponse, ReceiptsResponse__Output as _nvdax_hub_v1_ReceiptsResponse__Output } from '../../../nvdax/hub/v1/ReceiptsResponse.gen.ts';
import type { ReplayRequest as _nvdax_hub_v1_ReplayRequest, ReplayRequest__Output as _nvdax_hub_v1_ReplayRequest__Output } from '../../../nvdax/hub/v1/ReplayRequest.gen.ts';
import type { ReplayResponse as _nvdax_hub_v1_ReplayResponse, ReplayResponse__Output as _nvdax_hub_v1_ReplayResponse__Output } from '../../../nvdax/hub/v1/ReplayResponse.gen.ts';
import type { TelemetryRequest as _nvdax_hub_v1_TelemetryRequest, TelemetryRequest__Output as _nvdax_hub_v1_TelemetryRequest__Output } from '../../../nvdax/hub/v1/TelemetryRequest.gen.ts';
import type { TelemetryResponse as _nvdax_hub_v1_TelemetryResponse, TelemetryResponse__Output as _nvdax_hub_v1_TelemetryResponse__Output } from '../../../nvdax/hub/v1/TelemetryResponse.gen.ts';

export interface ReportsClient extends grpc.Client {
  Attest(argument: _nvdax_hub_v1_AttestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  Attest(argument: _nvdax_hub_v1_AttestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  Attest(argument: _nvdax_hub_v1_AttestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  Attest(argument: _nvdax_hub_v1_AttestRequest, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  attest(argument: _nvdax_hub_v1_AttestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  attest(argument: _nvdax_hub_v1_AttestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  attest(argument: _nvdax_hub_v1_AttestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  attest(argument: _nvdax_hub_v1_AttestRequest, callback: grpc.requestCallback<_nvdax_hub_v1_AttestResponse__Output>): grpc.ClientUnaryCall;
  
  Challenge(argument: _nvdax_hub_v1_ChallengeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  Challenge(argument: _nvdax_hub_v1_ChallengeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  Challenge(argument: _nvdax_hub_v1_ChallengeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  Challenge(argument: _nvdax_hub_v1_ChallengeRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  challenge(argument: _nvdax_hub_v1_ChallengeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  challenge(argument: _nvdax_hub_v1_ChallengeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  challenge(argument: _nvdax_hub_v1_ChallengeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  challenge(argument: _nvdax_hub_v1_ChallengeRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ChallengeResponse__Output>): grpc.ClientUnaryCall;
  
  Progress(argument: _nvdax_hub_v1_ProgressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  Progress(argument: _nvdax_hub_v1_ProgressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  Progress(argument: _nvdax_hub_v1_ProgressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  Progress(argument: _nvdax_hub_v1_ProgressRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _nvdax_hub_v1_ProgressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _nvdax_hub_v1_ProgressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _nvdax_hub_v1_ProgressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  progress(argument: _nvdax_hub_v1_ProgressRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ProgressResponse__Output>): grpc.ClientUnaryCall;
  
  Receipts(argument: _nvdax_hub_v1_ReceiptsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  Receipts(argument: _nvdax_hub_v1_ReceiptsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  Receipts(argument: _nvdax_hub_v1_ReceiptsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  Receipts(argument: _nvdax_hub_v1_ReceiptsRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  receipts(argument: _nvdax_hub_v1_ReceiptsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  receipts(argument: _nvdax_hub_v1_ReceiptsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  receipts(argument: _nvdax_hub_v1_ReceiptsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  receipts(argument: _nvdax_hub_v1_ReceiptsRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ReceiptsResponse__Output>): grpc.ClientUnaryCall;
  
  Replay(argument: _nvdax_hub_v1_ReplayRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  Replay(argument: _nvdax_hub_v1_ReplayRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  Replay(argument: _nvdax_hub_v1_ReplayRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  Replay(argument: _nvdax_hub_v1_ReplayRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  replay(argument: _nvdax_hub_v1_ReplayRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  replay(argument: _nvdax_hub_v1_ReplayRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  replay(argument: _nvdax_hub_v1_ReplayRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  replay(argument: _nvdax_hub_v1_ReplayRequest, callback: grpc.requestCallback<_nvdax_hub_v1_ReplayResponse__Output>): grpc.ClientUnaryCall;
  
  Telemetry(argument: _nvdax_hub_v1_TelemetryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  Telemetry(argument: _nvdax_hub_v1_TelemetryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  Telemetry(argument: _nvdax_hub_v1_TelemetryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  Telemetry(argument: _nvdax_hub_v1_TelemetryRequest, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  telemetry(argument: _nvdax_hub_v1_TelemetryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  telemetry(argument: _nvdax_hub_v1_TelemetryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  telemetry(argument: _nvdax_hub_v1_TelemetryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  telemetry(argument: _nvdax_hub_v1_TelemetryRequest, callback: grpc.requestCallback<_nvdax_hub_v1_TelemetryResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ReportsHandlers extends grpc.UntypedServiceImplementation {
  Attest: grpc.handleUnaryCall<_nvdax_hub_v1_AttestRequest__Output, _nvdax_hub_v1_AttestResponse>;
  
  Challenge: grpc.handleUnaryCall<_nvdax_hub_v1_ChallengeRequest__Output, _nvdax_hub_v1_ChallengeResponse>;
  
  Progress: grpc.handleUnaryCall<_nvdax_hub_v1_ProgressRequest__Output, _nvdax_hub_v1_ProgressResponse>;
  
  Receipts: grpc.handleUnaryCall<_nvdax_hub_v1_ReceiptsRequest__Output, _nvdax_hub_v1_ReceiptsResponse>;
  
  Replay: grpc.handleUnaryCall<_nvdax_hub_v1_ReplayRequest__Output, _nvdax_hub_v1_ReplayResponse>;
  
  Telemetry: grpc.handleUnaryCall<_nvdax_hub_v1_TelemetryRequest__Output, _nvdax_hub_v1_TelemetryResponse>;
  
}

export interface ReportsDefinition extends grpc.ServiceDefinition {
  Attest: MethodDefinition<_nvdax_hub_v1_AttestRequest, _nvdax_hub_v1_AttestResponse, _nvdax_hub_v1_AttestRequest__Output, _nvdax_hub_v1_AttestResponse__Output>
  Challenge: MethodDefinition<_nvdax_hub_v1_ChallengeRequest, _nvdax_hub_v1_ChallengeResponse, _nvdax_hub_v1_ChallengeRequest__Output, _nvdax_hub_v1_ChallengeResponse__Output>
  Progress: MethodDefinition<_nvdax_hub_v1_ProgressRequest, _nvdax_hub_v1_ProgressResponse, _nvdax_hub_v1_ProgressRequest__Output, _nvdax_hub_v1_ProgressResponse__Output>
  Receipts: MethodDefinition<_nvdax_hub_v1_ReceiptsRequest, _nvdax_hub_v1_ReceiptsResponse, _nvdax_hub_v1_ReceiptsRequest__Output, _nvdax_hub_v1_ReceiptsResponse__Output>
  Replay: MethodDefinition<_nvdax_hub_v1_ReplayRequest, _nvdax_hub_v1_ReplayResponse, _nvdax_hub_v1_ReplayRequest__Output, _nvdax_hub_v1_ReplayResponse__Output>
  Telemetry: MethodDefinition<_nvdax_hub_v1_TelemetryRequest, _nvdax_hub_v1_TelemetryResponse, _nvdax_hub_v1_TelemetryRequest__Output, _nvdax_hub_v1_TelemetryResponse__Output>
}
