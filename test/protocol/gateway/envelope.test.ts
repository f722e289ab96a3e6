// The envelope, the limits and the generated artefacts, without a network.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { MODEL_PATH, modelBytes } from '../../../hack/model/make-model.ts';
import {
  Direction,
  EnvelopeError,
  MAX_CHUNKS,
  REPLAY_WINDOW,
  ReplayWindow,
  deriveSessionKeys,
  newSessionId,
  open,
  openChunk,
  opener,
  seal,
  sealChunk,
  sealer,
  x25519KeyPair,
} from '../../../provider-runtime/gateway/envelope.ts';
import { Limiter, TokenBucket, DEFAULT_LIMITS } from '../../../provider-runtime/gateway/limits.ts';
import { contentHashOf, requestIdOf } from '../../../provider-runtime/gateway/signing.ts';
import { contentHash } from '../../../operator/verification/receipt.ts';

const pair = () => {
  const g = x25519KeyPair();
  const r = x25519KeyPair();
  const id = newSessionId();
  return {
    id,
    gw: deriveSessionKeys(g.privateKey, r.publicKey, g.publicKey, r.publicKey, id),
    rq: deriveSessionKeys(r.privateKey, g.publicKey, g.publicKey, r.publicKey, id),
  };
};

const reason = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof EnvelopeError ? e.reason : `other: ${String(e)}`;
  }
  return 'accepted';
};

test('both sides derive the same session keys; each direction seals and opens', (t) => {
  const { id, gw, rq } = pair();
  const body = Buffer.from('a request body');
  const c = seal(rq.toGateway, Direction.request, id, 1, body);
  t.deepEqual(open(gw.toGateway, Direction.request, id, 1, c), body);
  const a = seal(gw.toRequester, Direction.answer, id, 1, Buffer.from('an answer'));
  t.is(open(rq.toRequester, Direction.answer, id, 1, a).toString(), 'an answer');
  t.is(c.length, body.length + 16);
});

test('a changed byte, another sequence number, direction, session or key fails authentication', (t) => {
  const { id, gw, rq } = pair();
  const c = seal(rq.toGateway, Direction.request, id, 7, Buffer.from('payload'));
  const flipped = Buffer.from(c);
  flipped[2]! ^= 1;
  t.is(
    reason(() => open(gw.toGateway, Direction.request, id, 7, flipped)),
    'authentication',
  );
  t.is(
    reason(() => open(gw.toGateway, Direction.request, id, 8, c)),
    'authentication',
  );
  t.is(
    reason(() => open(gw.toGateway, Direction.answer, id, 7, c)),
    'authentication',
  );
  t.is(
    reason(() => open(gw.toGateway, Direction.request, newSessionId(), 7, c)),
    'authentication',
  );
  t.is(
    reason(() => open(gw.toRequester, Direction.request, id, 7, c)),
    'authentication',
  );
  t.is(
    reason(() => open(gw.toGateway, Direction.request, id, 7, c.subarray(0, 10))),
    'malformed',
  );
  t.is(
    reason(() => open(gw.toGateway, Direction.request, id, 0, c)),
    'sequence',
  );
});

test('the nonce and additional data are the documented layout, up to 2^53 - 1 (known answer)', (t) => {
  const { id, rq } = pair();
  for (const seq of [1, 0xffff_ffff, 0x1_0000_0000 + 5, Number.MAX_SAFE_INTEGER]) {
    // nonce = direction ‖ 0x000000 ‖ seq (8 bytes BE); aad = "nvdax-gateway/v1" ‖ direction ‖ session id ‖ seq
    const n = Buffer.alloc(8);
    n.writeBigUInt64BE(BigInt(seq));
    const nonce = Buffer.concat([Buffer.from([Direction.request, 0, 0, 0]), n]);
    const c = createCipheriv('aes-256-gcm', rq.toGateway, nonce);
    c.setAAD(Buffer.concat([Buffer.from('nvdax-gateway/v1'), Buffer.from([Direction.request]), id, n]));
    const want = Buffer.concat([c.update(Buffer.from('body')), c.final(), c.getAuthTag()]);
    t.deepEqual(seal(rq.toGateway, Direction.request, id, seq, Buffer.from('body')), want, `seq ${seq}`);
  }
});

