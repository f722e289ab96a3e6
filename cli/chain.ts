// What the settlement commands (provider, escrow, governance) share: the chain options (--rpc-url,
// --deployment, --key-file, --output), the deployment file hack/chain writes, the signing key, NVDAx amounts
// (decimal text, parsed with ethers' parseUnits, never floats), sending a transaction with the contract's
// custom error named when it reverts, and the output in table, JSON or YAML. ethers is loaded on first use, so
// the other commands start without it.
import type { Argv } from 'yargs';
import { stringify } from 'yaml';
import type { Contracts, Deployment } from '../operator/settlement/deploy.ts';
import { formatNvdax, gasWithHeadroom } from '../operator/settlement/contracts.ts';
import { table } from './format.ts';
import { CliError } from './hub.ts';
import type { Io } from './io.ts';

export type Output = 'table' | 'json' | 'yaml';

/** Default deployment file: the one `node hack/chain/main.ts up` writes. */
export const DEFAULT_DEPLOYMENT = '.chain/deployment.json';

/** The chain options every settlement command takes. */
export function chainOptions(y: Argv): Argv {
  return y
    .option('rpc-url', {
      type: 'string',
      requiresArg: true,
      describe: "JSON-RPC URL of the chain (default: $NVDAX_RPC_URL, else the deployment's rpcUrl)",
    })
    .option('deployment', {
      type: 'string',
      requiresArg: true,
      describe: `deployment.json as hack/chain writes it (default: $NVDAX_DEPLOYMENT, else ${DEFAULT_DEPLOYMENT})`,
    })
    .option('key-file', {
      type: 'string',
      requiresArg: true,
      describe: 'file holding the private key (hex) that signs; default: $NVDAX_KEY',
    })
    .option('output', {
      alias: 'o',
      choices: ['table', 'yaml', 'json'],
      default: 'table',
      describe: 'output format',
    });
}

/** An open connection: the deployment, its contracts (bound to the signer when a key was given). */
export interface ChainSession {
  deployment: Deployment;
  c: Contracts;
  /** The key's address; undefined without a key. */
  signer?: string;
  close(): void;
}

/** Reads and checks the deployment file; a CliError naming --deployment otherwise. */
export function readDeployment(path: string, io: Io): Deployment {
  let text: string;
  try {
    text = io.readFile(path);
  } catch (e) {
    throw new CliError(
      `--deployment ${path}: cannot read it (${e instanceof Error ? e.message : String(e)}); pass the deployment.json ` +
        'that `node hack/chain/main.ts up` or `deploy` wrote',
    );
  }
  let dep: Deployment;
  try {
    dep = JSON.parse(text) as Deployment;
  } catch {
    throw new CliError(`--deployment ${path}: not JSON`);
  }
  for (const k of ['token', 'timelock', 'governor', 'registry', 'settlement'] as const) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(dep?.contracts?.[k] ?? '')) {
      throw new CliError(`--deployment ${path}: contracts.${k} is not an address; is this a deployment.json?`);
    }
  }
  return dep;
}

/** The signing key: --key-file, else the first of `envs` that is set; undefined when none (and not required). */
export async function loadKey(a: Record<string, unknown>, io: Io, envs: readonly string[], required: boolean) {
  const file = a['key-file'] as string | undefined;
  const env = io.env ?? process.env;
  let text: string | undefined;
  let from: string;
  if (file) {
    from = `--key-file ${file}`;
    try {
      text = io.readFile(file);
    } catch (e) {
      throw new CliError(`${from}: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    const name = envs.find((n) => env[n]);
    if (!name) {
      if (!required) return undefined;
      throw new CliError(`no key: pass --key-file FILE or set ${envs.map((n) => `$${n}`).join(' or ')}`);
    }
    from = `$${name}`;
    text = env[name];
  }
  const hex = (text ?? '').trim().replace(/^(0x)?/, '0x');
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new CliError(`${from}: not a private key (64 hex digits)`);
  const { Wallet } = await import('ethers');
  return new Wallet(hex);
}

/** Connects to the chain of the deployment; `key` signs transactions. */
export async function openChain(
  a: Record<string, unknown>,
  io: Io,
  o: { keyEnvs: readonly string[]; needKey: boolean },
): Promise<ChainSession> {
  const env = io.env ?? process.env;
  const path = (a['deployment'] as string | undefined) ?? env['NVDAX_DEPLOYMENT'] ?? DEFAULT_DEPLOYMENT;
  const deployment = readDeployment(path, io);
  const url = (a['rpc-url'] as string | undefined) ?? env['NVDAX_RPC_URL'] ?? deployment.rpcUrl;
  if (!url) throw new CliError(`--rpc-url: not set, and the deployment ${path} names no rpcUrl`);
  if (!/^(https?|wss?):\/\//.test(url)) throw new CliError(`--rpc-url ${url}: expected an http(s):// or ws(s):// URL`);
  const key = await loadKey(a, io, o.keyEnvs, o.needKey);
  const { JsonRpcProvider } = await import('ethers');
  const { connect } = await import('../operator/settlement/deploy.ts');
  // No response cache: the nonce read before one transaction must not be reused by the next.
  const provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
  try {
    const net = await provider.getNetwork();
    if (deployment.chainId && String(net.chainId) !== String(deployment.chainId)) {
      throw new CliError(
        `--rpc-url ${url}: chain id ${net.chainId}, but the deployment is on chain ${deployment.chainId}`,
      );
    }
  } catch (e) {
    provider.destroy();
    if (e instanceof CliError) throw e;
    throw new CliError(`--rpc-url ${url}: no chain answers (${e instanceof Error ? e.message.split(' (')[0] : e})`);
  }
  const signer = key?.connect(provider);
  return {
    deployment,
    c: connect(deployment, signer ?? provider),
    ...(signer ? { signer: signer.address } : {}),
    close: () => provider.destroy(),
  };
}

/** The key's address; a CliError when the command was run without a key. */
export function signerOf(s: ChainSession): string {
  if (!s.signer) throw new CliError('no key: pass --key-file FILE or set $NVDAX_KEY');
  return s.signer;
}

/** An Ethereum address given in `flag`, checksummed; a CliError naming the flag otherwise. */
export async function addressArg(text: unknown, flag: string): Promise<string> {
  const { getAddress } = await import('ethers');
  try {
    return getAddress(String(text));
  } catch {
    throw new CliError(`${flag} ${String(text)}: expected an Ethereum address (0x + 40 hex digits)`);
  }
}

/**
 * An NVDAx amount in decimals (e.g. 12.5, at most 18 decimals) as wei: parsed with parseUnits, never a float.
 * Must be positive unless `zero` is allowed.
 */
export async function amountArg(text: unknown, flag: string, zero = false): Promise<bigint> {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]*)(\.[0-9]{1,18})?$/.test(s.trim())) {
    throw new CliError(
      `${flag} ${JSON.stringify(s ?? '')}: expected an NVDAx amount, a decimal number with at most 18 decimals (e.g. 12.5)`,
    );
  }
  const { parseUnits } = await import('ethers');
  const wei = parseUnits(s.trim(), 18);
  if (wei === 0n && !zero) throw new CliError(`${flag} ${s}: must be greater than 0`);
  return wei;
}

