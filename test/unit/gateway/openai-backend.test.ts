// The OpenAI-protocol backend against a real HTTP server on loopback that answers as the test says: what it
// forwards (path, the model filled in, the bearer token), what it refuses before sending, and how the server's
// HTTP errors, a slow answer, an oversized answer and a closed port come back as gRPC codes.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { status } from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { BackendError } from '../../../provider-runtime/gateway/backends/backend.ts';
import {
  grpcCodeOfHttp,
  OpenAIBackend,
  parseOpenAIRequest,
  tokensOf,
} from '../../../provider-runtime/gateway/backends/openai.ts';

const HASH = `0x${'ab'.repeat(32)}`;
interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: string;
}

async function server(
  t: ExecutionContext,
  answer: (req: Seen, res: ServerResponse) => void,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        srv.close(() => r());
        srv.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen };
}

const json = (res: ServerResponse, code: number, v: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(v));
};
const req = (path: string, body: Record<string, unknown>) => Buffer.from(JSON.stringify({ path, body }));

function backend(
  t: ExecutionContext,
  url: string,
  extra: Partial<ConstructorParameters<typeof OpenAIBackend>[0]> = {},
) {
  const b = new OpenAIBackend({ url, modelName: 'qwen', modelHash: HASH, ...extra });
  t.teardown(() => b.close());
  return b;
}

test('forwards the body to the path under the base URL with the served model filled in; answers the bytes as sent', async (t) => {
  const answer = '{"id":"x",  "choices":[{"message":{"content":"hi"}}]}'; // odd spacing: passed through, not re-encoded
  const { url, seen } = await server(t, (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(answer);
  });
  let token: string | undefined = 'tok-1';
  const b = backend(t, `${url}/base/`, { token: () => token });
  t.is(b.protocol, 'OpenAI');
  const messages = [{ role: 'user', content: 'hello' }];
  const r = await b.infer(req('/v1/chat/completions', { messages }));
  t.is(r.response.toString('utf8'), answer);
  t.true(r.deviceTimeUs > 0);
  t.is(seen[0]?.method, 'POST');
  t.is(seen[0]?.url, '/base/v1/chat/completions');
  t.is(seen[0]?.auth, 'Bearer tok-1');
  t.deepEqual(JSON.parse(seen[0]?.body ?? ''), { messages, model: 'qwen' });
  // the requester may name the model; the token is read per call
  token = undefined;
  await b.infer(req('/v1/embeddings', { model: 'qwen', input: 'x' }));
  t.is(seen[1]?.url, '/base/v1/embeddings');
  t.is(seen[1]?.auth, undefined);
});

test('refused before anything is sent, naming the field: not JSON, another path, a stream, another model', async (t) => {
  const { url, seen } = await server(t, (_s, res) => json(res, 200, {}));
  const b = backend(t, url);
  const refused = async (plaintext: Buffer, code: status, message: RegExp) => {
    const e = await t.throwsAsync(b.infer(plaintext), { instanceOf: BackendError });
    t.is(e.code, code, e.message);
    t.regex(e.message, message);
  };
  await refused(Buffer.from('not json'), status.INVALID_ARGUMENT, /not JSON/);
  await refused(Buffer.from('[1]'), status.INVALID_ARGUMENT, /must be a JSON object/);
  await refused(req('/v1/files', {}), status.INVALID_ARGUMENT, /^path: must be one of \/v1\/chat\/completions/);
  await refused(Buffer.from('{"path":"/v1/completions","body":"x"}'), status.INVALID_ARGUMENT, /^body: must be/);
  // vLLM reads "true" and 1 as true too
  for (const stream of [true, 'true', 1])
    await refused(req('/v1/completions', { prompt: 'a', stream }), status.INVALID_ARGUMENT, /^body\.stream/);
  await refused(req('/v1/completions', { prompt: 'a', model: 7 }), status.INVALID_ARGUMENT, /^body\.model/);
  await refused(req('/v1/completions', { prompt: 'a', model: 'llama' }), status.NOT_FOUND, /"llama" is not served/);
  t.is(seen.length, 0, 'the model server saw none of them');
  t.throws(() => parseOpenAIRequest(Buffer.from('{"path":"/v1/completions"}')), { message: /^body: must be/ });
});

