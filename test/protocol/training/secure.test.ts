// Secure aggregation over the real protocol: participants are separate processes on loopback. The sum the
// coordinator unmasks equals plain FedAvg's within fixed-point precision, and nothing the coordinator received
// lets it recover one participant's update (while the same inspection does find them under FedAvg).
import test from 'ava';
import { fromSum, sumVectors } from '../../../operator/training/aggregate.ts';
import { decode, encode, subInto } from '../../../operator/training/fixedpoint.ts';
import { prg } from '../../../operator/training/secagg.ts';
import { combine, shareFromBytes } from '../../../operator/training/shamir.ts';
import { fromBytes, toBytes } from '../../../operator/training/vector.ts';
import { federatedRun, model, type Run } from './fixture.ts';

const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

/** FedAvg of what the contributors of `round` really computed (their own report, not the coordinator's view). */
function plainAggregate(run: Run, round: number) {
  const r = run.rounds.find((x) => x.round === round)!;
  const vs = r.contributors.map((id) => run.reveals.get(id)!.get(round)!);
  return fromSum(sumVectors(vs, vs[0]!.length));
}

/** Every Buffer in a received message, however deep. */
function buffers(v: unknown, out: Buffer[] = []): Buffer[] {
  if (Buffer.isBuffer(v)) out.push(v);
  else if (Array.isArray(v)) for (const x of v) buffers(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) buffers(x, out);
  return out;
}

/**
 * Tries to recover any participant's update from everything the coordinator received: the update's bytes
 * (float64 or fixed point) anywhere in any message, or a masked input with every mask the coordinator can
 * rebuild (from the shares it received) removed. Returns what it recovered.
 */
function recover(run: Run): string[] {
  const found: string[] = [];
  const blobs = run.received.flatMap(({ m }) => buffers(m));
  for (const [id, byRound] of run.reveals)
    for (const [round, v] of byRound) {
      const mid = Math.floor(v.length / 2);
      for (const [what, bytes] of [
        ['float64', toBytes(v)],
        ['fixed point', toBytes(encode(v, Number.POSITIVE_INFINITY))],
      ] as const)
        for (const at of [0, mid - 1])
          if (blobs.some((b) => b.includes(bytes.subarray(at * 8, at * 8 + 16))))
            found.push(`${id} round ${round}: its update's ${what} bytes`);
    }
  for (const r of run.rounds) {
    if (r.threshold === undefined) continue;
    const msgs = run.received.filter(({ m }) => (m[m.body!] as { round?: number } | undefined)?.round === r.round);
    const seed = new Map<string, Buffer[]>();
    const key = new Map<string, Buffer[]>();
    for (const { m } of msgs) {
      for (const x of m.unmask?.seedShares ?? []) seed.set(x.of, [...(seed.get(x.of) ?? []), x.share]);
      for (const x of m.unmask?.keyShares ?? []) key.set(x.of, [...(key.get(x.of) ?? []), x.share]);
    }
    for (const { from, m } of msgs) {
      if (!m.maskedInput) continue;
      const truth = run.reveals.get(from)?.get(r.round);
      if (!truth) continue;
      if ((seed.get(from)?.length ?? 0) >= r.threshold && (key.get(from)?.length ?? 0) >= r.threshold)
        found.push(`${from} round ${r.round}: both its mask seed and its mask key were revealed`);
      const y = fromBytes(m.maskedInput.masked);
      const s = seed.get(from) ?? [];
      if (s.length >= r.threshold) subInto(y, prg(combine(s.map(shareFromBytes), r.threshold, 32), y.length));
      if (maxDiff(decode(y), truth) < 1e-3) found.push(`${from} round ${r.round}: unmasked`);
    }
  }
  return found;
}

test.serial('the securely aggregated model equals plain FedAvg, and no single update can be recovered', async (t) => {
  const secure = await federatedRun({
    participants: 4,
    aggregation: 'SecureAggregation',
    minParticipants: 3,
    rounds: 3,
  });
  t.is(secure.result.state, 'Succeeded', secure.result.message);
  t.deepEqual(
    secure.rounds.map((r) => r.contributors.length),
    [4, 4, 4],
  );
  for (const r of secure.rounds) {
    const plain = plainAggregate(secure, r.round);
    const d = maxDiff(secure.models.get(r.round)!, plain.model);
    t.true(d < 1e-6, `round ${r.round}: secure vs FedAvg of the same updates differ by ${d}`);
    t.is(r.examples, plain.examples);
    t.true(Math.abs(r.accuracy - plain.accuracy) < 1e-9);
  }
  // The same job with FedAvg gives the same models (the same local training from the same start).
  const fedavg = await federatedRun({ participants: 4, aggregation: 'FedAvg', minParticipants: 3, rounds: 3 });
  t.is(fedavg.result.state, 'Succeeded');
  for (const round of [1, 2, 3]) {
    const d = maxDiff(secure.models.get(round)!, fedavg.models.get(round)!);
    t.true(d < 1e-5, `round ${round}: SecureAggregation vs FedAvg run differ by ${d}`);
  }
  t.true(maxDiff(secure.models.get(3)!, model.init()) > 0.1, 'the model trained');

  // Privacy: with secure aggregation nothing recovers an update; the same inspection finds them under FedAvg.
  t.true(
    secure.received.some(({ m }) => m.maskedInput),
    'masked inputs were received',
  );
  t.deepEqual(recover(secure), []);
  const leaked = recover(fedavg);
  t.is(leaked.length, 4 * 3 * 2, leaked.join('\n'));
});
