// Confidential execution: the job runs in a TEE-backed Kata VM (Confidential Containers)
// on a CC-mode NVIDIA GPU, and the hub verifies attestation evidence before it is used.
import { TeeType } from './constants.ts';
import { bool, list, obj, oneOf } from './schema.ts';
import type { Schema } from './schema.ts';
import type { Confidential } from './types.gen.ts';

export const confidential: Schema = obj(
  'Confidential',
  'Confidential execution: run inside a hardware trusted execution environment and verify it by remote attestation.',
  {
    required: bool(
      'Run only on pools that offer a confidential runtime class (e.g. kata-qemu-nvidia-gpu-snp) on CC-ready GPU ' +
        'nodes. The job is not scheduled elsewhere.',
      false,
    ),
    teeTypes: list(
      'CPU TEE types accepted: snp (AMD SEV-SNP) and/or tdx (Intel TDX). Empty: either. Only with required: true.',
      oneOf('TeeType', 'A CPU TEE type.', Object.values(TeeType)),
      { maxItems: 2, minItems: 1, listType: 'set' },
    ),
    // No schema default: a CRD default cannot depend on required; gpuAttestationRequired() applies it.
    gpuAttestation: bool(
      'Also require NVIDIA GPU attestation (the GPU is in CC mode and its evidence verifies) before the workload ' +
        'receives data. Default: true when required is true; set false to accept confidential CPU TEEs with ' +
        'unattested GPUs. true needs required: true.',
    ),
  },
  {
    rules: [
      {
        rule: 'self.required || !has(self.teeTypes)',
        message: 'teeTypes applies only when required is true',
        fieldPath: '.teeTypes',
        reason: 'FieldValueForbidden',
      },
      {
        rule: 'self.required || !has(self.gpuAttestation) || !self.gpuAttestation',
        message: 'gpuAttestation needs required: true (the GPU is attested from inside the TEE)',
        fieldPath: '.gpuAttestation',
        reason: 'FieldValueForbidden',
      },
    ],
  },
);

/** Whether a job needs GPU attestation: secure by default, so unset counts as true once required is true. */
export function gpuAttestationRequired(c: Confidential | undefined): boolean {
  return c?.required === true && c.gpuAttestation !== false;
}
