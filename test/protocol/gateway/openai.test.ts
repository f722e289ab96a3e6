// End to end over gRPC on loopback for OpenAI-protocol jobs (vLLM, TGI): requester SDK → gateway → the OpenAI
// backend → an OpenAI-protocol HTTP server on the embedded model (backends/openai-server.ts, standing in for
// vLLM, which needs a GPU). The answers are the server's, byte for byte; the receipts cover what was sent and
// answered; nothing of a prompt crosses the requester–gateway wire in the clear (the pod's loopback does carry it:
// the control below).
import { status } from '@grpc/grpc-js';
import test from 'ava';
import { contentHash } from '../../../operator/verification/receipt.ts';
import { verifyGatewayReceipt } from '../../../provider-runtime/gateway/signing.ts';
import { CapabilityError, GatewayCallError, fp32Request } from '../../../provider-runtime/sdk/client.ts';
import { MODEL, startFixture, tap, wrapBackend } from './fixture.ts';

interface Chat {
  model: string;
  choices: Array<{ message: { role: string; content: string } }>;
  usage: { prompt_tokens: number; completion_tokens: number };
}
interface Embeddings {
  data: Array<{ embedding: number[] }>;
}

/** The model server asked directly (plain HTTP on loopback), for comparison. */
async function direct<T>(port: number, path: string, body: object): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, ...body }),
  });
  return (await r.json()) as T;
}

