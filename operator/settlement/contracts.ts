// The generated contract artifacts (contracts/artifacts/, written by hack/contracts/build.ts) and the
// compact settle item encoding the Settlement contract reads. No chain access here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatUnits, type InterfaceAbi, parseUnits } from 'ethers';

export const CONTRACT_NAMES = [
  'NVDAxToken',
  'NVDAxTimelock',
  'NVDAxGovernor',
  'ProviderRegistry',
  'Settlement',
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface Artifact {
  contractName: string;
  sourceName: string;
  abi: InterfaceAbi;
  bytecode: string;
  deployedBytecode: string;
}

const artifactsDir = join(import.meta.dirname, '..', '..', 'contracts', 'artifacts');
const cache = new Map<string, Artifact>();

/** Reads contracts/artifacts/<name>.json; test-only contracts are named `test/<Name>`. */
export function artifact(name: ContractName | `test/${string}`): Artifact {
  let a = cache.get(name);
  if (!a) {
    const path = join(artifactsDir, `${name}.json`);
    try {
      a = JSON.parse(readFileSync(path, 'utf8')) as Artifact;
    } catch (e) {
      throw new Error(`contract artifact ${path} not readable (run \`make contracts\`): ${(e as Error).message}`);
    }
    cache.set(name, a);
  }
  return a;
}

/** One 1e12-wei unit: amounts in settle items and task caps are counted in it. */
export const UNIT = 10n ** 12n;
export const ITEM_BYTES = 12;
const MAX_TASK = 2n ** 32n - 1n;
const MAX_PERIOD = 2n ** 24n - 1n;
const MAX_AMOUNT = 2n ** 40n - 1n;

/** One settled (task, period): `amount` is in UNIT (1e12 wei). */
export interface SettleItem {
  task: number | bigint;
  period: number | bigint;
  amount: bigint;
}

function bounded(field: string, v: number | bigint, max: bigint): bigint {
  const b = BigInt(v);
  if (b < 0n || b > max) throw new RangeError(`settle item ${field} ${b} out of range: allowed 0..${max}`);
  return b;
}

/**
 * Packs items as the contract's `settle(bytes)` takes them: 12 bytes each, big-endian
 * task (uint32) | period (uint24) | amount (uint40, in UNIT).
 */
export function encodeItems(items: readonly SettleItem[]): string {
  let hex = '0x';
  for (const [i, it] of items.entries()) {
    const word =
      (bounded(`[${i}].task`, it.task, MAX_TASK) << 64n) |
      (bounded(`[${i}].period`, it.period, MAX_PERIOD) << 40n) |
      bounded(`[${i}].amount`, it.amount, MAX_AMOUNT);
    hex += word.toString(16).padStart(24, '0');
  }
  return hex;
}

/** The inverse of encodeItems, e.g. for an indexer reading settle calldata. */
export function decodeItems(data: string): SettleItem[] {
  const hex = data.startsWith('0x') ? data.slice(2) : data;
  if (hex.length % (ITEM_BYTES * 2) !== 0) {
    throw new RangeError(`settle items: ${hex.length / 2} bytes is not a multiple of ${ITEM_BYTES}`);
  }
  const out: SettleItem[] = [];
  for (let i = 0; i < hex.length; i += ITEM_BYTES * 2) {
    const w = BigInt(`0x${hex.slice(i, i + ITEM_BYTES * 2)}`);
    out.push({ task: Number(w >> 64n), period: Number((w >> 40n) & MAX_PERIOD), amount: w & MAX_AMOUNT });
  }
  return out;
}

/**
 * A gas limit from an estimate. The estimate runs on the last block; the call is mined a second or more later,
 * when the registry's reward accrual (reached by staking, locking stake for a task, claiming) may write fresh
 * storage slots the estimate did not (about 20,000 gas each). Unused gas is not paid for.
 */
export function gasWithHeadroom(estimate: bigint): bigint {
  return (estimate * 3n) / 2n + 60_000n;
}

/** Wei as NVDAx decimals, exact and without a trailing ".0" (`12.5`, `0`), as status and the CLI show amounts. */
export const formatNvdax = (wei: bigint): string => formatUnits(wei, 18).replace(/\.0$/, '');

/** NVDAx decimals (a status amount such as "4.99998") as wei, exact. */
export const parseNvdax = (amount: string): bigint => parseUnits(amount, 18);
