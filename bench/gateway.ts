// The confidential inference gateway against the same model served plain: one run, the embedded ONNX
// backend (hack/model's MLP), 1 KiB and 64 KiB inputs, 1 and 16 concurrent clients; p50/p99 latency and
// requests per second for plain gRPC (Open Inference Protocol ModelInfer, no encryption) and for the attested,
// encrypted path (the SDK: seal → Infer → open → verify the receipt), and, reported apart, the same
// encrypted path with the KServe v2 backend (gateway → a separate model-server process over loopback gRPC).
// The servers run in child processes (as in a pod: gateway and model server apart from the requester); plain
// and encrypted rounds alternate so background load hits both alike. Writes bench/out/gateway.json and .md.
//
//   node bench/gateway.ts        (make bench-gateway)    BENCH_GATEWAY_SECONDS=3 per path and case
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateKeyPairSync } from 'node:crypto';
import { Client, credentials } from '@grpc/grpc-js';
import { Wallet } from 'ethers';
import { MODEL_PATH } from '../hack/model/make-model.ts';
import { initData } from '../operator/materialize/initdata.ts';
import { createDevAttester, devPolicy } from '../provider-runtime/attester/attester.ts';
import { KServeBackend } from '../provider-runtime/gateway/backends/kserve.ts';
import { OnnxBackend } from '../provider-runtime/gateway/backends/onnx.ts';
import { serveV2 } from '../provider-runtime/gateway/backends/v2server.ts';
import {
  Direction,
  deriveSessionKeys,
  newSessionId,
  open,
  seal,
  x25519KeyPair,
} from '../provider-runtime/gateway/envelope.ts';
import { protos } from '../provider-runtime/gateway/proto.ts';
import {
  type GatewaySignedReceipt,
  contentHashOf,
  requestIdOf,
  signReceiptEd25519,
  verifyGatewayReceipt,
} from '../provider-runtime/gateway/signing.ts';
import { Gateway, startGateway } from '../provider-runtime/gateway/service.ts';
import { ConfidentialClient, fp32Request } from '../provider-runtime/sdk/client.ts';
import { fmt, report } from './kit.ts';

const MODEL = 'mlp';
const CHAIN_ID = 31337n;
const SETTLEMENT = '0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e';
const PAYLOADS = [
  { name: '1KiB', rows: 1 },
  { name: '64KiB', rows: 64 },
];
const CONCURRENCY = [1, 16];
// the latency the encrypted path adds to one request: one client at a time. With 16 clients on this machine's
// CPUs, which requester and gateway share, a request waits behind the others' work, and that row measures
// throughput (added latency ≈ clients × added CPU per request / CPUs)
const TARGET = { addedP50Us: 250, addedP99Us: 1000, payload: '1KiB', clients: 1 };
const SECONDS = Number(process.env['BENCH_GATEWAY_SECONDS'] ?? 3);
const ROUNDS = 6;

// ------------------------------------------------------------------------------------------------ servers

interface Ready {
  port: number;
  gatewayPort?: number;
  ear?: unknown;
  nras?: unknown;
  initDigest?: string;
  provider?: string;
  modelHash?: string;
}

