import test from 'ava';
import { gunzipSync } from 'node:zlib';
import { parse } from 'smol-toml';
import type { InferenceJobSpec } from '../../../operator/api/types.gen.ts';
import { gpuTolerations } from '../../../operator/hardware/labels.ts';
import {
  engineImage,
  engineImages,
  hubKeyOf,
  type JobRef,
  inferenceObjects,
  initData,
  MaterializeError,
  type PlacedOn,
  type PodTemplate,
} from '../../../operator/materialize/index.ts';

const job: JobRef = { kind: 'InferenceJob', namespace: 'team-a', name: 'llama', uid: 'uid-1' };
const spec = (more: Partial<InferenceJobSpec> = {}): InferenceJobSpec => ({
  model: { id: 'meta-llama/Llama-3.1-8B-Instruct', hash: `sha256:${'a'.repeat(64)}` },
  runtime: { engine: 'vLLM' },
  resources: { gpus: 2 },
  sla: { priceCap: '2.5' },
  payment: { requester: `0x${'1'.repeat(40)}`, escrowId: `0x${'2'.repeat(64)}` },
  ...more,
});
const container: PlacedOn = {
  pool: 'pool-a',
  attempt: 1,
  mode: 'container',
  resourceName: 'nvidia.com/gpu',
  product: 'NVIDIA-H100-80GB-HBM3',
  nodeSelector: { 'node-pool': 'gpu' },
};
const confidential = (tee: 'snp' | 'tdx'): PlacedOn => ({
  pool: 'pool-cc',
  attempt: 3,
  mode: 'confidential',
  resourceName: 'nvidia.com/pgpu',
  product: 'H100',
  tee,
  runtimeClassName: `kata-qemu-nvidia-gpu-${tee}`,
  initData: initData({ kbsUrl: 'https://kbs.example' }),
});

const exprs = (tpl: PodTemplate) =>
  tpl.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.flatMap(
    (term) => term.matchExpressions,
  );
const envOf = (tpl: PodTemplate) => Object.fromEntries(tpl.spec.containers[0]!.env.map((e) => [e.name, e.value]));

/** The checks of the Pod Security `restricted` profile that our pods could trip. */
function assertRestricted(t: { true: (v: boolean, m?: string) => void }, tpl: PodTemplate) {
  const pod = tpl.spec as unknown as Record<string, any>;
  t.true(pod['securityContext'].runAsNonRoot === true, 'runAsNonRoot');
  t.true(pod['securityContext'].runAsUser !== 0, 'runAsUser');
  t.true(pod['securityContext'].seccompProfile.type === 'RuntimeDefault', 'seccomp');
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) t.true(!pod[key], key);
  for (const v of pod['volumes'] ?? [])
    t.true(
      Object.keys(v).every((k) => k === 'name' || k === 'emptyDir'),
      'volumes',
    );
  for (const c of pod['containers']) {
    t.true(c.securityContext.allowPrivilegeEscalation === false, 'allowPrivilegeEscalation');
    t.true(JSON.stringify(c.securityContext.capabilities) === '{"drop":["ALL"]}', 'capabilities');
    t.true(!c.securityContext.privileged, 'privileged');
    t.true(!(c.ports ?? []).some((p: any) => p.hostPort), 'hostPort');
  }
}

