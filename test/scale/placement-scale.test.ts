// Placement at scale: an operator killed mid-placement of 200 jobs, and 500 jobs on 240 GPUs.
// hack/test.sh runs this file after the other integration tests, alone, so that its load (hundreds of
// pods on gpu-b) does not slow the clusters the others time things on. Real operator, real members.
import test from 'ava';
import { eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import type { OperatorProc } from '../helpers/operator.ts';
import { cond, type Job, placementRun } from '../helpers/placement-run.ts';

const f = placementRun('ps');
const { run, jobsNs, tenant, listJobs, nodes, pool, poolReady, inferenceJob, memberDeployments, startOp } = f;

let op: OperatorProc;
test.before(async () => {
  await f.setUp();
  op = startOp(1);
});
test.after.always(async () => {
  await op?.stop();
  await f.tearDown();
});

test.serial('an operator killed mid-placement of 200 jobs: after restart each is placed exactly once', async (t) => {
  const sel = nodes('gpu-b', 'many', 30, 'L4'); // 30 × 8 = 240 GPUs
  apply('hub', [pool(`${run}-many`, 'gpu-b', sel, '1.00')]);
  await poolReady(`${run}-many`);
  t.timeout(300_000);
  // a slow operator (40 requests/s to each cluster), so the kill lands mid-placement, not after it
  await op.stop();
  op = startOp(2, [
    '--kube-api-qps',
    '40',
    '--kube-api-burst',
    '20',
    '--lease-duration',
    '15s',
    '--renew-deadline',
    '10s',
  ]);
  const jobs = Array.from({ length: 200 }, (_, i) => inferenceJob(`k-${i}`, 'kill', { product: 'NVIDIA-L4' }));
  apply('hub', jobs);
  await eventually(
    'some of the 200 placed',
    async () => listJobs('nvdax.io/test-group=kill').filter((j) => j.status?.placement).length >= 20,
    60_000,
    100,
  );
  await op.kill();
  const placedAtKill = listJobs('nvdax.io/test-group=kill').filter((j) => j.status?.placement).length;
  t.log(`${placedAtKill} of 200 placed when the operator was killed`);
  t.true(placedAtKill < 200, 'killed mid-placement');
  op = startOp(3);
  const restarted = op;
  t.teardown(() => {
    // on failure, what the restarted operator said
    const errors = restarted.proc.lines.filter((l) => /warn|error|fatal|^[456]0$/.test(String(l['level']))).slice(-10);
    if (restarted.proc.child.exitCode !== null || errors.length) {
      t.log(`operator exit ${restarted.proc.child.exitCode}: ${restarted.proc.stderr.slice(-2000)}`);
      for (const l of errors) t.log(JSON.stringify(l).slice(0, 500));
    }
  });
  const all = await eventually(
    'all 200 Running',
    async () => {
      const js = listJobs('nvdax.io/test-group=kill');
      return js.length === 200 && js.every((j) => j.status?.phase === 'Running') ? js : undefined;
    },
    180_000,
    1000,
  );
  t.true(
    all.every((j) => j.status?.attempts === 1),
    'no job placed twice',
  );
  const deps = memberDeployments('gpu-b').filter((d) => d.metadata.name.startsWith('k-'));
  t.is(deps.length, 200, 'one Deployment per job');
  t.is(new Set(deps.map((d) => d.metadata.name)).size, 200);
  t.true(deps.every((d) => d.metadata.name.endsWith('-a1')));
});

test.serial(
  '500 one-GPU jobs on 240 GPUs: exactly the capacity is placed and Running, no node over-committed',
  async (t) => {
    t.timeout(420_000);
    kubectl('hub', ['-n', jobsNs, 'delete', 'ij', '-l', 'nvdax.io/test-group=kill', '--wait=false']);
    await eventually('the 200 gone', async () => listJobs('nvdax.io/test-group=kill').length === 0, 120_000, 1000);
    await eventually(
      'their pods gone',
      async () => kubectl('gpu-b', ['-n', tenant, 'get', 'pods', '-o', 'name']).trim() === '',
      120_000,
      1000,
    );
    const jobs = Array.from({ length: 500 }, (_, i) => inferenceJob(`m-${i}`, 'many', { product: 'NVIDIA-L4' }));
    apply('hub', jobs);
    const settled = await eventually(
      '240 Running and 260 waiting',
      async () => {
        const js = listJobs('nvdax.io/test-group=many');
        const running = js.filter((j) => j.status?.phase === 'Running').length;
        const waiting = js.filter((j) => cond(j, 'Scheduled')?.status === 'False').length;
        return running === 240 && waiting === 260 ? js : undefined;
      },
      360_000,
      2000,
    );
    t.is(settled.filter((j) => j.status?.placement).length, 240, 'no placement beyond the GPUs that exist');
    const pods = getJson<{
      items: Array<{
        spec: { nodeName?: string; containers: Array<{ resources: { limits?: Record<string, string> } }> };
      }>;
    }>('gpu-b', ['-n', tenant, 'get', 'pods']).items;
    const perNode = new Map<string, number>();
    for (const p of pods) {
      const n = p.spec.nodeName ?? 'unbound';
      perNode.set(n, (perNode.get(n) ?? 0) + Number(p.spec.containers[0]?.resources.limits?.['nvidia.com/gpu'] ?? 0));
    }
    t.false(perNode.has('unbound'), 'every placed pod was bound: none waits for GPUs the ledger promised twice');
    t.true(
      [...perNode.values()].every((g) => g <= 8),
      `GPUs per node: ${[...perNode.values()].join(',')}`,
    );
    t.is(
      [...perNode.values()].reduce((a, b) => a + b, 0),
      240,
    );
    const msg = cond(settled.find((j) => cond(j, 'Scheduled')?.status === 'False') as Job, 'Scheduled')?.message ?? '';
    t.regex(msg, /InsufficientGpus|free/);
  },
);