test('stream chunks: the index in the nonce and the additional data (known answer); moved, altered or out of range refused', (t) => {
  const { id, gw, rq } = pair();
  const seq = 7;
  for (const index of [0, 1, 0xab_cdef, MAX_CHUNKS - 1]) {
    // nonce = 4 ‖ index (3 bytes BE) ‖ seq (8 bytes BE); aad = "nvdax-gateway/v1" ‖ 4 ‖ session id ‖ seq ‖ index (4 bytes BE)
    const n = Buffer.alloc(8);
    n.writeBigUInt64BE(BigInt(seq));
    const i3 = Buffer.alloc(3);
    i3.writeUIntBE(index, 0, 3);
    const i4 = Buffer.alloc(4);
    i4.writeUInt32BE(index);
    const c = createCipheriv('aes-256-gcm', gw.toRequester, Buffer.concat([Buffer.from([Direction.chunk]), i3, n]));
    c.setAAD(Buffer.concat([Buffer.from('nvdax-gateway/v1'), Buffer.from([Direction.chunk]), id, n, i4]));
    const want = Buffer.concat([c.update(Buffer.from('tok')), c.final(), c.getAuthTag()]);
    t.deepEqual(sealChunk(gw.toRequester, id, seq, index, Buffer.from('tok')), want, `index ${index}`);
    t.deepEqual(openChunk(rq.toRequester, id, seq, index, want), Buffer.from('tok'));
  }
  const sealed = sealChunk(gw.toRequester, id, seq, 1, Buffer.from('second'));
  t.is(
    reason(() => openChunk(rq.toRequester, id, seq, 0, sealed)),
    'authentication',
    'moved to another place',
  );
  t.is(
    reason(() => openChunk(rq.toRequester, id, seq + 1, 1, sealed)),
    'authentication',
    'to another request',
  );
  t.is(
    reason(() => open(rq.toRequester, Direction.answer, id, seq, sealed)),
    'authentication',
    'as a whole answer',
  );
  const flipped = Buffer.from(sealed);
  flipped[0]! ^= 1;
  t.is(
    reason(() => openChunk(rq.toRequester, id, seq, 1, flipped)),
    'authentication',
    'altered',
  );
  t.is(
    reason(() => sealChunk(gw.toRequester, id, seq, MAX_CHUNKS, Buffer.from('x'))),
    'sequence',
  );
  t.is(
    reason(() => sealChunk(gw.toRequester, id, seq, -1, Buffer.from('x'))),
    'sequence',
  );
});

test('a sealer or opener made ahead gives what seal and open give, once', (t) => {
  const { id, gw, rq } = pair();
  const body = Buffer.from('made ahead');
  const sealIt = sealer(gw.toRequester, Direction.answer, id, 3);
  const openIt = opener(rq.toRequester, Direction.answer, id, 3);
  const c = sealIt(body);
  t.deepEqual(c, seal(gw.toRequester, Direction.answer, id, 3, body));
  t.deepEqual(openIt(c), body);
  t.throws(() => sealIt(body), { message: /seals one message/ });
  t.throws(() => openIt(c), { message: /opens one envelope/ });
  const flipped = Buffer.from(c);
  flipped[0]! ^= 1;
  t.is(
    reason(() => opener(rq.toRequester, Direction.answer, id, 3)(flipped)),
    'authentication',
  );
  t.is(
    reason(() => opener(rq.toRequester, Direction.answer, id, 4)(c)),
    'authentication',
  );
  t.is(
    reason(() => opener(rq.toRequester, Direction.answer, id, 3)(c.subarray(0, 8))),
    'malformed',
  );
});

test("the hot path's hashes are receipt.ts's contentHash and the documented request id", (t) => {
  for (const n of [0, 1, 1024, 65536]) {
    const b = randomBytes(n);
    t.is(contentHashOf(b), contentHash(b));
  }
  const id = newSessionId();
  for (const seq of [1, 0xffff_ffff, 0x1_0000_0000 + 5, Number.MAX_SAFE_INTEGER]) {
    const n = Buffer.alloc(8);
    n.writeBigUInt64BE(BigInt(seq));
    const want = createHash('sha256').update('nvdax-gateway/v1 request').update(id).update(n).digest('hex');
    t.is(requestIdOf(id, seq), `0x${want}`);
  }
  t.throws(() => requestIdOf(id, 1.5), { instanceOf: RangeError });
  t.throws(() => requestIdOf(id, -1), { instanceOf: RangeError });
});