test('chat, completions and embeddings through the gateway: the server’s answers, receipts over the exact bytes', async (t) => {
  const f = await startFixture({ backend: 'openai' });
  t.teardown(() => f.close());
  const port = f.modelServer!.port;
  const c = await f.connect();
  t.teardown(() => c.close());
  t.is(c.capability.protocol, 'OpenAI');
  t.is(c.capability.modelName, MODEL);

  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Which class is this sentence?' },
  ];
  const chat = await c.openai<Chat>('/v1/chat/completions', { messages, max_tokens: 16 });
  const plain = await direct<Chat>(port, '/v1/chat/completions', { messages });
  t.is(chat.json.choices[0]?.message.content, plain.choices[0]?.message.content);
  t.regex(chat.json.choices[0]?.message.content ?? '', /^class \d \(p=0\.\d{4}\)$/);
  t.deepEqual(chat.json.usage, plain.usage);
  const chatReceipt = await chat.receipt;
  const rc = chatReceipt.receipt;
  // what the requester sealed: {path, body} with the model named
  const sent = JSON.stringify({ path: '/v1/chat/completions', body: { messages, max_tokens: 16, model: MODEL } });
  t.is(rc.inputHash, contentHash(Buffer.from(sent)));
  t.is(rc.outputHash, contentHash(chat.raw));
  t.is(rc.modelHash, f.onnx.modelHash);
  t.true(rc.deviceTimeUs > 0 && rc.latencyUs >= rc.deviceTimeUs);
  // the token counts are the server's usage, signed: a provider cannot raise them after the fact
  t.true(plain.usage.prompt_tokens > 0 && plain.usage.completion_tokens > 0);
  t.is(rc.inputTokens, plain.usage.prompt_tokens);
  t.is(rc.outputTokens, plain.usage.completion_tokens);
  const authority = {
    provider: c.capability.statement.provider,
    receiptKey: Buffer.from(c.capability.statement.receiptKey.slice(2), 'hex'),
  };
  t.notThrows(() => verifyGatewayReceipt(chatReceipt, authority));
  t.throws(
    () => verifyGatewayReceipt({ ...chatReceipt, receipt: { ...rc, outputTokens: rc.outputTokens + 1 } }, authority),
    { message: /receipt signature: does not verify/ },
  );

  const emb = await c.openai<Embeddings>('/v1/embeddings', { input: ['first text', 'second, longer text'] });
  const embPlain = await direct<Embeddings & { usage: { prompt_tokens: number } }>(port, '/v1/embeddings', {
    input: ['first text', 'second, longer text'],
  });
  t.is(emb.json.data.length, 2);
  // an embedding has input tokens only
  const embReceipt = (await emb.receipt).receipt;
  t.is(embReceipt.inputTokens, embPlain.usage.prompt_tokens);
  t.is(embReceipt.outputTokens, 0);
  t.deepEqual(emb.json.data, embPlain.data);
  // the model's softmax: each row sums to one, and the two texts differ (it ran on them, not an echo)
  for (const d of emb.json.data) t.true(Math.abs(d.embedding.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  t.notDeepEqual(emb.json.data[0]?.embedding, emb.json.data[1]?.embedding);

  const done = await c.openai<{ choices: Array<{ text: string }> }>('/v1/completions', { prompt: 'Once upon' });
  t.regex(done.json.choices[0]?.text ?? '', /^class \d/);
  await c.settled();
  t.deepEqual(c.receiptFailures, []);
});

test('refusals: the server’s HTTP error comes back with its code, the reason sealed; the protocol is checked', async (t) => {
  const f = await startFixture({ backend: 'openai' });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  // the model server refuses (HTTP 400): INVALID_ARGUMENT, its message only for the requester
  const empty = await t.throwsAsync(c.openai('/v1/chat/completions', { messages: [] }), {
    instanceOf: GatewayCallError,
  });
  t.is(empty.code, status.INVALID_ARGUMENT);
  t.regex(empty.detail ?? '', /^model server: HTTP 400: messages must be a non-empty array/);
  t.notRegex(empty.message.replace(empty.detail ?? '', ''), /messages/, 'the status text itself names nothing');
  // the gateway refuses before the server: another model, a stream
  const other = await t.throwsAsync(c.openai('/v1/completions', { prompt: 'a', model: 'llama-3' }), {
    instanceOf: GatewayCallError,
  });
  t.is(other.code, status.NOT_FOUND);
  const stream = await t.throwsAsync(c.openai('/v1/completions', { prompt: 'a', stream: true }), {
    instanceOf: GatewayCallError,
  });
  t.is(stream.code, status.INVALID_ARGUMENT);
  t.regex(stream.detail ?? '', /^body\.stream/);
  // an Open Inference request to an OpenAI gateway is refused in the SDK, naming the protocol
  await t.throwsAsync(c.infer(fp32Request('x', new Float32Array(256), [1, 256])), {
    instanceOf: CapabilityError,
    message: /OpenAI server: use openai\(\)/,
  });
  // and the other way round
  const v2 = await startFixture();
  t.teardown(() => v2.close());
  const cv = await v2.connect();
  t.teardown(() => cv.close());
  t.is(cv.capability.protocol, 'OpenInference');
  await t.throwsAsync(cv.openai('/v1/completions', { prompt: 'a' }), {
    instanceOf: CapabilityError,
    message: /OpenInference server: use infer\(\)/,
  });
  // the session still serves
  t.truthy((await c.openai('/v1/completions', { prompt: 'still here' })).json);
});

test('no prompt or answer on the requester–gateway wire; the pod loopback to the server carries them (control)', async (t) => {
  const PROMPT = 'PLAINTEXT-PROMPT-a41f: the quarterly numbers are confidential';
  // the server behind a relay as well, to show the capture would find the prompt where it is in the clear
  const inner = await startFixture({ backend: 'openai' });
  t.teardown(() => inner.close());
  const podLoopback = await tap(inner.modelServer!.port);
  t.teardown(() => podLoopback.close());
  const f = await startFixture({ backend: 'openai', openaiUrl: `http://127.0.0.1:${podLoopback.port}` });
  t.teardown(() => f.close());
  const wire = await tap(f.running.port);
  t.teardown(() => wire.close());
  const c = await f.connect({ address: `127.0.0.1:${wire.port}` });
  t.teardown(() => c.close());
  const r = await c.openai<Chat>('/v1/chat/completions', { messages: [{ role: 'user', content: PROMPT }] });
  const answer = r.json.choices[0]?.message.content ?? '';
  t.regex(answer, /^class \d/);
  // a streamed answer too: its chunks cross sealed
  const s = c.openaiStream('/v1/chat/completions', { messages: [{ role: 'user', content: `${PROMPT} (again)` }] });
  for await (const _ of s);
  t.true((await s.done).raw.length > 1);
  const marker = Buffer.from('PLAINTEXT-PROMPT-a41f');
  t.true(wire.bytes().length > 500, 'the relay saw the traffic');
  t.false(wire.bytes().includes(marker), 'the prompt is not on the wire');
  t.false(wire.bytes().includes(Buffer.from(answer)), 'the answer is not on the wire');
  t.false(wire.bytes().includes(Buffer.from('chat.completion.chunk')), 'nor a streamed chunk');
  t.true(podLoopback.bytes().includes(Buffer.from('chat.completion.chunk')), 'control: the chunks are on the loopback');
  t.true(podLoopback.bytes().includes(marker), 'control: the capture finds the prompt where it is plaintext');
  t.true(podLoopback.bytes().includes(Buffer.from(answer)));
});

test('a streamed chat answer: chunks decrypted as they come, in order, the receipt over all of them at the end', async (t) => {
  const f = await startFixture({ backend: 'openai', chunkDelayMs: 40 });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const messages = [{ role: 'user', content: 'Stream the class of this sentence, word by word please.' }];
  const whole = await c.openai<Chat>('/v1/chat/completions', { messages });
  const started = performance.now();
  const s = c.openaiStream<{ choices: Array<{ delta: { content?: string }; finish_reason: string | null }> }>(
    '/v1/chat/completions',
    { messages },
  );
  const times: number[] = [];
  let text = '';
  for await (const chunk of s) {
    times.push(performance.now() - started);
    text += chunk.choices[0]?.delta.content ?? '';
  }
  const { raw, receipt } = await s.done;
  // the same answer, in pieces: a chunk a word and the final one
  t.is(text, whole.json.choices[0]?.message.content ?? '(none)');
  t.is(raw.length, text.split(' ').length + 1);
  t.is(times.length, raw.length);
  // the first piece came while the server was still generating (40 ms a chunk), not all at the end
  t.true(times[0]! < times.at(-1)! - 60, `first chunk at ${times[0]} ms, last at ${times.at(-1)} ms`);
  const rc = receipt.receipt;
  // SHA-256 over the chunks, each after its length (4 bytes big-endian)
  const framed = raw.flatMap((b) => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length);
    return [n, b];
  });
  t.is(rc.outputHash, contentHash(Buffer.concat(framed)));
  const sent = JSON.stringify({ path: '/v1/chat/completions', body: { messages, model: MODEL, stream: true } });
  t.is(rc.inputHash, contentHash(Buffer.from(sent)));
  t.true(rc.deviceTimeUs >= 40_000 * (raw.length - 1), 'device time spans the generation');
  // no usage asked for: none in the stream, none in the receipt
  t.deepEqual([rc.inputTokens, rc.outputTokens], [0, 0]);
  const metrics = await f.gateway.metrics.registry.metrics();
  t.regex(metrics, /nvdax_gateway_requests_total\{method="InferStream",code="OK"\} 1/);

  // asked for: the server's last chunk carries the usage (no choices), and the receipt signs its counts
  const counted = c.openaiStream<{ choices: unknown[]; usage?: { prompt_tokens: number; completion_tokens: number } }>(
    '/v1/chat/completions',
    { messages, stream_options: { include_usage: true } },
  );
  const chunks = [];
  for await (const chunk of counted) chunks.push(chunk);
  const usage = chunks.at(-1)?.usage;
  t.deepEqual(chunks.at(-1)?.choices, []);
  t.deepEqual(
    [usage?.prompt_tokens, usage?.completion_tokens],
    [whole.json.usage.prompt_tokens, whole.json.usage.completion_tokens],
  );
  const end = (await counted.done).receipt.receipt;
  t.deepEqual(
    [end.inputTokens, end.outputTokens],
    [whole.json.usage.prompt_tokens, whole.json.usage.completion_tokens],
  );
});

