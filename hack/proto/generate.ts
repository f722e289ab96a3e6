// Generates TypeScript types for every .proto in the project with @grpc/proto-loader's proto-loader-gen-types,
// next to the code that loads them (<dir>/../gen/*.gen.ts), with the loader's options, so the types describe
// exactly what the loader returns. One script for all of them: the gateway's, federated training's and the
// hub's Reports service.
//
//   node hack/proto/generate.ts           write every gen/
//   node hack/proto/generate.ts --check   exit 1 naming the stale files
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
import { protoGenFlags } from '../../operator/runtime/proto.ts';

const root = join(import.meta.dirname, '..', '..');

/** Each set: the folder holding its .proto files, the files, and where the types go. */
export const PROTO_SETS = [
  {
    dir: 'provider-runtime/gateway/proto',
    files: ['gateway.proto', 'grpc_predict_v2.proto'],
    out: 'provider-runtime/gateway/gen',
  },
  { dir: 'operator/training/proto', files: ['federated.proto'], out: 'operator/training/gen' },
  { dir: 'operator/verification/proto', files: ['reports.proto'], out: 'operator/verification/gen' },
] as const;

const files = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]))
    : [];

function generate(set: (typeof PROTO_SETS)[number], into: string): Map<string, string> {
  const here = join(root, set.dir);
  execFileSync(
    join(root, 'node_modules', '.bin', 'proto-loader-gen-types'),
    [
      // the loader's own options (operator/runtime/proto.ts), so the types say what loading returns
      ...protoGenFlags(),
      '--grpcLib=@grpc/grpc-js',
      '--targetFileExtension=.gen.ts',
      '--importFileExtension=.gen.ts',
      `-I=${here}`,
      `-O=${into}`,
      ...set.files,
    ],
    { cwd: here, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // the generator names a .proto by its absolute path: keep the output the same in every checkout
  return new Map(files(into).map((f) => [relative(into, f), readFileSync(f, 'utf8').replaceAll(`${root}/`, '')]));
}

const check = process.argv.includes('--check');
let stale = 0;
for (const set of PROTO_SETS) {
  const tmp = mkdtempSync(join(tmpdir(), 'nvdax-proto-'));
  try {
    const fresh = generate(set, tmp);
    const out = join(root, set.out);
    if (check) {
      const have = new Map(files(out).map((f) => [relative(out, f), readFileSync(f, 'utf8')]));
      const diff = [...new Set([...fresh.keys(), ...have.keys()])].filter((k) => fresh.get(k) !== have.get(k));
      if (diff.length) {
        stale++;
        console.error(`${set.out} is stale (${diff.join(', ')}): run node hack/proto/generate.ts`);
      } else console.log(`${set.out}: ${fresh.size} files up to date`);
      continue;
    }
    rmSync(out, { recursive: true, force: true });
    for (const [k, text] of fresh) {
      mkdirSync(dirname(join(out, k)), { recursive: true });
      writeFileSync(join(out, k), text);
    }
    console.log(`wrote ${set.out} (${fresh.size} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
if (stale) process.exit(1);
