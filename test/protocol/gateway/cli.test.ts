// nvdax infer against a gateway on loopback.
import test from 'ava';
import { main } from '../../../cli/nvdax.ts';
import { testIo } from '../../unit/cli/fixtures.ts';
import { input, startFixture } from './fixture.ts';

test('nvdax infer attests, sends one sealed request and prints the verified answer', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const values = [...input(1)].join(',');
  const files = {
    jwks: JSON.stringify(f.attester.jwks),
    key: f.requester.privateKey,
    'in.json': JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], data: [...input(1)] }] }),
  };
  const common = [
    '--gateway',
    f.address,
    '--attester-jwks',
    'jwks',
    '--key-file',
    'key',
    '--provider',
    f.provider.address,
  ];
  const io = testIo(undefined, files);
  const code = await main(
    [
      'infer',
      ...common,
      '--values',
      values,
      '--shape',
      '1,256',
      '--init-data-digest',
      f.init.digest,
      '--job',
      'team-a/mlp',
    ],
    io,
  );
  t.is(code, 0, io.stderr.join('\n'));
  t.regex(io.stdout[0]!, /^attested: sample \(development: no TEE\)/);
  t.regex(io.stdout.join('\n'), /^y \[1,4\]: 0\.\d+, 0\.\d+, 0\.\d+, 0\.\d+$/m);
  t.regex(io.stdout.at(-1)!, /^receipt 0x[0-9a-f]{64} verified \(ed25519\): 1000000000000 wei/);

  const json = testIo(undefined, files);
  t.is(await main(['infer', ...common, '--input', 'in.json', '-o', 'json'], json), 0, json.stderr.join('\n'));
  const out = JSON.parse(json.stdout.join('\n'));
  t.deepEqual(out.outputs.y.shape, [1, 4]);
  t.is(out.receipt.receipt.provider, f.provider.address);

  // a wrong provider is refused, naming the field
  const wrong = testIo(undefined, files);
  const args = ['infer', '--gateway', f.address, '--attester-jwks', 'jwks', '--key-file', 'key'];
  t.is(await main([...args, '--values', values, '--shape', '1,256', '--provider', `0x${'11'.repeat(20)}`], wrong), 1);
  t.regex(wrong.stderr.join('\n'), /refused: capability provider: signed by 0x/);
  // a wrong init-data digest is refused by attestation
  const measured = testIo(undefined, files);
  t.is(
    await main([...args, '--values', values, '--shape', '1,256', '--init-data-digest', 'ab'.repeat(48)], measured),
    1,
  );
  t.regex(measured.stderr.join('\n'), /refused: .*init_data/);
  const bad = testIo(undefined, files);
  t.is(await main([...args, '--values', '1,2', '--shape', '1,256'], bad), 1);
  t.regex(bad.stderr.join('\n'), /shape \[1,256\] needs 256 values, got 2/);
});

test('nvdax infer --chat and --openai talk to an OpenAI-protocol job; tensors to it are refused naming the protocol', async (t) => {
  const f = await startFixture({ backend: 'openai' });
  t.teardown(() => f.close());
  const files = {
    jwks: JSON.stringify(f.attester.jwks),
    key: f.requester.privateKey,
    'emb.json': JSON.stringify({ input: 'a text to embed' }),
    'chat.json': JSON.stringify({ messages: [{ role: 'user', content: 'Which class is this?' }] }),
    'list.json': '[1]',
  };
  const common = ['infer', '--gateway', f.address, '--attester-jwks', 'jwks', '--key-file', 'key'];
  // --chat streams: the reply is written piece by piece as it is generated, then the verified receipt
  const pieces: string[] = [];
  const io = testIo(undefined, files, { write: (text) => pieces.push(text) });
  t.is(await main([...common, '--chat', 'Which class is this?'], io), 0, io.stderr.join('\n'));
  t.regex(io.stdout[0]!, /^attested: sample \(development: no TEE\)/);
  t.true(pieces.length > 2, `written in ${pieces.length} pieces`);
  t.regex(pieces.join(''), /^class \d \(p=0\.\d{4}\)\n$/);
  // --chat asks the server for its usage: the signed receipt counts the tokens of the streamed answer too
  t.regex(io.stdout.at(-1)!, /^receipt 0x[0-9a-f]{64} verified \(ed25519\): .*, tokens 4 in \/ 3 out, \d+ chunks$/);
  // without a way to write pieces (a pipe of lines), the reply is one line
  const lines = testIo(undefined, files);
  t.is(await main([...common, '--chat', 'Which class is this?'], lines), 0, lines.stderr.join('\n'));
  t.regex(lines.stdout[2]!, /^class \d \(p=0\.\d{4}\)$/);
  // the whole answer with its token counts: -o json, or --openai
  const whole = testIo(undefined, files);
  t.is(await main([...common, '--openai', '/v1/chat/completions', '--body', 'chat.json'], whole), 0);
  t.regex(whole.stdout.at(-1)!, /^receipt 0x[0-9a-f]{64} verified \(ed25519\): .* tokens 4 in \/ 3 out$/);

  const json = testIo(undefined, files);
  const emb = ['--openai', '/v1/embeddings', '--body', 'emb.json', '-o', 'json'];
  t.is(await main([...common, ...emb], json), 0, json.stderr.join('\n'));
  const out = JSON.parse(json.stdout.join('\n'));
  t.is(out.answer.data[0].embedding.length, 4);
  t.is(out.receipt.receipt.provider, f.provider.address);

  const notObject = testIo(undefined, files);
  t.is(await main([...common, '--openai', '/v1/completions', '--body', 'list.json'], notObject), 1);
  t.regex(notObject.stderr.join('\n'), /--body list\.json: must be a JSON object/);
  const noBody = testIo(undefined, files);
  t.is(await main([...common, '--openai', '/v1/completions'], noBody), 1);
  t.regex(noBody.stderr.join('\n'), /--openai needs --body/);
  // one kind of request at a time: the mix is refused before anything is sent
  const mixed = testIo(undefined, files);
  t.is(await main([...common, '--chat', 'hi', '--values', '1', '--shape', '1'], mixed), 2);
  t.regex(mixed.stderr.join('\n'), /mutually exclusive/);
  // -o json: the whole answer, with the receipt
  const chatJson = testIo(undefined, files);
  t.is(await main([...common, '--chat', 'Which class is this?', '-o', 'json'], chatJson), 0);
  const cj = JSON.parse(chatJson.stdout.join('\n'));
  t.regex(cj.answer.choices[0].message.content, /^class \d/);
  t.is(cj.answer.usage.prompt_tokens, 4);
  t.is(cj.receipt.scheme, 'ed25519');
  const tensors = testIo(undefined, files);
  t.is(await main([...common, '--values', [...input(1)].join(','), '--shape', '1,256'], tensors), 1);
  t.regex(tensors.stderr.join('\n'), /refused: .*OpenAI server: use openai\(\)/);
});
