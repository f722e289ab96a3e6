// Requester-signed tasks end to end: the real operator run with --require-signed-tasks places a job only if its
// spec.payment.signature is its requester's EIP-712 signature over the job's task. A forged signature (another
// key) and a missing one leave the job Pending with the reason in its Scheduled condition; a correctly signed job
// is placed, and an unsigned job that gets its signature later is re-checked and placed.
import test from 'ava';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { buildNodes } from '../../hack/sim/nodes.ts';
import type { InferenceJob, ProviderPool } from '../../operator/api/types.gen.ts';
import { jobTaskValue, signJobTask } from '../../operator/settlement/job-task.ts';
import { signTask, taskDomain } from '../../operator/settlement/task.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { startOperator, type OperatorProc } from '../helpers/operator.ts';
import { kubeconfigPath, loadKubeConfig, uniqueName } from '../helpers/sim.ts';

const run = uniqueName('st');
const label = { 'nvdax.io/test-run': run };
const hub = loadKubeConfig('hub');
const opNs = `${run}-system`;
const jobsNs = `${run}-jobs`;
const tenant = `nvdax-${jobsNs}`;

const CHAIN_ID = 31337n;
const SETTLEMENT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const domain = taskDomain(CHAIN_ID, SETTLEMENT);
const requester = new Wallet(`0x${'41'.repeat(32)}`);
const forger = new Wallet(`0x${'42'.repeat(32)}`);

type Job = InferenceJob & { metadata: { name: string } };
const getJob = (name: string) => getJson<Job>('hub', ['-n', jobsNs, 'get', 'ij', name]);
const scheduled = (j: Job) => j.status?.conditions?.find((c) => c.type === 'Scheduled');

function inferenceJob(name: string): Job {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name, namespace: jobsNs, labels: label },
    spec: {
      model: { id: 'org/model', hash: `sha256:${'cd'.repeat(32)}` },
      runtime: { engine: 'Custom', image: `ghcr.io/nvdax/test-model@sha256:${'ab'.repeat(32)}` },
      resources: { gpus: 1, gpuProducts: ['NVIDIA-H100-80GB-HBM3'] },
      sla: { priceCap: '10' },
      payment: {
        requester: requester.address,
        escrowId: `0x${'11'.repeat(32)}`,
        maxTotal: '50',
        nonce: '7',
        deadline: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    },
  } as Job;
}

const withSignature = (j: Job, signature: string): Job => ({
  ...j,
  spec: { ...j.spec, payment: { ...j.spec.payment, signature } },
});

let op: OperatorProc;

