// The secure-aggregation stages as pure steps, driven in memory: masks cancel, dropouts at each stage are
// recovered from while a threshold remains, and an honest participant refuses what would unmask one update.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { decode, encode, encodeBound } from '../../../operator/training/fixedpoint.ts';
import { generateSigningKey } from '../../../operator/training/keys.ts';
import {
  type EncryptedShareMsg,
  type MemberKeys,
  prg,
  SecAggClient,
  SecAggError,
  thresholdFor,
  unmaskSum,
} from '../../../operator/training/secagg.ts';
import { shareToBytes, split } from '../../../operator/training/shamir.ts';

const ctx = { job: 'team-a/fl', round: 3 };
const D = 6;

interface Sim {
  ids: string[];
  inputs: Map<string, Float64Array>;
  clients: Map<string, SecAggClient>;
  keys: MemberKeys[];
  threshold: number;
}

function setup(n: number, min = 3): Sim {
  const ids = Array.from({ length: n }, (_, i) => `p-${i}`);
  const clients = new Map<string, SecAggClient>();
  const keys: MemberKeys[] = [];
  for (const id of ids) {
    const sk = generateSigningKey();
    const c = new SecAggClient(ctx, id, sk);
    clients.set(id, c);
    keys.push({ id, ...c.advertise(), signingKey: sk.publicKey });
  }
  const inputs = new Map(ids.map((id, i) => [id, Float64Array.from({ length: D }, (_, j) => (i + 1) * (j - 2.5))]));
  return { ids, inputs, clients, keys, threshold: thresholdFor(n, min) };
}

/** Runs the stages; `drop` names who stops before which stage. Returns the decoded sum. */
function run(s: Sim, drop: Record<string, 'shares' | 'masked' | 'consistency' | 'unmask'> = {}) {
  const alive = (stage: string) => (id: string) => {
    const d = drop[id];
    const order = ['shares', 'masked', 'consistency', 'unmask'];
    return d === undefined || order.indexOf(d) > order.indexOf(stage);
  };
  const u2 = s.ids.filter(alive('shares'));
  const outbox = new Map<string, EncryptedShareMsg[]>();
  for (const id of u2) outbox.set(id, s.clients.get(id)!.shareKeys(s.keys, s.threshold));
  const u3 = u2.filter(alive('masked'));
  const masked = new Map<string, Float64Array>();
  const bound = encodeBound(s.ids.length);
  for (const v of u3) {
    const delivered = u2
      .filter((u) => u !== v)
      .map((u) => ({ peer: u, ciphertext: outbox.get(u)!.find((x) => x.peer === v)!.ciphertext }));
    masked.set(v, s.clients.get(v)!.maskedInput(delivered, encode(s.inputs.get(v)!, bound)));
  }
  const survivors = [...masked.keys()].sort();
  const u4 = survivors.filter(alive('consistency'));
  const signatures = u4.map((id) => ({ id, signature: s.clients.get(id)!.signSurvivors(survivors) }));
  const u5 = u4.filter(alive('unmask'));
  const seedShares = new Map<string, Buffer[]>();
  const keyShares = new Map<string, Buffer[]>();
  for (const id of u5) {
    const r = s.clients.get(id)!.unmask(survivors, signatures);
    for (const x of r.seedShares) seedShares.set(x.of, [...(seedShares.get(x.of) ?? []), x.share]);
    for (const x of r.keyShares) keyShares.set(x.of, [...(keyShares.get(x.of) ?? []), x.share]);
  }
  const sum = unmaskSum({
    context: ctx,
    threshold: s.threshold,
    length: D,
    members: new Map(s.keys.map((k) => [k.id, k])),
    shared: u2,
    masked,
    seedShares,
    keyShares,
  });
  return { sum: decode(sum), survivors, masked };
}

const plainSum = (s: Sim, ids: string[]) =>
  Array.from({ length: D }, (_, j) => ids.reduce((a, id) => a + s.inputs.get(id)![j]!, 0));

const close = (t: any, got: Float64Array, want: number[]) =>
  t.true(
    want.every((w, j) => Math.abs(got[j]! - w) < 1e-5),
    `${[...got]} vs ${want}`,
  );

test('with everyone present the masks cancel and the sum is the plain sum', (t) => {
  const s = setup(5);
  const { sum, masked } = run(s);
  close(t, sum, plainSum(s, s.ids));
  // and no masked input is its own input
  for (const [id, y] of masked) t.notDeepEqual([...decode(y)].map(Math.round), [...s.inputs.get(id)!].map(Math.round));
});

