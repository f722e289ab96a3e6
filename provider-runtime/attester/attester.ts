// The development attester for simulated clusters. It is NOT a TEE and proves nothing about hardware: it
// holds its own signing keys and issues, for whatever it is asked, tokens shaped exactly like Trustee's EAR
// (ES256, P-256) and NVIDIA's NRAS answer (ES384, P-384), with Trustee's `sample` TEE type so that any
// verifier refuses them unless its policy allows development evidence. Faults can be injected to exercise
// every refusal of operator/verification/attestation.ts.
//
// Verifiers trust it only by being configured with its JWKS (`attester.jwks`), which production policies
// never hold.
import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { parse as parseToml } from 'smol-toml';
import {
  type AttestationPolicy,
  boundInitData,
  type EarStatus,
  type EvidenceBundle,
  type EvidenceTeeType,
  expectedReportData,
  gpuNonceOf,
  initDataDigestOf,
  initDataToml,
  NRAS_ISSUER,
  type NrasAnswer,
  TRUSTEE_EAR_PROFILE,
  type TeePubKey,
} from '../../operator/verification/attestation.ts';

/** What the simulated GPUs report; `devPolicy` allows exactly these. */
export const DEV_GPU = {
  hwmodel: 'GH100 A01 GSP BROM',
  oemid: '5703',
  driverVersion: '550.90.07',
  vbiosVersion: '96.00.9F.00.04',
} as const;

/** Private keys of a development attester (JWK), to persist it across restarts of a simulated cluster. */
export interface DevAttesterKeys {
  /** P-256 key the EARs are signed with (ES256). */
  ear: JWK;
  /** P-384 key the NRAS tokens are signed with (ES384). */
  nras: JWK;
}

/** Faults to inject into one bundle. Each makes a verifier refuse it with the named claim. */
export interface DevFaults {
  /** `ear.status` of the CPU appraisal (default affirming). */
  cpuStatus?: EarStatus;
  /** `ear.status` of one GPU appraisal: `{ index, status }`. */
  gpuStatus?: { index: number; status: EarStatus };
  /** Tokens already expired: the EAR, the NRAS tokens, or both (true). */
  expired?: boolean | 'ear' | 'nras';
  /** Bind an init-data digest other than the TOML's (a wrong measurement). */
  wrongMeasurement?: boolean;
  /** This GPU reports `dbgstat: enabled`. */
  debugGpu?: number;
  /** This GPU's token carries another nonce (the overall token keeps the right one). */
  staleGpuNonce?: number;
  /** Claims to set (or, with `undefined`, remove) in one GPU's NRAS token. */
  gpuClaims?: { index: number; claims: Record<string, unknown> };
  /** Claims to set (or remove) in the overall NRAS token. */
  overallClaims?: Record<string, unknown>;
  /** Issue the EAR or the NRAS tokens without `exp`. */
  omitExp?: 'ear' | 'nras';
  /** This GPU reports `measres: fail`. */
  measresFailure?: number;
  /** Driver version every GPU reports (default {@link DEV_GPU}). */
  driverVersion?: string;
  /** VBIOS version every GPU reports (default {@link DEV_GPU}). */
  vbiosVersion?: string;
  /** `iss` put into the EAR (Trustee's carries none by default). */
  earIssuer?: string;
  /** `iss` of the NRAS tokens (default NRAS's). */
  nrasIssuer?: string;
  /** The overall NRAS token's digest for this GPU does not match its token. */
  badGpuDigest?: number;
  /** The overall NRAS token lists no digest for this GPU. */
  missingGpuDigest?: number;
  /** Name the CPU appraisal `cpu` (Trustee before v0.14) instead of `cpu0`. */
  legacyCpuSubmod?: boolean;
  /**
   * Label the CPU evidence as this hardware TEE instead of `sample` (tests of the SNP/TDX paths only: the
   * tokens are still signed by the development keys, which no production policy trusts).
   */
  emulateTee?: 'snp' | 'tdx';
}

