// Generates TypeScript types for the gateway's .proto files with @grpc/proto-loader's
// proto-loader-gen-types into provider-runtime/gateway/gen/ (*.gen.ts). The options are the
// loader's (LOADER_OPTIONS in ../proto.ts), so the types describe exactly what the loader returns.
//
//   node provider-runtime/gateway/proto/generate.ts           write gen/
//   node provider-runtime/gateway/proto/generate.ts --check   exit 1 when gen/ is stale
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const here = import.meta.dirname;
const root = join(here, '..', '..', '..');
const out = join(here, '..', 'gen');
export const PROTO_FILES = ['gateway.proto', 'grpc_predict_v2.proto'];

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

function generate(into: string): void {
  execFileSync(
    join(root, 'node_modules', '.bin', 'proto-loader-gen-types'),
    [
      '--longs=Number',
      '--enums=String',
      '--bytes=Buffer',
      '--defaults',
      '--oneofs',
      '--grpcLib=@grpc/grpc-js',
      '--targetFileExtension=.gen.ts',
      '--importFileExtension=.gen.ts',
      `-I=${here}`,
      `-O=${into}`,
      ...PROTO_FILES,
    ],
    { cwd: here, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

const tmp = mkdtempSync(join(tmpdir(), 'nvdax-proto-'));
try {
  generate(tmp);
  // the generator names the .proto by its absolute path: keep the output the same in every checkout
  const fresh = new Map(files(tmp).map((f) => [relative(tmp, f), readFileSync(f, 'utf8').replaceAll(`${root}/`, '')]));
  if (process.argv.includes('--check')) {
    const have = new Map(files(out).map((f) => [relative(out, f), readFileSync(f, 'utf8')]));
    const stale = [...new Set([...fresh.keys(), ...have.keys()])].filter((k) => fresh.get(k) !== have.get(k));
    if (stale.length) {
      console.error(
        `provider-runtime/gateway/gen is stale (${stale.join(', ')}): run node ${relative(root, import.meta.filename)}`,
      );
      process.exit(1);
    }
    console.log(`provider-runtime/gateway/gen: ${fresh.size} files up to date`);
  } else {
    rmSync(out, { recursive: true, force: true });
    for (const [name, text] of fresh) {
      mkdirSync(dirname(join(out, name)), { recursive: true });
      writeFileSync(join(out, name), text);
    }
    console.log(`wrote ${fresh.size} files to ${relative(root, out)}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
