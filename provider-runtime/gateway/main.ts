#!/usr/bin/env node
// The gateway process, run beside the model server in the job's pod. Flags, or the environment variables
// named in the help (the materializer sets those). It only wires: config → backend → evidence source →
// Gateway → gRPC server, and the ops server (/healthz, /readyz, /metrics).
//
//   node provider-runtime/gateway/main.ts --job team-a/mlp --price 1000 --chain-id 31337 \
//     --settlement 0x… --provider-key-file key.hex --model provider-runtime/gateway/models/mlp-256x16x4.onnx \
//     --dev-attester --init-data init.toml
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Wallet } from 'ethers';
import { startOpsServer } from '../../operator/runtime/health.ts';
import { createLogger } from '../../operator/runtime/log.ts';
import { contentModelHash } from '../../operator/verification/model-hash.ts';
import { createDevAttester } from '../attester/attester.ts';
import type { Backend } from './backends/backend.ts';
import { KServeBackend } from './backends/kserve.ts';
import { OnnxBackend } from './backends/onnx.ts';
import { OpenAIBackend } from './backends/openai.ts';
import { HubReporter } from './hub-reporter.ts';
import { ReceiptJournal } from './receipt-journal.ts';
import { DEFAULT_LIMITS, type LimitConfig, checkLimits } from './limits.ts';
import { createGatewayMetrics } from './metrics.ts';
import { type EvidenceSource, Gateway, startGateway } from './service.ts';

const HELP = `nvdax gateway: the confidential inference gateway (gRPC nvdax.gateway.v1.ConfidentialGateway)

  --listen HOST:PORT          gRPC address (env NVDAX_GATEWAY_LISTEN; default 0.0.0.0:8443)
  --ops-listen HOST:PORT      /healthz /readyz /metrics (env NVDAX_GATEWAY_OPS_LISTEN; default 0.0.0.0:9090)
  --job NAMESPACE/NAME        the job served (env NVDAX_JOB)
  --price WEI                 price per request (env NVDAX_PRICE_PER_REQUEST)
  --chain-id N --settlement ADDR   the settlement deployment (env NVDAX_CHAIN_ID, NVDAX_SETTLEMENT_ADDRESS)
  --provider-key-file FILE    the provider's key, hex (env NVDAX_PROVIDER_KEY)
  --provider-key-resource kbs:///REPO/TYPE/TAG   fetch the provider's key inside the TEE from the
                              confidential-data-hub, which the KBS answers after attestation
                              (env NVDAX_PROVIDER_KEY_RESOURCE; the materializer sets it)
  --cdh-url URL               the guest's CDH REST API (env NVDAX_CDH_URL; default http://127.0.0.1:8006)
  --provider ADDR             refuse to start unless the key is this provider's (env NVDAX_PROVIDER_ADDRESS)
  --backend onnx|kserve|openai   default onnx (env NVDAX_GATEWAY_BACKEND)
  --model FILE                ONNX model (onnx backend; its SHA-256 is the model hash)
  --model-name NAME           the name requests use (default: the file's name; kserve, openai: required)
  --kserve-target HOST:PORT   the model server (kserve backend), e.g. 127.0.0.1:8001
  --openai-url URL            the model server's OpenAI API (openai backend: vLLM, TGI), e.g.
                              http://127.0.0.1:8000 (env NVDAX_OPENAI_URL)
  --model-hash 0x…|sha256:…   SHA-256 of the model artefact (env NVDAX_MODEL_HASH): required by the kserve
                              and openai backends; the onnx backend refuses a file whose SHA-256 differs
  --backend-token-secret NAME send the released secret NAME as the model server's bearer token
  --max-request-ms MS         the longest a request may take, backend included (env
                              NVDAX_GATEWAY_MAX_REQUEST_MS; default 30000; the operator sets 600000 for
                              OpenAI-protocol jobs: a long answer is generated whole before it is sealed)
  --backend-connections N     connections to an OpenAI model server (env NVDAX_GATEWAY_BACKEND_CONNECTIONS;
                              default 256, vLLM's batch size)
  --limits FILE|JSON          the pool's limits (env NVDAX_GATEWAY_LIMITS): ${Object.keys(DEFAULT_LIMITS).join(', ')}
  --receipt-scheme ed25519|eip712   default ed25519
  --requesters A,B            addresses that may open sessions (default: any signed requester)
  --secret-owners A,B         addresses that may release secrets (default: none)
  --secrets-dir DIR           also write released secrets there (a memory-backed volume inside the TEE)
  --dev-attester              evidence from the development attester (simulated clusters: NOT a TEE)
  --init-data FILE            the pod's init-data (TOML or the annotation) the development attester binds
                              (env NVDAX_INIT_DATA_FILE, or the text itself in NVDAX_INIT_DATA)
  --dev-attester-keys FILE    persist/reuse the development attester's keys (JSON)
  --dev-attester-jwks-out FILE   write the development attester's public keys (for requesters' policy)
  --hub-reports HOST:PORT     report to the hub's Reports service (the operator's --reports-bind-address):
                              attest this instance, then send every receipt (env NVDAX_HUB_REPORTS; off by default)
  --instance NAME             this instance as the hub knows it: the pod's name (env NVDAX_INSTANCE, else
                              POD_NAME, else the hostname); also the development attester's instance label
  --receipt-journal-dir DIR   keep receipts the hub has not answered in a journal there, reported after a restart
                              (env NVDAX_RECEIPT_JOURNAL_DIR; default: memory only)
  --log-level LEVEL           default info`;

