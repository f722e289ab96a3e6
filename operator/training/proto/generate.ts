// Generates TypeScript types for federated.proto with @grpc/proto-loader's proto-loader-gen-types into
// operator/training/gen/ (*.gen.ts), with the loader's options (LOADER_OPTIONS in ../proto.ts), so the types
// describe exactly what the loader returns.
//
//   node operator/training/proto/generate.ts           write gen/
//   node operator/training/proto/generate.ts --check   exit 1 when gen/ is stale
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const here = import.meta.dirname;
const root = join(here, '..', '..', '..');
const out = join(here, '..', 'gen');

const files = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]))
    : [];

const tmp = mkdtempSync(join(tmpdir(), 'nvdax-training-proto-'));
try {
  execFileSync(
    join(root, 'node_modules', '.bin', 'proto-loader-gen-types'),
    [
      '--keepCase=false',
      '--longs=Number',
      '--enums=String',
      '--bytes=Buffer',
      '--defaults',
      '--oneofs',
      '--grpcLib=@grpc/grpc-js',
      '--targetFileExtension=.gen.ts',
      '--importFileExtension=.gen.ts',
      `-I=${here}`,
      `-O=${tmp}`,
      'federated.proto',
    ],
    { cwd: here, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const fresh = new Map(files(tmp).map((f) => [relative(tmp, f), readFileSync(f, 'utf8').replaceAll(`${root}/`, '')]));
  if (process.argv.includes('--check')) {
    const have = new Map(files(out).map((f) => [relative(out, f), readFileSync(f, 'utf8')]));
    const stale = [...new Set([...fresh.keys(), ...have.keys()])].filter((k) => fresh.get(k) !== have.get(k));
    if (stale.length) {
      console.error(
        `operator/training/gen is stale (${stale.join(', ')}): run node ${relative(root, import.meta.filename)}`,
      );
      process.exit(1);
    }
    console.log(`operator/training/gen: ${fresh.size} files up to date`);
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