for (const [name, drop] of [
  ['one dropped after sharing keys (its key is reconstructed)', { 'p-1': 'masked' }],
  ['two dropped after sharing keys', { 'p-1': 'masked', 'p-4': 'masked' }],
  ['one dropped before sharing, one after masking', { 'p-0': 'shares', 'p-3': 'consistency' }],
  ['one dropped before unmasking (its seed is reconstructed)', { 'p-2': 'unmask' }],
] as const) {
  test(`dropout: ${name}`, (t) => {
    const s = setup(5);
    const { sum, survivors } = run(s, drop as Record<string, 'masked'>);
    close(t, sum, plainSum(s, survivors));
  });
}

test('below the threshold the round cannot complete', (t) => {
  const s = setup(5);
  t.is(s.threshold, 3);
  const e = t.throws(() => run(s, { 'p-0': 'masked', 'p-1': 'masked', 'p-2': 'masked' }), {
    instanceOf: SecAggError,
  });
  t.is(e.reason, 'TooFewMembers');
});

test('an honest participant refuses an unmask request for a survivor list other than the one it signed', (t) => {
  const s = setup(4);
  const outbox = new Map(s.ids.map((id) => [id, s.clients.get(id)!.shareKeys(s.keys, s.threshold)]));
  for (const v of s.ids) {
    const delivered = s.ids
      .filter((u) => u !== v)
      .map((u) => ({ peer: u, ciphertext: outbox.get(u)!.find((x) => x.peer === v)!.ciphertext }));
    s.clients.get(v)!.maskedInput(delivered, encode(s.inputs.get(v)!, 1e6));
  }
  const c = s.clients.get('p-0')!;
  const signed = ['p-0', 'p-1', 'p-2', 'p-3'];
  const sig = c.signSurvivors(signed);
  // A coordinator that claims p-3 dropped (to get its key share) while p-3 is in the signed list.
  const e = t.throws(() => c.unmask(['p-0', 'p-1', 'p-2'], [{ id: 'p-0', signature: sig }]), {
    instanceOf: SecAggError,
  });
  t.is(e.reason, 'InconsistentSurvivors');
  // The right list with too few signatures is refused as well.
  const e2 = t.throws(() => c.unmask(signed, [{ id: 'p-0', signature: sig }]), { instanceOf: SecAggError });
  t.is(e2.reason, 'InconsistentSurvivors');
  // With enough signatures it answers seed shares only (everyone survived).
  const sigs = signed.map((id) => ({ id, signature: s.clients.get(id)!.signSurvivors(signed) }));
  const r = c.unmask(signed, sigs);
  t.is(r.keyShares.length, 0);
  t.is(r.seedShares.length, 4);
});

test('keys not signed by the member’s attested key are refused', (t) => {
  const s = setup(3);
  const other = generateSigningKey();
  const forged = s.keys.map((k) => (k.id === 'p-2' ? { ...k, signingKey: other.publicKey } : k));
  const e = t.throws(() => s.clients.get('p-0')!.shareKeys(forged, 3), { instanceOf: SecAggError });
  t.is(e.reason, 'BadSignature');
});

test('too few shares, or key shares that do not rebuild the advertised key, are detected', (t) => {
  const s = setup(4);
  const survivors = ['p-0', 'p-1', 'p-2'];
  const input = (seedShares: Map<string, Buffer[]>, keyShares: Map<string, Buffer[]>) => () =>
    unmaskSum({
      context: ctx,
      threshold: 3,
      length: D,
      members: new Map(s.keys.map((k) => [k.id, k])),
      shared: ['p-0', 'p-1', 'p-2', 'p-3'],
      masked: new Map(survivors.map((id) => [id, prg(Buffer.alloc(32, 1), D)])),
      seedShares,
      keyShares,
    });
  t.is(t.throws(input(new Map(), new Map()), { instanceOf: SecAggError }).reason, 'TooFewShares');
  const some = () => split(randomBytes(32), 3, [1, 2, 3]).map(shareToBytes);
  const seeds = new Map(survivors.map((id) => [id, some()]));
  t.is(t.throws(input(seeds, new Map()), { instanceOf: SecAggError }).reason, 'TooFewShares');
  t.is(t.throws(input(seeds, new Map([['p-3', some()]])), { instanceOf: SecAggError }).reason, 'BadShares');
});

test('the PRG is deterministic per seed and spreads over Z_2^52', (t) => {
  const a = prg(Buffer.alloc(32, 3), 1000);
  t.deepEqual(a, prg(Buffer.alloc(32, 3), 1000));
  t.notDeepEqual(a, prg(Buffer.alloc(32, 4), 1000));
  const mean = a.reduce((x, y) => x + y, 0) / a.length / 2 ** 52;
  t.true(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});