test('another requester key gives other keys', (t) => {
  const g = x25519KeyPair();
  const r1 = x25519KeyPair();
  const r2 = x25519KeyPair();
  const id = newSessionId();
  const k1 = deriveSessionKeys(g.privateKey, r1.publicKey, g.publicKey, r1.publicKey, id);
  const k2 = deriveSessionKeys(r2.privateKey, g.publicKey, g.publicKey, r1.publicKey, id);
  const c = seal(k2.toGateway, Direction.request, id, 1, Buffer.from('x'));
  t.is(
    reason(() => open(k1.toGateway, Direction.request, id, 1, c)),
    'authentication',
  );
});

test('a low-order X25519 key is refused', (t) => {
  const g = x25519KeyPair();
  const zero = Buffer.alloc(32);
  t.is(
    reason(() => deriveSessionKeys(g.privateKey, zero, g.publicKey, zero, newSessionId())),
    'public-key',
  );
  t.is(
    reason(() => deriveSessionKeys(g.privateKey, Buffer.alloc(31, 9), g.publicKey, zero, newSessionId())),
    'public-key',
  );
});

test('the replay window accepts each number once, out of order within the window, and refuses older ones', (t) => {
  const w = new ReplayWindow();
  w.accept(1);
  w.accept(3);
  w.accept(2);
  t.is(
    reason(() => w.check(2)),
    'replay',
  );
  t.is(
    reason(() => w.check(3)),
    'replay',
  );
  t.is(
    reason(() => w.check(4)),
    'accepted',
  );
  w.accept(REPLAY_WINDOW + 10);
  t.is(
    reason(() => w.check(5)),
    'too-old',
  );
  t.is(
    reason(() => w.check(11)),
    'accepted',
  );
  t.is(
    reason(() => w.check(REPLAY_WINDOW + 10)),
    'replay',
  );
  // numbers that slid out and back into the ring's slots are fresh
  t.is(
    reason(() => w.check(REPLAY_WINDOW + 9)),
    'accepted',
  );
  t.is(
    reason(() => w.check(0)),
    'sequence',
  );
});

test('a token bucket refills at its rate and says when to retry', (t) => {
  const b = new TokenBucket(10, 2, 0);
  t.is(b.wait(0), 0);
  b.take();
  b.take();
  t.is(b.wait(0), 100);
  t.is(b.wait(50), 50);
  t.is(b.wait(100), 0);
  t.is(new TokenBucket(0, 1, 0).wait(0), 0, 'rate 0 is unlimited');
});

test('the limiter refuses per requester, per job and in-flight, taking nothing on refusal', (t) => {
  const l = new Limiter(
    { ...DEFAULT_LIMITS, requesterRps: 1, requesterBurst: 2, jobRps: 1, jobBurst: 3, maxConcurrentPerRequester: 5 },
    0,
  );
  const a1 = l.admit('a', 0);
  const a2 = l.admit('a', 0);
  t.true(a1.ok && a2.ok);
  const a3 = l.admit('a', 0);
  t.like(a3, { ok: false, reason: 'requester-rate', retryAfterMs: 1000 });
  const b1 = l.admit('b', 0);
  t.true(b1.ok, 'another requester has its own bucket');
  t.like(l.admit('b', 0), { ok: false, reason: 'job-rate' });
  const c = new Limiter({ ...DEFAULT_LIMITS, maxConcurrentPerRequester: 1 }, 0);
  const first = c.admit('a', 0);
  t.like(c.admit('a', 0), { ok: false, reason: 'requester-concurrency' });
  if (first.ok) first.release();
  t.true(c.admit('a', 0).ok, 'released');
});

test('the committed ONNX model is what hack/model/make-model.ts writes', (t) => {
  t.true(readFileSync(MODEL_PATH).equals(modelBytes()));
  t.notThrows(() => execFileSync(process.execPath, ['hack/model/make-model.ts', '--check'], { stdio: 'pipe' }));
});

test('the generated proto types are up to date', (t) => {
  t.notThrows(() => execFileSync(process.execPath, ['hack/proto/generate.ts', '--check'], { stdio: 'pipe' }));
});
