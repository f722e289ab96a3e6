// The settlement outbox: one transaction at a time, written ahead to the hub before it is broadcast, so
// nothing is lost or sent twice across restarts, leader changes, RPC outages and dropped or replaced
// transactions.
//
// The entry (a ConfigMap in the operator's namespace) holds the call, what to do once it is mined, the
// nonce, and every signed raw transaction made for that nonce (a fee bump adds one). A new operator finds
// it and waits for one of those hashes to be mined, broadcasting them again; it never signs another call
// for that nonce. Exactly once per (task, period) is the contract's own rule (a settled bitmap; a batch
// with a settled item reverts whole); the outbox makes sure the operator never needs it.
import { type Interface, isError, Transaction, type TransactionReceipt } from 'ethers';
import type { KubeClient } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import { resources } from '../kube/types.ts';
import type { Clock } from '../runtime/clock.ts';
import { sleep } from '../runtime/clock.ts';
import type { Logger } from '../runtime/log.ts';
import type { ChainClient } from './chain.ts';
import { gasWithHeadroom } from './contracts.ts';

export type OutboxKind = 'open' | 'settle' | 'anchor' | 'close';

export interface SignedTx {
  hash: string;
  raw: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
}

export interface OutboxEntry {
  kind: OutboxKind;
  to: string;
  data: string;
  /** What the settler applies to job statuses once the transaction is mined (JSON). */
  meta: unknown;
  nonce: number;
  gasLimit: string;
  txs: SignedTx[];
  createdAt: number;
}

/** Where the entry is kept. */
export interface OutboxStore {
  load(): Promise<OutboxEntry | undefined>;
  save(e: OutboxEntry): Promise<void>;
  clear(): Promise<void>;
}

/**
 * One ConfigMap, replaced with its resourceVersion as a precondition: a second writer (a deposed leader)
 * fails with Conflict instead of overwriting the entry.
 */
export class ConfigMapOutbox implements OutboxStore {
  readonly #hub: KubeClient;
  readonly #ns: string;
  readonly #name: string;
  #rv: string | undefined;

  constructor(hub: KubeClient, namespace: string, name = 'nvdax-settlement-outbox') {
    this.#hub = hub;
    this.#ns = namespace;
    this.#name = name;
  }

  async load(): Promise<OutboxEntry | undefined> {
    try {
      const cm = await this.#hub.get<{ metadata: { resourceVersion?: string }; data?: Record<string, string> }>(
        resources.configMaps,
        this.#name,
        this.#ns,
      );
      this.#rv = cm.metadata.resourceVersion;
      const text = cm.data?.['entry'];
      return text ? (JSON.parse(text) as OutboxEntry) : undefined;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      this.#rv = undefined;
      return undefined;
    }
  }

  async #write(data: Record<string, string>): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.#name,
        namespace: this.#ns,
        labels: { 'app.kubernetes.io/managed-by': 'nvdax', 'nvdax.io/role': 'settlement-outbox' },
        ...(this.#rv ? { resourceVersion: this.#rv } : {}),
      },
      data,
    };
    const out = this.#rv
      ? await this.#hub.replace(resources.configMaps, body)
      : await this.#hub.create(resources.configMaps, body);
    this.#rv = out.metadata?.resourceVersion;
  }

  save(e: OutboxEntry): Promise<void> {
    return this.#write({ entry: JSON.stringify(e) });
  }

  clear(): Promise<void> {
    return this.#write({});
  }
}

export type SendOutcome =
  | { status: 'mined'; entry: OutboxEntry; receipt: TransactionReceipt }
  | { status: 'reverted'; entry: OutboxEntry; receipt: TransactionReceipt }
  /** The call would revert now (estimateGas): nothing was signed or stored. */
  | { status: 'refused'; reason: string; error?: { name: string; args: unknown[] } };

export interface SenderOptions {
  chain: ChainClient;
  store: OutboxStore;
  clock: Clock;
  log: Logger;
  /** Decodes custom errors in revert data. */
  iface: Interface;
  /** Blocks on top of the one that included it (default 0: anvil mines on demand). */
  confirmations?: number;
  /** Broadcast again after this long without a receipt (default 10 s). */
  rebroadcastMs?: number;
  /** Replace with 25% higher fees after this long (default 60 s). */
  bumpMs?: number;
  pollMs?: number;
  onGas?: (kind: OutboxKind, gas: bigint) => void;
}

/** Sends the outbox's transactions one at a time. */
export class Sender {
  readonly #o: SenderOptions;

  constructor(o: SenderOptions) {
    this.#o = o;
  }