test("the server's HTTP errors come back with the matching gRPC code and its message (OpenAI's and TGI's shapes)", async (t) => {
  const answers: Array<[number, unknown]> = [
    [400, { error: { message: 'max_tokens is too large', type: 'invalid_request_error' } }],
    [429, { error: 'Model is overloaded' }],
    [503, 'upstream down'],
  ];
  const { url } = await server(t, (_s, res) => {
    const [code, body] = answers.shift()!;
    if (typeof body === 'string') {
      res.writeHead(code);
      res.end(body);
    } else json(res, code, body);
  });
  const b = backend(t, url);
  const one = () => t.throwsAsync(b.infer(req('/v1/completions', { prompt: 'a' })), { instanceOf: BackendError });
  const e400 = await one();
  t.is(e400.code, status.INVALID_ARGUMENT);
  t.is(e400.message, 'model server: HTTP 400: max_tokens is too large');
  const e429 = await one();
  t.is(e429.code, status.RESOURCE_EXHAUSTED);
  t.is(e429.message, 'model server: HTTP 429: Model is overloaded');
  const e503 = await one();
  t.is(e503.code, status.UNAVAILABLE);
  t.is(e503.message, 'model server: HTTP 503');
  t.deepEqual([401, 403, 404, 408, 413, 500, 501, 504, 418].map(grpcCodeOfHttp), [
    status.UNAUTHENTICATED,
    status.PERMISSION_DENIED,
    status.NOT_FOUND,
    status.DEADLINE_EXCEEDED,
    status.INVALID_ARGUMENT,
    status.INTERNAL,
    status.UNIMPLEMENTED,
    status.DEADLINE_EXCEEDED,
    status.UNKNOWN,
  ]);
});

test('an answer that is not application/json (an event stream, text) is refused, not sealed as the answer', async (t) => {
  const { url } = await server(t, (s, res) => {
    const kind = JSON.parse(s.body).prompt as string;
    res.writeHead(200, kind === 'sse' ? { 'content-type': 'text/event-stream' } : {});
    res.end(kind === 'sse' ? 'data: {"choices":[]}\n\n' : 'ok');
  });
  const b = backend(t, url);
  for (const [prompt, type] of [
    ['sse', /text\/event-stream/],
    ['bare', /untyped/],
  ] as const) {
    const e = await t.throwsAsync(b.infer(req('/v1/completions', { prompt })), { instanceOf: BackendError });
    t.is(e.code, status.INTERNAL);
    t.regex(e.message, type);
  }
});

test('a deadline, an answer over the limit and a closed port: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE', async (t) => {
  const { url } = await server(t, (s, res) => {
    if (JSON.parse(s.body).prompt === 'slow') return void setTimeout(() => json(res, 200, {}), 1000);
    json(res, 200, { text: 'x'.repeat(2048) });
  });
  const b = backend(t, url, { maxResponseBytes: 1024 });
  const slow = await t.throwsAsync(
    b.infer(req('/v1/completions', { prompt: 'slow' }), { deadline: Date.now() + 100 }),
    {
      instanceOf: BackendError,
    },
  );
  t.is(slow.code, status.DEADLINE_EXCEEDED);
  const past = await t.throwsAsync(b.infer(req('/v1/completions', { prompt: 'a' }), { deadline: Date.now() - 1 }), {
    instanceOf: BackendError,
  });
  t.is(past.code, status.DEADLINE_EXCEEDED);
  const big = await t.throwsAsync(b.infer(req('/v1/completions', { prompt: 'a' })), { instanceOf: BackendError });
  t.is(big.code, status.RESOURCE_EXHAUSTED);
  t.regex(big.message, /over 1024 bytes/);

  const closed = backend(t, 'http://127.0.0.1:9');
  const down = await t.throwsAsync(closed.infer(req('/v1/completions', { prompt: 'a' })), { instanceOf: BackendError });
  t.is(down.code, status.UNAVAILABLE);
  t.false(await closed.ready());
});

