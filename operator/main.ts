#!/usr/bin/env node
// The NVDAx hub operator: `npm run operator -- --kubeconfig FILE` (or in-cluster).
// main only wires: configuration, logger, hub client, manager, controllers.
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { KubeClient } from './kube/client.ts';
import { isNotFound, KubeError } from './kube/errors.ts';
import { resources, type KubeObject } from './kube/types.ts';
import { GROUP, JobReason, PLURALS, VERSION } from './api/constants.ts';
import { loadKubeConfig } from './kube/load.ts';
import { ConfigError, type ExtraReader, parseRuntimeConfig, runtimeFlags } from './runtime/config.ts';
import { type Contract, isAddress, type TypedDataDomain } from 'ethers';
import { taskDomain } from './settlement/task.ts';
import { LEADER_LABEL, LeaderPodLabel } from './runtime/leader-label.ts';
import { createLogger, type Logger } from './runtime/log.ts';
import { LeadershipLostError, Manager, shutdownSignal } from './runtime/manager.ts';
import { providerPools } from './api/resources.ts';
import { setupProviderPoolController } from './controllers/providerpool/controller.ts';
import { Fleet } from './fleet/fleet.ts';
import { registerFleetMetrics } from './fleet/metrics.ts';
import { setupJobControllers } from './controllers/jobs/controller.ts';
import { queueKey } from './controllers/jobs/model.ts';
import { type SettlementGates, Settler } from './controllers/settlement/settler.ts';
import { gatewayImage } from './materialize/images.ts';
import { ChainClient, loadTarget, readKey } from './settlement/chain.ts';
import { ConfigMapOutbox } from './settlement/outbox.ts';
import { ReportIntake, replayOptions } from './controllers/reports/intake.ts';
import { FederatedRunner } from './controllers/training/federated.ts';
import { receiptDomain } from './verification/receipt.ts';
import { telemetryDomain } from './verification/telemetry.ts';
import { readFileSync } from 'node:fs';
import { DEFAULT_PRICING, parsePrice } from './scheduling/pricing.ts';