export interface IssueRequest {
  /** The verifier's nonce. */
  nonce: string;
  /** The instance's TEE public key (bound with the nonce into report_data). */
  teePubKey: TeePubKey;
  /** The pod's init-data: TOML, or the annotation (base64 of gzip). Its digest is bound as HOST_DATA/MRCONFIGID. */
  initData: string;
  /** Simulated GPUs (default 0). */
  gpus?: number;
  /** Instance label copied into the bundle. */
  instance?: string;
  faults?: DevFaults;
}

export interface DevAttester {
  /** Public keys for verifiers: the EAR set (P-256) and the NRAS set (P-384). */
  readonly jwks: { ear: JSONWebKeySet; nras: JSONWebKeySet };
  /** The private keys, to persist (simulated clusters only). */
  readonly keys: DevAttesterKeys;
  /** Issues an evidence bundle: a Trustee-shaped EAR and, with GPUs, an NRAS-shaped answer. */
  issue(req: IssueRequest): Promise<EvidenceBundle>;
}

export interface DevAttesterOptions {
  /** Reuse these keys (default: fresh ones). */
  keys?: DevAttesterKeys;
  /** The clock (default the system clock). */
  now?: () => Date;
  /** EAR lifetime, seconds (default 300, Trustee's 5 minutes). */
  earSeconds?: number;
  /** NRAS token lifetime, seconds (default 3600). */
  nrasSeconds?: number;
}

async function keyPair(alg: 'ES256' | 'ES384', given?: JWK): Promise<{ priv: CryptoKey; pub: JWK; privJwk: JWK }> {
  let privJwk = given;
  if (!privJwk) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    privJwk = await exportJWK(privateKey);
  }
  const crv = alg === 'ES256' ? 'P-256' : 'P-384';
  if (privJwk.kty !== 'EC' || privJwk.crv !== crv || !privJwk.d)
    throw new RangeError(`attester: the ${alg} key must be a private ${crv} JWK`);
  const { d: _d, ...pubOnly } = privJwk;
  const pub: JWK = { kty: 'EC', crv, x: pubOnly.x as string, y: pubOnly.y as string };
  pub.kid = await calculateJwkThumbprint(pub);
  pub.alg = alg;
  pub.use = 'sig';
  const priv = (await importJWK({ ...privJwk, alg }, alg)) as CryptoKey;
  return { priv, pub, privJwk: { ...privJwk } };
}