/** Default address of the guest's CoCo REST API server (api-server-rest), which serves /cdh/resource. */
export const DEFAULT_CDH_URL = 'http://127.0.0.1:8006';

/**
 * Fetches a KBS resource inside the TEE: the confidential-data-hub resolves `kbs:///<repo>/<type>/<tag>`
 * (exactly three segments) through the attestation agent, and the KBS releases it only to a guest whose
 * evidence passes its resource policy. Retries while the guest's attestation is still under way.
 */
export async function fetchKbsResource(
  uri: string,
  o: { cdhUrl?: string; attempts?: number; delayMs?: number; fetch?: typeof fetch } = {},
): Promise<string> {
  const m = /^kbs:\/\/[^/]*\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)$/.exec(uri);
  if (!m) throw new Error(`${JSON.stringify(uri)} is not kbs:///<repo>/<type>/<tag>`);
  const url = `${(o.cdhUrl ?? DEFAULT_CDH_URL).replace(/\/+$/, '')}/cdh/resource/${m[1]}/${m[2]}/${m[3]}`;
  const attempts = o.attempts ?? 30;
  const get = o.fetch ?? fetch;
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, o.delayMs ?? 2000));
    try {
      const res = await get(url, { signal: AbortSignal.timeout(30_000) });
      if (res.ok) return await res.text();
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
  }
  throw new Error(`the confidential-data-hub did not release ${uri} (${last})`);
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`"${s}" is not HOST:PORT`);
  return { host: s.slice(0, i) || '0.0.0.0', port };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<() => Promise<void>> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      listen: { type: 'string' },
      'ops-listen': { type: 'string' },
      job: { type: 'string' },
      price: { type: 'string' },
      'chain-id': { type: 'string' },
      settlement: { type: 'string' },
      'provider-key-file': { type: 'string' },
      'provider-key-resource': { type: 'string' },
      'cdh-url': { type: 'string' },
      provider: { type: 'string' },
      backend: { type: 'string' },
      model: { type: 'string' },
      'model-name': { type: 'string' },
      'kserve-target': { type: 'string' },
      'openai-url': { type: 'string' },
      'model-hash': { type: 'string' },
      'backend-token-secret': { type: 'string' },
      'max-request-ms': { type: 'string' },
      'backend-connections': { type: 'string' },
      limits: { type: 'string' },
      'receipt-scheme': { type: 'string' },
      requesters: { type: 'string' },
      'secret-owners': { type: 'string' },
      'secrets-dir': { type: 'string' },
      'dev-attester': { type: 'boolean' },
      'init-data': { type: 'string' },
      'dev-attester-keys': { type: 'string' },
      'dev-attester-jwks-out': { type: 'string' },
      'log-level': { type: 'string' },
      'hub-reports': { type: 'string' },
      instance: { type: 'string' },
      'receipt-journal-dir': { type: 'string' },
    },
    strict: true,
  });
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return async () => {};
  }
  const need = (name: string, value: string | undefined): string => {
    if (!value) throw new Error(`--${name} is required (see --help)`);
    return value;
  };
  const positiveInt = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number above 0, not ${text}`);
    return n;
  };
  const log = createLogger({
    name: 'nvdax-gateway',
    level: (v['log-level'] ?? env['NVDAX_LOG_LEVEL'] ?? 'info') as 'info',
  });
  const [namespace, name, extra] = need('job', v.job ?? env['NVDAX_JOB']).split('/');
  if (!namespace || !name || extra !== undefined) throw new Error('--job must be NAMESPACE/NAME');
  const keyResource = v['provider-key-resource'] ?? env['NVDAX_PROVIDER_KEY_RESOURCE'];
  const cdhUrl = v['cdh-url'] ?? env['NVDAX_CDH_URL'];
  const keyText = v['provider-key-file']
    ? readFileSync(v['provider-key-file'], 'utf8')
    : (env['NVDAX_PROVIDER_KEY'] ??
      (keyResource ? await fetchKbsResource(keyResource, cdhUrl ? { cdhUrl } : {}) : undefined));
  const provider = new Wallet(
    need('provider-key-file', keyText)
      .trim()
      .replace(/^(0x)?/, '0x'),
  );
  const expectedProvider = v.provider ?? env['NVDAX_PROVIDER_ADDRESS'];
  if (expectedProvider && expectedProvider.toLowerCase() !== provider.address.toLowerCase())
    throw new Error(`the provider key is ${provider.address}'s, not ${expectedProvider}'s (the pool's provider)`);
  // One model hash (operator/verification/model-hash.ts): the artefact's SHA-256, as the signed task names it.
  const hashText = v['model-hash'] ?? env['NVDAX_MODEL_HASH'];
  const expectedHash = hashText === undefined || hashText === '' ? undefined : contentModelHash(hashText);
  if (hashText && !expectedHash) throw new Error('--model-hash must be 0x + 64 hex or sha256:<64 hex>');

  let limits: LimitConfig = DEFAULT_LIMITS;
  const limitText = v.limits ?? env['NVDAX_GATEWAY_LIMITS'];
  if (limitText) {
    const json = limitText.trim().startsWith('{') ? limitText : readFileSync(limitText, 'utf8');
    limits = checkLimits({ ...DEFAULT_LIMITS, ...(JSON.parse(json) as Partial<LimitConfig>) });
  }

  // the secrets map exists once the gateway does; the kserve and openai backends read it per call
  let secrets: Map<string, Buffer> | undefined;
  let backend: Backend;
  const kind = v.backend ?? env['NVDAX_GATEWAY_BACKEND'] ?? 'onnx';
  // a model server's bearer token (kserve, openai): a released secret, read per call
  const tokenSecret = v['backend-token-secret'];
  const bearer = tokenSecret ? { token: () => secrets?.get(tokenSecret)?.toString('utf8') } : {};
  if (kind === 'onnx') {
    backend = await OnnxBackend.load(need('model', v.model ?? env['NVDAX_MODEL']), {
      ...(v['model-name'] ? { modelName: v['model-name'] } : {}),
    });
    if (expectedHash && backend.modelHash !== expectedHash) {
      await backend.close();
      throw new Error(`the model file's SHA-256 is ${backend.modelHash}, not the pinned ${expectedHash}`);
    }
  } else if (kind === 'kserve') {
    backend = new KServeBackend({
      target: need('kserve-target', v['kserve-target'] ?? env['NVDAX_KSERVE_TARGET']),
      modelName: need('model-name', v['model-name'] ?? env['NVDAX_MODEL_NAME']),
      modelHash: need('model-hash', expectedHash),
      maxMessageBytes: limits.maxPayloadBytes + 64 * 1024,
      ...bearer,
    });
  } else if (kind === 'openai') {
    backend = new OpenAIBackend({
      url: need('openai-url', v['openai-url'] ?? env['NVDAX_OPENAI_URL']),
      modelName: need('model-name', v['model-name'] ?? env['NVDAX_MODEL_NAME']),
      modelHash: need('model-hash', expectedHash),
      maxResponseBytes: limits.maxPayloadBytes + 64 * 1024,
      connections: positiveInt(
        'backend-connections',
        v['backend-connections'] ?? env['NVDAX_GATEWAY_BACKEND_CONNECTIONS'] ?? '256',
      ),
      ...bearer,
    });
  } else throw new Error(`--backend must be onnx, kserve or openai, not ${kind}`);
  const maxRequestText = v['max-request-ms'] ?? env['NVDAX_GATEWAY_MAX_REQUEST_MS'];

  const instance = v.instance || env['NVDAX_INSTANCE'] || env['POD_NAME'] || env['HOSTNAME'] || hostname();
  const hubReports = v['hub-reports'] ?? env['NVDAX_HUB_REPORTS'] ?? '';
  if (hubReports && !/^[^\s:]+:[0-9]{1,5}$/.test(hubReports)) throw new Error('--hub-reports must be HOST:PORT');
  let evidence: EvidenceSource;
  if (v['dev-attester'] || env['NVDAX_DEV_ATTESTER'] === 'true') {
    const keysFile = v['dev-attester-keys'];
    let keys: Parameters<typeof createDevAttester>[0] = {};
    try {
      if (keysFile) keys = { keys: JSON.parse(readFileSync(keysFile, 'utf8')) };
    } catch {
      keys = {};
    }
    const attester = await createDevAttester(keys);
    if (keysFile && !keys.keys) writeFileSync(keysFile, JSON.stringify(attester.keys), { mode: 0o600 });
    if (v['dev-attester-jwks-out']) writeFileSync(v['dev-attester-jwks-out'], JSON.stringify(attester.jwks));
    const initFile = v['init-data'] ?? env['NVDAX_INIT_DATA_FILE'];
    const init = initFile ? readFileSync(initFile, 'utf8') : need('init-data', env['NVDAX_INIT_DATA']);
    evidence = (nonce, teePubKey) =>
      attester.issue({ nonce, teePubKey, initData: init, ...(instance ? { instance } : {}) });
    log.warn({}, 'development attester: the evidence proves nothing about hardware');
  } else {
    throw new Error(
      'no evidence source: only --dev-attester is implemented (a TEE needs the attestation agent adapter)',
    );
  }

  const metrics = createGatewayMetrics({ defaultMetrics: true });
  // the gateway is made after the reporter (its receipts go there) and attests through it
  let attestFor: ((nonce: string) => ReturnType<Gateway['attestationFor']>) | undefined;
  const journalDir = v['receipt-journal-dir'] || env['NVDAX_RECEIPT_JOURNAL_DIR'];
  const journal =
    hubReports && journalDir
      ? await ReceiptJournal.open({ dir: journalDir, log: log.child({ component: 'receipt-journal' }) })
      : undefined;
  const reporter = hubReports
    ? new HubReporter({
        ...(journal ? { journal } : {}),
        target: hubReports,
        job: { namespace, name },
        instance,
        attest: (nonce) => {
          if (!attestFor) throw new Error('the gateway is not made yet');
          return attestFor(nonce);
        },
        log: log.child({ component: 'hub-reporter' }),
        registry: metrics.registry,
      })
    : undefined;
  const list = (s: string | undefined) =>
    s
      ? s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : undefined;
  const scheme = v['receipt-scheme'] ?? 'ed25519';
  if (scheme !== 'ed25519' && scheme !== 'eip712') throw new Error('--receipt-scheme must be ed25519 or eip712');
  const requesters = list(v.requesters ?? env['NVDAX_REQUESTERS']);
  const owners = list(v['secret-owners'] ?? env['NVDAX_SECRET_OWNERS']);
  const secretsDir = v['secrets-dir'] ?? env['NVDAX_SECRETS_DIR'];
  const gateway = new Gateway({
    job: { namespace, name },
    backend,
    provider,
    evidence,
    pricePerRequest: need('price', v.price ?? env['NVDAX_PRICE_PER_REQUEST']),
    chainId: need('chain-id', v['chain-id'] ?? env['NVDAX_CHAIN_ID']),
    settlement: need('settlement', v.settlement ?? env['NVDAX_SETTLEMENT_ADDRESS']),
    limits,
    ...(maxRequestText ? { maxRequestMs: positiveInt('max-request-ms', maxRequestText) } : {}),
    receiptScheme: scheme,
    ...(requesters ? { requesters } : {}),
    ...(owners ? { secretOwners: owners } : {}),
    ...(secretsDir ? { secretsDir } : {}),
    log,
    metrics,
    ...(reporter ? { onReceipt: (r) => reporter.enqueue(r) } : {}),
  });
  secrets = gateway.secrets;
  attestFor = (nonce) => gateway.attestationFor(nonce);
  const listen = hostPort(v.listen ?? env['NVDAX_GATEWAY_LISTEN'] ?? '0.0.0.0:8443');
  const running = await startGateway(gateway, listen);
  const opsAt = hostPort(v['ops-listen'] ?? env['NVDAX_GATEWAY_OPS_LISTEN'] ?? '0.0.0.0:9090');
  const ops = await startOpsServer({
    host: opsAt.host,
    port: opsAt.port,
    registry: metrics.registry,
    healthz: { grpc: () => true },
    readyz: { backend: () => backend.ready() },
    log,
  });
  reporter?.start();
  log.info(
    {
      port: running.port,
      opsPort: ops.port,
      backend: backend.kind,
      model: backend.modelName,
      modelHash: backend.modelHash,
      provider: provider.address,
      ...(reporter ? { hubReports, instance } : {}),
    },
    'gateway serving',
  );
  return async () => {
    await running.close();
    // after the server: no receipt is issued any more; what is queued goes to the hub
    await reporter?.stop();
    await ops.close();
    await backend.close();
  };
}

if (import.meta.main) {
  try {
    const stop = await main(process.argv.slice(2));
    const bye = () => {
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', bye);
    process.once('SIGINT', bye);
  } catch (e) {
    process.stderr.write(`nvdax gateway: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
}
