import test from 'ava';
import { gpuAttestationRequired } from '../../../operator/api/confidential.ts';

test('GPU attestation defaults to required once confidential execution is required', (t) => {
  t.true(gpuAttestationRequired({ required: true }));
  t.true(gpuAttestationRequired({ required: true, gpuAttestation: true }));
  t.true(gpuAttestationRequired({ required: true, teeTypes: ['snp'] }));
  t.false(gpuAttestationRequired({ required: true, gpuAttestation: false }), 'an explicit opt-out');
});

test('no GPU attestation without confidential execution', (t) => {
  t.false(gpuAttestationRequired(undefined));
  t.false(gpuAttestationRequired({}));
  t.false(gpuAttestationRequired({ required: false }));
  // The CEL rule refuses this combination; the helper still answers false for it.
  t.false(gpuAttestationRequired({ required: false, gpuAttestation: true }));
});