test('container mode: nvidia.com/gpu, product affinity, no runtime class', (t) => {
  const { deployment } = inferenceObjects(job, spec(), container);
  const tpl = deployment.spec.template;
  t.is(tpl.spec.runtimeClassName, undefined);
  t.false('runtimeClassName' in tpl.spec);
  const c = tpl.spec.containers[0]!;
  t.deepEqual(c.resources.limits, { cpu: '4', memory: '32Gi', 'nvidia.com/gpu': '2' });
  t.deepEqual(c.resources.requests, c.resources.limits);
  t.deepEqual(exprs(tpl), [
    { key: 'nvidia.com/gpu.product', operator: 'In', values: ['NVIDIA-H100-80GB-HBM3'] },
    { key: 'node-pool', operator: 'In', values: ['gpu'] },
  ]);
  t.deepEqual(tpl.spec.tolerations, [...gpuTolerations]);
  t.is(tpl.metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data'], undefined);
});

test('container mode with a derived product name sets no product affinity', (t) => {
  const { deployment } = inferenceObjects(job, spec(), { ...container, product: 'H100', nodeSelector: {} });
  t.deepEqual(exprs(deployment.spec.template), []);
});

for (const tee of ['snp', 'tdx'] as const) {
  test(`confidential (${tee}): runtime class, pgpu, CC-ready ${tee} affinity, init-data, no CDI`, (t) => {
    const on = confidential(tee);
    const { deployment } = inferenceObjects(job, spec(), on);
    const tpl = deployment.spec.template;
    t.is(tpl.spec.runtimeClassName, `kata-qemu-nvidia-gpu-${tee}`);
    t.is(tpl.spec.containers[0]!.resources.limits['nvidia.com/pgpu'], '2');
    t.false('nvidia.com/gpu' in tpl.spec.containers[0]!.resources.limits);
    t.deepEqual(exprs(tpl), [
      { key: 'nvidia.com/cc.ready.state', operator: 'In', values: ['true'] },
      {
        key: tee === 'snp' ? 'amd.feature.node.kubernetes.io/snp' : 'intel.feature.node.kubernetes.io/tdx',
        operator: 'In',
        values: ['true'],
      },
      { key: 'nvidia.com/gpu.workload.config', operator: 'In', values: ['vm-passthrough'] },
    ]);
    const annotation = tpl.metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data']!;
    t.is(annotation, on.initData!.annotation);
    const doc = parse(gunzipSync(Buffer.from(annotation, 'base64')).toString('utf8')) as Record<string, unknown>;
    t.is(doc['version'], '0.1.0');
    t.is(doc['algorithm'], 'sha384');
    const all = [deployment.metadata.annotations ?? {}, tpl.metadata.annotations];
    t.false(all.some((a) => Object.keys(a).some((k) => k.startsWith('cdi.k8s.io'))));
    t.false(JSON.stringify(deployment).includes('cdi.k8s.io'));
  });
}

test('a confidential placement without init-data or runtime class is refused', (t) => {
  const { initData: _i, ...noInit } = confidential('snp');
  t.is(
    t.throws(() => inferenceObjects(job, spec(), noInit), { instanceOf: MaterializeError })?.field,
    'status.placement.initDataDigest',
  );
  const { runtimeClassName: _r, ...noClass } = confidential('snp');
  t.is(
    t.throws(() => inferenceObjects(job, spec(), noClass), { instanceOf: MaterializeError })?.field,
    'status.placement.runtimeClass',
  );
});

test('pods are restricted: non-root, no escalation, no capabilities, no token, no service links', (t) => {
  for (const on of [container, confidential('snp')]) {
    const tpl = inferenceObjects(job, spec(), on).deployment.spec.template;
    assertRestricted(t, tpl);
    t.deepEqual(tpl.spec.securityContext, {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    t.deepEqual(tpl.spec.containers[0]!.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: false,
      runAsNonRoot: true,
    });
    t.false(tpl.spec.automountServiceAccountToken);
    t.false(tpl.spec.enableServiceLinks);
  }
});

test('the Deployment: name, namespace, labels, selector, strategy, port, probe, image', (t) => {
  const { deployment, service } = inferenceObjects(job, spec({ replicas: 3 }), container);
  t.is(deployment.apiVersion, 'apps/v1');
  t.is(deployment.kind, 'Deployment');
  t.is(deployment.metadata.name, 'llama-a1');
  t.is(deployment.metadata.namespace, 'nvdax-team-a');
  t.is(hubKeyOf(deployment), 'team-a/llama');
  t.is(deployment.metadata.labels['nvdax.io/attempt'], '1');
  t.is(deployment.metadata.labels['nvdax.io/pool'], 'pool-a');
  t.is(deployment.spec.replicas, 3);
  t.deepEqual(deployment.spec.selector, { matchLabels: { 'nvdax.io/slot-group': 'llama-a1' } });
  t.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
  const tpl = deployment.spec.template;
  t.is(tpl.metadata.labels['nvdax.io/slot-group'], 'llama-a1');
  t.is(tpl.metadata.labels['nvdax.io/job-uid'], 'uid-1');
  t.is(hubKeyOf(tpl), 'team-a/llama');
  const c = tpl.spec.containers[0]!;
  t.is(c.image, engineImages.vLLM);
  t.deepEqual(c.ports, [{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
  t.deepEqual(c.readinessProbe?.tcpSocket, { port: 'http' });
  t.deepEqual(c.args, ['--model', 'meta-llama/Llama-3.1-8B-Instruct', '--port', '8000', '--tensor-parallel-size', '2']);
  t.is(service.apiVersion, 'v1');
  t.is(service.metadata.name, 'llama-a1');
  // headless: clients (the gateway or ingress) dial the pods, so the port is the container's
  t.is(service.spec.clusterIP, 'None');
  t.is(service.spec.type, undefined);
  t.deepEqual(service.spec.selector, { 'nvdax.io/slot-group': 'llama-a1' });
  t.deepEqual(service.spec.ports, [
    { name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
  ]);
});

test('gRPC endpoints name the port grpc and keep its number on the Service', (t) => {
  const { deployment, service } = inferenceObjects(
    job,
    spec({ runtime: { engine: 'Triton' }, endpoint: { transport: 'GRPC', protocol: 'OpenInference', port: 8001 } }),
    container,
  );
  const c = deployment.spec.template.spec.containers[0]!;
  t.deepEqual(c.ports, [{ name: 'grpc', containerPort: 8001, protocol: 'TCP' }]);
  t.deepEqual(c.readinessProbe?.tcpSocket, { port: 'grpc' });
  t.is(c.args, undefined);
  t.deepEqual(service.spec.ports, [
    { name: 'grpc', port: 8001, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
  ]);
});

test('replicas: explicit, autoscaling minimum (0 allowed), else 1', (t) => {
  const replicas = (s: InferenceJobSpec) => inferenceObjects(job, s, container).deployment.spec.replicas;
  t.is(replicas(spec()), 1);
  t.is(replicas(spec({ replicas: 4 })), 4);
  t.is(replicas(spec({ autoscaling: { minReplicas: 0, maxReplicas: 4 } })), 0);
  t.is(replicas(spec({ autoscaling: { minReplicas: 2, maxReplicas: 4 } })), 2);
  t.is(replicas(spec({ autoscaling: { maxReplicas: 4 } })), 1);
});

test('env: user variables, then the operator’s (which win)', (t) => {
  const env = envOf(
    inferenceObjects(
      job,
      spec({
        runtime: {
          engine: 'vLLM',
          env: [
            { name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' },
            { name: 'NVDAX_JOB', value: 'spoofed' },
            { name: 'HF_HOME', value: '/models' },
          ],
        },
      }),
      container,
    ).deployment.spec.template,
  );
  t.is(env['VLLM_LOGGING_LEVEL'], 'DEBUG');
  t.is(env['HF_HOME'], '/models');
  t.is(env['NVDAX_JOB'], 'team-a/llama');
  t.is(env['NVDAX_ATTEMPT'], '1');
  t.is(env['NVDAX_MODEL_ID'], 'meta-llama/Llama-3.1-8B-Instruct');
  t.is(env['NVDAX_MODEL_HASH'], `sha256:${'a'.repeat(64)}`);
});

test('a spec change changes the Deployment; the same spec gives the same one', (t) => {
  const base = inferenceObjects(job, spec(), container).deployment;
  t.deepEqual(inferenceObjects(job, spec(), container).deployment, base);
  const image = `registry.example/me/server@sha256:${'b'.repeat(64)}`;
  const changes: Array<[string, InferenceJobSpec]> = [
    ['replicas', spec({ replicas: 2 })],
    ['image', spec({ runtime: { engine: 'vLLM', image } })],
    ['args', spec({ runtime: { engine: 'vLLM', args: ['--max-model-len', '4096'] } })],
    ['resources', spec({ resources: { gpus: 2, memory: '64Gi' } })],
  ];
  for (const [what, s] of changes) {
    const d = inferenceObjects(job, s, container).deployment;
    t.notDeepEqual(d, base, what);
    t.is(d.metadata.name, base.metadata.name, what);
  }
  t.is(inferenceObjects(job, changes[1]![1], container).deployment.spec.template.spec.containers[0]!.image, image);
  t.deepEqual(inferenceObjects(job, changes[2]![1], container).deployment.spec.template.spec.containers[0]!.args, [
    '--max-model-len',
    '4096',
  ]);
});

test('an unpinned user image is refused, naming spec.runtime.image', (t) => {
  for (const image of ['vllm/vllm-openai:latest', 'registry.example/me/server', `x@sha256:${'a'.repeat(63)}`]) {
    const err = t.throws(() => inferenceObjects(job, spec({ runtime: { engine: 'vLLM', image } }), container), {
      instanceOf: MaterializeError,
    });
    t.is(err?.field, 'spec.runtime.image');
    t.regex(err?.message ?? '', /pinned by digest/);
  }
  t.is(
    t.throws(() => engineImage('Custom'), { instanceOf: MaterializeError })?.field,
    'spec.runtime.image',
    'Custom needs an image',
  );
});

test('our engine images are all pinned by digest', (t) => {
  for (const [engine, image] of Object.entries(engineImages)) {
    t.regex(image, /^[a-z0-9.\-/]+@sha256:[0-9a-f]{64}$/, engine);
    t.false(image.includes(':latest'), engine);
  }
  t.is(engineImage('TGI'), engineImages.TGI);
  t.true(engineImage('ONNXRuntime').startsWith('ghcr.io/nvdax/onnx-server@sha256:'));
  const pinned = `registry.example/me/server:v1@sha256:${'c'.repeat(64)}`;
  t.is(engineImage('Custom', pinned), pinned);
});
