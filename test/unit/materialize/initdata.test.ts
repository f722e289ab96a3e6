import test from 'ava';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { parse } from 'smol-toml';
import { DEFAULT_AGENT_POLICY, hostDataOf, initData } from '../../../operator/materialize/index.ts';

const kbsUrl = 'https://kbs.nvdax.example:8080';
const decode = (annotation: string) => gunzipSync(Buffer.from(annotation, 'base64')).toString('utf8');

test('the annotation is base64(gzip(TOML)) with version, algorithm and the three data files', (t) => {
  const d = initData({ kbsUrl });
  t.is(d.algorithm, 'sha384');
  t.regex(d.annotation, /^[A-Za-z0-9+/]+=*$/);
  const text = decode(d.annotation);
  t.is(text, d.toml);
  const doc = parse(text) as { version: string; algorithm: string; data: Record<string, string> };
  t.is(doc.version, '0.1.0');
  t.is(doc.algorithm, 'sha384');
  t.deepEqual(Object.keys(doc.data).sort(), ['aa.toml', 'cdh.toml', 'policy.rego']);
  t.deepEqual(parse(doc.data['aa.toml']!), { token_configs: { kbs: { url: kbsUrl } } });
  t.deepEqual(parse(doc.data['cdh.toml']!), {
    socket: 'unix:///run/confidential-containers/cdh.sock',
    kbc: { name: 'cc_kbc', url: kbsUrl },
  });
  t.is(doc.data['policy.rego'], DEFAULT_AGENT_POLICY);
});

test('the default agent policy denies exec, stream reading and policy changes', (t) => {
  const rego = parse(initData({ kbsUrl }).toml) as { data: Record<string, string> };
  const policy = rego.data['policy.rego']!;
  t.true(policy.startsWith('package agent_policy\n'));
  for (const line of [
    'default AllowRequestsFailingPolicy := false',
    'default ExecProcessRequest := false',
    'default ReadStreamRequest := false',
    'default SetPolicyRequest := false',
    'default CreateContainerRequest := true',
    'default StartContainerRequest := true',
  ]) {
    t.true(policy.split('\n').includes(line), line);
  }
  t.false(/ExecProcessRequest := true|ReadStreamRequest := true|SetPolicyRequest := true/.test(policy));
});

for (const algorithm of ['sha256', 'sha384', 'sha512'] as const) {
  test(`digest is ${algorithm} over the whole TOML text and is bound to SNP and TDX fields`, (t) => {
    const d = initData({ kbsUrl, algorithm });
    t.is(d.algorithm, algorithm);
    t.true(d.toml.includes(`algorithm = "${algorithm}"\n`));
    t.is(d.digest, createHash(algorithm).update(decode(d.annotation)).digest('hex'));
    const bytes = { sha256: 32, sha384: 48, sha512: 64 }[algorithm];
    t.is(d.digest.length, bytes * 2);
    // SNP HOST_DATA: 32 bytes, cut
    t.is(hostDataOf(d.digest, 'snp'), d.digest.slice(0, 64));
    // TDX MRCONFIGID: 48 bytes, zero-padded (sha256) or cut (sha512)
    const tdx = hostDataOf(d.digest, 'tdx');
    t.is(tdx.length, 96);
    t.is(tdx, bytes >= 48 ? d.digest.slice(0, 96) : d.digest + '0'.repeat(32));
  });
}

test('hostDataOf pads and cuts concrete values', (t) => {
  t.is(hostDataOf('ab'.repeat(32), 'tdx'), 'ab'.repeat(32) + '00'.repeat(16));
  t.is(hostDataOf('AB'.repeat(64), 'snp'), 'ab'.repeat(32));
  t.throws(() => hostDataOf('xyz', 'snp'), { instanceOf: RangeError });
});

test('the same input gives the same bytes; another input another digest', (t) => {
  const a = initData({ kbsUrl });
  const b = initData({ kbsUrl });
  t.is(a.annotation, b.annotation);
  t.is(a.digest, b.digest);
  t.not(initData({ kbsUrl: 'https://other.example' }).digest, a.digest);
  t.not(initData({ kbsUrl, policy: 'package agent_policy\n' }).digest, a.digest);
});

test('policies that cannot be a literal string still round-trip', (t) => {
  const policy = "package agent_policy\r\n# has ''' quotes\ndefault X := 'y'";
  const d = initData({ kbsUrl, policy, algorithm: 'sha256' });
  const doc = parse(decode(d.annotation)) as { data: Record<string, string> };
  t.is(doc.data['policy.rego'], policy);
});

test('unknown algorithms and a missing KBS URL are refused', (t) => {
  t.throws(() => initData({ kbsUrl, algorithm: 'SHA-384' as 'sha384' }), { instanceOf: RangeError });
  t.throws(() => initData({ kbsUrl: '' }), { instanceOf: RangeError });
});
