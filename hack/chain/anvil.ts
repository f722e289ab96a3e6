// Starting and stopping a local anvil node. We spawn anvil's real binary (from the platform package that
// @foundry-rs/anvil installs), not the npm wrapper, so the pid we hold is the node itself and stopping it
// leaves nothing behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** Anvil's public development mnemonic: its accounts are funded with ether and unlocked. Never for real money. */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk';

export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(`anvil binary package ${pkg} is not installed (npm ci installs it with @foundry-rs/anvil)`);
  }
  const bin = join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
  if (!existsSync(bin)) throw new Error(`anvil binary missing at ${bin}`);
  return bin;
}

export interface AnvilOptions {
  port: number;
  accounts?: number;
  chainId?: number;
  /** Log file; without it output is discarded. */
  logFile?: string;
  /** Keep running after this process exits (hack/chain up). */
  detached?: boolean;
  /** More anvil flags, e.g. --steps-tracing to profile gas by opcode. */
  extraArgs?: string[];
}

export function anvilArgs(o: AnvilOptions): string[] {
  return [
    '--host',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--hardfork',
    'prague',
    '--chain-id',
    String(o.chainId ?? 31337),
    '--accounts',
    String(o.accounts ?? 20),
    '--balance',
    '1000000',
    '--mnemonic',
    DEV_MNEMONIC,
    ...(o.extraArgs ?? []),
  ];
}

export function spawnAnvil(o: AnvilOptions): ChildProcess {
  const out = o.logFile ? openSync(o.logFile, 'a') : 'ignore';
  const child = spawn(anvilBinary(), anvilArgs(o), {
    stdio: ['ignore', out, out],
    detached: o.detached ?? false,
  });
  if (o.detached) child.unref();
  return child;
}

export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** Polls until the node answers web3_clientVersion, or throws after `timeoutMs`. */
export async function waitForRpc(url: string, timeoutMs = 30_000, alive: () => boolean = () => true): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await rpc<string>(url, 'web3_clientVersion');
    } catch (e) {
      if (!alive()) throw new Error(`anvil exited before answering on ${url}`);
      if (Date.now() > until) throw new Error(`anvil did not answer on ${url} within ${timeoutMs} ms: ${e}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A free TCP port on 127.0.0.1 (the OS picks it; a race with another process is possible but rare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` is an anvil process (so a stale pid file never makes us kill something else). */
export function isAnvil(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.endsWith('anvil') ?? false;
  } catch {
    return isRunning(pid); // no /proc (macOS): trust the pid file
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  if (!isRunning(pid)) return;
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (isRunning(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (isRunning(pid)) {
    process.kill(pid, 'SIGKILL');
    while (isRunning(pid)) await new Promise((r) => setTimeout(r, 20));
  }
}

/** Stops a child we spawned and waits for its exit event (so no zombie is left either). */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