/** Child process: `--serve model` is a plain v2 model server; `--serve gateway [--kserve host:port]` the gateway. */
async function serve(kind: string, kserve?: string): Promise<void> {
  // the parent asks for this process's CPU time between measurements
  // (and it exits when the parent closes its standard input or goes away)
  createInterface({ input: process.stdin })
    .on('line', (l) => {
      if (l === 'cpu') {
        const u = process.cpuUsage();
        process.stdout.write(`${JSON.stringify({ cpuUs: u.user + u.system })}\n`);
      }
    })
    .on('close', () => process.exit(0));
  const onnx = await OnnxBackend.load(MODEL_PATH, { modelName: MODEL });
  const plain = await serveV2(onnx, { maxMessageBytes: 8 * 1024 * 1024 });
  if (kind === 'model') {
    process.stdout.write(`${JSON.stringify({ port: plain.port } satisfies Ready)}\n`);
    return;
  }
  const attester = await createDevAttester();
  const init = initData({ kbsUrl: 'http://trustee.nvdax-system:8080' });
  const provider = Wallet.createRandom();
  const backend = kserve ? new KServeBackend({ target: kserve, modelName: MODEL, modelHash: onnx.modelHash }) : onnx;
  const gateway = new Gateway({
    job: { namespace: 'bench', name: 'mlp' },
    backend,
    provider,
    evidence: (nonce, teePubKey) => attester.issue({ nonce, teePubKey, initData: init.toml }),
    pricePerRequest: '1000',
    chainId: CHAIN_ID,
    settlement: SETTLEMENT,
    // the benchmark measures the path, not the admission limits
    limits: { requesterRps: 0, jobRps: 0, maxConcurrentPerRequester: 1024, maxPayloadBytes: 1024 * 1024 },
  });
  const g = await startGateway(gateway);
  const ready: Ready = {
    port: plain.port,
    gatewayPort: g.port,
    ear: attester.jwks.ear,
    nras: attester.jwks.nras,
    initDigest: init.digest,
    provider: provider.address,
    modelHash: onnx.modelHash,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

const children: ChildProcess[] = [];

/** A server process: what it printed when ready, and its CPU time on demand. */
interface Child extends Ready {
  cpu(): Promise<number>;
}

function child(args: string[]): Promise<Child> {
  const p = spawn(process.execPath, [import.meta.filename, '--serve', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(p);
  const waiting: Array<(line: string) => void> = [];
  createInterface({ input: p.stdout! }).on('line', (l) => waiting.shift()?.(l));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  return new Promise((resolve, reject) => {
    p.once('exit', (code) => reject(new Error(`bench server ${args.join(' ')} exited with ${code}`)));
    next().then((l) =>
      resolve({
        ...(JSON.parse(l) as Ready),
        cpu: async () => {
          const answer = next();
          p.stdin!.write('cpu\n');
          return (JSON.parse(await answer) as { cpuUs: number }).cpuUs;
        },
      }),
    );
  });
}

const ownCpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

// ------------------------------------------------------------------------------------------------ clients

type Infer = (req: ReturnType<typeof fp32Request>) => Promise<unknown>;

function plainClient(port: number): { infer: Infer; close: () => void } {
  const v2 = protos().v2.inference;
  const c = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 8 * 1024 * 1024,
  });
  return {
    infer: (req) =>
      new Promise((resolve, reject) =>
        c.makeUnaryRequest(
          '/inference.GRPCInferenceService/ModelInfer',
          v2.ModelInferRequest.serialize,
          v2.ModelInferResponse.deserialize,
          { ...req, modelName: MODEL },
          // a deadline, as the SDK sets one on every call
          { deadline: Date.now() + 30_000 },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      ),
    close: () => c.close(),
  };
}

/** Latencies (µs) of as many requests as fit in `seconds`, `concurrency` at a time; and the wall time. */
async function measure(infer: Infer, rows: number, concurrency: number, seconds: number) {
  const data = Float32Array.from({ length: rows * 256 }, (_, i) => Math.sin(i));
  const req = fp32Request('x', data, [rows, 256]);
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await infer(req);
        lat.push((performance.now() - s) * 1000);
      }
    }),
  );
  return { lat, ms: performance.now() - t0 };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

interface Stats {
  p50: number;
  p99: number;
  rps: number;
  n: number;
  /** CPU time per request, µs: the requester's process and the servers' together. */
  cpuUs: number;
  /** The servers' part of it. */
  serverCpuUs: number;
}

interface Path {
  infer: Infer;
  /** The server processes the path runs through. */
  servers: Child[];
  /** Finishes the work a round left queued (the SDK's background receipt checks), inside the round's CPU. */
  settle?: () => Promise<void>;
}

/** Alternates the given paths round by round; pools each path's latencies and CPU time. */
async function compare(paths: Record<string, Path>, rows: number, concurrency: number): Promise<Record<string, Stats>> {
  const names = Object.keys(paths);
  for (const n of names) await measure(paths[n]!.infer, rows, concurrency, 0.2); // warm-up
  const lat: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const ms: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const cpu: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const serverCpuSum: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of r % 2 ? [...names].reverse() : names) {
      const path = paths[n]!;
      const serverCpu = async () => (await Promise.all(path.servers.map((c) => c.cpu()))).reduce((a, b) => a + b, 0);
      const sBefore = await serverCpu();
      const cBefore = ownCpu();
      const m = await measure(path.infer, rows, concurrency, SECONDS / ROUNDS);
      await path.settle?.();
      const cAfter = ownCpu();
      const sAfter = await serverCpu();
      lat[n]!.push(...m.lat);
      ms[n]! += m.ms;
      cpu[n]! += cAfter - cBefore + sAfter - sBefore;
      serverCpuSum[n]! += sAfter - sBefore;
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const s = lat[n]!.sort((a, b) => a - b);
      return [
        n,
        {
          p50: Math.round(pct(s, 50)),
          p99: Math.round(pct(s, 99)),
          rps: Math.round((s.length / ms[n]!) * 1000),
          n: s.length,
          cpuUs: Math.round(cpu[n]! / s.length),
          serverCpuUs: Math.round(serverCpuSum[n]! / s.length),
        },
      ];
    }),
  );
}