test('ready is the model server answering /health with 200', async (t) => {
  let healthy = false;
  const { url, seen } = await server(t, (_s, res) => {
    res.writeHead(healthy ? 200 : 503);
    res.end();
  });
  const b = backend(t, url);
  t.false(await b.ready());
  healthy = true;
  t.true(await b.ready());
  t.deepEqual(
    seen.map((s) => `${s.method} ${s.url}`),
    ['GET /health', 'GET /health'],
  );
  t.throws(() => new OpenAIBackend({ url: 'ftp://x', modelName: 'm', modelHash: HASH }), { message: /http\(s\)/ });
  t.throws(() => new OpenAIBackend({ url: 'http://x', modelName: 'm', modelHash: '0x1' }), { message: /modelHash/ });
});

test('inferStream: sends stream: true and yields each event’s data, across split writes, CRLF and multi-line data, to [DONE]', async (t) => {
  const { url, seen } = await server(t, (_s, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // one event split across writes, a comment line, CRLF endings, a two-line data field, then [DONE] and junk after
    res.write('data: {"i":0}\n\n: keep-alive\n\nda');
    setTimeout(() => {
      // "é" is two bytes in UTF-8: the first ends this write, the second starts the next
      const e = Buffer.from('é');
      res.write(Buffer.concat([Buffer.from('ta: {"i":1,"t":"'), e.subarray(0, 1)]));
      setTimeout(() => {
        res.write(e.subarray(1));
        res.write('"}\r\n\r\ndata: {"i":2,\r\ndata: "j":3}\r\n\r\n');
        res.end('data: [DONE]\n\ndata: {"after":true}\n\n');
      }, 10);
    }, 10);
  });
  const b = backend(t, url);
  const got: string[] = [];
  for await (const piece of b.inferStream(req('/v1/chat/completions', { messages: [] }))) got.push(piece.toString());
  t.deepEqual(got, ['{"i":0}', '{"i":1,"t":"é"}', '{"i":2,\n"j":3}']);
  t.deepEqual(JSON.parse(seen[0]?.body ?? ''), { messages: [], model: 'qwen', stream: true });
});

test('inferStream refuses: embeddings, a non-boolean stream, an answer that is not an event stream, an HTTP error, too much, no [DONE], an error event', async (t) => {
  const { url } = await server(t, (s, res) => {
    const p = JSON.parse(s.body).prompt as string;
    if (p === 'json') return json(res, 200, { choices: [] });
    if (p === 'bad') return json(res, 400, { error: { message: 'prompt too long' } });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // the server dies mid-answer, its last event cut short; or it reports an error after its 200
    if (p === 'cut') return res.end('data: {"i":0}\n\ndata: {"i":1}');
    if (p === 'error') return res.end('data: {"i":0}\n\ndata: {"error":{"message":"CUDA out of memory"}}\n\n');
    res.end(`data: ${JSON.stringify({ t: 'x'.repeat(2048) })}\n\n`);
  });
  const b = backend(t, url, { maxResponseBytes: 1024 });
  const drain = async (
    body: Record<string, unknown>,
    path: '/v1/completions' | '/v1/embeddings' = '/v1/completions',
  ) => {
    const e = await t.throwsAsync(
      (async () => {
        for await (const _ of b.inferStream(req(path, body)));
      })(),
      { instanceOf: BackendError },
    );
    return e;
  };
  const emb = await drain({ input: 'x' }, '/v1/embeddings');
  t.is(emb.code, status.INVALID_ARGUMENT);
  t.regex(emb.message, /does not stream/);
  t.regex((await drain({ prompt: 'a', stream: 'true' })).message, /^body\.stream: must be a boolean/);
  const json200 = await drain({ prompt: 'json' });
  t.is(json200.code, status.INTERNAL);
  t.regex(json200.message, /not text\/event-stream/);
  const http = await drain({ prompt: 'bad' });
  t.is(http.code, status.INVALID_ARGUMENT);
  t.is(http.message, 'model server: HTTP 400: prompt too long');
  const big = await drain({ prompt: 'big' });
  t.is(big.code, status.RESOURCE_EXHAUSTED);
  const cut = await drain({ prompt: 'cut' });
  t.is(cut.code, status.UNAVAILABLE);
  t.regex(cut.message, /ended before its 'data: \[DONE\]'/);
  const error = await drain({ prompt: 'error' });
  t.is(error.code, status.INTERNAL);
  t.is(error.message, 'model server: CUDA out of memory');
});