  /** The decoded custom error of a failed call, if the data holds one. */
  decode(e: unknown): { name: string; args: unknown[] } | undefined {
    const data = (e as { data?: string; info?: { error?: { data?: string } } })?.data ?? undefined;
    const raw = typeof data === 'string' ? data : undefined;
    if (!raw || raw === '0x') return undefined;
    try {
      const d = this.#o.iface.parseError(raw);
      return d ? { name: d.name, args: [...d.args] } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Signs the call for the next nonce, stores it, broadcasts it and waits for it. The entry stays in the
   * store until the caller has applied the outcome and calls `done()`.
   */
  async submit(kind: OutboxKind, to: string, data: string, meta: unknown, signal: AbortSignal): Promise<SendOutcome> {
    const { chain } = this.#o;
    let gas: bigint;
    try {
      gas = await chain.provider.estimateGas({ from: chain.address, to, data });
    } catch (e) {
      if (isError(e, 'CALL_EXCEPTION')) {
        const error = this.decode(e);
        return {
          status: 'refused',
          reason: error ? `${error.name}(${error.args.map(String).join(', ')})` : e.shortMessage,
          ...(error ? { error } : {}),
        };
      }
      throw e;
    }
    const nonce = await chain.provider.getTransactionCount(chain.address, 'pending');
    const entry: OutboxEntry = {
      kind,
      to,
      data,
      meta,
      nonce,
      gasLimit: gasWithHeadroom(gas).toString(),
      txs: [],
      createdAt: this.#o.clock.now(),
    };
    entry.txs.push(await this.#sign(entry, 1n));
    await this.#o.store.save(entry); // written ahead: from here on a restart finds it
    return this.#wait(entry, signal);
  }

  /** Waits for a stored entry (after a restart). */
  resume(entry: OutboxEntry, signal: AbortSignal): Promise<SendOutcome> {
    this.#o.log.info({ kind: entry.kind, nonce: entry.nonce, txs: entry.txs.map((t) => t.hash) }, 'Resuming outbox');
    return this.#wait(entry, signal);
  }

  /** The outcome is applied: the next transaction may go. */
  done(): Promise<void> {
    return this.#o.store.clear();
  }

  async #sign(entry: OutboxEntry, bump: bigint): Promise<SignedTx> {
    const { chain } = this.#o;
    const fee = await chain.provider.getFeeData();
    const last = entry.txs.at(-1);
    const base = (v: bigint | null | undefined, prev: string | undefined, fallback: bigint) => {
      const now = v ?? fallback;
      const before = prev ? (BigInt(prev) * 5n) / 4n + 1n : 0n; // a replacement must pay at least 10% more
      return (now > before ? now : before) * bump;
    };
    const maxPriorityFeePerGas = base(fee.maxPriorityFeePerGas, last?.maxPriorityFeePerGas, 1_000_000_000n);
    let maxFeePerGas = base(fee.maxFeePerGas, last?.maxFeePerGas, 2_000_000_000n);
    if (maxFeePerGas < maxPriorityFeePerGas) maxFeePerGas = maxPriorityFeePerGas;
    const raw = await chain.wallet.signTransaction({
      type: 2,
      chainId: chain.target.chainId,
      to: entry.to,
      data: entry.data,
      nonce: entry.nonce,
      gasLimit: BigInt(entry.gasLimit),
      maxFeePerGas,
      maxPriorityFeePerGas,
    });
    return {
      hash: Transaction.from(raw).hash ?? '',
      raw,
      maxFeePerGas: maxFeePerGas.toString(),
      maxPriorityFeePerGas: maxPriorityFeePerGas.toString(),
    };
  }

  async #broadcast(tx: SignedTx): Promise<void> {
    try {
      await this.#o.chain.provider.send('eth_sendRawTransaction', [tx.raw]);
    } catch (e) {
      // known already, or its nonce is used (by this one or a replacement): the receipt will say
      const msg = String((e as Error).message).toLowerCase();
      if (/already known|known transaction|nonce too low|already imported|replacement/.test(msg)) return;
      throw e;
    }
  }

  async #wait(entry: OutboxEntry, signal: AbortSignal): Promise<SendOutcome> {
    const o = this.#o;
    const { provider } = o.chain;
    const poll = o.pollMs ?? 250;
    let sentAt = -Infinity;
    let firstSent = o.clock.monotonic();
    let noneSince: number | undefined;
    for (;;) {
      signal.throwIfAborted();
      const now = o.clock.monotonic();
      if (now - sentAt >= (o.rebroadcastMs ?? 10_000)) {
        for (const tx of entry.txs) await this.#broadcast(tx);
        sentAt = now;
      }
      for (const tx of entry.txs) {
        const receipt = await provider.getTransactionReceipt(tx.hash);
        if (!receipt) continue;
        if ((o.confirmations ?? 0) > 0 && (await receipt.confirmations()) < (o.confirmations ?? 0) + 1) continue;
        o.onGas?.(entry.kind, receipt.gasUsed);
        return { status: receipt.status === 1 ? 'mined' : 'reverted', entry, receipt };
      }
      // the nonce is used but by none of ours: only possible if the key is used elsewhere
      const used = await provider.getTransactionCount(o.chain.address, 'latest');
      if (used > entry.nonce) {
        noneSince ??= now;
        if (now - noneSince > 30_000) {
          throw new Error(
            `outbox: nonce ${entry.nonce} of ${o.chain.address} was used by a transaction this operator did not send ` +
              `(${entry.txs.map((t) => t.hash).join(', ')} never mined); is the coordinator key used elsewhere?`,
          );
        }
      }
      if (now - firstSent >= (o.bumpMs ?? 60_000) && used <= entry.nonce) {
        const tx = await this.#sign(entry, 1n);
        entry.txs.push(tx);
        await o.store.save(entry); // the replacement is written ahead like the first
        o.log.warn(
          { nonce: entry.nonce, hash: tx.hash, maxFeePerGas: tx.maxFeePerGas },
          'Replacing a pending transaction',
        );
        await this.#broadcast(tx);
        firstSent = now;
      }
      await sleep(o.clock, poll, signal);
    }
  }
}
