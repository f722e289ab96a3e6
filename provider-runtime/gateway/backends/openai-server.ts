// A plain (unencrypted) OpenAI-protocol HTTP server over an Open Inference Protocol backend (the embedded ONNX
// model): what the openai backend talks to in tests, standing in for vLLM or TGI, which need a GPU and a Python
// registry this project's machines do not have. The model is the project's small classifier, so the answers
// are what it computes, not language: a text becomes 256 features (its UTF-8 bytes hashed into buckets);
// /v1/embeddings answers the model's 4 outputs, /v1/chat/completions and /v1/completions the top class in words.
// It serves the subset of the API the gateway forwards, with OpenAI's error shape, `usage`, server-sent events
// for stream: true (a chunk a word, then [DONE]), /health and /v1/models. Never expose it outside the pod.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { protos } from '../proto.ts';
import { type Backend, BackendError } from './backend.ts';
import type { RunningServer } from './v2server.ts';

/** The model's input: `text`'s UTF-8 bytes counted into 256 buckets by value and position, scaled by length. */
export function textFeatures(text: string): Float32Array {
  const f = new Float32Array(256);
  const bytes = Buffer.from(text, 'utf8');
  bytes.forEach((b, i) => {
    const k = (b + 31 * i) % 256;
    f[k] = (f[k] ?? 0) + 1;
  });
  if (bytes.length) for (let k = 0; k < 256; k++) f[k] = (f[k] ?? 0) / bytes.length;
  return f;
}

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

class HttpError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface OpenAIServerOptions {
  host?: string;
  /** 0: a free port. */
  port?: number;
  /** The model name served (the body's `model`); default: the backend's. */
  modelName?: string;
  /** The model's input and output tensor names (default x and y, as hack/model makes it). */
  input?: string;
  output?: string;
  /** Largest request body, bytes (default 4 MiB; over it: HTTP 413). */
  maxBodyBytes?: number;
  /** With stream: true, the wait between two chunks (default 0), as a model's time per token. */
  chunkDelayMs?: number;
  /** Without stream, the wait before the answer (default 0), as a model's generation time. */
  answerDelayMs?: number;
}

export interface OpenAIServer extends RunningServer {
  /** Answers whose client went away before the end (counted when the connection closed; generation stops). */
  aborted(): number;
}