test("token counts are the answer's usage, or none: never a guess from a malformed one", (t) => {
  t.deepEqual(tokensOf({ usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } }), {
    input: 12,
    output: 5,
  });
  // embeddings: input only
  t.deepEqual(tokensOf({ usage: { prompt_tokens: 7, total_tokens: 7 } }), { input: 7, output: 0 });
  t.deepEqual(tokensOf({ usage: { prompt_tokens: 7, completion_tokens: null } }), { input: 7, output: 0 });
  // vLLM's chunks before the last say usage: null
  for (const v of [{}, { usage: null }, { usage: 'x' }, null, 3]) t.is(tokensOf(v), undefined, JSON.stringify(v));
  for (const bad of [
    { prompt_tokens: -1, completion_tokens: 1 },
    { prompt_tokens: 1.5, completion_tokens: 1 },
    { prompt_tokens: '3', completion_tokens: 1 },
    { completion_tokens: 4 },
    { prompt_tokens: 1, completion_tokens: 2 ** 53 },
  ])
    t.is(tokensOf({ usage: bad }), undefined, JSON.stringify(bad));
});

test('infer hands back the answer’s token counts; inferStream reports those of the chunk that carries them', async (t) => {
  const { url } = await server(t, (s, res) => {
    if (JSON.parse(s.body).stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n');
      res.write('data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1}}\n\n');
      return void res.end('data: [DONE]\n\n');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}');
  });
  const b = backend(t, url);
  const r = await b.infer(req('/v1/chat/completions', { messages: [] }));
  t.deepEqual(r.tokens, { input: 3, output: 2 });
  const seen: unknown[] = [];
  const pieces = [];
  for await (const p of b.inferStream(req('/v1/chat/completions', { messages: [] }), {
    onTokens: (x) => seen.push(x),
  }))
    pieces.push(p);
  t.is(pieces.length, 2, 'the usage chunk is passed on to the requester as it came');
  t.deepEqual(seen, [{ input: 9, output: 1 }]);
});

test('numbers reach the model server as the requester wrote them: no rounding past 2^53, no reformatting', async (t) => {
  const { url, seen } = await server(t, (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"choices":[]}');
  });
  const b = backend(t, url);
  // a seed past 2^53 that JSON.parse would round to 12345678901234567000, digits a double drops, an exponent
  const body =
    '{"path":"/v1/completions","body":{"prompt":"x","seed":12345678901234567891,"temperature":0.10000000000000000555,' +
    '"top_p":1.0,"logit_bias":{"50256":-100},"max_tokens":16,"n":1e0}}';
  await b.infer(Buffer.from(body));
  const sent = seen[0]?.body ?? '';
  for (const text of [
    '"seed":12345678901234567891',
    '"temperature":0.10000000000000000555',
    '"top_p":1.0',
    '"logit_bias":{"50256":-100}',
    '"max_tokens":16',
    '"n":1e0',
  ])
    t.true(sent.includes(text), `${text} in ${sent}`);
  t.is(JSON.parse(sent).model, 'qwen');
  // a number where a string or boolean belongs is still refused
  await t.throwsAsync(b.infer(Buffer.from('{"path":"/v1/completions","body":{"model":1.0}}')), {
    message: /body\.model: must be a string/,
  });
});
