// federated.proto, loaded once with @grpc/proto-loader. The types in gen/ are generated from the same file with
// the same options (hack/proto/generate.ts), so what the loader returns is what the types say.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS } from '../runtime/proto.ts';
import type { ProtoGrpcType } from './gen/federated.gen.ts';

export type * from './gen/nvdax/training/v1/CheckpointReport.gen.ts';
export type * from './gen/nvdax/training/v1/CoordinatorMessage.gen.ts';
export type * from './gen/nvdax/training/v1/FederatedCoordinator.gen.ts';
export type * from './gen/nvdax/training/v1/KeyList.gen.ts';
export type * from './gen/nvdax/training/v1/ParticipantMessage.gen.ts';
export type * from './gen/nvdax/training/v1/PublicKeys.gen.ts';
export type * from './gen/nvdax/training/v1/RoundResult.gen.ts';
export type * from './gen/nvdax/training/v1/UnmaskRequest.gen.ts';

let loaded: ProtoGrpcType | undefined;

/** The loaded package `nvdax.training.v1`. */
export function federatedProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    loadSync('federated.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [join(import.meta.dirname, 'proto')] }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}

/** gRPC channel options both sides use: large enough for a model of a few million parameters. */
export const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
} as const;