/** Wei as NVDAx decimals (`12.5`, `0`), exact: the one formatter status and the CLI share. */
export const nvdax = formatNvdax;

/** The revert of a failed call as `Name(arg, …)`, decoded with the deployment's ABIs; undefined if not a revert. */
async function revertOf(e: unknown): Promise<string | undefined> {
  const r = (e as { revert?: { name: string; args: readonly unknown[] } } | null)?.revert;
  if (r?.name) return `${r.name}(${[...r.args].map(String).join(', ')})`;
  const data = (e as { data?: unknown } | null)?.data;
  if (typeof data === 'string' && data.length >= 10) {
    const { Interface } = await import('ethers');
    const { artifact, CONTRACT_NAMES } = await import('../operator/settlement/contracts.ts');
    for (const name of CONTRACT_NAMES) {
      try {
        const err = new Interface(artifact(name).abi).parseError(data);
        if (err) return `${err.name}(${[...err.args].map(String).join(', ')})`;
      } catch {}
    }
    return `custom error ${data.slice(0, 10)}`;
  }
  return (e as { reason?: string } | null)?.reason ?? undefined;
}

/**
 * Sends `c.method(...args)` and waits for it to be mined; a revert becomes a CliError naming the contract's
 * error (e.g. `InsufficientEscrow(0x…, 5, 7)`).
 */
export async function send(
  c: Contracts[keyof Contracts],
  method: string,
  args: readonly unknown[],
  what: string,
): Promise<{ hash: string; block: number }> {
  try {
    // headroom on the estimate (gasWithHeadroom says why)
    const f = c.getFunction(method);
    const gas = await f.estimateGas(...args);
    const tx = await f(...args, { gasLimit: gasWithHeadroom(gas) });
    const receipt = await tx.wait();
    if (receipt?.status !== 1) throw new CliError(`${what}: the transaction ${tx.hash} reverted`);
    return { hash: tx.hash as string, block: receipt.blockNumber as number };
  } catch (e) {
    if (e instanceof CliError) throw e;
    const why = await revertOf(e);
    if (why) throw new CliError(`${what}: refused by the contract: ${why}`);
    throw new CliError(`${what}: ${e instanceof Error ? e.message.split(' (')[0] : String(e)}`);
  }
}

/** Makes sure `spender` may take `amount` of the signer's tokens (approves exactly the shortfall's total). */
export async function ensureAllowance(s: ChainSession, spender: string, amount: bigint, what: string): Promise<void> {
  const have = (await s.c.token.getFunction('allowance')(s.signer, spender)) as bigint;
  if (have >= amount) return;
  const balance = (await s.c.token.getFunction('balanceOf')(s.signer)) as bigint;
  if (balance < amount) {
    throw new CliError(`${what}: ${s.signer} holds ${nvdax(balance)} NVDAx, less than the ${nvdax(amount)} asked`);
  }
  await send(s.c.token, 'approve', [spender, amount], `${what}: approve`);
}

/** JSON with bigints as decimal strings. */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2);
}

/**
 * Prints `value` as JSON or YAML (bigints as decimal strings), or as a table: `head` and `rows`; a record
 * without rows prints as FIELD / VALUE lines.
 */
export function print(
  io: Io,
  output: Output,
  value: Record<string, unknown> | Array<Record<string, unknown>>,
  t?: { head: string[]; rows: Array<Array<string | number>> },
): void {
  if (output === 'json') {
    io.out(toJson(value));
    return;
  }
  if (output === 'yaml') {
    io.out(stringify(JSON.parse(toJson(value))).trimEnd());
    return;
  }
  if (t) {
    io.out(table(t.head, t.rows));
    return;
  }
  const rows = Object.entries(value as Record<string, unknown>).map(([k, v]) => [
    k,
    typeof v === 'object' && v !== null
      ? JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x))
      : String(v),
  ]);
  io.out(table(['FIELD', 'VALUE'], rows));
}

/** Runs a settlement command body: CliError → message on stderr, exit 1. */
export async function runChainCommand(cmd: string, body: () => Promise<number>, io: Io): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`nvdax ${cmd}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