/**
 * The crypto and receipt work of one request, timed in this process without gRPC (the minimum of several
 * rounds, so a busy machine inflates it least): what the gateway adds on the path (open the request, hash it,
 * seal the answer, build and sign the receipt) and what the requester adds (seal, open, and the receipt check
 * the SDK does right after returning the answer).
 */
function components(rows: number): { gatewayUs: number; requesterUs: number; receiptCheckUs: number } {
  const g = x25519KeyPair();
  const q = x25519KeyPair();
  const id = newSessionId();
  const gk = deriveSessionKeys(g.privateKey, q.publicKey, g.publicKey, q.publicKey, id);
  const qk = deriveSessionKeys(q.privateKey, g.publicKey, g.publicKey, q.publicKey, id);
  const ed = generateKeyPairSync('ed25519');
  const v2 = protos().v2.inference;
  const data = Float32Array.from({ length: rows * 256 }, (_, i) => Math.sin(i));
  const request = fp32Request('x', data, [rows, 256], MODEL);
  const answer = Buffer.alloc(24 + rows * 16, 3);
  const provider = Wallet.createRandom().address;
  let seq = 0;
  const time = (f: () => void) => {
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      for (let i = 0; i < 500; i++) f();
      best = Math.min(best, ((performance.now() - t0) / 500) * 1000);
    }
    return Math.round(best);
  };
  let sealed: Buffer = Buffer.alloc(0);
  let body: Buffer = Buffer.alloc(0);
  let receipt: GatewaySignedReceipt | undefined;
  const sealRequest = () => {
    body = v2.ModelInferRequest.serialize(request);
    sealed = seal(qk.toGateway, Direction.request, id, ++seq, body);
  };
  const gateway = () => {
    const plain = open(gk.toGateway, Direction.request, id, seq, sealed);
    const r = {
      provider,
      job: `0x${'11'.repeat(32)}`,
      modelHash: `0x${'22'.repeat(32)}`,
      inputHash: contentHashOf(plain),
      outputHash: contentHashOf(answer),
      latencyUs: 100,
      deviceTimeUs: 50,
      price: '1000',
      requestId: requestIdOf(id, seq),
      gatewayKey: `0x${'33'.repeat(32)}`,
      time: Date.now(),
      inputTokens: 0,
      outputTokens: 0,
    };
    sealed = seal(gk.toRequester, Direction.answer, id, seq, answer);
    receipt = signReceiptEd25519(ed.privateKey, r);
  };
  const requesterOpen = () => {
    open(qk.toRequester, Direction.answer, id, seq, sealed);
  };
  const check = () => {
    verifyGatewayReceipt(
      receipt!,
      { provider, receiptKey: ed.publicKey },
      { inputHash: contentHashOf(body), outputHash: contentHashOf(answer) },
    );
  };
  const sealUs = time(sealRequest);
  const gatewayUs =
    time(() => {
      sealRequest();
      gateway();
    }) - sealUs;
  sealRequest();
  gateway();
  const openUs = time(requesterOpen);
  return { gatewayUs, requesterUs: sealUs + openUs, receiptCheckUs: time(check) };
}