test('streams: refused where they cannot be (embeddings, a tensor backend); leaving the loop cancels the model server', async (t) => {
  // 3 s a chunk: a cancel must reach the model server while the gateway waits for the next one, not at it
  const f = await startFixture({ backend: 'openai', chunkDelayMs: 3000 });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const emb = c.openaiStream('/v1/embeddings' as '/v1/completions', { input: 'x' });
  const e = await t.throwsAsync(
    (async () => {
      for await (const _ of emb);
    })(),
    { instanceOf: GatewayCallError },
  );
  t.is(e.code, status.INVALID_ARGUMENT);
  t.regex(e.detail ?? '', /embeddings does not stream/);
  await t.throwsAsync(emb.done, { instanceOf: GatewayCallError });

  // leave after the first chunk: the call is cancelled, the gateway counts it so and frees the slot
  const long = c.openaiStream('/v1/completions', { prompt: 'one two three four five six seven eight nine ten' });
  for await (const _ of long) break;
  const cancelled = async () =>
    /nvdax_gateway_requests_total\{method="InferStream",code="CANCELLED"\} 1/.test(
      await f.gateway.metrics.registry.metrics(),
    );
  // (the model server sees its request end when its socket closes, a moment after the gateway counts the cancel;
  // both within 2.5 s, before its next chunk was due)
  const seen = async () => (await cancelled()) && f.openaiServer!.aborted() === 1;
  for (let i = 0; i < 25 && !(await seen()); i++) await new Promise((r) => setTimeout(r, 100));
  t.true(await cancelled(), 'the gateway saw the cancel');
  t.is(f.openaiServer!.aborted(), 1, 'the model server stopped generating before its next chunk');
  t.regex(await f.gateway.metrics.registry.metrics(), /nvdax_gateway_inflight_requests 0/);
  // the session goes on
  t.truthy((await c.openai('/v1/completions', { prompt: 'still here' })).json);

  const v2 = await startFixture();
  t.teardown(() => v2.close());
  const cv = await v2.connect();
  t.teardown(() => cv.close());
  t.throws(() => cv.openaiStream('/v1/completions', { prompt: 'a' }), { instanceOf: CapabilityError });
});

