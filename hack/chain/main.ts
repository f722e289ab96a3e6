// A local EVM chain for the demo and development: anvil on 127.0.0.1 with the settlement contracts deployed.
//
//   node hack/chain/main.ts up     [--dir .chain] [--port 8545]   start anvil (pid file, log) and deploy
//   node hack/chain/main.ts deploy [--dir .chain] [--rpc URL] [--key 0x..]   deploy to a running node
//   node hack/chain/main.ts down   [--dir .chain]                 stop anvil, leaving no process
//   node hack/chain/main.ts status [--dir .chain]
//
// up and deploy take --timelock-delay S and --unbonding-delay S (seconds; defaults 7 days each, and the
// time-lock may not be shorter than unbonding) for a local chain whose governance should run in minutes,
// and --period-seconds, --dispute-window, --settle-window (defaults 3600, 1 day, 2 days) for settlement in
// minutes. On the local chain, up also writes the dev accounts' keys to <dir>/keys/account-<i>.key.
// The deployment (addresses, chain id, RPC URL, roles, parameters, dev accounts) is written to
// <dir>/deployment.json, where the operator reads it.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HDNodeWallet, JsonRpcProvider, Mnemonic, parseUnits, Wallet } from 'ethers';
import { deploy } from '../../operator/settlement/deploy.ts';
import { DEV_MNEMONIC, isAnvil, isRunning, spawnAnvil, stopPid, waitForRpc } from './anvil.ts';

const ACCOUNTS = 20;
/** Dev accounts by index: 0 deployer, then the roles, then requesters and providers funded with tokens. */
const ROLE_OF: Record<number, string> = {
  0: 'deployer',
  1: 'coordinator',
  2: 'verifier',
  3: 'guardian',
  4: 'feeRecipient',
};
const FUNDED = { from: 5, to: ACCOUNTS, amount: parseUnits('100000', 18) };

function devWallet(i: number): HDNodeWallet {
  return HDNodeWallet.fromSeed(Mnemonic.fromPhrase(DEV_MNEMONIC).computeSeed()).derivePath(`m/44'/60'/0'/0/${i}`);
}

/**
 * Times a local chain may shorten (seconds): the time-lock must stay at least the unbonding delay; a short
 * metering period and windows let the demo show settlement within minutes.
 */
type Delays = {
  timelockDelay?: number;
  unbondingDelay?: number;
  periodSeconds?: number;
  disputeWindow?: number;
  settleWindow?: number;
};

async function deployTo(dir: string, rpcUrl: string, key?: string, delays: Delays = {}): Promise<void> {
  // No response cache: a cached nonce would be reused by the next transaction.
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  try {
    const deployer = new Wallet(key ?? devWallet(0).privateKey, provider);
    const role = (i: number) => devWallet(i).address;
    console.log(`== deploying to ${rpcUrl} from ${deployer.address}`);
    const dep = await deploy({
      deployer,
      roles: { coordinator: role(1), verifier: role(2), guardian: role(3), feeRecipient: role(4) },
      params: delays,
      fund: key
        ? []
        : Array.from({ length: FUNDED.to - FUNDED.from }, (_, k) => ({
            address: role(FUNDED.from + k),
            amount: FUNDED.amount,
          })),
      log: (m) => console.log(`   ${m}`),
    });
    const out = {
      ...dep,
      rpcUrl,
      // Only for the local dev chain: anvil's public test mnemonic and which account plays which role.
      ...(key
        ? {}
        : {
            dev: {
              mnemonic: DEV_MNEMONIC,
              accounts: Array.from({ length: ACCOUNTS }, (_, i) => ({
                index: i,
                address: role(i),
                role: ROLE_OF[i] ?? 'requester or provider (funded)',
              })),
            },
          }),
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'deployment.json'), `${JSON.stringify(out, null, 2)}\n`);
    if (!key) {
      // the local chain's well-known dev keys as files, for --chain-key-file and the CLI's --key-file
      mkdirSync(join(dir, 'keys'), { recursive: true });
      for (let i = 0; i < ACCOUNTS; i++) {
        writeFileSync(join(dir, 'keys', `account-${i}.key`), `${devWallet(i).privateKey}\n`, { mode: 0o600 });
      }
      console.log(`   dev keys in ${join(dir, 'keys')}/account-<i>.key (1 coordinator, 5-19 funded)`);
    }
    console.log(`== deployed; addresses in ${join(dir, 'deployment.json')}`);
    for (const [k, v] of Object.entries(dep.contracts)) console.log(`   ${k.padEnd(10)} ${v}`);
  } finally {
    provider.destroy();
  }
}

