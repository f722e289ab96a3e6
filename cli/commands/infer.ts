// nvdax infer: one confidential inference through a job's gateway with the requester SDK
// (provider-runtime/sdk): attest the gateway (evidence checked against the given keys and init-data digest),
// check its signed capability, open a session with the requester's key, send the input sealed, decrypt the
// answer and verify its receipt. A job behind the OpenAI protocol (vLLM, TGI) takes --chat or --openai instead of
// tensors. The SDK (and with it gRPC and ethers) is loaded on first use.
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../hub.ts';
import type { Command, Io } from '../io.ts';
import type { GatewaySignedReceipt } from '../../provider-runtime/gateway/signing.ts';

const usage =
  'nvdax infer --gateway HOST:PORT (--input FILE | --values V,V,… --shape N,N | --chat TEXT | --openai PATH --body FILE) ' +
  '--attester-jwks F | --ear-jwks F';
const OPENAI_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;

interface InputTensor {
  name: string;
  shape: number[];
  data: number[];
}

/** --input: JSON `{"inputs": [{"name", "shape", "data"}]}` (FP32), or - for standard input. */
export function parseInputs(text: string, from: string): InputTensor[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CliError(`nvdax infer: ${from}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const inputs = (doc as { inputs?: unknown })?.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw new CliError(`nvdax infer: ${from}: expected {"inputs": [{"name", "shape", "data"}, …]}`);
  return inputs.map((x, i) => {
    const t = x as Partial<InputTensor>;
    if (typeof t.name !== 'string' || !Array.isArray(t.shape) || !Array.isArray(t.data))
      throw new CliError(`nvdax infer: ${from}: inputs[${i}] needs name, shape and data`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0) || count !== t.data.length)
      throw new CliError(
        `nvdax infer: ${from}: inputs[${i}]: shape [${t.shape.join(',')}] needs ${count} values, got ${t.data.length}`,
      );
    return { name: t.name, shape: t.shape, data: t.data.map(Number) };
  });
}

function readJson(io: Io, file: string, flag: string): unknown {
  try {
    return JSON.parse(io.readFile(file));
  } catch (e) {
    throw new CliError(`nvdax infer: ${flag} ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export const inferCommand: Command = {
  name: 'infer',
  summary: "send one confidential inference to a job's gateway (attest, encrypt, verify the receipt)",
  usage,
  builder: (y) =>
    y
      .option('gateway', {
        type: 'string',
        demandOption: true,
        requiresArg: true,
        describe: "the job's gateway, HOST:PORT",
      })
      .option('input', {
        alias: 'i',
        type: 'string',
        requiresArg: true,
        describe: 'JSON {"inputs": [{"name", "shape", "data"}]} (- reads standard input)',
      })
      .option('values', {
        type: 'string',
        requiresArg: true,
        describe: 'one FP32 input: comma-separated values (with --shape)',
      })
      .option('shape', { type: 'string', requiresArg: true, describe: 'its shape, e.g. 1,256' })
      .option('input-name', { type: 'string', default: 'x', requiresArg: true, describe: 'its name' })
      .option('chat', {
        type: 'string',
        requiresArg: true,
        conflicts: ['openai', 'input', 'values'],
        describe:
          'an OpenAI-protocol job (vLLM, TGI): send this as one user message to /v1/chat/completions; the reply prints as it is generated (-o json: whole)',
      })
      .option('openai', {
        choices: [...OPENAI_PATHS],
        requiresArg: true,
        conflicts: ['input', 'values'],
        describe: 'an OpenAI-protocol job: the endpoint for --body',
      })
      .option('body', {
        type: 'string',
        requiresArg: true,
        describe: "the OpenAI request's JSON body (with --openai; - reads standard input)",
      })
      .option('key-file', {
        type: 'string',
        requiresArg: true,
        describe: "the requester's private key (hex); default $NVDAX_REQUESTER_KEY",
      })
      .option('attester-jwks', {
        type: 'string',
        requiresArg: true,
        describe: 'development attester keys {"ear", "nras"} (simulated clusters; implies --allow-development)',
      })
      .option('ear-jwks', { type: 'string', requiresArg: true, describe: "Trustee's EAR signing keys (JWKS)" })
      .option('nras-jwks', {
        type: 'string',
        requiresArg: true,
        describe: "NVIDIA NRAS's keys (JWKS), for GPU evidence",
      })
      .option('allow-development', { type: 'boolean', default: false, describe: 'accept sample (no-TEE) evidence' })
      .option('init-data-digest', {
        type: 'string',
        requiresArg: true,
        describe: "the pod's init-data digest (job status); omitted: not checked",
      })
      .option('provider', {
        type: 'string',
        requiresArg: true,
        describe: 'the provider the job was placed with (address)',
      })
      .option('job', { type: 'string', requiresArg: true, describe: 'the job, NAMESPACE/NAME' })
      .option('model-hash', { type: 'string', requiresArg: true, describe: 'the model the job pins (0x + SHA-256)' })
      .option('max-price', {
        type: 'string',
        requiresArg: true,
        describe: 'refuse a price per request above this (wei)',
      })
      .option('chain-id', {
        type: 'string',
        requiresArg: true,
        describe: 'settlement chain id the capability must be signed for',
      })
      .option('settlement-address', { type: 'string', requiresArg: true, describe: 'Settlement contract address' })
      .option('timeout', {
        type: 'number',
        describe: 'seconds per call (default 30; 600 for --chat and --openai, whose answers can take minutes)',
      })
      .option('output', { alias: 'o', choices: ['text', 'json'], default: 'text', describe: 'output format' })
      .example(
        'nvdax infer --gateway 127.0.0.1:8443 --values 0.1,0.2,… --shape 1,256 --attester-jwks jwks.json',
        'one inference against a simulated cluster',
      )
      .example(
        'nvdax infer --gateway chat.example:8443 --chat "Summarize this contract" --ear-jwks trustee.json',
        'a chat turn with a vLLM or TGI job; the reply is decrypted and the receipt checked',
      )
      .epilog(
        'Every refusal names what failed: the capability field, the attestation claim, the envelope or the receipt field.\n' +
          'Exit codes: 0 answered and verified; 1 refused or failed; 2 wrong arguments.',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(inferCommand, args, io);
    if ('code' in parsed) return parsed.code;
    try {
      return await infer(parsed.argv, io);
    } catch (e) {
      if (e instanceof CliError) {
        io.err(e.message);
        return 1;
      }
      const { AttestationError, CapabilityError, EnvelopeError, ReceiptError, GatewayCallError } = await import(
        '../../provider-runtime/sdk/client.ts'
      );
      if (
        e instanceof AttestationError ||
        e instanceof CapabilityError ||
        e instanceof EnvelopeError ||
        e instanceof ReceiptError ||
        e instanceof GatewayCallError
      ) {
        io.err(`nvdax infer: refused: ${e.message}`);
        return 1;
      }
      throw e;
    }
  },
};

async function infer(a: Record<string, unknown>, io: Io): Promise<number> {
  const { Wallet } = await import('ethers');
  const sdk = await import('../../provider-runtime/sdk/client.ts');
  let inputs: InputTensor[] = [];
  let openai: { path: (typeof OPENAI_PATHS)[number]; body: Record<string, unknown> } | undefined;
  if (typeof a['chat'] === 'string') {
    openai = { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: a['chat'] }] } };
  } else if (typeof a['openai'] === 'string') {
    const from = a['body'];
    if (typeof from !== 'string') throw new CliError('nvdax infer: --openai needs --body FILE (- for standard input)');
    const body = readJsonText(from === '-' ? await io.readStdin() : io.readFile(from), `--body ${from}`);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new CliError(`nvdax infer: --body ${from}: must be a JSON object (the OpenAI request body)`);
    openai = { path: a['openai'] as (typeof OPENAI_PATHS)[number], body: body as Record<string, unknown> };
  } else if (typeof a['input'] === 'string') {
    const f = a['input'];
    inputs = parseInputs(f === '-' ? await io.readStdin() : io.readFile(f), `--input ${f}`);
  } else if (typeof a['values'] === 'string' && typeof a['shape'] === 'string') {
    const data = a['values'].split(',').map(Number);
    const shape = a['shape'].split(',').map(Number);
    inputs = parseInputs(JSON.stringify({ inputs: [{ name: a['input-name'], shape, data }] }), '--values');
  } else
    throw new CliError('nvdax infer: give --input FILE, --values with --shape, --chat TEXT, or --openai with --body');

  const keyText =
    typeof a['key-file'] === 'string' ? io.readFile(a['key-file']) : (io.env ?? process.env)['NVDAX_REQUESTER_KEY'];
  if (!keyText)
    throw new CliError(
      "nvdax infer: no key: pass --key-file FILE or set $NVDAX_REQUESTER_KEY (the requester's private key)",
    );
  const hex = keyText.trim().replace(/^(0x)?/, '0x');
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
    throw new CliError('nvdax infer: the requester key is not a private key (64 hex digits)');

  let earJwks: unknown;
  let nrasJwks: unknown;
  let development = a['allow-development'] === true;
  if (typeof a['attester-jwks'] === 'string') {
    const j = readJson(io, a['attester-jwks'], '--attester-jwks') as { ear?: unknown; nras?: unknown };
    earJwks = j.ear;
    nrasJwks = j.nras;
    development = true;
  }
  if (typeof a['ear-jwks'] === 'string') earJwks = readJson(io, a['ear-jwks'], '--ear-jwks');
  if (typeof a['nras-jwks'] === 'string') nrasJwks = readJson(io, a['nras-jwks'], '--nras-jwks');
  if (!earJwks) throw new CliError("nvdax infer: give --ear-jwks (Trustee's keys) or --attester-jwks (development)");
  const { DEV_GPU } = await import('../../provider-runtime/attester/attester.ts');
  const digest = a['init-data-digest'] as string | undefined;
  let job: { namespace: string; name: string } | undefined;
  if (typeof a['job'] === 'string') {
    const [namespace, name, extra] = a['job'].split('/');
    if (!namespace || !name || extra !== undefined) throw new CliError('nvdax infer: --job must be NAMESPACE/NAME');
    job = { namespace, name };
  }
  const c = await sdk.ConfidentialClient.connect({
    address: a['gateway'] as string,
    requester: new Wallet(hex),
    policy: {
      earJwks: earJwks as never,
      ...(nrasJwks ? { nrasJwks: nrasJwks as never } : {}),
      ...(development
        ? {
            allowDevelopment: true,
            gpu: { driverVersions: [DEV_GPU.driverVersion], vbiosVersions: [DEV_GPU.vbiosVersion] },
          }
        : {}),
      ...(digest ? {} : { initDataOptional: true }),
    },
    ...(digest ? { expected: { initDataDigest: digest } } : {}),
    ...(typeof a['provider'] === 'string' ? { provider: a['provider'] } : {}),
    ...(job ? { job } : {}),
    ...(typeof a['model-hash'] === 'string' ? { modelHash: a['model-hash'] } : {}),
    ...(typeof a['max-price'] === 'string' ? { maxPricePerRequest: a['max-price'] } : {}),
    ...(typeof a['chain-id'] === 'string' ? { chainId: a['chain-id'] } : {}),
    ...(typeof a['settlement-address'] === 'string' ? { settlement: a['settlement-address'] } : {}),
    timeoutMs: Number(a['timeout'] ?? 30) * 1000,
    // one request: its answer waits for the receipt check, so "verified" below is said after it passed
    receipts: 'verify',
  });
  try {
    if (openai)
      return await openAI(
        c,
        openai,
        a,
        io,
        a['timeout'] === undefined ? {} : { timeoutMs: Number(a['timeout']) * 1000 },
      );
    const r = await c.infer({
      inputs: inputs.map((t) => ({ name: t.name, datatype: 'FP32', shape: t.shape })),
      rawInputContents: inputs.map((t) => Buffer.from(Float32Array.from(t.data).buffer)),
    });
    const outputs = Object.fromEntries(
      Object.entries(sdk.fp32Outputs(r.response)).map(([k, v]) => [k, { shape: v.shape, data: [...v.data] }]),
    );
    const cap = c.capability;
    if (a['output'] === 'json') {
      io.out(
        JSON.stringify(
          {
            attestation: {
              tee: cap.attestation.teeType,
              development: cap.attestation.development,
              gpuAttested: cap.attestation.gpuAttested,
              evidenceHash: cap.attestation.evidenceHash,
            },
            job: cap.jobName,
            model: { name: cap.modelName, hash: cap.statement.modelHash },
            provider: cap.statement.provider,
            outputs,
            receipt: await r.receipt,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const at = cap.attestation;
    io.out(
      `attested: ${at.teeType}${at.development ? ' (development: no TEE)' : ''}, GPU ${at.gpuAttested ? 'attested' : 'not attested'}, evidence ${at.evidenceHash}`,
    );
    io.out(`job ${cap.jobName}, model ${cap.modelName} ${cap.statement.modelHash}, provider ${cap.statement.provider}`);
    for (const [name, o] of Object.entries(outputs))
      io.out(`${name} [${o.shape.join(',')}]: ${o.data.map((v) => Number(v.toPrecision(6))).join(', ')}`);
    io.out(receiptLine(await r.receipt));
    return 0;
  } finally {
    c.close();
  }
}

/** JSON text, or a CliError naming where it came from. */
function readJsonText(text: string, from: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`nvdax infer: ${from}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

type Client = Awaited<ReturnType<typeof import('../../provider-runtime/sdk/client.ts').ConfidentialClient.connect>>;

/** A verified receipt in one line; the token counts are the signed ones (the model server's usage, 0 where none). */
function receiptLine(s: GatewaySignedReceipt): string {
  const rc = s.receipt;
  const tokens = rc.inputTokens || rc.outputTokens ? `, tokens ${rc.inputTokens} in / ${rc.outputTokens} out` : '';
  return `receipt ${rc.requestId} verified (${s.scheme}): ${rc.price} wei, latency ${rc.latencyUs} µs, device ${rc.deviceTimeUs} µs${tokens}`;
}

/** The attestation and the job, as the first two lines of a text answer. */
function whoAnswers(c: Client, io: Io): void {
  const cap = c.capability;
  const at = cap.attestation;
  io.out(
    `attested: ${at.teeType}${at.development ? ' (development: no TEE)' : ''}, GPU ${at.gpuAttested ? 'attested' : 'not attested'}, evidence ${at.evidenceHash}`,
  );
  io.out(`job ${cap.jobName}, model ${cap.modelName} ${cap.statement.modelHash}, provider ${cap.statement.provider}`);
}

/** --chat in text: the reply printed as it is generated (InferStream), then its receipt, verified. */
async function chatStream(
  c: Client,
  body: Record<string, unknown>,
  io: Io,
  opts: { timeoutMs?: number },
): Promise<number> {
  whoAnswers(c, io);
  // the last chunk then carries the token counts, and the receipt with it
  const counted = {
    ...body,
    stream_options: { ...(body['stream_options'] as object | undefined), include_usage: true },
  };
  const s = c.openaiStream<{ choices?: Array<{ delta?: { content?: unknown } }> }>(
    '/v1/chat/completions',
    counted,
    opts,
  );
  let text = '';
  for await (const chunk of s) {
    const piece = chunk.choices?.[0]?.delta?.content;
    if (typeof piece !== 'string' || piece === '') continue;
    if (io.write) io.write(piece);
    else text += piece;
  }
  if (io.write) io.write('\n');
  else io.out(text);
  const { raw, receipt } = await s.done;
  io.out(`${receiptLine(receipt)}, ${raw.length} chunks`);
  return 0;
}

/** One OpenAI-protocol request: prints the reply (text), or the whole answer with the receipt (json). */
async function openAI(
  c: Client,
  req: { path: (typeof OPENAI_PATHS)[number]; body: Record<string, unknown> },
  a: Record<string, unknown>,
  io: Io,
  opts: { timeoutMs?: number },
): Promise<number> {
  if (typeof a['chat'] === 'string' && a['output'] !== 'json') return chatStream(c, req.body, io, opts);
  const r = await c.openai<{ choices?: Array<{ message?: { content?: unknown }; text?: unknown }> }>(
    req.path,
    req.body,
    opts,
  );
  const cap = c.capability;
  if (a['output'] === 'json') {
    io.out(
      JSON.stringify({ job: cap.jobName, model: cap.modelName, answer: r.json, receipt: await r.receipt }, null, 2),
    );
    return 0;
  }
  whoAnswers(c, io);
  const choice = r.json.choices?.[0];
  const reply = choice?.message?.content ?? choice?.text;
  io.out(typeof reply === 'string' ? reply : JSON.stringify(r.json));
  io.out(receiptLine(await r.receipt));
  return 0;
}