/** Creates a development attester with fresh (or the given) keys. */
export async function createDevAttester(opts: DevAttesterOptions = {}): Promise<DevAttester> {
  const ear = await keyPair('ES256', opts.keys?.ear);
  const nras = await keyPair('ES384', opts.keys?.nras);
  const clock = opts.now ?? (() => new Date());
  const earSeconds = opts.earSeconds ?? 300;
  const nrasSeconds = opts.nrasSeconds ?? 3600;

  const times = (lifetime: number, expired: boolean) => {
    const now = Math.floor(clock().getTime() / 1000);
    return expired
      ? { iat: now - 2 * lifetime, nbf: now - 2 * lifetime, exp: now - 60 }
      : { iat: now, nbf: now, exp: now + lifetime };
  };

  async function issue(req: IssueRequest): Promise<EvidenceBundle> {
    const f = req.faults ?? {};
    const gpus = req.gpus ?? 0;
    if (!Number.isInteger(gpus) || gpus < 0 || gpus > 64) throw new RangeError('attester: gpus must be 0..64');
    const tee: EvidenceTeeType = f.emulateTee ?? 'sample';

    // Hardware report data: SHA-384 of {nonce, tee-pubkey}, zero-padded to 64 bytes.
    const reportData = Buffer.alloc(64);
    expectedReportData(req.nonce, req.teePubKey).copy(reportData);
    const gpuNonce = gpuNonceOf(reportData);

    const toml = initDataToml(req.initData);
    let digest = initDataDigestOf(toml).digest;
    if (f.wrongMeasurement) digest = createHash('sha384').update(`not ${toml}`).digest('hex');
    const runtimeClaims = { nonce: req.nonce, 'tee-pubkey': req.teePubKey };
    const cpuEvidence: Record<string, unknown> = {
      report_data: tee === 'sample' ? reportData.toString('base64') : reportData.toString('hex'),
      runtime_data_claims: runtimeClaims,
      init_data: boundInitData(digest, tee),
      init_data_claims: parseToml(toml),
      // Trustee's sample verifier reports these claims; a hardware TEE reports its own.
      [tee]:
        tee === 'sample'
          ? {
              svn: '1',
              report_data: reportData.toString('base64'),
              launch_digest: 'abcde',
              platform_version: { major: 1, minor: 4 },
              debug: false,
            }
          : { note: 'development attester emulating this TEE type: no hardware report' },
    };

    // NRAS: one EAT per GPU, then the overall token over their digests.
    const nrasTimes = times(nrasSeconds, f.expired === true || f.expired === 'nras');
    const perGpu: Record<string, string> = {};
    const gpuClaims: JWTPayload[] = [];
    for (let i = 0; i < gpus; i++) {
      const claims: JWTPayload = {
        sub: 'NVIDIA-GPU-ATTESTATION',
        'x-nvidia-ver': '2.0',
        'x-nvidia-eat-ver': 'EAT-21',
        eat_nonce: f.staleGpuNonce === i ? gpuNonceOf(Buffer.alloc(32, 7)) : gpuNonce,
        ueid: BigInt(
          `0x${createHash('sha256')
            .update(`dev-gpu-${req.instance ?? ''}-${i}`)
            .digest('hex')
            .slice(0, 30)}`,
        ).toString(),
        hwmodel: DEV_GPU.hwmodel,
        oemid: DEV_GPU.oemid,
        dbgstat: f.debugGpu === i ? 'enabled' : 'disabled',
        secboot: true,
        measres: f.measresFailure === i ? 'fail' : 'success',
        'x-nvidia-gpu-manufacturer': 'NVIDIA Corporation',
        'x-nvidia-gpu-arch-check': true,
        'x-nvidia-gpu-driver-version': f.driverVersion ?? DEV_GPU.driverVersion,
        'x-nvidia-gpu-vbios-version': f.vbiosVersion ?? DEV_GPU.vbiosVersion,
        'x-nvidia-gpu-attestation-report-parsed': true,
        'x-nvidia-gpu-attestation-report-nonce-match': true,
        'x-nvidia-gpu-attestation-report-signature-verified': true,
        'x-nvidia-gpu-attestation-report-cert-chain-validated': true,
        'x-nvidia-gpu-arch': 'HOPPER',
      };
      if (f.gpuClaims?.index === i) override(claims, f.gpuClaims.claims);
      gpuClaims.push(claims);
      perGpu[`GPU-${i}`] = await signNras(claims, nrasTimes, f);
    }
    let nrasAnswer: NrasAnswer | undefined;
    if (gpus > 0) {
      const submods: Record<string, unknown> = {};
      for (const [name, token] of Object.entries(perGpu)) {
        if (f.missingGpuDigest === Number(name.slice(4))) continue;
        const hex = createHash('sha256')
          .update(f.badGpuDigest === Number(name.slice(4)) ? `${token}x` : token)
          .digest('hex');
        submods[name] = ['DIGEST', ['SHA-256', hex]];
      }
      const overallClaims: JWTPayload = {
        sub: 'NVIDIA-PLATFORM-ATTESTATION',
        'x-nvidia-ver': '2.0',
        'x-nvidia-overall-att-result': true,
        eat_nonce: gpuNonce,
        submods,
      };
      override(overallClaims, f.overallClaims ?? {});
      const overall = await signNras(overallClaims, nrasTimes, f);
      nrasAnswer = [['JWT', overall], perGpu];
    }

    // The EAR: one appraisal for the CPU and one per GPU.
    const submods: Record<string, unknown> = {
      [f.legacyCpuSubmod ? 'cpu' : 'cpu0']: appraisal(f.cpuStatus ?? 'affirming', cpuEvidence),
    };
    for (let i = 0; i < gpus; i++) {
      const status = f.gpuStatus?.index === i ? f.gpuStatus.status : 'affirming';
      const gpuEvidence =
        tee === 'sample'
          ? { sampledevice: { svn: '1', report_data: gpuNonce } }
          : { nvidia: gpuClaims[i] as Record<string, unknown> };
      submods[`gpu${i}`] = appraisal(status, gpuEvidence);
    }
    const earTimes = times(earSeconds, f.expired === true || f.expired === 'ear');
    const earClaims: JWTPayload = {
      eat_profile: TRUSTEE_EAR_PROFILE,
      'ear.verifier-id': { developer: 'nvdax development attester (not a TEE)', build: 'nvdax-dev-attester 0.1.0' },
      submods,
      ...(f.earIssuer === undefined ? {} : { iss: f.earIssuer }),
      ...(f.omitExp === 'ear' ? {} : { exp: earTimes.exp }),
    };
    // As Trustee: the public key in the header (`jwk`), no `kid`.
    const earToken = await new SignJWT(earClaims)
      .setProtectedHeader({
        alg: 'ES256',
        typ: 'JWT',
        jwk: { kty: 'EC', crv: 'P-256', x: ear.pub.x as string, y: ear.pub.y as string },
      })
      .setIssuedAt(earTimes.iat)
      .sign(ear.priv);
    return {
      ear: earToken,
      ...(nrasAnswer ? { nras: nrasAnswer } : {}),
      ...(req.instance === undefined ? {} : { instance: req.instance }),
    };
  }

  async function signNras(claims: JWTPayload, t: { iat: number; nbf: number; exp: number }, f: DevFaults) {
    return new SignJWT({ ...claims, ...(f.omitExp === 'nras' ? {} : { exp: t.exp }) })
      .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: nras.pub.kid as string })
      .setIssuer(f.nrasIssuer ?? NRAS_ISSUER)
      .setIssuedAt(t.iat)
      .setNotBefore(t.nbf)
      .setJti(crypto.randomUUID())
      .sign(nras.priv);
  }

  return {
    jwks: { ear: { keys: [ear.pub] }, nras: { keys: [nras.pub] } },
    keys: { ear: ear.privJwk, nras: nras.privJwk },
    issue,
  };
}

