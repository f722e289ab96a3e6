// Who may join a federated round: a participant proves, with evidence binding the coordinator's nonce and its
// signing key, that it runs the attested workload. The coordinator depends on the small `Admit` port; the
// attested implementation verifies with the shared library (operator/verification/attestation.ts).
import {
  type AttestationPolicy,
  type EvidenceBundle,
  type ExpectedEvidence,
  isAttestationError,
  verifyEvidence,
} from '../verification/attestation.ts';
import { signingJwk } from './keys.ts';

export interface AdmissionRequest {
  participant: string;
  /** The nonce the coordinator sent this participant. */
  nonce: string;
  /** The evidence bundle, parsed from JSON (not yet trusted). */
  evidence: unknown;
  /** The participant's Ed25519 key (32 bytes) the evidence must bind. */
  signingKey: Buffer;
}

export interface Admission {
  /** The evidence's hash, recorded with the participant and its checkpoints. */
  evidenceHash: string;
  /** When the attestation expires (re-attest before). */
  expiresAt?: Date;
  message: string;
}

/** A refusal; `reason` is PascalCase (AttestationFailed, …), the message names the failing claim. */
export class AdmissionError extends Error {
  override name = 'AdmissionError';
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export type Admit = (req: AdmissionRequest) => Promise<Admission>;

export interface AttestedAdmissionOptions {
  policy: AttestationPolicy;
  /** What the operator placed into the participant pods (init-data TOML or digest), and the GPUs they must show. */
  expected?: Omit<ExpectedEvidence, 'nonce' | 'teePubKey'>;
}

/** Admits participants whose evidence verifies and binds the nonce and their signing key (as an OKP JWK). */
export function attestedAdmission(o: AttestedAdmissionOptions): Admit {
  return async (req) => {
    const bundle = req.evidence as EvidenceBundle;
    try {
      const r = await verifyEvidence(
        bundle,
        { ...o.expected, nonce: req.nonce, teePubKey: signingJwk(req.signingKey) },
        o.policy,
      );
      return { evidenceHash: r.evidenceHash, expiresAt: r.expiresAt, message: r.message };
    } catch (e) {
      if (isAttestationError(e)) throw new AdmissionError('AttestationFailed', e.message);
      throw e;
    }
  };
}
