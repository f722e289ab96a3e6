#!/usr/bin/env node
// The pull-mode agent of one ProviderPool (spec.cluster.mode Agent), run in the provider's cluster
// (the nvdax-provider chart's Deployment). It only wires: flags → this cluster's client and manager,
// the hub's client → the agent (docs/agent.md).
//
//   node provider-runtime/agent/main.ts --hub-kubeconfig hub.kubeconfig --pool frankfurt-h100 \
//     [--kubeconfig FILE] [--pool-file providerpool.yaml] [--heartbeat-interval 10s]
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { isAddress, Wallet } from 'ethers';
import YAML from 'yaml';
import type { ProviderPoolObject } from '../../operator/api/resources.ts';
import { KubeClient } from '../../operator/kube/client.ts';
import { loadKubeConfig } from '../../operator/kube/load.ts';
import { ConfigError, parseRuntimeConfig, runtimeFlags } from '../../operator/runtime/config.ts';
import { createLogger } from '../../operator/runtime/log.ts';
import { Manager } from '../../operator/runtime/manager.ts';
import { shutdownSignal } from '../../operator/runtime/signals.ts';
import { readKey } from '../../operator/settlement/chain.ts';
import { telemetryDomain } from '../../operator/verification/telemetry.ts';
import { setupAgent } from './agent.ts';

const agentFlags = {
  'hub-kubeconfig': { type: 'string' },
  'hub-context': { type: 'string' },
  pool: { type: 'string' },
  'pool-file': { type: 'string' },
  'work-namespace': { type: 'string' },
  'provider-key-file': { type: 'string' },
  'chain-id': { type: 'string' },
  'settlement-address': { type: 'string' },
  'heartbeat-interval': { type: 'string' },
  help: { type: 'boolean' },
} as const;

const help = `nvdax agent: pulls one ProviderPool's work from the hub and runs it in this cluster

  --hub-kubeconfig FILE        the hub credential (reaches only this pool and its work namespace); required
  --hub-context NAME           its context (default: current)
  --pool NAME                  the ProviderPool (required)
  --pool-file FILE             the pool manifest to register on the hub (default /etc/nvdax/pool/providerpool.yaml when present)
  --work-namespace NS          the pool's work namespace on the hub (default nvdax-pool-<pool>)
  --heartbeat-interval 10s     how often status.agent is written
  --provider-key-file FILE     the provider's key (a 32-byte hex private key, from a Secret): each heartbeat is
                               signed with it; needs --chain-id and --settlement-address (the hub's settlement)
  --chain-id N                 the settlement chain's id (EIP-712 domain of the signatures)
  --settlement-address 0x…     the settlement contract's address (EIP-712 domain of the signatures)
  --kubeconfig FILE            this cluster (default: in-cluster, then the usual loading rules)
  --leader-elect               one active agent among replicas, on the Lease --leader-election-id
                               (default nvdax-agent-<pool>) in --leader-election-namespace ($POD_NAMESPACE)
  --ops-bind-address :8080     /healthz /readyz /metrics; --log-level info
Every flag can also be set as NVDAX_<FLAG>.
`;

const defaultPoolFile = '/etc/nvdax/pool/providerpool.yaml';

function readPoolManifest(file: string, pool: string): ProviderPoolObject {
  let doc: ProviderPoolObject;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8')) as ProviderPoolObject;
  } catch (e) {
    throw new ConfigError(`--pool-file ${file}: ${(e as Error).message}`);
  }
  if (doc?.kind !== 'ProviderPool' || doc.metadata?.name !== pool) {
    throw new ConfigError(`--pool-file ${file}: not the ProviderPool ${pool}`);
  }
  return doc;
}

/** The provider's key and the settlement's EIP-712 domain, or undefined without a key. */
function readSigning(keyFile: string, chainId: string, settlement: string) {
  if (!keyFile) return undefined;
  if (!/^[1-9][0-9]{0,19}$/.test(chainId)) {
    throw new ConfigError(
      `--chain-id: "${chainId}" is not a chain id (a positive integer); --provider-key-file needs it`,
    );
  }
  if (!isAddress(settlement)) {
    throw new ConfigError(
      `--settlement-address: "${settlement}" is not an Ethereum address (0x + 40 hex); --provider-key-file needs it`,
    );
  }
  let key: string;
  try {
    key = readKey(keyFile, '--provider-key-file');
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  return { signer: new Wallet(key), domain: telemetryDomain(BigInt(chainId), settlement) };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (parseArgs({ args, options: { ...runtimeFlags, ...agentFlags }, strict: false }).values['help']) {
    process.stdout.write(help);
    return 0;
  }
  const { config, read } = parseRuntimeConfig(args, process.env, {
    defaultIdentity: `${hostname()}-${process.pid}`,
    extra: agentFlags,
  });
  const pool = read.str('pool', '');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(pool)) throw new ConfigError('--pool: a ProviderPool name is required');
  const hubFile = read.str('hub-kubeconfig', '');
  if (!hubFile) throw new ConfigError('--hub-kubeconfig is required (the credential the hub issued for this pool)');
  const poolFile = read.str('pool-file', existsSync(defaultPoolFile) ? defaultPoolFile : '');
  const poolManifest = poolFile ? readPoolManifest(poolFile, pool) : undefined;
  const signing = readSigning(
    read.str('provider-key-file', ''),
    read.str('chain-id', ''),
    read.str('settlement-address', ''),
  );
  const heartbeatIntervalMs = read.duration('heartbeat-interval', '10s');
  if (config.leaderElection.id === 'nvdax-operator') config.leaderElection.id = `nvdax-agent-${pool}`.slice(0, 253);
  const log = createLogger({ level: config.logLevel }).child({ component: 'agent' });
  const limits = { qps: config.kubeApiQps, burst: config.kubeApiBurst, requestTimeoutMs: config.requestTimeoutMs };
  let local: KubeClient;
  let hub: KubeClient;
  try {
    local = new KubeClient(loadKubeConfig(config.kubeconfig, config.context), { name: 'local', ...limits });
    hub = new KubeClient(loadKubeConfig(hubFile, read.str('hub-context', '')), { name: 'hub', ...limits });
  } catch (e) {
    throw new ConfigError(`kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
  }
  const manager = Manager.fromConfig(config, local, log);
  const workNamespace = read.str('work-namespace', '');
  setupAgent({
    manager,
    hub,
    pool,
    ...(workNamespace ? { namespace: workNamespace } : {}),
    ...(poolManifest ? { poolManifest } : {}),
    heartbeatIntervalMs,
    ...(signing ? { signing } : {}),
  });
  const signal = shutdownSignal(log);
  log.info(
    { pool, heartbeatIntervalMs, ...(signing ? { provider: signing.signer.address } : {}) },
    signing ? 'Agent starting; heartbeats signed' : 'Agent starting; heartbeats unsigned (no --provider-key-file)',
  );
  try {
    await manager.start(signal);
  } finally {
    await hub.destroy();
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`nvdax agent: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`nvdax agent: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
