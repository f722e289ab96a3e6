// What the report-intake tests (reports, gateway-reports) share: a placement run on gpu-a, a scratch folder
// (for the attestation policy), the settlement domain gateways sign under, a provider key, and the one
// InferenceJob each file follows.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import type { InferenceJob } from '../../operator/api/types.gen.ts';
import { getJson } from './kubectl.ts';
import { placementRun } from './placement-run.ts';

export const CHAIN_ID = 31337n;
export const SETTLEMENT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

export type ReportsJob = InferenceJob & { metadata: { name: string } };

export function reportsRun(prefix: string, jobName: string) {
  const r = placementRun(prefix, ['gpu-a']);
  const dir = mkdtempSync(join(tmpdir(), `nvdax-${prefix}-`));
  const provider = new Wallet(Wallet.createRandom().privateKey);
  const getJob = () => getJson<ReportsJob>('hub', ['-n', r.jobsNs, 'get', 'ij', jobName]);
  const cond = (j: ReportsJob, type: string) => j.status?.conditions?.find((c) => c.type === type);
  return { r, dir, provider, getJob, cond };
}