function readPid(dir: string): number | undefined {
  const f = join(dir, 'anvil.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function up(dir: string, port: number, delays: Delays): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const old = readPid(dir);
  if (old && isRunning(old) && isAnvil(old)) throw new Error(`anvil already runs (pid ${old}); run down first`);
  const rpcUrl = `http://127.0.0.1:${port}`;
  console.log(`== starting anvil on ${rpcUrl} (log ${join(dir, 'anvil.log')})`);
  const child = spawnAnvil({ port, accounts: ACCOUNTS, logFile: join(dir, 'anvil.log'), detached: true });
  if (!child.pid) throw new Error('anvil did not start');
  writeFileSync(join(dir, 'anvil.pid'), `${child.pid}\n`);
  try {
    console.log(`   ${await waitForRpc(rpcUrl, 30_000, () => isRunning(child.pid!))}`);
    await deployTo(dir, rpcUrl, undefined, delays);
  } catch (e) {
    await down(dir);
    throw e;
  }
}

async function down(dir: string): Promise<void> {
  const pid = readPid(dir);
  if (!pid) {
    console.log(`== no anvil pid file in ${dir}`);
    return;
  }
  if (isRunning(pid) && isAnvil(pid)) {
    console.log(`== stopping anvil (pid ${pid})`);
    await stopPid(pid);
  } else console.log(`== anvil (pid ${pid}) is not running`);
  rmSync(join(dir, 'anvil.pid'), { force: true });
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string', default: '.chain' },
      port: { type: 'string', default: '8545' },
      rpc: { type: 'string' },
      key: { type: 'string' },
      'timelock-delay': { type: 'string' },
      'unbonding-delay': { type: 'string' },
      'period-seconds': { type: 'string' },
      'dispute-window': { type: 'string' },
      'settle-window': { type: 'string' },
    },
  });
  const delays: Delays = {};
  for (const [flag, k] of [
    ['timelock-delay', 'timelockDelay'],
    ['unbonding-delay', 'unbondingDelay'],
    ['period-seconds', 'periodSeconds'],
    ['dispute-window', 'disputeWindow'],
    ['settle-window', 'settleWindow'],
  ] as const) {
    const v = values[flag];
    if (v === undefined) continue;
    if (!/^[0-9]+$/.test(v)) throw new Error(`--${flag} ${v}: expected whole seconds`);
    delays[k] = Number(v);
  }
  const dir = resolve(values.dir);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port ${values.port}: not a port number`);
  switch (positionals[0]) {
    case 'up':
      return up(dir, port, delays);
    case 'down':
      return down(dir);
    case 'deploy':
      return deployTo(dir, values.rpc ?? `http://127.0.0.1:${port}`, values.key ?? process.env['DEPLOYER_KEY'], delays);
    case 'status': {
      const pid = readPid(dir);
      console.log(pid && isRunning(pid) ? `anvil running (pid ${pid})` : 'anvil not running');
      return;
    }
    default:
      throw new Error(
        'usage: main.ts up|down|deploy|status [--dir D] [--port P] [--rpc URL] [--key 0x..] ' +
          '[--timelock-delay S] [--unbonding-delay S] [--period-seconds S] [--dispute-window S] [--settle-window S]',
      );
  }
}

main().catch((e: unknown) => {
  const short = (e as { shortMessage?: string }).shortMessage;
  console.error(`chain: ${short ?? (e instanceof Error ? e.message : String(e))}`);
  process.exit(1);
});
