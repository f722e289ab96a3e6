// Confidential Containers init-data: the TOML document a Kata guest reads at boot (attestation
// agent and confidential-data-hub config, agent policy), carried as the pod annotation
// `io.katacontainers.config.hypervisor.cc_init_data` = base64(gzip(TOML)). Its digest is
// bound into the TEE evidence (SNP HOST_DATA, TDX MRCONFIGID), so verifiers compare it.
//
// Deterministic on purpose: the scheduler records the digest at placement and the job
// controller rebuilds the annotation when it materializes; both must get the same bytes.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { stringify } from 'smol-toml';
import type { InitDataAlgorithm } from '../api/constants.ts';

export type { InitDataAlgorithm };
export const INIT_DATA_VERSION = '0.1.0';
export const DEFAULT_INIT_DATA_ALGORITHM: InitDataAlgorithm = 'sha384';
const algorithms: readonly InitDataAlgorithm[] = ['sha256', 'sha384', 'sha512'];

/** Where confidential-data-hub listens inside the guest. */
export const CDH_SOCKET = 'unix:///run/confidential-containers/cdh.sock';

/**
 * The default Kata agent policy: the host may run the pod's lifecycle (create, start, stop,
 * wait, signal, stats, networking) but not look inside it or change the rules: no exec, no
 * reading or writing the containers' stdio (so no `kubectl logs`/`attach`), no new policy, no
 * tracing, no clock or entropy injection, no swap or in-place updates. A request the policy
 * fails is refused (AllowRequestsFailingPolicy false).
 */
export const DEFAULT_AGENT_POLICY = `package agent_policy

default AllowRequestsFailingPolicy := false

# Sandbox and container lifecycle.
default CreateSandboxRequest := true
default DestroySandboxRequest := true
default CreateContainerRequest := true
default StartContainerRequest := true
default RemoveContainerRequest := true
default WaitProcessRequest := true
default SignalProcessRequest := true
default StatsContainerRequest := true
default GetOOMEventRequest := true
default GetMetricsRequest := true
default GuestDetailsRequest := true
default ReadContainerTerminationMessage := true
default CloseStdinRequest := true
default TtyWinResizeRequest := true
default CopyFileRequest := true
default PullImageRequest := true
default OnlineCPUMemRequest := true
default MemHotplugByProbeRequest := true
default RemoveStaleVirtiofsShareMountsRequest := true

# Networking the pod needs.
default AddARPNeighborsRequest := true
default ListInterfacesRequest := true
default ListRoutesRequest := true
default UpdateInterfaceRequest := true
default UpdateRoutesRequest := true

# Denied: the host must not look inside the guest or change its rules.
default ExecProcessRequest := false
default ReadStreamRequest := false
default WriteStreamRequest := false
default SetPolicyRequest := false
default StartTracingRequest := false
default StopTracingRequest := false
default SetGuestDateTimeRequest := false
default ReseedRandomDevRequest := false
default AddSwapRequest := false
default PauseContainerRequest := false
default ResumeContainerRequest := false
default UpdateContainerRequest := false
default UpdateEphemeralMountsRequest := false
`;

export interface InitDataOptions {
  /** Digest algorithm (kata accepts exactly sha256, sha384, sha512). Default sha384. */
  algorithm?: InitDataAlgorithm;
  /** The KBS (Trustee) the guest attests to and fetches secrets from. */
  kbsUrl: string;
  /** Kata agent policy (Rego). Default {@link DEFAULT_AGENT_POLICY}. */
  policy?: string;
  /** attestation-agent config (aa.toml). Default: the KBS token config for kbsUrl. */
  aaConfig?: string;
  /** confidential-data-hub config (cdh.toml). Default: the cc_kbc for kbsUrl. */
  cdhConfig?: string;
}

export interface InitData {
  /** Pod annotation value: standard base64 of gzip(toml). */
  annotation: string;
  /** Lowercase hex of `algorithm` over the TOML text. */
  digest: string;
  algorithm: InitDataAlgorithm;
  toml: string;
}

/** aa.toml: where the attestation agent gets tokens. */
export function defaultAaConfig(kbsUrl: string): string {
  return `[token_configs]\n\n[token_configs.kbs]\n${stringify({ url: kbsUrl })}`;
}

/** cdh.toml: confidential-data-hub resolves kbs:/// secrets through the KBS. */
export function defaultCdhConfig(kbsUrl: string): string {
  return `socket = '${CDH_SOCKET}'\n\n[kbc]\n${stringify({ name: 'cc_kbc', url: kbsUrl })}`;
}

/**
 * A TOML string value: a multi-line literal string (readable, as kata's examples write them)
 * when the text allows one, else a basic string with escapes.
 */
function tomlString(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is checked for
  const literalOk = !s.includes("'''") && !s.endsWith("'") && !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s);
  if (literalOk) return `'''\n${s}'''`;
  return stringify({ v: s }).slice('v = '.length).trimEnd();
}

/** Builds init-data for a confidential pod. Same options, same bytes. */
export function initData(opts: InitDataOptions): InitData {
  const algorithm = opts.algorithm ?? DEFAULT_INIT_DATA_ALGORITHM;
  if (!algorithms.includes(algorithm))
    throw new RangeError(`init-data algorithm must be one of ${algorithms.join(', ')}`);
  if (!opts.kbsUrl) throw new RangeError('init-data needs a KBS URL');
  const data: Array<[string, string]> = [
    ['aa.toml', opts.aaConfig ?? defaultAaConfig(opts.kbsUrl)],
    ['cdh.toml', opts.cdhConfig ?? defaultCdhConfig(opts.kbsUrl)],
    ['policy.rego', opts.policy ?? DEFAULT_AGENT_POLICY],
  ];
  const toml =
    `version = "${INIT_DATA_VERSION}"\nalgorithm = "${algorithm}"\n\n[data]\n` +
    data.map(([k, v]) => `"${k}" = ${tomlString(v)}\n`).join('\n');
  const digest = createHash(algorithm).update(toml, 'utf8').digest('hex');
  // gzip output is deterministic for the same input and level (no name or mtime in the header)
  const annotation = gzipSync(Buffer.from(toml, 'utf8'), { level: 9 }).toString('base64');
  return { annotation, digest, algorithm, toml };
}

/** Bytes of the TEE field the init-data digest is bound to: SNP HOST_DATA 32, TDX MRCONFIGID 48. */
export const hostDataSize = { snp: 32, tdx: 48 } as const;

/** The value the evidence binds for `digest`: cut or zero-padded to the TEE's field, lowercase hex. */
export function hostDataOf(digest: string, tee: 'snp' | 'tdx'): string {
  if (!/^([0-9a-fA-F]{2})+$/.test(digest)) throw new RangeError('init-data digest must be hex');
  const size = hostDataSize[tee];
  const out = Buffer.alloc(size);
  Buffer.from(digest, 'hex').copy(out, 0, 0, size);
  return out.toString('hex');
}