const operatorFlags = {
  'heartbeat-interval': { type: 'string' },
  'member-probe-interval': { type: 'string' },
  'member-probe-timeout': { type: 'string' },
  'member-request-timeout': { type: 'string' },
  'pool-selector': { type: 'string' },
  'failover-grace': { type: 'string' },
  'job-selector': { type: 'string' },
  'kbs-url': { type: 'string' },
  'verifier-fee': { type: 'string' },
  'require-signed-tasks': { type: 'boolean' },
  'chain-id': { type: 'string' },
  'settlement-address': { type: 'string' },
  'settlement-deployment': { type: 'string' },
  'chain-rpc-url': { type: 'string' },
  'chain-key-file': { type: 'string' },
  'chain-confirmations': { type: 'string' },
  'settlement-interval': { type: 'string' },
  'usage-meter-interval': { type: 'string' },
  'usage-meter-qps': { type: 'string' },
  'reports-bind-address': { type: 'string' },
  'reports-advertise-address': { type: 'string' },
  'leader-pod-label': { type: 'boolean' },
  'attestation-policy': { type: 'string' },
  'federated-bind-address': { type: 'string' },
  'verifier-sample-rate': { type: 'string' },
  'verifier-backend': { type: 'string' },
  'verifier-seed-file': { type: 'string' },
  'verifier-slash-amount': { type: 'string' },
  'federated-advertise-host': { type: 'string' },
  'federated-checkpoint-root': { type: 'string' },
  'gateway-image': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = `nvdax operator — reconciles ProviderPools, places InferenceJobs and TrainingJobs on them.
Flags (each also read from NVDAX_<FLAG> in upper snake case):
  --kubeconfig FILE            hub kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME               kubeconfig context
  --no-leader-elect            run without a Lease (leader election is on by default)
  --leader-election-namespace  Lease namespace (default $POD_NAMESPACE or nvdax-system)
  --leader-election-id         Lease name (default nvdax-operator)
  --identity NAME              this process in the Lease (default $POD_NAME or hostname-pid)
  --lease-duration 15s --renew-deadline 10s --retry-period 2s
  --ops-bind-address :8080     /healthz, /readyz, /metrics
  --log-level info             trace|debug|info|warn|error|fatal|silent
  --max-concurrent-reconciles 4
  --resync-period 10m --request-timeout 30s --shutdown-timeout 30s
  --kube-api-qps 2000 --kube-api-burst 4000   client-side rate limit per cluster (hub and each member); qps 0: off
  --heartbeat-interval 15s     how often each pool is re-observed and its heartbeat written
  --member-probe-interval 5s   how often each member cluster's API server is probed
  --member-probe-timeout 3s    timeout of one probe
  --member-request-timeout 30s timeout of every other member request (a list page, a create)
  --pool-selector LABELS       only reconcile ProviderPools matching this label selector (sharding, tests)
  --job-selector LABELS        only place and reconcile jobs matching this label selector (sharding, tests)
  --failover-grace 60s         a job's pool lost this long is failed over to another pool
  --kbs-url URL                Trustee KBS that confidential pods' init-data points at
  --verifier-fee 0.05          network verifier fee, NVDAx per GPU-hour, added to every price
  --require-signed-tasks       place only jobs whose requester signed their task (spec.payment.signature); off by default
  --chain-id N                 chain id of the settlement contract's EIP-712 domain (needed by --require-signed-tasks;
                               without --settlement-deployment, with --settlement-address: receipts, telemetry and
                               agent heartbeats are checked under it)
  --settlement-address 0x..    Settlement contract address, the domain's verifyingContract (as --chain-id)
  --settlement-deployment FILE settle on chain: the deployment.json naming chainId, rpcUrl and the contracts. Implies
                               signed tasks; jobs are placed only when their escrow covers the task, on pools whose
                               provider has active stake, and start once their task is open (docs/settlement.md)
  --chain-rpc-url URL          the chain's JSON-RPC URL (overrides the deployment's rpcUrl)
  --chain-key-file FILE        the coordinator's private key (mount it from a Secret); needed by --settlement-deployment
  --chain-confirmations 0      blocks on top of a settlement transaction before it counts
  --settlement-interval 2s     time between settlement passes
  --usage-meter-interval 60s   how often a running job's usage (status.usage) is measured
  --usage-meter-qps 10         hub status writes a second for metering alone, all jobs together; past it each
                               running job's interval stretches (10,000 running jobs: about 17 minutes)
  --reports-bind-address ADDR  serve the Reports gRPC service here (host:port): workloads report attestation evidence
                               and signed receipts (off by default; docs/operator.md#reports)
  --reports-advertise-address HOST:PORT  the Reports address confidential InferenceJobs' gateways dial to attest and
                               report their receipts (needs --reports-bind-address; default: they report nothing)
  --leader-pod-label           label this replica's Pod ($POD_NAMESPACE/$POD_NAME) nvdax.io/leader=true while it leads
                               (once the Reports service listens), so a Service can select the leader alone (the
                               chart's reports Service); needs pods get/patch in its namespace (off by default)
  --verifier-sample-rate 0     share of receipts requesters offer for audit (Reports.Replay) that the hub replays on
                               --verifier-backend HOST:PORT (KServe v2 reference server); a mismatch is an incident on
                               the pool (reputation) and, with --verifier-slash-amount NVDAx, a slash (off by default;
                               --verifier-seed-file keeps the sampling seed, default random per process)
  --attestation-policy FILE    JSON: the EAR and NRAS JWKS, GPU driver/VBIOS allow-lists, TEE types (docs/attestation.md)
  --federated-bind-address H   run Federated TrainingJobs' coordinators, each on its own port on host H (needs
                               --attestation-policy: participants are admitted on their evidence; docs/training.md)
  --federated-advertise-host H the host participants are told to dial (default the bind host)
  --federated-checkpoint-root D Federated checkpoints go under file://D/<namespace>/<name>/a<attempt> (participants
                               write there; the hub reads them back to resume a new attempt; off by default)
  --gateway-image IMAGE@sha256 the confidential gateway's image in InferenceJob pods (pinned by digest; default the
                               operator's own pinned image, operator/materialize/images.ts)
`;

/**
 * --leader-pod-label: this process's Pod, named by the downward API's POD_NAMESPACE and POD_NAME; undefined when
 * off. Throws a ConfigError when either is missing.
 */
function leaderPod(on: boolean, env: NodeJS.ProcessEnv): { namespace: string; name: string } | undefined {
  if (!on) return undefined;
  const namespace = env['POD_NAMESPACE'];
  const name = env['POD_NAME'];
  if (!namespace || !name) {
    throw new ConfigError('--leader-pod-label needs POD_NAMESPACE and POD_NAME (the downward API) to name its Pod');
  }
  return { namespace, name };
}

/** The leader label on `pod` (operator/runtime/leader-label.ts), written with a merge patch. */
function leaderPodLabel(client: KubeClient, log: Logger, pod: { namespace: string; name: string }): LeaderPodLabel {
  const { namespace, name } = pod;
  return new LeaderPodLabel({
    log: log.child({ component: 'leader-label', pod: `${namespace}/${name}` }),
    patch: async (value) => {
      await client.mergePatch(resources.pods, name, namespace, { metadata: { labels: { [LEADER_LABEL]: value } } });
    },
  });
}

/** Fails fast with the fix when the hub lacks our CRDs (or serves another version of them). */
async function checkCrds(client: KubeClient): Promise<void> {
  for (const plural of Object.values(PLURALS)) {
    const name = `${plural}.${GROUP}`;
    try {
      const crd = await client.get<KubeObject & { spec?: { versions?: Array<{ name: string; served: boolean }> } }>(
        resources.customResourceDefinitions,
        name,
      );
      if (!crd.spec?.versions?.some((v) => v.name === VERSION && v.served)) {
        throw new ConfigError(
          `the hub's CRD ${name} does not serve ${VERSION}: apply this release's CRDs with kubectl apply --server-side -f crds/`,
        );
      }
    } catch (e) {
      if (isNotFound(e))
        throw new ConfigError(
          `the hub has no CRD ${name}: install the CRDs first with kubectl apply --server-side -f crds/`,
        );
      throw e;
    }
  }
}

/** --require-signed-tasks with its --chain-id and --settlement-address: the EIP-712 domain, or undefined when off. */
function signedTasksDomain(read: ExtraReader): TypedDataDomain | undefined {
  const chainId = read.str('chain-id', '');
  const address = read.str('settlement-address', '');
  if (!read.bool('require-signed-tasks', false)) return undefined;
  if (!chainId) throw new ConfigError("--require-signed-tasks needs --chain-id (the settlement chain's id)");
  if (!/^[1-9][0-9]{0,19}$/.test(chainId)) {
    throw new ConfigError(`--chain-id: invalid chain id "${chainId}" (expected a positive integer)`);
  }
  if (!address) throw new ConfigError('--require-signed-tasks needs --settlement-address (the Settlement contract)');
  if (!isAddress(address)) {
    throw new ConfigError(`--settlement-address: "${address}" is not an Ethereum address (0x + 40 hex)`);
  }
  return taskDomain(BigInt(chainId), address);
}

/** The settlement's chain id and address: the deployment's, else --chain-id and --settlement-address, else none. */
function settlementTarget(
  read: ExtraReader,
  chain: ChainClient | undefined,
): { chainId: bigint; address: string } | undefined {
  if (chain) return { chainId: chain.target.chainId, address: chain.target.settlement };
  const chainId = read.str('chain-id', '');
  const address = read.str('settlement-address', '');
  if (chainId && !/^[1-9][0-9]{0,19}$/.test(chainId)) {
    throw new ConfigError(`--chain-id: invalid chain id "${chainId}" (expected a positive integer)`);
  }
  if (address && !isAddress(address)) {
    throw new ConfigError(`--settlement-address: "${address}" is not an Ethereum address (0x + 40 hex)`);
  }
  return chainId && address ? { chainId: BigInt(chainId), address } : undefined;
}

/** --settlement-deployment and its key: the chain client, or undefined when settlement is off. */
function settlementChain(read: ExtraReader): ChainClient | undefined {
  const file = read.str('settlement-deployment', '');
  if (!file) return undefined;
  const keyFile = read.str('chain-key-file', '');
  if (!keyFile) throw new ConfigError('--settlement-deployment needs --chain-key-file (the coordinator key)');
  const confirmations = read.str('chain-confirmations', '0');
  if (!/^[0-9]{1,2}$/.test(confirmations)) {
    throw new ConfigError(`--chain-confirmations: "${confirmations}" is not a whole number of blocks (0-99)`);
  }
  try {
    const rpcUrl = read.str('chain-rpc-url', '') || undefined;
    const chainId = read.str('chain-id', '') || undefined;
    return new ChainClient(loadTarget(file, { rpcUrl, chainId }), readKey(keyFile));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** --attestation-policy: what the hub trusts, or an error naming the file and field. */
/**
 * --reports-advertise-address: the Reports address gateways dial, HOST:PORT (a DNS name, IPv4 or [IPv6] and a port
 * 1-65535); only with --reports-bind-address (otherwise nothing listens). Throws a ConfigError naming the fault.
 */
function reportsAdvertiseAddress(advertise: string, bind: string): string | undefined {
  if (!advertise) return undefined;
  if (!bind) {
    throw new ConfigError('--reports-advertise-address needs --reports-bind-address (the Reports service it names)');
  }
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/.exec(advertise);
  const port = Number(m?.[3]);
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new ConfigError(
      `--reports-advertise-address: "${advertise}" is not HOST:PORT (a host name, IPv4 or [IPv6] and a port 1-65535)`,
    );
  }
  return advertise;
}

function readPolicy(file: string): NonNullable<ConstructorParameters<typeof ReportIntake>[0]['policy']> {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`--attestation-policy ${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const jwks = (k: string) => {
    const v = p[k] as { keys?: unknown } | undefined;
    if (v !== undefined && !Array.isArray(v?.keys)) {
      throw new ConfigError(`--attestation-policy ${file}: ${k} must be a JWKS ({"keys": [...]})`);
    }
    return v;
  };
  if (!jwks('earJwks'))
    throw new ConfigError(`--attestation-policy ${file}: earJwks (Trustee's signing keys) is required`);
  jwks('nrasJwks');
  return p as never;
}

async function main(): Promise<number> {
  if (
    parseArgs({ args: process.argv.slice(2), options: { ...runtimeFlags, ...operatorFlags }, strict: false }).values[
      'help'
    ]
  ) {
    process.stdout.write(help);
    return 0;
  }
  const { config, read } = parseRuntimeConfig(process.argv.slice(2), process.env, {
    defaultIdentity: `${hostname()}-${process.pid}`,
    extra: operatorFlags,
  });
  const heartbeatIntervalMs = read.duration('heartbeat-interval', '15s');
  const probeIntervalMs = read.duration('member-probe-interval', '5s');
  const probeTimeoutMs = read.duration('member-probe-timeout', '3s');
  const memberRequestTimeoutMs = read.duration('member-request-timeout', '30s');
  const failoverGraceMs = read.duration('failover-grace', '60s');
  const kbsUrl = read.str('kbs-url', 'http://kbs-service.trustee-operator-system.svc:8080');
  const verifierFee = read.str('verifier-fee', DEFAULT_PRICING.verifierFee);
  try {
    parsePrice(verifierFee, '--verifier-fee');
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const gatewayImageFlag = read.str('gateway-image', '');
  if (gatewayImageFlag) {
    try {
      gatewayImage(gatewayImageFlag);
    } catch (e) {
      throw new ConfigError(`--gateway-image: ${(e as Error).message}`);
    }
  }
  const reportsAdvertise = reportsAdvertiseAddress(
    read.str('reports-advertise-address', ''),
    read.str('reports-bind-address', ''),
  );
  const labelPod = leaderPod(read.bool('leader-pod-label', false), process.env);
  const chain = settlementChain(read);
  const taskDomain = chain?.domain() ?? signedTasksDomain(read);
  // where the hub settles: receipts, telemetry and agent heartbeats are signed under domains bound to it
  const settlementAt = settlementTarget(read, chain);
  const log = createLogger({ level: config.logLevel });
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(config.kubeconfig, config.context);
  } catch (e) {
    throw new ConfigError(
      `--kubeconfig ${config.kubeconfig || '(default rules)'}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const limits = { qps: config.kubeApiQps, burst: config.kubeApiBurst };
  const client = new KubeClient(kc, { name: 'hub', requestTimeoutMs: config.requestTimeoutMs, ...limits });
  await checkCrds(client);
  const poolSelector = read.str('pool-selector', '');
  if (poolSelector) {
    try {
      await client.list(providerPools, { labelSelector: poolSelector, limit: 1 });
    } catch (e) {
      if (e instanceof KubeError && e.reason === 'BadRequest')
        throw new ConfigError(`--pool-selector "${poolSelector}": ${e.message}`);
      throw e;
    }
  }
  const manager = Manager.fromConfig(config, client, log);
  const leaderLabel = labelPod ? leaderPodLabel(client, log, labelPod) : undefined;
  // the member clusters: one per cluster, shared by every controller, owned by none
  const fleet = new Fleet({
    manager,
    hubKubeConfig: kc,
    clock: manager.clock,
    probeIntervalMs,
    probeTimeoutMs,
    requestTimeoutMs: memberRequestTimeoutMs,
    ...limits,
  });
  registerFleetMetrics(manager.metrics.registry, fleet);
  const { pools } = setupProviderPoolController({
    manager,
    fleet,
    heartbeatIntervalMs,
    concurrency: config.maxConcurrentReconciles,
    poolSelector,
    // the operator's namespace: its Lease and the only place kubeconfig Secrets are read from
    secretNamespace: config.leaderElection.namespace,
    ...(settlementAt ? { heartbeatDomain: telemetryDomain(settlementAt.chainId, settlementAt.address) } : {}),
  });
  // placement (leader-only loop) and the job controller share the pool cache; the settler, made after
  // them (it releases placements), answers their gates
  let settler: Settler | undefined;
  const gates: SettlementGates = {
    jobRefusal: (j) => (settler ? settler.jobRefusal(j) : { reason: JobReason.ChainUnavailable, message: 'starting' }),
    poolRefusal: (p) => (settler ? settler.poolRefusal(p) : 'starting'),
    materializeWait: (j) => (settler ? settler.materializeWait(j) : 'starting'),
  };
  const jobs = setupJobControllers({
    manager,
    fleet,
    pools,
    kbsUrl,
    pricing: { ...DEFAULT_PRICING, verifierFee },
    failoverGraceMs,
    jobSelector: read.str('job-selector', ''),
    concurrency: config.maxConcurrentReconciles,
    ...(taskDomain ? { taskDomain } : {}),
    // agent pools' Work status counts only when their provider signed it
    ...(settlementAt ? { reportDomain: telemetryDomain(settlementAt.chainId, settlementAt.address) } : {}),
    // confidential InferenceJobs' gateways sign capabilities and receipts under the settlement's domain
    gateway: {
      ...(settlementAt ? { chainId: String(settlementAt.chainId), settlement: settlementAt.address } : {}),
      ...(gatewayImageFlag ? { image: gatewayImageFlag } : {}),
      ...(reportsAdvertise ? { reports: reportsAdvertise } : {}),
    },
    ...(chain ? { settlement: gates } : {}),
    meterIntervalMs: read.duration('usage-meter-interval', '60s'),
    meterQps: read.positive('usage-meter-qps', 10),
    federatedCoordinators: read.str('federated-bind-address', '') !== '',
  });
  if (chain) {
    const s = new Settler({
      hub: client,
      chain,
      outbox: new ConfigMapOutbox(client, config.leaderElection.namespace),
      clock: manager.clock,
      log: log.child({ component: 'settlement' }),
      events: manager.eventRecorder(),
      pools,
      jobs: jobs.informers,
      release: (job, opts) => jobs.scheduler.release(job, opts),
      poke: () => jobs.scheduler.poke(),
      enqueue: (kind, key) => jobs.controller.enqueue(queueKey(kind, key)),
      intervalMs: read.duration('settlement-interval', '2s'),
      confirmations: Number(read.str('chain-confirmations', '0')),
      registry: manager.metrics.registry,
    });
    settler = s;
    manager.runnable({ name: 'settlement', start: (signal) => s.run(signal) });
  }
  const reportsAddress = read.str('reports-bind-address', '');
  if (reportsAddress) {
    const policyFile = read.str('attestation-policy', '');
    const policy = policyFile ? readPolicy(policyFile) : undefined;
    const domain = settlementAt ? receiptDomain(settlementAt.chainId, settlementAt.address) : undefined;
    let replay: ReturnType<typeof replayOptions>;
    try {
      const seedFile = read.str('verifier-seed-file', '');
      replay = replayOptions({
        sampleRate: read.str('verifier-sample-rate', '0'),
        backend: read.str('verifier-backend', ''),
        ...(seedFile ? { seed: readFileSync(seedFile, 'utf8').trim() } : {}),
        slashAmount: read.str('verifier-slash-amount', ''),
        ...(chain ? { registry: chain.registry.connect(chain.wallet) as Contract } : {}),
      });
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    const intake = new ReportIntake({
      hub: client,
      clock: manager.clock,
      log: log.child({ component: 'reports' }),
      pools,
      jobs: jobs.informers,
      ...(policy ? { policy } : {}),
      ...(domain
        ? {
            receiptDomain: domain,
            telemetryDomain: telemetryDomain(BigInt(String(domain.chainId)), String(domain.verifyingContract)),
          }
        : {}),
      ...(chain
        ? { isRegistered: async (p: string) => ((await chain.registry.getFunction('idOf')(p)) as bigint) !== 0n }
        : {}),
      registry: manager.metrics.registry,
      ...(replay ? { replay } : {}),
    });
    let listening: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      listening = resolve;
    });
    manager.runnable({ name: 'reports', start: (signal) => intake.serve(reportsAddress, signal, () => listening()) });
    if (leaderLabel) manager.runnable(leaderLabel.runnable(ready));
  } else if (leaderLabel) manager.runnable(leaderLabel.runnable());
  const federatedHost = read.str('federated-bind-address', '');
  if (federatedHost) {
    const policyFile = read.str('attestation-policy', '');
    if (!policyFile)
      throw new ConfigError('--federated-bind-address needs --attestation-policy (participants are attested)');
    const runner = new FederatedRunner({
      hub: client,
      clock: manager.clock,
      log: log.child({ component: 'federated' }),
      jobs: jobs.informers.TrainingJob,
      pools,
      policy: readPolicy(policyFile),
      bindHost: federatedHost,
      advertiseHost: read.str('federated-advertise-host', '') || federatedHost,
      ...(read.str('federated-checkpoint-root', '')
        ? { checkpointRoot: read.str('federated-checkpoint-root', '') }
        : {}),
    });
    manager.runnable({ name: 'federated', start: (signal) => runner.run(signal) });
  }
  log.info(
    {
      identity: manager.identity,
      hub: kc.getCurrentCluster()?.server,
      leaderElection: config.leaderElection.enabled,
      ops: config.ops,
    },
    'Starting operator',
  );
  // a label an earlier run of this Pod left goes first (patches are applied in order)
  leaderLabel?.clearStale();
  try {
    await manager.start(shutdownSignal(log));
    return 0;
  } catch (e) {
    if (e instanceof LeadershipLostError) {
      log.error({ err: e }, 'Leadership lost, exiting');
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ConfigError(
        `--ops-bind-address ${config.ops.host}:${config.ops.port}: ` +
          (code === 'EADDRINUSE' ? 'address already in use' : (e as Error).message),
      );
    }
    throw e;
  } finally {
    await fleet.stop();
    await client.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(
      `operator: ${e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