async function main(): Promise<void> {
  const r = report('gateway');
  const parts = Object.fromEntries(PAYLOADS.map((p) => [p.name, components(p.rows)]));
  const model = await child(['model']);
  const embedded = await child(['gateway']);
  const viaKserve = await child(['gateway', '--kserve', `127.0.0.1:${model.port}`]);
  const connect = (ready: Ready, receipts: 'verify' | 'background') =>
    ConfidentialClient.connect({
      receipts,
      address: `127.0.0.1:${ready.gatewayPort}`,
      requester: Wallet.createRandom(),
      policy: devPolicy({ jwks: { ear: ready.ear as never, nras: ready.nras as never } }),
      expected: { initDataDigest: ready.initDigest! },
      provider: ready.provider!,
      modelHash: ready.modelHash!,
    });
  const conf = await connect(embedded, 'background');
  const confVerify = await connect(embedded, 'verify');
  const confK = await connect(viaKserve, 'background');
  const plain = plainClient(embedded.port);
  // the plain path once more, as a path of its own: what two identical paths differ by in the same run is the
  // resolution of every "added" figure (the A/A columns)
  const plainAgain = plainClient(embedded.port);
  const rows: Array<Record<string, string | number>> = [];
  const kserveRows: Array<Record<string, string | number>> = [];
  try {
    for (const p of PAYLOADS) {
      for (const c of CONCURRENCY) {
        const s = await compare(
          {
            plain: { infer: plain.infer, servers: [embedded] },
            plainAgain: { infer: plainAgain.infer, servers: [embedded] },
            confidential: { infer: (q) => conf.infer(q), servers: [embedded], settle: () => conf.settled() },
            verify: { infer: (q) => confVerify.infer(q), servers: [embedded] },
            kserve: { infer: (q) => confK.infer(q), servers: [viaKserve, model], settle: () => confK.settled() },
          },
          p.rows,
          c,
        );
        const { plain: pl, plainAgain: pa, confidential: co, verify: vf, kserve: ks } = s as Record<string, Stats>;
        rows.push({
          payload: p.name,
          payloadBytes: p.rows * 1024,
          concurrency: c,
          plainP50Us: pl!.p50,
          plainP99Us: pl!.p99,
          plainRps: pl!.rps,
          confidentialP50Us: co!.p50,
          confidentialP99Us: co!.p99,
          confidentialRps: co!.rps,
          addedP50Us: co!.p50 - pl!.p50,
          addedP99Us: co!.p99 - pl!.p99,
          aaP50Us: pa!.p50 - pl!.p50,
          aaP99Us: pa!.p99 - pl!.p99,
          verifyFirstP50Us: vf!.p50,
          verifyFirstP99Us: vf!.p99,
          verifyFirstRps: vf!.rps,
          verifyFirstAddedP50Us: vf!.p50 - pl!.p50,
          verifyFirstAddedP99Us: vf!.p99 - pl!.p99,
          plainCpuUs: pl!.cpuUs,
          confidentialCpuUs: co!.cpuUs,
          plainServerCpuUs: pl!.serverCpuUs,
          confidentialServerCpuUs: co!.serverCpuUs,
          addedCpuUs: co!.cpuUs - pl!.cpuUs,
          verifyFirstCpuUs: vf!.cpuUs,
          plainRequests: pl!.n,
          confidentialRequests: co!.n,
        });
        kserveRows.push({
          payload: p.name,
          payloadBytes: p.rows * 1024,
          concurrency: c,
          confidentialP50Us: ks!.p50,
          confidentialP99Us: ks!.p99,
          confidentialRps: ks!.rps,
          extraHopP50Us: ks!.p50 - co!.p50,
          extraHopP99Us: ks!.p99 - co!.p99,
          cpuUs: ks!.cpuUs,
          extraHopCpuUs: ks!.cpuUs - co!.cpuUs,
          requests: ks!.n,
        });
        console.error(
          `${p.name} ×${c}: plain ${pl!.p50}/${pl!.p99} µs, confidential ${co!.p50}/${co!.p99} µs, ` +
            `verify-first ${vf!.p50}/${vf!.p99} µs, kserve ${ks!.p50}/${ks!.p99} µs`,
        );
      }
    }
  } finally {
    await conf.settled();
    await confK.settled();
    conf.close();
    confVerify.close();
    confK.close();
    plain.close();
    plainAgain.close();
  }
  const one = rows.filter((x) => x['payload'] === TARGET.payload && x['concurrency'] === TARGET.clients);
  const met = one.every(
    (x) => Number(x['addedP50Us']) < TARGET.addedP50Us && Number(x['addedP99Us']) < TARGET.addedP99Us,
  );
  const load = loadavg();
  r.say('# Confidential gateway: the attested, encrypted path against plain gRPC (same model, same server process)');
  r.say();
  r.say(
    `Embedded ONNX Runtime backend (MLP 256→16→4, CPU), loopback, ${SECONDS} s per path and case in ${ROUNDS} ` +
      `alternating rounds; latency in µs; CPU = requester + server processes per request, µs. ${cpus().length} CPUs, ` +
      `load average ${load.map((l) => l.toFixed(1)).join(' ')} at the end.`,
  );
  r.say(
    `Target for 1 KiB, one client at a time: adds < ${TARGET.addedP50Us} µs at p50 and < ${TARGET.addedP99Us} µs at p99 — ` +
      `${met ? 'met' : 'NOT met'} in this run (added ${one.map((x) => `${fmt(Number(x['addedP50Us']))} / ${fmt(Number(x['addedP99Us']))}`).join(', ')} µs; ` +
      `the plain path against itself differed by ${one.map((x) => `${fmt(Number(x['aaP50Us']))} / ${fmt(Number(x['aaP99Us']))}`).join(', ')} µs: ` +
      'the A/A columns, what an "added" figure of this run can resolve). At 16 clients the CPUs the requester ' +
      "and the gateway share are saturated and a request waits behind the others' work: that row is the " +
      'throughput (req/s) and the CPU each request adds.',
  );
  r.say();
  const n = (x: Record<string, string | number>, k: string) => fmt(Number(x[k]));
  r.table(
    [
      'payload',
      'clients',
      'plain p50',
      'p99',
      'req/s',
      'CPU',
      'confidential p50',
      'p99',
      'req/s',
      'CPU',
      'added p50',
      'p99',
      'CPU',
      'A/A p50',
      'p99',
    ],
    rows.map((x) => [
      String(x['payload']),
      String(x['concurrency']),
      ...['plainP50Us', 'plainP99Us', 'plainRps', 'plainCpuUs'].map((k) => n(x, k)),
      ...['confidentialP50Us', 'confidentialP99Us', 'confidentialRps', 'confidentialCpuUs'].map((k) => n(x, k)),
      ...['addedP50Us', 'addedP99Us', 'addedCpuUs', 'aaP50Us', 'aaP99Us'].map((k) => n(x, k)),
    ]),
  );
  r.say('Crypto and receipt work per request, without gRPC (best of 5 rounds in one process), µs:');
  r.say();
  r.table(
    [
      'payload',
      'gateway (open, hash, seal, sign receipt)',
      'requester (seal, open)',
      'receipt check (after the answer)',
    ],
    PAYLOADS.map((p) => [
      p.name,
      fmt(parts[p.name]!.gatewayUs),
      fmt(parts[p.name]!.requesterUs),
      fmt(parts[p.name]!.receiptCheckUs),
    ]),
  );
  r.say('The SDK verifies each receipt after handing back the answer, once the next request is on its way (the');
  r.say('default; the answer itself is authenticated by AES-GCM; the check counts in the CPU column). With');
  r.say('receipts: "verify" it verifies before returning:');
  r.say();
  r.table(
    ['payload', 'clients', 'p50', 'p99', 'req/s', 'CPU', 'added p50', 'added p99'],
    rows.map((x) => [
      String(x['payload']),
      String(x['concurrency']),
      ...[
        'verifyFirstP50Us',
        'verifyFirstP99Us',
        'verifyFirstRps',
        'verifyFirstCpuUs',
        'verifyFirstAddedP50Us',
        'verifyFirstAddedP99Us',
      ].map((k) => n(x, k)),
    ]),
  );
  r.say('KServe v2 backend: gateway → model server (another process) over loopback gRPC, encrypted path; the extra');
  r.say("hop is its latency (and CPU) less the embedded backend's in the same run:");
  r.say();
  r.table(
    ['payload', 'clients', 'p50', 'p99', 'req/s', 'CPU', 'extra hop p50', 'p99', 'CPU'],
    kserveRows.map((x) => [
      String(x['payload']),
      String(x['concurrency']),
      ...[
        'confidentialP50Us',
        'confidentialP99Us',
        'confidentialRps',
        'cpuUs',
        'extraHopP50Us',
        'extraHopP99Us',
        'extraHopCpuUs',
      ].map((k) => n(x, k)),
    ]),
  );
  r.save();
  const out = {
    unit: 'microseconds; rps in requests per second; cpu in µs per request (requester + servers)',
    backend: 'onnx',
    cpus: cpus().length,
    loadAverage: load,
    seconds: SECONDS,
    results: rows,
    kserve: kserveRows,
    cryptoPerRequestUs: parts,
    target: TARGET,
    targetMet: met,
  };
  mkdirSync(join(import.meta.dirname, 'out'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'out', 'gateway.json'), `${JSON.stringify(out, null, 2)}\n`);
}

const at = process.argv.indexOf('--serve');
if (at >= 0) {
  const k = process.argv.indexOf('--kserve');
  await serve(process.argv[at + 1] ?? 'gateway', k >= 0 ? process.argv[k + 1] : undefined);
} else {
  try {
    await main();
  } finally {
    for (const c of children) c.kill();
  }
}
