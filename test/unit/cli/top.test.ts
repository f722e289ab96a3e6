// The top level: help, `help COMMAND`, the completion script and completion answers.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { complete } from '../../../cli/args.ts';
import { commands } from '../../../cli/commands/index.ts';
import { main } from '../../../cli/nvdax.ts';
import { projectRoot } from '../../../operator/api/generate.ts';
import { FakeHub, servingJob, testIo, waitingJob } from './fixtures.ts';

test('nvdax --help lists every command with its positionals and summary', async (t) => {
  const io = testIo();
  t.is(await main(['--help'], io), 0);
  const help = io.stdout.join('\n');
  for (const [cmd, summary] of [
    ['get [type] [name]', 'list jobs or pools: phase, pool, price, GPUs, why'],
    ['describe <type> <name>', 'show one job: spec, placement, conditions, usage, settlement, events'],
    ['watch <type> <name>', 'follow a job: Pending → Scheduled → Running (→ Succeeded/Failed)'],
    ['quote', 'rank the live pools for a job manifest, with their price quotes'],
    ['submit', "sign a job's task with the requester's key and create it on the hub"],
    ['validate', 'check manifests offline against the NVDAx API schema'],
    ['completion', 'print the shell completion script (bash, zsh)'],
  ]) {
    t.regex(help, new RegExp(`\\n  nvdax ${cmd!.replace(/[[\]]/g, '\\$&')} +${summary!.replace(/[()]/g, '\\$&')}\\n`));
  }
  t.deepEqual(
    commands.map((c) => c.name),
    [
      'get',
      'describe',
      'watch',
      'quote',
      'submit',
      'infer',
      'validate',
      'provider',
      'escrow',
      'governance',
      'completion',
    ],
  );
});

test('nvdax help COMMAND is COMMAND --help; each command documents its exit codes', async (t) => {
  for (const c of ['get', 'describe', 'watch', 'quote', 'submit', 'completion']) {
    const a = testIo();
    const b = testIo();
    t.is(await main(['help', c], a), 0);
    t.is(await main([c, '--help'], b), 0);
    t.deepEqual(a.stdout, b.stdout);
    t.regex(a.stdout.join('\n'), /Exit codes: 0 /, c);
  }
});

test('nvdax completion prints the yargs script that calls back into nvdax', async (t) => {
  const io = testIo();
  t.is(await main(['completion'], io), 0);
  const script = io.stdout.join('\n');
  t.true(script.startsWith('###-begin-nvdax-completions-###'));
  t.regex(script, /nvdax --get-yargs-completions/);
  t.true(script.endsWith('###-end-nvdax-completions-###'));
  const bad = testIo();
  t.is(await main(['completion', 'fish'], bad), 2);
});

test('the bin answers completion requests: commands, options, resource types, option values', (t) => {
  const bin = join(projectRoot, 'cli', 'nvdax.ts');
  const words = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, '--get-yargs-completions', 'nvdax', ...args], {
      cwd: projectRoot,
      encoding: 'utf8',
      env: { ...process.env, SHELL: '/bin/bash', KUBECONFIG: '/nonexistent' },
    });
    t.is(r.stderr, '');
    return r.stdout.trim().split('\n');
  };
  t.deepEqual(words(''), [
    'get',
    'describe',
    'watch',
    'quote',
    'submit',
    'infer',
    'validate',
    'provider',
    'escrow',
    'governance',
    'completion',
  ]);
  const get = words('get', '');
  for (const w of ['ij', 'tj', 'pp', '--output', '--all-namespaces', '--namespace', '--kubeconfig'])
    t.true(get.includes(w), w);
  t.deepEqual(words('describe', 'i'), ['ij', 'inferencejobs']);
  t.deepEqual(words('get', 'ij', '-o', ''), ['table', 'yaml', 'json']);
  // no hub to ask for names: the options are offered instead, and nothing on stderr
  t.true(words('watch', 'ij', '').includes('--timeout'));
});

test.serial('NAME completion asks the hub for that type in the namespace given', async (t) => {
  const hub = new FakeHub('team-a', [servingJob(), waitingJob()]);
  const io = testIo(hub);
  const printed: unknown[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => printed.push(...a);
  try {
    await complete(commands, ['--get-yargs-completions', 'nvdax', 'describe', '-n', 'team-a', 'ij', 'c'], io);
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    console.log = log;
  }
  t.deepEqual(printed, ['chat']);
  t.deepEqual(io.opened, [{ kubeconfig: undefined, context: undefined, namespace: 'team-a' }]);
  t.deepEqual(hub.calls, [{ verb: 'list', plural: 'inferencejobs', namespace: 'team-a', fieldSelector: undefined }]);
});
