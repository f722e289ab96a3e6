// The simulated clusters behave like GPU Operator clusters to the real scheduler,
// Job controller and kubectl: proof that tests and demo stand on something real.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BatchV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { binDir, kubeconfigPath, loadKubeConfig, uniqueName } from '../helpers/sim.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { SIM_RUN_ENV } from '../../hack/sim/cluster.ts';
import { SHAPE_LABEL } from '../../hack/sim/nodes.ts';

const kc = loadKubeConfig('gpu-a');
const core = kc.makeApiClient(CoreV1Api);
const ns = uniqueName('sim');
// the clusters' own nodes: never the nodes (and GPUs) other test files add for their pools while this one runs
const onShapeNodes = { [SHAPE_LABEL]: 'true' };

test.before(async () => {
  await createNamespace(kc, ns);
});
test.after.always(async () => {
  await deleteNamespace(kc, ns);
});

function gpuPod(
  name: string,
  resources: Record<string, string>,
  extra: Partial<V1Pod['spec']> = {},
  annotations: Record<string, string> = {},
): V1Pod {
  return {
    metadata: { name, namespace: ns, annotations },
    spec: {
      restartPolicy: 'Never',
      nodeSelector: onShapeNodes,
      containers: [
        {
          name: 'main',
          image: 'nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0',
          resources: { limits: resources },
        },
      ],
      ...extra,
    },
  };
}

async function runningOn(name: string, namespace = ns, api = core): Promise<V1Pod> {
  return eventually(`pod ${name} Running`, async () => {
    const p = await api.readNamespacedPod({ name, namespace });
    return p.status?.phase === 'Running' && p.spec?.nodeName ? p : undefined;
  });
}

async function nodeLabels(name: string, api = core): Promise<Record<string, string>> {
  return (await api.readNode({ name })).metadata?.labels ?? {};
}

test('a kata SNP pod asking for nvidia.com/pgpu runs only on an SNP confidential GPU node, with the RuntimeClass overhead', async (t) => {
  await core.createNamespacedPod({
    namespace: ns,
    body: gpuPod('cc-snp', { 'nvidia.com/pgpu': '1' }, { runtimeClassName: 'kata-qemu-nvidia-gpu-snp' }),
  });
  const pod = await runningOn('cc-snp');
  const l = await nodeLabels(pod.spec!.nodeName!);
  t.is(l['amd.feature.node.kubernetes.io/snp'], 'true');
  t.is(l['nvidia.com/cc.ready.state'], 'true');
  t.is(l['nvidia.com/gpu.workload.config'], 'vm-passthrough');
  t.deepEqual(pod.spec?.overhead, { cpu: '1', memory: '10Gi' });
});

test('a pod asking for nvidia.com/gpu: 2 runs on a container GPU node', async (t) => {
  await core.createNamespacedPod({ namespace: ns, body: gpuPod('container-2', { 'nvidia.com/gpu': '2' }) });
  const pod = await runningOn('container-2');
  const l = await nodeLabels(pod.spec!.nodeName!);
  t.is(l['nvidia.com/gpu.workload.config'], 'container');
  t.is(l['nvidia.com/gpu.product'], 'NVIDIA-H100-80GB-HBM3');
});

