// Original file: provider-runtime/gateway/proto/gateway.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Capability as _nvdax_gateway_v1_Capability, Capability__Output as _nvdax_gateway_v1_Capability__Output } from '../../../nvdax/gateway/v1/Capability.gen.ts';
import type { CapabilityRequest as _nvdax_gateway_v1_CapabilityRequest, CapabilityRequest__Output as _nvdax_gateway_v1_CapabilityRequest__Output } from '../../../nvdax/gateway/v1/CapabilityRequest.gen.ts';
import type { OpenSessionRequest as _nvdax_gateway_v1_OpenSessionRequest, OpenSessionRequest__Output as _nvdax_gateway_v1_OpenSessionRequest__Output } from '../../../nvdax/gateway/v1/OpenSessionRequest.gen.ts';
import type { OpenSessionResponse as _nvdax_gateway_v1_OpenSessionResponse, OpenSessionResponse__Output as _nvdax_gateway_v1_OpenSessionResponse__Output } from '../../../nvdax/gateway/v1/OpenSessionResponse.gen.ts';
import type { SealedChunk as _nvdax_gateway_v1_SealedChunk, SealedChunk__Output as _nvdax_gateway_v1_SealedChunk__Output } from '../../../nvdax/gateway/v1/SealedChunk.gen.ts';
import type { SealedRequest as _nvdax_gateway_v1_SealedRequest, SealedRequest__Output as _nvdax_gateway_v1_SealedRequest__Output } from '../../../nvdax/gateway/v1/SealedRequest.gen.ts';
import type { SealedResponse as _nvdax_gateway_v1_SealedResponse, SealedResponse__Output as _nvdax_gateway_v1_SealedResponse__Output } from '../../../nvdax/gateway/v1/SealedResponse.gen.ts';
import type { SecretReleased as _nvdax_gateway_v1_SecretReleased, SecretReleased__Output as _nvdax_gateway_v1_SecretReleased__Output } from '../../../nvdax/gateway/v1/SecretReleased.gen.ts';

export interface ConfidentialGatewayClient extends grpc.Client {
  GetCapability(argument: _nvdax_gateway_v1_CapabilityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  GetCapability(argument: _nvdax_gateway_v1_CapabilityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  GetCapability(argument: _nvdax_gateway_v1_CapabilityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  GetCapability(argument: _nvdax_gateway_v1_CapabilityRequest, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  getCapability(argument: _nvdax_gateway_v1_CapabilityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  getCapability(argument: _nvdax_gateway_v1_CapabilityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  getCapability(argument: _nvdax_gateway_v1_CapabilityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  getCapability(argument: _nvdax_gateway_v1_CapabilityRequest, callback: grpc.requestCallback<_nvdax_gateway_v1_Capability__Output>): grpc.ClientUnaryCall;
  
  Infer(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedResponse__Output>;
  Infer(argument: _nvdax_gateway_v1_SealedRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedResponse__Output>;
  infer(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedResponse__Output>;
  infer(argument: _nvdax_gateway_v1_SealedRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedResponse__Output>;
  
  InferStream(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedChunk__Output>;
  InferStream(argument: _nvdax_gateway_v1_SealedRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedChunk__Output>;
  inferStream(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedChunk__Output>;
  inferStream(argument: _nvdax_gateway_v1_SealedRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_nvdax_gateway_v1_SealedChunk__Output>;
  
  OpenSession(argument: _nvdax_gateway_v1_OpenSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _nvdax_gateway_v1_OpenSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _nvdax_gateway_v1_OpenSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _nvdax_gateway_v1_OpenSessionRequest, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  openSession(argument: _nvdax_gateway_v1_OpenSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  openSession(argument: _nvdax_gateway_v1_OpenSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  openSession(argument: _nvdax_gateway_v1_OpenSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  openSession(argument: _nvdax_gateway_v1_OpenSessionRequest, callback: grpc.requestCallback<_nvdax_gateway_v1_OpenSessionResponse__Output>): grpc.ClientUnaryCall;
  
  ReleaseSecret(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  ReleaseSecret(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  ReleaseSecret(argument: _nvdax_gateway_v1_SealedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  ReleaseSecret(argument: _nvdax_gateway_v1_SealedRequest, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  releaseSecret(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  releaseSecret(argument: _nvdax_gateway_v1_SealedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  releaseSecret(argument: _nvdax_gateway_v1_SealedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  releaseSecret(argument: _nvdax_gateway_v1_SealedRequest, callback: grpc.requestCallback<_nvdax_gateway_v1_SecretReleased__Output>): grpc.ClientUnaryCall;
  
}

export interface ConfidentialGatewayHandlers extends grpc.UntypedServiceImplementation {
  GetCapability: grpc.handleUnaryCall<_nvdax_gateway_v1_CapabilityRequest__Output, _nvdax_gateway_v1_Capability>;
  
  Infer: grpc.handleServerStreamingCall<_nvdax_gateway_v1_SealedRequest__Output, _nvdax_gateway_v1_SealedResponse>;
  
  InferStream: grpc.handleServerStreamingCall<_nvdax_gateway_v1_SealedRequest__Output, _nvdax_gateway_v1_SealedChunk>;
  
  OpenSession: grpc.handleUnaryCall<_nvdax_gateway_v1_OpenSessionRequest__Output, _nvdax_gateway_v1_OpenSessionResponse>;
  
  ReleaseSecret: grpc.handleUnaryCall<_nvdax_gateway_v1_SealedRequest__Output, _nvdax_gateway_v1_SecretReleased>;
  
}

export interface ConfidentialGatewayDefinition extends grpc.ServiceDefinition {
  GetCapability: MethodDefinition<_nvdax_gateway_v1_CapabilityRequest, _nvdax_gateway_v1_Capability, _nvdax_gateway_v1_CapabilityRequest__Output, _nvdax_gateway_v1_Capability__Output>
  Infer: MethodDefinition<_nvdax_gateway_v1_SealedRequest, _nvdax_gateway_v1_SealedResponse, _nvdax_gateway_v1_SealedRequest__Output, _nvdax_gateway_v1_SealedResponse__Output>
  InferStream: MethodDefinition<_nvdax_gateway_v1_SealedRequest, _nvdax_gateway_v1_SealedChunk, _nvdax_gateway_v1_SealedRequest__Output, _nvdax_gateway_v1_SealedChunk__Output>
  OpenSession: MethodDefinition<_nvdax_gateway_v1_OpenSessionRequest, _nvdax_gateway_v1_OpenSessionResponse, _nvdax_gateway_v1_OpenSessionRequest__Output, _nvdax_gateway_v1_OpenSessionResponse__Output>
  ReleaseSecret: MethodDefinition<_nvdax_gateway_v1_SealedRequest, _nvdax_gateway_v1_SecretReleased, _nvdax_gateway_v1_SealedRequest__Output, _nvdax_gateway_v1_SecretReleased__Output>
}
