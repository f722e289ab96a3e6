// Compiles contracts/**/*.sol with the pinned solc (npm, standard JSON) and writes one artifact per contract
// to contracts/artifacts/ (test-only contracts under contracts/artifacts/test/). Artifacts are generated,
// never edited: `--check` compiles again and fails, naming the file, when any artifact differs or is missing
// or left over.
//
//   node hack/contracts/build.ts [--check]
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const contractsDir = join(root, 'contracts');
const artifactsDir = join(contractsDir, 'artifacts');
const require = createRequire(import.meta.url);

/** The compiler settings; changing them changes every artifact (and the drift check catches it). */
export const settings = {
  optimizer: { enabled: true, runs: 200 },
  // Legacy pipeline, not via-IR: via-IR spilled the settle loop's variables to memory (~300 gas per item).
  viaIR: false,
  evmVersion: 'prague',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

interface SolcOutput {
  errors?: Array<{ severity: string; formattedMessage: string; sourceLocation?: { file: string } }>;
  contracts?: Record<
    string,
    Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>
  >;
}

function solFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'artifacts') out.push(...solFiles(p));
    else if (e.isFile() && e.name.endsWith('.sol')) out.push(p);
  }
  return out.sort();
}

/** Resolves `@openzeppelin/...` (and any other package import) from node_modules. */
function findImport(path: string): { contents: string } | { error: string } {
  try {
    return { contents: readFileSync(require.resolve(path), 'utf8') };
  } catch {
    const local = join(root, path);
    if (existsSync(local)) return { contents: readFileSync(local, 'utf8') };
    return { error: `import not found: ${path} (looked in node_modules and the repository)` };
  }
}

/** Compiles every source; returns artifact path (relative to the repository) => file content. */
export function compileAll(log: (s: string) => void = () => {}): Map<string, string> {
  const solc = require('solc') as { compile: (input: string, opts: object) => string; version: () => string };
  const files = solFiles(contractsDir);
  const sources: Record<string, { content: string }> = {};
  for (const f of files) sources[relative(root, f).split(sep).join('/')] = { content: readFileSync(f, 'utf8') };
  log(`== compiling ${files.length} sources with solc ${solc.version()} (optimizer, ${settings.evmVersion})`);
  const t0 = performance.now();
  const out = JSON.parse(
    solc.compile(JSON.stringify({ language: 'Solidity', sources, settings }), { import: findImport }),
  ) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  // Warnings about our own sources only; OpenZeppelin's are theirs to fix.
  const ours = (e: { sourceLocation?: { file: string } }) => e.sourceLocation?.file.startsWith('contracts/') ?? true;
  for (const w of (out.errors ?? []).filter((e) => e.severity !== 'error' && ours(e))) log(w.formattedMessage);
  if (errors.length) throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  log(`   compiled in ${((performance.now() - t0) / 1000).toFixed(1)}s`);

  const artifacts = new Map<string, string>();
  for (const [source, contracts] of Object.entries(out.contracts ?? {})) {
    if (!source.startsWith('contracts/')) continue;
    for (const [name, c] of Object.entries(contracts)) {
      if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
      const sub = source.startsWith('contracts/test/') ? 'test/' : '';
      const artifact = {
        contractName: name,
        sourceName: source,
        compiler: `solc ${solc.version()}`,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      };
      const size = c.evm.deployedBytecode.object.length / 2;
      if (size > 24_576) throw new Error(`${name}: deployed code is ${size} bytes, over the 24,576-byte limit`);
      log(`   ${name}: ${size.toLocaleString('en-US')} bytes deployed`);
      artifacts.set(`contracts/artifacts/${sub}${name}.json`, `${JSON.stringify(artifact, null, 2)}\n`);
    }
  }
  return artifacts;
}

function existingArtifacts(): string[] {
  if (!existsSync(artifactsDir)) return [];
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.json') ? [join(d, e.name)] : [],
    );
  return walk(artifactsDir).map((p) => relative(root, p).split(sep).join('/'));
}

function main() {
  const check = process.argv.includes('--check');
  const artifacts = compileAll((s) => console.log(s));
  const stale: string[] = [];
  for (const [path, content] of artifacts) {
    const abs = join(root, path);
    const old = existsSync(abs) ? readFileSync(abs, 'utf8') : undefined;
    if (old === content) continue;
    if (check) stale.push(`${path} (${old === undefined ? 'missing' : 'differs from the sources'})`);
    else {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, content);
      console.log(`   wrote ${path}`);
    }
  }
  for (const path of existingArtifacts()) {
    if (artifacts.has(path)) continue;
    if (check) stale.push(`${path} (no contract of that name in contracts/)`);
    else {
      rmSync(join(root, path));
      console.log(`   removed ${path}`);
    }
  }
  if (check && stale.length) {
    console.error(
      `contract artifacts are stale; run \`make contracts\` and commit the result:\n  ${stale.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(check ? '== contract artifacts up to date' : '== contract artifacts written');
}

if (import.meta.main) main();