function override(claims: JWTPayload, with_: Record<string, unknown>) {
  for (const [k, v] of Object.entries(with_)) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
}

/** An EAR appraisal with a trustworthiness vector consistent with its status (AR4SI tiers). */
function appraisal(status: EarStatus, evidence: Record<string, unknown>) {
  const tier = { affirming: 2, warning: 32, contraindicated: 96, none: 0 }[status];
  return {
    'ear.status': status,
    'ear.trustworthiness-vector': {
      'instance-identity': 2,
      configuration: status === 'warning' ? tier : 2,
      executables: status === 'none' ? 0 : 3,
      'file-system': 0,
      hardware: status === 'contraindicated' ? tier : 2,
      'runtime-opaque': 2,
      'storage-opaque': 2,
      'sourced-data': 0,
    },
    'ear.appraisal-policy-id': 'default',
    'ear.veraison.annotated-evidence': evidence,
  };
}

/**
 * A policy that trusts this attester and allows its development evidence and {@link DEV_GPU}; for simulated
 * clusters and tests only.
 */
export function devPolicy(
  attester: Pick<DevAttester, 'jwks'>,
  over: Partial<AttestationPolicy> = {},
): AttestationPolicy {
  return {
    earJwks: attester.jwks.ear,
    nrasJwks: attester.jwks.nras,
    gpu: {
      driverVersions: [DEV_GPU.driverVersion],
      vbiosVersions: [DEV_GPU.vbiosVersion],
      hwmodels: [DEV_GPU.hwmodel],
    },
    allowDevelopment: true,
    ...over,
  };
}
