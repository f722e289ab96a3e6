// How every .proto of the project is loaded (@grpc/proto-loader) — the gateway's, the federated protocol's and
// the hub's Reports — and, as flags, how hack/proto/generate.ts generates their types: one set of options, so
// what the loader returns is what the generated types say.
import type { Options } from '@grpc/proto-loader';

export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
} as const satisfies Options;

/** The same options as proto-loader-gen-types flags. */
export function protoGenFlags(): string[] {
  const o = PROTO_LOADER_OPTIONS;
  return [
    `--keepCase=${o.keepCase}`,
    `--longs=${o.longs.name}`,
    `--enums=${o.enums.name}`,
    `--bytes=${o.bytes.name}`,
    ...(o.defaults ? ['--defaults'] : []),
    ...(o.oneofs ? ['--oneofs'] : []),
  ];
}
