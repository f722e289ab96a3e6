import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../cli/nvdax.ts';
import { processIo } from '../../../cli/io.ts';
import type { Io } from '../../../cli/io.ts';
import { projectRoot } from '../../../operator/api/generate.ts';

function fakeIo(files: Record<string, string> = {}, stdin = ''): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (l) => stdout.push(l),
    err: (l) => stderr.push(l),
    readFile: (p) => {
      if (p in files) return files[p]!;
      return processIo.readFile(join(projectRoot, p));
    },
    readStdin: async () => stdin,
    listManifests: (p) => processIo.listManifests(join(projectRoot, p))?.map((f) => f.slice(projectRoot.length + 1)),
  };
}

const bad = `apiVersion: nvdax.io/v1alpha1
kind: InferenceJob
metadata:
  name: chat
spec:
  model: {id: m, hash: "sha256:${'a'.repeat(64)}"}
  runtime: {engine: vLLM}
  resources: {gpus: 1}
  sla:
    tier: Premium
    maxLatencyMs: 0
    priceCap: "1"
  payment:
    requester: "0x${'1'.repeat(40)}"
    escrowId: "0x${'2'.repeat(64)}"
`;

test('validate: all examples at once (directory), exit 0 and a summary', async (t) => {
  const io = fakeIo();
  t.is(await main(['validate', '-f', 'examples'], io), 0);
  t.deepEqual(io.stdout, ['OK: 5 objects in 5 files valid']);
  t.deepEqual(io.stderr, []);
});

test('validate: errors as file:line: Kind/name: path: message and exit 1', async (t) => {
  const io = fakeIo({ 'bad.yaml': bad });
  t.is(await main(['validate', '-f', 'examples/providerpool.yaml', '-f', 'bad.yaml'], io), 1);
  t.deepEqual(io.stderr, [
    'bad.yaml:11: InferenceJob/chat: spec.sla.maxLatencyMs: must be >= 1',
    '1 error (2 objects in 2 files)',
  ]);
});

test('validate: -f - reads standard input', async (t) => {
  const io = fakeIo({}, bad.replace('maxLatencyMs: 0', 'maxLatencyMs: 300'));
  t.is(await main(['validate', '-f', '-'], io), 0);
  t.deepEqual(io.stdout, ['OK: 1 object in 1 file valid']);
});

test('usage: --help, no command, unknown command, missing -f, unreadable file', async (t) => {
  let io = fakeIo();
  t.is(await main(['validate', '--help'], io), 0);
  t.regex(io.stdout.join('\n'), /Usage: nvdax validate -f FILE/);
  io = fakeIo();
  t.is(await main(['--help'], io), 0);
  t.regex(io.stdout.join('\n'), /validate\s+check manifests offline/);
  io = fakeIo();
  t.is(await main([], io), 2);
  io = fakeIo();
  t.is(await main(['deploy'], io), 2);
  t.regex(io.stderr.join('\n'), /unknown command "deploy"/);
  io = fakeIo();
  t.is(await main(['validate'], io), 2);
  t.regex(io.stderr.join('\n'), /-f FILE is required/);
  io = fakeIo();
  t.is(await main(['validate', '-f', 'no/such.yaml'], io), 1);
  t.regex(io.stderr[0] ?? '', /^no\/such\.yaml: ENOENT/);
});

test('the bin runs directly: shebang, exit codes, stdin', (t) => {
  const bin = join(projectRoot, 'cli', 'nvdax.ts');
  t.true(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n'));
  const run = (args: string[], input?: string) =>
    spawnSync(process.execPath, [bin, ...args], { cwd: projectRoot, encoding: 'utf8', input });
  const okRun = run(['validate', '-f', 'examples/trainingjob-federated.yaml']);
  t.is(okRun.status, 0, okRun.stderr);
  const badRun = run(['validate', '-f', '-'], bad);
  t.is(badRun.status, 1);
  t.is(badRun.stderr.split('\n')[0], '<stdin>:11: InferenceJob/chat: spec.sla.maxLatencyMs: must be >= 1');
});

test('validate: an empty file checks nothing and fails; an alias bomb is a YAML error, not a crash', async (t) => {
  const empty = fakeIo({ 'empty.yaml': '---\n' });
  t.is(await main(['validate', '-f', 'empty.yaml'], empty), 1);
  t.regex(empty.stderr.join('\n'), /no manifests found \(0 objects in 1 file\)/);
  const lol = [
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
    ...Array.from(
      { length: 8 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
    ),
  ].join('\n');
  const bomb = fakeIo({ 'bomb.yaml': lol });
  t.is(await main(['validate', '-f', 'bomb.yaml'], bomb), 1);
  t.regex(bomb.stderr.join('\n'), /^bomb\.yaml:1: document 1: \(yaml\): .*alias/im);
});
