// nvdax submit -f job.yaml: sign the job's task with the requester's key and create the job on the hub.
// The manifest is validated offline first (as by nvdax validate); spec.payment gains nonce, deadline and the
// EIP-712 signature (operator/settlement/job-task.ts) under the settlement contract's domain, which an operator
// run with --require-signed-tasks checks before it places the job. ethers is loaded on first use: every other
// command starts without it.
import { randomBytes } from 'node:crypto';
import type { TypedDataDomain } from 'ethers';
import { stringify } from 'yaml';
import type { KubeObject } from '../../operator/kube/types.ts';
import { parseDuration } from '../../operator/runtime/config.ts';
import type { TaskJob } from '../../operator/settlement/job-task.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, explainError, hubOptions, hubOptionsOf, objectPhrase, openHub, resourceOf } from '../hub.ts';
import type { Hub } from '../hub.ts';
import type { Command, Io } from '../io.ts';
import { jobsOfManifest, readManifest } from '../manifest.ts';

const usage = 'nvdax submit -f FILE --chain-id N --settlement-address ADDR [--key-file F]';

/** The settlement domain of --chain-id and --settlement-address; a CliError naming the flag otherwise. */
export async function domainOf(chainId: unknown, address: unknown, cmd: string): Promise<TypedDataDomain> {
  if (typeof chainId !== 'string' || !/^[1-9][0-9]{0,19}$/.test(chainId)) {
    throw new CliError(`nvdax ${cmd}: --chain-id must be a positive integer (the settlement chain's id)`);
  }
  if (typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new CliError(`nvdax ${cmd}: --settlement-address must be the Settlement contract's address (0x + 40 hex)`);
  }
  const { taskDomain } = await import('../../operator/settlement/task.ts');
  try {
    return taskDomain(BigInt(chainId), address);
  } catch {
    throw new CliError(`nvdax ${cmd}: --settlement-address ${address} has a wrong checksum`);
  }
}