test('a reader that stalls under flow control, then leaves: the gateway stops the backend and frees the slot; done rejects', async (t) => {
  let produced = 0;
  let finished = false;
  const big = Buffer.from(JSON.stringify({ t: 'x'.repeat(256 * 1024) }));
  const f = await startFixture({
    backend: 'openai',
    wrap: (b) =>
      wrapBackend(b, {
        // 200 chunks of 256 KiB, as fast as the gateway takes them
        async *inferStream() {
          try {
            for (let i = 0; i < 200; i++) {
              produced++;
              yield big;
            }
          } finally {
            finished = true;
          }
        },
      }),
  });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  const s = c.openaiStream('/v1/completions', { prompt: 'x' });
  const it = s[Symbol.asyncIterator]();
  await it.next();
  await new Promise((r) => setTimeout(r, 1500)); // the HTTP/2 window fills: the gateway waits to send
  t.true(produced < 200, `flow control held the backend back (${produced} of 200 made)`);
  await it.return?.(undefined); // leave the loop: the call is cancelled
  const metrics = () => f.gateway.metrics.registry.metrics();
  for (let i = 0; i < 30 && !/nvdax_gateway_inflight_requests 0/.test(await metrics()); i++)
    await new Promise((r) => setTimeout(r, 100));
  t.regex(await metrics(), /nvdax_gateway_inflight_requests 0/, 'the slot is free again');
  t.regex(await metrics(), /nvdax_gateway_requests_total\{method="InferStream",code="CANCELLED"\} 1/);
  t.true(finished, 'the backend stream was closed');
  const e = await t.throwsAsync(s.done, { instanceOf: GatewayCallError });
  t.is(e.code, status.CANCELLED);
});

test('a requester that gives up on a whole answer (Infer) stops the model server too', async (t) => {
  const f = await startFixture({ backend: 'openai', answerDelayMs: 3000 });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  // the requester gives up 200 ms into a 3 s answer, well before its own 10 s deadline
  const pending = c.openai(
    '/v1/completions',
    { prompt: 'slow' },
    { timeoutMs: 10_000, signal: AbortSignal.timeout(200) },
  );
  const e = await t.throwsAsync(pending, { instanceOf: GatewayCallError });
  t.is(e.code, status.CANCELLED);
  for (let i = 0; i < 15 && f.openaiServer!.aborted() === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.is(f.openaiServer!.aborted(), 1, 'the model server’s request was aborted before its answer');
  t.regex(
    await f.gateway.metrics.registry.metrics(),
    /nvdax_gateway_requests_total\{method="Infer",code="CANCELLED"\} 1/,
  );
});

test('an answered call is no cancel: the signal the backend got stays unaborted after the call ends (Infer and InferStream)', async (t) => {
  // grpc-js emits 'cancelled' on every call once its stream closes; an abort then would be a DOMException (a
  // stack trace) per request, and a backend that watched the signal would see a cancel that never was
  const signals: AbortSignal[] = [];
  const f = await startFixture({
    backend: 'openai',
    wrap: (b) =>
      wrapBackend(b, {
        infer: (req, o) => {
          if (o?.signal) signals.push(o.signal);
          return b.infer(req, o);
        },
        inferStream: (req, o) => {
          if (o?.signal) signals.push(o.signal);
          return (b.inferStream as NonNullable<typeof b.inferStream>)(req, o);
        },
      }),
  });
  t.teardown(() => f.close());
  const c = await f.connect();
  t.teardown(() => c.close());
  await c.openai('/v1/completions', { prompt: 'one' });
  const s = c.openaiStream('/v1/completions', { prompt: 'two' });
  for await (const _ of s);
  await s.done;
  await new Promise((r) => setTimeout(r, 200)); // past the streams' close
  t.is(signals.length, 2);
  t.deepEqual(
    signals.map((x) => x.aborted),
    [false, false],
  );
});
