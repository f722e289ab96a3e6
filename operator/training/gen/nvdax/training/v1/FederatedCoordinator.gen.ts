// Original file: operator/training/proto/federated.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CoordinatorMessage as _nvdax_training_v1_CoordinatorMessage, CoordinatorMessage__Output as _nvdax_training_v1_CoordinatorMessage__Output } from '../../../nvdax/training/v1/CoordinatorMessage.gen.ts';
import type { ParticipantMessage as _nvdax_training_v1_ParticipantMessage, ParticipantMessage__Output as _nvdax_training_v1_ParticipantMessage__Output } from '../../../nvdax/training/v1/ParticipantMessage.gen.ts';

export interface FederatedCoordinatorClient extends grpc.Client {
  Join(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_nvdax_training_v1_ParticipantMessage, _nvdax_training_v1_CoordinatorMessage__Output>;
  Join(options?: grpc.CallOptions): grpc.ClientDuplexStream<_nvdax_training_v1_ParticipantMessage, _nvdax_training_v1_CoordinatorMessage__Output>;
  join(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_nvdax_training_v1_ParticipantMessage, _nvdax_training_v1_CoordinatorMessage__Output>;
  join(options?: grpc.CallOptions): grpc.ClientDuplexStream<_nvdax_training_v1_ParticipantMessage, _nvdax_training_v1_CoordinatorMessage__Output>;
  
}

export interface FederatedCoordinatorHandlers extends grpc.UntypedServiceImplementation {
  Join: grpc.handleBidiStreamingCall<_nvdax_training_v1_ParticipantMessage__Output, _nvdax_training_v1_CoordinatorMessage>;
  
}

export interface FederatedCoordinatorDefinition extends grpc.ServiceDefinition {
  Join: MethodDefinition<_nvdax_training_v1_ParticipantMessage, _nvdax_training_v1_CoordinatorMessage, _nvdax_training_v1_ParticipantMessage__Output, _nvdax_training_v1_CoordinatorMessage__Output>
}