test.before(async () => {
  kubectl('hub', ['apply', '--server-side', '--force-conflicts', '-f', join(import.meta.dirname, '..', '..', 'crds')]);
  kubectl('hub', ['wait', '--for=condition=Established', 'crd/inferencejobs.nvdax.io', '--timeout=30s']);
  await createNamespace(hub, opNs);
  await createNamespace(hub, jobsNs);
  kubectl('hub', [
    '-n',
    opNs,
    'create',
    'secret',
    'generic',
    'gpu-a',
    `--from-file=kubeconfig=${kubeconfigPath('gpu-a')}`,
  ]);
  apply(
    'gpu-a',
    buildNodes(`${run}-a`, { template: 'gpu-container', gpu: 'H100', count: 1, labels: label }, 'eu-west', 'eu-west-a'),
  );
  apply('hub', [
    {
      apiVersion: 'nvdax.io/v1alpha1',
      kind: 'ProviderPool',
      metadata: { name: `${run}-a`, labels: label },
      spec: {
        provider: { address: '0x2222222222222222222222222222222222222222' },
        region: 'eu-west',
        jurisdiction: 'IE',
        cluster: { mode: 'KubeconfigSecret', secretRef: { name: 'gpu-a', namespace: opNs } },
        nodeSelector: label,
        baseRates: [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' }],
      },
    },
  ]);
  op = startOperator({
    identity: `${run}-op-1`,
    poolSelector: `nvdax.io/test-run=${run}`,
    leaseNamespace: opNs,
    extra: [
      '--require-signed-tasks',
      '--chain-id',
      String(CHAIN_ID),
      '--settlement-address',
      SETTLEMENT,
      '--lease-duration',
      '20s',
      '--renew-deadline',
      '15s',
    ],
  });
  await eventually(
    `pool ${run}-a Ready`,
    async () => getJson<ProviderPool>('hub', ['get', 'providerpool', `${run}-a`]).status?.phase === 'Ready',
    60_000,
  );
});

test.after.always(async () => {
  await op?.stop();
  kubectl('hub', ['-n', jobsNs, 'delete', 'ij', '--all', '--wait=false']);
  kubectl('hub', ['delete', 'providerpools', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
  kubectl('gpu-a', ['delete', 'nodes', '-l', `nvdax.io/test-run=${run}`, '--wait=false']);
  await deleteNamespace(loadKubeConfig('gpu-a'), tenant);
  const names = kubectl('hub', ['-n', jobsNs, 'get', 'ij', '-o', 'name']).split('\n').filter(Boolean);
  for (const n of names) {
    kubectl('hub', ['-n', jobsNs, 'patch', n, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  }
  await deleteNamespace(hub, jobsNs);
  await deleteNamespace(hub, opNs);
});

test.serial('forged and missing signatures stay unplaced with their reasons; a signed job is placed', async (t) => {
  const forged = inferenceJob('forged');
  const unsigned = inferenceJob('unsigned');
  const signed = inferenceJob('signed');
  // the forger signs the requester's very task: it recovers to the forger, not to the requester
  apply('hub', [
    withSignature(forged, await signTask(forger, domain, jobTaskValue(forged))),
    unsigned,
    withSignature(signed, await signJobTask(signed, requester, domain)),
  ]);

  const placed = await eventually(
    'signed placed',
    async () => {
      const j = getJob('signed');
      return j.status?.placement?.pool ? j : undefined;
    },
    120_000,
    250,
  );
  t.is(placed.status?.placement?.pool, `${run}-a`);
  t.is(scheduled(placed)?.reason, 'Placed');

  const f = await eventually('forged refused', async () => {
    const j = getJob('forged');
    return scheduled(j)?.reason === 'TaskSignatureInvalid' ? j : undefined;
  });
  t.is(scheduled(f)?.status, 'False');
  t.is(
    scheduled(f)?.message?.startsWith(
      `spec.payment.signature: recovers to ${forger.address}, not spec.payment.requester ${requester.address}`,
    ),
    true,
    scheduled(f)?.message,
  );
  t.is(f.status?.placement, undefined);

  const u = await eventually('unsigned refused', async () => {
    const j = getJob('unsigned');
    return scheduled(j)?.reason === 'TaskSignatureMissing' ? j : undefined;
  });
  t.is(scheduled(u)?.status, 'False');
  t.regex(scheduled(u)?.message ?? '', /^spec\.payment\.signature: not set/);
  t.is(u.status?.placement, undefined);
  t.is(u.status?.phase, 'Pending');

  // the usual FailedScheduling event carries the reason's message
  const events = kubectl('hub', [
    '-n',
    jobsNs,
    'get',
    'events',
    '--field-selector',
    'involvedObject.name=forged,reason=FailedScheduling',
    '-o',
    'jsonpath={.items[*].message}',
  ]);
  t.regex(events, /spec\.payment\.signature: recovers to/);

  // a signature added later is a new generation: checked again, and the job is placed
  const signature = await signJobTask(unsigned, requester, domain);
  kubectl('hub', [
    '-n',
    jobsNs,
    'patch',
    'ij',
    'unsigned',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { payment: { signature } } }),
  ]);
  const later = await eventually('unsigned placed once signed', async () => {
    const j = getJob('unsigned');
    return j.status?.placement?.pool ? j : undefined;
  });
  t.is(scheduled(later)?.reason, 'Placed');
  // the forged job is still refused
  t.is(scheduled(getJob('forged'))?.reason, 'TaskSignatureInvalid');
});
