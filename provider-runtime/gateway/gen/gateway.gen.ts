import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Capability as _nvdax_gateway_v1_Capability, Capability__Output as _nvdax_gateway_v1_Capability__Output } from './nvdax/gateway/v1/Capability.gen.ts';
import type { CapabilityRequest as _nvdax_gateway_v1_CapabilityRequest, CapabilityRequest__Output as _nvdax_gateway_v1_CapabilityRequest__Output } from './nvdax/gateway/v1/CapabilityRequest.gen.ts';
import type { ConfidentialGatewayClient as _nvdax_gateway_v1_ConfidentialGatewayClient, ConfidentialGatewayDefinition as _nvdax_gateway_v1_ConfidentialGatewayDefinition } from './nvdax/gateway/v1/ConfidentialGateway.gen.ts';
import type { Evidence as _nvdax_gateway_v1_Evidence, Evidence__Output as _nvdax_gateway_v1_Evidence__Output } from './nvdax/gateway/v1/Evidence.gen.ts';
import type { Limits as _nvdax_gateway_v1_Limits, Limits__Output as _nvdax_gateway_v1_Limits__Output } from './nvdax/gateway/v1/Limits.gen.ts';
import type { OpenSessionRequest as _nvdax_gateway_v1_OpenSessionRequest, OpenSessionRequest__Output as _nvdax_gateway_v1_OpenSessionRequest__Output } from './nvdax/gateway/v1/OpenSessionRequest.gen.ts';
import type { OpenSessionResponse as _nvdax_gateway_v1_OpenSessionResponse, OpenSessionResponse__Output as _nvdax_gateway_v1_OpenSessionResponse__Output } from './nvdax/gateway/v1/OpenSessionResponse.gen.ts';
import type { Receipt as _nvdax_gateway_v1_Receipt, Receipt__Output as _nvdax_gateway_v1_Receipt__Output } from './nvdax/gateway/v1/Receipt.gen.ts';
import type { SealedChunk as _nvdax_gateway_v1_SealedChunk, SealedChunk__Output as _nvdax_gateway_v1_SealedChunk__Output } from './nvdax/gateway/v1/SealedChunk.gen.ts';
import type { SealedRequest as _nvdax_gateway_v1_SealedRequest, SealedRequest__Output as _nvdax_gateway_v1_SealedRequest__Output } from './nvdax/gateway/v1/SealedRequest.gen.ts';
import type { SealedResponse as _nvdax_gateway_v1_SealedResponse, SealedResponse__Output as _nvdax_gateway_v1_SealedResponse__Output } from './nvdax/gateway/v1/SealedResponse.gen.ts';
import type { SecretPayload as _nvdax_gateway_v1_SecretPayload, SecretPayload__Output as _nvdax_gateway_v1_SecretPayload__Output } from './nvdax/gateway/v1/SecretPayload.gen.ts';
import type { SecretReleased as _nvdax_gateway_v1_SecretReleased, SecretReleased__Output as _nvdax_gateway_v1_SecretReleased__Output } from './nvdax/gateway/v1/SecretReleased.gen.ts';
import type { SignedReceipt as _nvdax_gateway_v1_SignedReceipt, SignedReceipt__Output as _nvdax_gateway_v1_SignedReceipt__Output } from './nvdax/gateway/v1/SignedReceipt.gen.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  nvdax: {
    gateway: {
      v1: {
        Capability: MessageTypeDefinition<_nvdax_gateway_v1_Capability, _nvdax_gateway_v1_Capability__Output>
        CapabilityRequest: MessageTypeDefinition<_nvdax_gateway_v1_CapabilityRequest, _nvdax_gateway_v1_CapabilityRequest__Output>
        ConfidentialGateway: SubtypeConstructor<typeof grpc.Client, _nvdax_gateway_v1_ConfidentialGatewayClient> & { service: _nvdax_gateway_v1_ConfidentialGatewayDefinition }
        Evidence: MessageTypeDefinition<_nvdax_gateway_v1_Evidence, _nvdax_gateway_v1_Evidence__Output>
        Limits: MessageTypeDefinition<_nvdax_gateway_v1_Limits, _nvdax_gateway_v1_Limits__Output>
        OpenSessionRequest: MessageTypeDefinition<_nvdax_gateway_v1_OpenSessionRequest, _nvdax_gateway_v1_OpenSessionRequest__Output>
        OpenSessionResponse: MessageTypeDefinition<_nvdax_gateway_v1_OpenSessionResponse, _nvdax_gateway_v1_OpenSessionResponse__Output>
        Receipt: MessageTypeDefinition<_nvdax_gateway_v1_Receipt, _nvdax_gateway_v1_Receipt__Output>
        SealedChunk: MessageTypeDefinition<_nvdax_gateway_v1_SealedChunk, _nvdax_gateway_v1_SealedChunk__Output>
        SealedRequest: MessageTypeDefinition<_nvdax_gateway_v1_SealedRequest, _nvdax_gateway_v1_SealedRequest__Output>
        SealedResponse: MessageTypeDefinition<_nvdax_gateway_v1_SealedResponse, _nvdax_gateway_v1_SealedResponse__Output>
        SecretPayload: MessageTypeDefinition<_nvdax_gateway_v1_SecretPayload, _nvdax_gateway_v1_SecretPayload__Output>
        SecretReleased: MessageTypeDefinition<_nvdax_gateway_v1_SecretReleased, _nvdax_gateway_v1_SecretReleased__Output>
        SignedReceipt: MessageTypeDefinition<_nvdax_gateway_v1_SignedReceipt, _nvdax_gateway_v1_SignedReceipt__Output>
      }
    }
  }
}