export async function serveOpenAI(backend: Backend, o: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  let aborted = 0;
  const v2 = protos().v2.inference;
  const name = o.modelName ?? backend.modelName;
  const max = o.maxBodyBytes ?? 4 * 1024 * 1024;
  /** The model's outputs for each text, a row each. */
  const run = async (texts: string[]): Promise<number[][]> => {
    const data = new Float32Array(texts.length * 256);
    for (const [i, t] of texts.entries()) data.set(textFeatures(t), i * 256);
    const { response } = await backend.infer(
      v2.ModelInferRequest.serialize({
        modelName: backend.modelName,
        inputs: [{ name: o.input ?? 'x', datatype: 'FP32', shape: [texts.length, 256] }],
        rawInputContents: [Buffer.from(data.buffer)],
      }),
    );
    const res = v2.ModelInferResponse.deserialize(response);
    const i = res.outputs.findIndex((x) => x.name === (o.output ?? 'y'));
    const raw = res.rawOutputContents[i];
    if (!raw) throw new Error('the model answered no output');
    const out = new Float32Array(raw.length / 4);
    new Uint8Array(out.buffer).set(raw);
    const width = out.length / texts.length;
    return texts.map((_, r) => Array.from(out.subarray(r * width, (r + 1) * width)));
  };
  const reply = (p: number[]): string => {
    const top = p.indexOf(Math.max(...p));
    return `class ${top} (p=${(p[top] ?? 0).toFixed(4)})`;
  };
  const text = (v: unknown, field: string): string => {
    if (typeof v === 'string') return v;
    // chat content parts: [{type: "text", text}]
    if (Array.isArray(v))
      return v
        .map((x) => (typeof x === 'object' && x && 'text' in x ? String((x as { text: unknown }).text) : ''))
        .join('');
    throw new HttpError(400, `${field} must be a string`);
  };

  const handle = async (path: string, body: Record<string, unknown>): Promise<unknown> => {
    if (body['model'] !== name) throw new HttpError(404, `The model \`${String(body['model'])}\` does not exist.`);
    if (body['stream'] !== undefined && typeof body['stream'] !== 'boolean')
      throw new HttpError(400, 'stream must be a boolean');
    const created = Math.floor(Date.now() / 1000);
    if (path === '/v1/embeddings') {
      const input = body['input'];
      const texts =
        typeof input === 'string' ? [input] : Array.isArray(input) ? input.map((x) => text(x, 'input')) : [];
      if (!texts.length) throw new HttpError(400, 'input must be a string or a non-empty array of strings');
      const rows = await run(texts);
      const n = texts.reduce((s, t) => s + words(t), 0);
      return {
        object: 'list',
        model: name,
        data: rows.map((embedding, index) => ({ object: 'embedding', index, embedding })),
        usage: { prompt_tokens: n, total_tokens: n },
      };
    }
    if (path === '/v1/chat/completions') {
      const messages = body['messages'];
      if (!Array.isArray(messages) || !messages.length) throw new HttpError(400, 'messages must be a non-empty array');
      const all = messages.map((m, i) => text((m as { content?: unknown })?.content, `messages[${i}].content`));
      const [p] = await run([all.at(-1) ?? '']);
      const content = reply(p ?? []);
      const prompt = all.reduce((s, t) => s + words(t), 0);
      return {
        id: `chatcmpl-${created}`,
        object: 'chat.completion',
        created,
        model: name,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: prompt, completion_tokens: words(content), total_tokens: prompt + words(content) },
      };
    }
    if (path === '/v1/completions') {
      const prompt = text(body['prompt'], 'prompt');
      const [p] = await run([prompt]);
      const content = reply(p ?? []);
      return {
        id: `cmpl-${created}`,
        object: 'text_completion',
        created,
        model: name,
        choices: [{ index: 0, text: content, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: words(prompt),
          completion_tokens: words(content),
          total_tokens: words(prompt) + words(content),
        },
      };
    }
    throw new HttpError(404, `no route ${path}`);
  };

  const send = (res: ServerResponse, code: number, v: unknown) => {
    const b = Buffer.from(JSON.stringify(v));
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
  };
  const fail = (res: ServerResponse, e: unknown) => {
    const code = e instanceof HttpError ? e.code : e instanceof BackendError ? 400 : 500;
    send(res, code, {
      error: { message: e instanceof Error ? e.message : String(e), type: 'invalid_request_error', code },
    });
  };
  /** Whether the client went away before the answer ended; counted in `aborted` when it does. */
  const watchGone = (res: ServerResponse): (() => boolean) => {
    let gone = false;
    res.on('close', () => {
      if (res.writableFinished) return;
      gone = true;
      aborted++;
    });
    return () => gone;
  };
  /**
   * The answer as server-sent events, as vLLM streams it: a chunk a word, then, when the request asked
   * `stream_options.include_usage`, a chunk with no choices and the usage, then [DONE].
   */
  const stream = async (res: ServerResponse, path: string, whole: unknown, includeUsage: boolean) => {
    if (path === '/v1/embeddings') return fail(res, new HttpError(400, 'embeddings do not stream'));
    const a = whole as {
      id: string;
      created: number;
      choices: Array<{ message?: { content: string }; text?: string }>;
      usage: unknown;
    };
    const text = a.choices[0]?.message?.content ?? a.choices[0]?.text ?? '';
    const chat = path === '/v1/chat/completions';
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const words = text.split(/(?<= )/);
    const gone = watchGone(res);
    for (const [i, w] of words.entries()) {
      if (gone()) return;
      const choice = chat
        ? { index: 0, delta: i === 0 ? { role: 'assistant', content: w } : { content: w }, finish_reason: null }
        : { index: 0, text: w, finish_reason: null };
      const chunk = {
        id: a.id,
        object: chat ? 'chat.completion.chunk' : 'text_completion',
        created: a.created,
        model: name,
        choices: [choice],
      };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      if (o.chunkDelayMs) await new Promise((r) => setTimeout(r, o.chunkDelayMs));
    }
    const last = chat ? { index: 0, delta: {}, finish_reason: 'stop' } : { index: 0, text: '', finish_reason: 'stop' };
    const head = {
      id: a.id,
      object: chat ? 'chat.completion.chunk' : 'text_completion',
      created: a.created,
      model: name,
    };
    res.write(`data: ${JSON.stringify({ ...head, choices: [last] })}\n\n`);
    if (includeUsage) res.write(`data: ${JSON.stringify({ ...head, choices: [], usage: a.usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/health') return void res.writeHead(200).end();
    if (req.method === 'GET' && path === '/v1/models')
      return send(res, 200, { object: 'list', data: [{ id: name, object: 'model', owned_by: 'nvdax' }] });
    if (req.method !== 'POST') return fail(res, new HttpError(405, `${req.method} ${path}: only POST`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on('end', () => {
      if (size > max) return fail(res, new HttpError(413, `the body is over ${max} bytes`));
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return fail(res, new HttpError(400, 'the body is not JSON'));
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return fail(res, new HttpError(400, 'the body must be a JSON object'));
      const b = body as Record<string, unknown>;
      handle(path, b).then(
        async (v) => {
          if (b['stream'] === true)
            return stream(res, path, v, (b['stream_options'] as { include_usage?: unknown })?.include_usage === true);
          if (o.answerDelayMs) {
            const gone = watchGone(res);
            await new Promise((r) => setTimeout(r, o.answerDelayMs));
            if (gone()) return;
          }
          send(res, 200, v);
        },
        (e) => fail(res, e),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  return {
    aborted: () => aborted,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