test('a TDX pod on gpu-b lands on the TDX node via its model-named resource; SNP stays off the CC-not-ready node', async (t) => {
  const kcb = loadKubeConfig('gpu-b');
  const coreB = kcb.makeApiClient(CoreV1Api);
  const nsb = uniqueName('sim-b');
  await createNamespace(kcb, nsb);
  t.teardown(() => deleteNamespace(kcb, nsb));
  const pod = (name: string, res: Record<string, string>, rc: string): V1Pod => ({
    ...gpuPod(name, res, { runtimeClassName: rc }),
    metadata: { name, namespace: nsb },
  });
  await coreB.createNamespacedPod({
    namespace: nsb,
    body: pod('tdx', { 'nvidia.com/GH100_H200_SXM_141GB': '1' }, 'kata-qemu-nvidia-gpu-tdx'),
  });
  await coreB.createNamespacedPod({
    namespace: nsb,
    body: pod('snp', { 'nvidia.com/pgpu': '1' }, 'kata-qemu-nvidia-gpu-snp'),
  });
  const tdx = await runningOn('tdx', nsb, coreB);
  t.is((await nodeLabels(tdx.spec!.nodeName!, coreB))['intel.feature.node.kubernetes.io/tdx'], 'true');
  const reason = await eventually('snp pod Unschedulable', async () => {
    const p = await coreB.readNamespacedPod({ name: 'snp', namespace: nsb });
    return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable')?.message;
  });
  t.regex(reason, /didn't match Pod's node affinity\/selector|node\(s\) didn't match/);
});

test("a pod asking for more GPUs than any node has stays Pending with the scheduler's reason", async (t) => {
  await core.createNamespacedPod({ namespace: ns, body: gpuPod('too-big', { 'nvidia.com/gpu': '16' }) });
  const cond = await eventually('PodScheduled=False', async () => {
    const p = await core.readNamespacedPod({ name: 'too-big', namespace: ns });
    return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  });
  t.is(cond.reason, 'Unschedulable');
  t.regex(cond.message ?? '', /Insufficient nvidia\.com\/gpu/);
  t.is((await core.readNamespacedPod({ name: 'too-big', namespace: ns })).status?.phase, 'Pending');
});

test('a Job completes through the real Job controller; one whose container sets NVDAX_SIM_RUN=forever runs on', async (t) => {
  const batch = kc.makeApiClient(BatchV1Api);
  const job = (name: string, completions: number, env: Array<{ name: string; value: string }> = [], annotated = true) =>
    batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name },
        spec: {
          completions,
          parallelism: completions,
          completionMode: 'Indexed',
          backoffLimit: 0,
          template: {
            metadata: {
              annotations: annotated
                ? {
                    'pod-complete.stage.kwok.x-k8s.io/delay': '2s',
                    'pod-complete.stage.kwok.x-k8s.io/jitter-delay': '0s',
                  }
                : {},
            },
            spec: {
              restartPolicy: 'Never',
              nodeSelector: onShapeNodes,
              containers: [{ name: 'w', image: 'busybox', env, resources: { limits: { 'nvidia.com/gpu': '1' } } }],
            },
          },
        },
      },
    });
  // kwok's own stage (1-6 s after Ready) and ours (the annotation's 2 s) would each finish these
  await job('long', 1, [{ ...SIM_RUN_ENV }]);
  await job('long-plain', 1, [{ ...SIM_RUN_ENV }], false);
  await job('train', 2);
  const done = await eventually(
    'Job Complete',
    async () => {
      const j = await batch.readNamespacedJob({ name: 'train', namespace: ns });
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
    },
    60_000,
  );
  t.is(done.status?.succeeded, 2);
  // past both stages' delays (2 s; at most 1 + 5 s), neither finished them
  const readyPod = (name: string) =>
    eventually(`${name} Ready`, async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${name}` });
      const p = pods.items[0];
      return p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
  const running = [await readyPod('long'), await readyPod('long-plain')];
  await new Promise((r) => setTimeout(r, 7000));
  for (const p of running) {
    const after = await core.readNamespacedPod({ name: p.metadata?.name ?? '', namespace: ns });
    t.is(after.status?.phase, 'Running', p.metadata?.name);
  }
  t.is((await batch.readNamespacedJob({ name: 'long-plain', namespace: ns })).status?.succeeded ?? 0, 0);
});

test('annotated bare pods succeed or fail when told to (our kwok stages)', async (t) => {
  await core.createNamespacedPod({
    namespace: ns,
    body: gpuPod('ok', { 'nvidia.com/gpu': '1' }, {}, { 'pod-complete.stage.kwok.x-k8s.io/delay': '1s' }),
  });
  await core.createNamespacedPod({
    namespace: ns,
    body: gpuPod('bad', { 'nvidia.com/gpu': '1' }, {}, { 'sim.nvdax.io/fail-after': '1s' }),
  });
  const phase = (name: string) =>
    eventually(`${name} terminal`, async () => {
      const p = (await core.readNamespacedPod({ name, namespace: ns })).status?.phase;
      return p === 'Succeeded' || p === 'Failed' ? p : undefined;
    });
  t.is(await phase('ok'), 'Succeeded');
  t.is(await phase('bad'), 'Failed');
});

test('a running pod marked NotReady (as the node lifecycle controller does) is Ready again, as a kubelet reports it', async (t) => {
  await core.createNamespacedPod({ namespace: ns, body: gpuPod('marked', { 'nvidia.com/gpu': '1' }) });
  const ready = async () =>
    (await core.readNamespacedPod({ name: 'marked', namespace: ns })).status?.conditions?.find(
      (c) => c.type === 'Ready',
    )?.status;
  await eventually('marked Ready', async () => ((await ready()) === 'True' ? true : undefined));
  // what kube-controller-manager writes on every pod of a node whose lease lapsed (MarkPodsNotReady)
  execFileSync(join(binDir(), 'kubectl'), [
    '--kubeconfig',
    kubeconfigPath('gpu-a'),
    '-n',
    ns,
    'patch',
    'pod',
    'marked',
    '--subresource=status',
    '--type=strategic',
    '-p',
    JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'False', reason: 'NodeNotReady' }] } }),
  ]);
  t.is(await ready(), 'False', 'the mark took');
  await eventually('marked Ready again', async () => ((await ready()) === 'True' ? true : undefined));
  const pod = await core.readNamespacedPod({ name: 'marked', namespace: ns });
  t.is(pod.status?.phase, 'Running');
  t.is(pod.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status, 'True');
});

test('kubectl apply works with the generated kubeconfig', (t) => {
  const kubectl = join(binDir(), 'kubectl');
  const cm = JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'applied', namespace: ns },
    data: { a: '1' },
  });
  const out = execFileSync(kubectl, ['--kubeconfig', kubeconfigPath('gpu-a'), 'apply', '-f', '-'], {
    input: cm,
    encoding: 'utf8',
  });
  t.regex(out, /configmap\/applied (created|configured)/);
  const got = execFileSync(
    kubectl,
    ['--kubeconfig', kubeconfigPath('gpu-a'), 'get', 'configmap', 'applied', '-n', ns, '-o', 'jsonpath={.data.a}'],
    { encoding: 'utf8' },
  );
  t.is(got, '1');
});
