// The gateway's .proto files, loaded once with @grpc/proto-loader. The types in gen/ are generated from the
// same files with the same options (hack/proto/generate.ts), so what the loader returns is what the types say.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS } from '../../operator/runtime/proto.ts';
import type { ProtoGrpcType as GatewayProto } from './gen/gateway.gen.ts';
import type { ProtoGrpcType as PredictV2Proto } from './gen/grpc_predict_v2.gen.ts';

export type * from './gen/nvdax/gateway/v1/Capability.gen.ts';
export type * from './gen/nvdax/gateway/v1/CapabilityRequest.gen.ts';
export type * from './gen/nvdax/gateway/v1/ConfidentialGateway.gen.ts';
export type * from './gen/nvdax/gateway/v1/Evidence.gen.ts';
export type * from './gen/nvdax/gateway/v1/Limits.gen.ts';
export type * from './gen/nvdax/gateway/v1/OpenSessionRequest.gen.ts';
export type * from './gen/nvdax/gateway/v1/OpenSessionResponse.gen.ts';
export type * from './gen/nvdax/gateway/v1/Receipt.gen.ts';
export type * from './gen/nvdax/gateway/v1/SealedRequest.gen.ts';
export type * from './gen/nvdax/gateway/v1/SealedChunk.gen.ts';
export type * from './gen/nvdax/gateway/v1/SealedResponse.gen.ts';
export type * from './gen/nvdax/gateway/v1/SecretPayload.gen.ts';
export type * from './gen/nvdax/gateway/v1/SecretReleased.gen.ts';
export type * from './gen/nvdax/gateway/v1/SignedReceipt.gen.ts';
export type * from './gen/inference/GRPCInferenceService.gen.ts';
export type * from './gen/inference/ModelInferRequest.gen.ts';
export type * from './gen/inference/ModelInferResponse.gen.ts';
export type * from './gen/inference/ModelMetadataResponse.gen.ts';
export type * from './gen/inference/InferTensorContents.gen.ts';

const protoDir = join(import.meta.dirname, 'proto');

let loaded: { gateway: GatewayProto; v2: PredictV2Proto } | undefined;

/** The loaded packages: `gateway.nvdax.gateway.v1` and `v2.inference`. */
export function protos(): { gateway: GatewayProto; v2: PredictV2Proto } {
  loaded ??= {
    gateway: grpc.loadPackageDefinition(
      loadSync('gateway.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] }),
    ) as unknown as GatewayProto,
    v2: grpc.loadPackageDefinition(
      loadSync('grpc_predict_v2.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] }),
    ) as unknown as PredictV2Proto,
  };
  return loaded;
}