/** The requester's key: --key-file, else $NVDAX_REQUESTER_KEY; hex, with or without 0x. */
async function loadKey(file: string | undefined, io: Io) {
  const { Wallet } = await import('ethers');
  let text: string | undefined;
  let from: string;
  if (file) {
    from = `--key-file ${file}`;
    try {
      text = io.readFile(file);
    } catch (e) {
      throw new CliError(`nvdax submit: ${from}: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    from = '$NVDAX_REQUESTER_KEY';
    text = (io.env ?? process.env)['NVDAX_REQUESTER_KEY'];
    if (!text)
      throw new CliError(
        "nvdax submit: no key: pass --key-file FILE or set $NVDAX_REQUESTER_KEY (the requester's private key)",
      );
  }
  const hex = text.trim().replace(/^(0x)?/, '0x');
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new CliError(`nvdax submit: ${from}: not a private key (64 hex digits)`);
  return new Wallet(hex);
}

/** --deadline: a duration from now (24h, 90m) or an RFC 3339 time; the RFC 3339 text written to the job. */
export function deadlineOf(text: string, now: number): string {
  const ms = parseDuration(text);
  const at = ms !== undefined ? now + ms : /^\d{4}-\d\d-\d\dT/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at) || at <= now) {
    throw new CliError(
      `nvdax submit: --deadline "${text}": expected a duration from now (24h) or a future RFC 3339 time`,
    );
  }
  return new Date(Math.floor(at / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

export const submitCommand: Command = {
  name: 'submit',
  summary: "sign a job's task with the requester's key and create it on the hub",
  usage,
  builder: (y) =>
    hubOptions(
      y
        .option('filename', {
          alias: 'f',
          type: 'string',
          demandOption: true,
          requiresArg: true,
          describe: 'InferenceJob or TrainingJob manifest (- reads standard input)',
        })
        .option('key-file', {
          type: 'string',
          requiresArg: true,
          describe: "file holding the requester's private key (hex); default: $NVDAX_REQUESTER_KEY",
        })
        .option('chain-id', { type: 'string', demandOption: true, requiresArg: true, describe: 'settlement chain id' })
        .option('settlement-address', {
          type: 'string',
          demandOption: true,
          requiresArg: true,
          describe: 'Settlement contract address (the EIP-712 verifyingContract)',
        })
        .option('nonce', {
          type: 'string',
          requiresArg: true,
          describe: "task nonce, a decimal uint256 (default: the manifest's, else random)",
        })
        .option('deadline', {
          type: 'string',
          default: '24h',
          requiresArg: true,
          describe: 'signature refused after this: a duration from now or an RFC 3339 time',
        })
        .option('dry-run', { type: 'boolean', default: false, describe: 'print the signed manifest, create nothing' }),
    )
      .example(
        'nvdax submit -f job.yaml --key-file key.hex --chain-id 31337 --settlement-address 0x…',
        'sign and create',
      )
      .epilog(
        "spec.payment.requester must be the key's address, and spec.payment.maxTotal set (it is signed).\n" +
          "The signature covers the job's namespace and name: metadata.namespace, else --namespace, else the\n" +
          "context's namespace. A changed signed field needs a new signature: delete the job and submit again.\n" +
          'Exit codes: 0 signed (and created); 1 invalid manifest, wrong key or the hub refused; 2 wrong arguments.',
      ),
  async run(args, io) {
    const parsed = await parseCommandArgs(submitCommand, args, io);
    if ('code' in parsed) return parsed.code;
    try {
      return await submit(parsed.argv, io);
    } catch (e) {
      if (e instanceof CliError) {
        io.err(e.message);
        return 1;
      }
      throw e;
    }
  },
};

async function submit(a: Record<string, unknown>, io: Io): Promise<number> {
  const file = a['filename'] as string;
  const domain = await domainOf(a['chain-id'], a['settlement-address'], 'submit');
  const { checkJobTask, JobTaskError, signJobTask } = await import('../../operator/settlement/job-task.ts');
  const docs = jobsOfManifest(await readManifest(file, io), file, io, 'submit', 'nothing signed') as Array<
    KubeObject & TaskJob
  >;
  const now = io.now?.() ?? Date.now();
  const deadline = deadlineOf(a['deadline'] as string, now);
  const nonceFlag = a['nonce'] as string | undefined;
  if (nonceFlag !== undefined && !/^(0|[1-9][0-9]{0,76})$/.test(nonceFlag)) {
    throw new CliError(`nvdax submit: --nonce "${nonceFlag}": expected a decimal integer below 2^256`);
  }
  if (nonceFlag !== undefined && docs.length > 1) {
    throw new CliError(
      'nvdax submit: --nonce names one task; the file holds several jobs (leave it out: each gets a random one)',
    );
  }
  const key = await loadKey(a['key-file'] as string | undefined, io);
  const dryRun = a['dry-run'] === true;
  const nsFlag = a['namespace'] as string | undefined;
  let hub: Hub | undefined;
  try {
    if (!dryRun) hub = await openHub(io, hubOptionsOf(a));
    for (const job of docs) {
      const namespace = job.metadata?.namespace ?? nsFlag ?? hub?.namespace;
      if (!namespace) {
        throw new CliError(
          `nvdax submit: ${job.kind}/${job.metadata?.name}: the signature covers the namespace: set metadata.namespace or --namespace`,
        );
      }
      if (nsFlag && job.metadata?.namespace && nsFlag !== job.metadata.namespace) {
        throw new CliError(
          `nvdax submit: ${job.kind}/${job.metadata.name}: metadata.namespace "${job.metadata.namespace}" differs from --namespace "${nsFlag}"`,
        );
      }
      job.metadata = { ...job.metadata, namespace };
      const payment = job.spec.payment;
      payment.nonce = nonceFlag ?? payment.nonce ?? BigInt(`0x${randomBytes(16).toString('hex')}`).toString();
      payment.deadline = deadline;
      delete payment.signature;
      try {
        payment.signature = await signJobTask(job, key, domain);
      } catch (e) {
        if (e instanceof JobTaskError)
          throw new CliError(`nvdax submit: ${job.kind}/${job.metadata.name}: ${e.message}`);
        throw e;
      }
      const check = checkJobTask(job, domain, now);
      const digest = check.ok ? check.digest : '';
      if (dryRun) {
        io.out(`---\n${stringify(job, { lineWidth: 0, version: '1.1' }).trimEnd()}`);
        continue;
      }
      const kind = job.kind as 'InferenceJob' | 'TrainingJob';
      const what = objectPhrase(kind, job.metadata.name ?? '', namespace);
      try {
        await hub?.create(resourceOf[kind], job as KubeObject);
      } catch (e) {
        throw new CliError(`nvdax submit: cannot create ${what}: ${explainError(e, what, hub)}`);
      }
      io.out(`${kind.toLowerCase()}.nvdax.io/${job.metadata.name} created (task ${digest} signed by ${key.address})`);
    }
  } finally {
    await hub?.close();
  }
  return 0;
}
