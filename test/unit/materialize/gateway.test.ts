// The attested gateway beside the model server in confidential InferenceJobs: when it is there, how it is
// configured and locked down, what the Service exposes, and what the pod requests.
import test from 'ava';
import type { InferenceJobSpec } from '../../../operator/api/types.gen.ts';
import { validateManifest } from '../../../operator/api/validate.ts';
import { podRequest } from '../../../operator/fleet/capacity.ts';
import {
  type Container,
  engineImages,
  GATEWAY_PORT,
  gatewayImage,
  inferenceObjects,
  initData,
  type JobRef,
  MaterializeError,
  operatorImage,
  type PlacedOn,
  isPinned,
  serviceEndpoint,
} from '../../../operator/materialize/index.ts';
import { loadExample } from '../../helpers/invalid-manifests.ts';

const job: JobRef = { kind: 'InferenceJob', namespace: 'team-a', name: 'resnet', uid: 'uid-1' };
const requester = `0x${'1'.repeat(40)}`;
const spec = (more: Partial<InferenceJobSpec> = {}): InferenceJobSpec => ({
  model: { id: 'vision/resnet50', hash: `sha256:${'ab'.repeat(32)}` },
  runtime: { engine: 'Triton' },
  resources: { gpus: 2, cpu: '6', memory: '24Gi' },
  sla: { priceCap: '2.5' },
  payment: { requester, escrowId: `0x${'2'.repeat(64)}` },
  ...more,
});
const cc: PlacedOn = {
  pool: 'pool-cc',
  attempt: 2,
  mode: 'confidential',
  resourceName: 'nvidia.com/pgpu',
  product: 'H100',
  tee: 'snp',
  runtimeClassName: 'kata-qemu-nvidia-gpu-snp',
  initData: initData({ kbsUrl: 'https://kbs.example' }),
};
const plain: PlacedOn = { pool: 'pool-a', attempt: 1, mode: 'container', resourceName: 'nvidia.com/gpu', product: 'x' };

const containers = (s: InferenceJobSpec, on: PlacedOn) =>
  inferenceObjects(job, s, on).deployment.spec.template.spec.containers;
const gatewayOf = (s: InferenceJobSpec, on: PlacedOn = cc): Container => {
  const c = containers(s, on).find((x) => x.name === 'gateway');
  if (!c) throw new Error('no gateway container');
  return c;
};
const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value ?? e.valueFrom]));

test('a confidential Triton job gets the gateway as a second container; the model server stays first', (t) => {
  const cs = containers(spec(), cc);
  t.deepEqual(
    cs.map((c) => c.name),
    ['workload', 'gateway'],
  );
  t.is(cs[0]?.image, engineImages.Triton);
});

test('the gateway runs the operator image, pinned by digest, locked down', (t) => {
  const g = gatewayOf(spec());
  t.is(g.image, operatorImage);
  t.true(isPinned(g.image));
  t.deepEqual(g.command, ['node', 'provider-runtime/gateway/main.ts']);
  t.deepEqual(g.securityContext, {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
  });
  const pod = inferenceObjects(job, spec(), cc).deployment.spec.template.spec;
  t.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
  t.true(pod.securityContext.runAsNonRoot);
  t.not(pod.securityContext.runAsUser, 0);
  t.false(pod.automountServiceAccountToken);
  // a pinned override is taken, a tag refused
  const image = `registry.example/nvdax@sha256:${'c'.repeat(64)}`;
  t.is(gatewayOf(spec(), { ...cc, gateway: { image } }).image, image);
  t.is(
    t.throws(() => gatewayImage('registry.example/nvdax:latest'), { instanceOf: MaterializeError })?.field,
    'gatewayImage',
  );
});

test('the Service exposes the gateway port only, never the model server', (t) => {
  for (const endpoint of [undefined, { transport: 'GRPC' as const, protocol: 'OpenInference' as const, port: 8001 }]) {
    const { service } = inferenceObjects(job, spec(endpoint ? { endpoint } : {}), cc);
    t.deepEqual(service.spec.ports, [
      { name: 'gateway', port: GATEWAY_PORT, targetPort: 'gateway', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
    ]);
  }
  // without the gateway (container mode) the model server's port is the Service's, as before
  const { service } = inferenceObjects(job, spec(), plain);
  t.deepEqual(
    service.spec.ports.map((p) => p.targetPort),
    ['http'],
  );
});

test('the backend is the model server over the pod loopback, on its OIP gRPC port', (t) => {
  t.is(envOf(gatewayOf(spec()))['NVDAX_KSERVE_TARGET'], '127.0.0.1:8001'); // Triton's gRPC port
  const grpc = spec({ endpoint: { transport: 'GRPC', protocol: 'OpenInference', port: 9000 } });
  t.is(envOf(gatewayOf(grpc))['NVDAX_KSERVE_TARGET'], '127.0.0.1:9000');
  t.is(envOf(gatewayOf(spec({ gateway: { backendPort: 7001 } })))['NVDAX_KSERVE_TARGET'], '127.0.0.1:7001');
  const onnx = spec({ runtime: { engine: 'ONNXRuntime' }, endpoint: { port: 8500 } });
  t.is(envOf(gatewayOf(onnx))['NVDAX_KSERVE_TARGET'], '127.0.0.1:8500');
  const e = envOf(gatewayOf(spec()));
  t.is(e['NVDAX_GATEWAY_BACKEND'], 'kserve');
  t.is(e['NVDAX_MODEL_NAME'], 'resnet50');
  t.is(envOf(gatewayOf(spec({ gateway: { modelName: 'resnet' } })))['NVDAX_MODEL_NAME'], 'resnet');
});

test('vLLM and TGI: the openai backend on their HTTP port over the pod loopback; vLLM serves the name requests use', (t) => {
  const vllm = spec({
    runtime: { engine: 'vLLM' },
    model: { id: 'Qwen/Qwen2.5-7B-Instruct', hash: `sha256:${'ab'.repeat(32)}` },
  });
  const e = envOf(gatewayOf(vllm));
  t.is(e['NVDAX_GATEWAY_BACKEND'], 'openai');
  t.is(e['NVDAX_OPENAI_URL'], 'http://127.0.0.1:8000');
  t.is(e['NVDAX_KSERVE_TARGET'], undefined);
  t.is(e['NVDAX_MODEL_NAME'], 'Qwen2.5-7B-Instruct');
  const args = (s: InferenceJobSpec, on: PlacedOn = cc) => containers(s, on)[0]?.args ?? [];
  const served = (a: string[]) => a[a.indexOf('--served-model-name') + 1];
  t.is(served(args(vllm)), 'Qwen2.5-7B-Instruct');
  // behind the gateway vLLM and TGI listen on the pod's loopback only; the gateway's /readyz stands for them
  const after = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
  t.is(after(args(vllm), '--host'), '127.0.0.1');
  t.is(after(args(spec({ runtime: { engine: 'TGI' } })), '--hostname'), '127.0.0.1');
  t.is(containers(vllm, cc)[0]?.readinessProbe, undefined);
  t.is(containers(vllm, plain)[0]?.readinessProbe?.tcpSocket?.port, 'http');
  t.false(args(vllm, plain).includes('--host'));
  t.false(args(spec({ runtime: { engine: 'TGI' } }), plain).includes('--hostname'));
  // an answer is generated whole: the gateway lets a request take minutes
  t.is(e['NVDAX_GATEWAY_MAX_REQUEST_MS'], '600000');
  t.is(envOf(gatewayOf(spec()))['NVDAX_GATEWAY_MAX_REQUEST_MS'], undefined);
  t.is(served(args(spec({ ...vllm, gateway: { modelName: 'qwen' } }))), 'qwen');
  // without the gateway vLLM keeps its own default name (the model id)
  t.false(args(vllm, plain).includes('--served-model-name'));
  t.false(args({ ...vllm, gateway: { enabled: false } }).includes('--served-model-name'));
  const tgi = envOf(gatewayOf(spec({ runtime: { engine: 'TGI' }, endpoint: { port: 3000 } })));
  t.is(tgi['NVDAX_GATEWAY_BACKEND'], 'openai');
  t.is(tgi['NVDAX_OPENAI_URL'], 'http://127.0.0.1:3000');
  t.is(
    envOf(gatewayOf(spec({ ...vllm, gateway: { backendPort: 8100 } })))['NVDAX_OPENAI_URL'],
    'http://127.0.0.1:8100',
  );
  // a Custom image says which it speaks; by default the Open Inference Protocol, as before
  const image = `r.example/m@sha256:${'d'.repeat(64)}`;
  const custom = (more: Partial<InferenceJobSpec> = {}) => spec({ runtime: { engine: 'Custom', image }, ...more });
  t.is(envOf(gatewayOf(custom()))['NVDAX_GATEWAY_BACKEND'], 'kserve');
  const openai = envOf(gatewayOf(custom({ gateway: { protocol: 'OpenAI' } })));
  t.is(openai['NVDAX_GATEWAY_BACKEND'], 'openai');
  t.is(openai['NVDAX_OPENAI_URL'], 'http://127.0.0.1:8000');
});

test('status.endpoints: the gateway address and the protocol it fronts; without it, the model server’s', (t) => {
  const at = (s: InferenceJobSpec, on: PlacedOn) => serviceEndpoint(s, on, 'chat-a1', 'tenant-x');
  t.deepEqual(at(spec({ runtime: { engine: 'vLLM' } }), cc), {
    name: 'default',
    url: 'grpc://chat-a1.tenant-x.svc:8443',
    protocol: 'OpenAI',
  });
  t.is(at(spec(), cc).protocol, 'OpenInference'); // Triton
  t.deepEqual(at(spec({ runtime: { engine: 'vLLM' } }), plain), {
    name: 'default',
    url: 'http://chat-a1.tenant-x.svc:8000',
    protocol: 'OpenAI',
  });
  const grpc = spec({ endpoint: { transport: 'GRPC', protocol: 'OpenInference', port: 9000 } });
  t.is(at(grpc, plain).url, 'grpc://chat-a1.tenant-x.svc:9000');
});

test('env: the job, the pool, the model hash as bytes32, the key by KBS reference, the paying requester', (t) => {
  const e = envOf(gatewayOf(spec()));
  t.is(e['NVDAX_JOB'], 'team-a/resnet');
  t.is(e['NVDAX_POOL'], 'pool-cc');
  t.is(e['NVDAX_ATTEMPT'], '2');
  t.is(e['NVDAX_MODEL_HASH'], `0x${'ab'.repeat(32)}`);
  t.is(e['NVDAX_PROVIDER_KEY_RESOURCE'], 'kbs:///nvdax/provider-key/pool-cc');
  t.is(e['NVDAX_REQUESTERS'], requester);
  t.is(e['NVDAX_SECRET_OWNERS'], requester);
  t.is(e['NVDAX_PRICE_PER_REQUEST'], '0');
  t.is(e['NVDAX_GATEWAY_LISTEN'], `0.0.0.0:${GATEWAY_PORT}`);
  t.false('NVDAX_DEV_ATTESTER' in e);
  // no key material in the pod spec: no Secret reference, no provider key value, no Secret volume
  const pod = inferenceObjects(job, spec(), cc).deployment.spec.template.spec;
  const text = JSON.stringify(pod);
  t.false(text.includes('secretKeyRef'));
  t.false(text.includes('"secret"'));
  t.false('NVDAX_PROVIDER_KEY' in e);
  t.true(pod.volumes.every((v) => Object.keys(v).every((k) => k === 'name' || k === 'emptyDir')));
});

test("the placement's settlement domain, provider, price and limits reach the gateway", (t) => {
  const e = envOf(
    gatewayOf(spec(), {
      ...cc,
      gateway: {
        provider: `0x${'9'.repeat(40)}`,
        chainId: '31337',
        settlement: `0x${'5'.repeat(40)}`,
        pricePerRequest: '1000',
        limits: { requesterRps: 20, maxPayloadBytes: 65536 },
      },
    }),
  );
  t.is(e['NVDAX_PROVIDER_ADDRESS'], `0x${'9'.repeat(40)}`);
  t.is(e['NVDAX_CHAIN_ID'], '31337');
  t.is(e['NVDAX_SETTLEMENT_ADDRESS'], `0x${'5'.repeat(40)}`);
  t.is(e['NVDAX_PRICE_PER_REQUEST'], '1000');
  t.is(e['NVDAX_GATEWAY_LIMITS'], '{"maxPayloadBytes":65536,"requesterRps":20}');
});

test('a development pool: the development attester, bound to the pod’s own init-data annotation', (t) => {
  const e = envOf(gatewayOf(spec(), { ...cc, gateway: { development: true } }));
  t.is(e['NVDAX_DEV_ATTESTER'], 'true');
  t.deepEqual(e['NVDAX_INIT_DATA'], {
    fieldRef: { fieldPath: "metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data']" },
  });
});

test("the hub's Reports address reaches the gateway, with the pod's own name as its instance and a receipt journal", (t) => {
  const e = envOf(gatewayOf(spec(), { ...cc, gateway: { reports: 'nvdax-reports.nvdax-system.svc:9443' } }));
  t.is(e['NVDAX_HUB_REPORTS'], 'nvdax-reports.nvdax-system.svc:9443');
  t.deepEqual(e['NVDAX_INSTANCE'], { fieldRef: { fieldPath: 'metadata.name' } });
  // without it the gateway reports nothing, and the Deployment differs
  const off = envOf(gatewayOf(spec()));
  t.false('NVDAX_HUB_REPORTS' in off);
  t.false('NVDAX_INSTANCE' in off);
  // the receipts the hub has not answered outlive a gateway restart: a journal on a memory-backed emptyDir
  const on = { ...cc, gateway: { reports: 'hub:9443' } };
  t.is(envOf(gatewayOf(spec(), on))['NVDAX_RECEIPT_JOURNAL_DIR'], '/var/run/nvdax/receipts');
  t.deepEqual(gatewayOf(spec(), on).volumeMounts, [{ name: 'gateway-receipts', mountPath: '/var/run/nvdax/receipts' }]);
  t.deepEqual(
    inferenceObjects(job, spec(), on).deployment.spec.template.spec.volumes.find((v) => v.name === 'gateway-receipts'),
    { name: 'gateway-receipts', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
  );
  t.false('NVDAX_RECEIPT_JOURNAL_DIR' in off);
  t.deepEqual(gatewayOf(spec()).volumeMounts, []);
  t.false(
    inferenceObjects(job, spec(), cc).deployment.spec.template.spec.volumes.some((v) => v.name === 'gateway-receipts'),
  );
  t.not(
    JSON.stringify(inferenceObjects(job, spec(), cc).deployment),
    JSON.stringify(inferenceObjects(job, spec(), { ...cc, gateway: { reports: 'hub:9443' } }).deployment),
  );
});

test("the gateway's resources are requested and counted in the pod's total; its GPUs are none", (t) => {
  const g = gatewayOf(spec());
  t.deepEqual(g.resources.limits, { cpu: '1', memory: '512Mi' });
  t.deepEqual(g.resources.requests, g.resources.limits);
  const custom = gatewayOf(spec({ gateway: { cpu: '2', memory: '1Gi' } }));
  t.deepEqual(custom.resources.requests, { cpu: '2', memory: '1Gi' });
  const pod = { spec: inferenceObjects(job, spec(), cc).deployment.spec.template.spec };
  t.is(podRequest(pod, 'nvidia.com/pgpu'), 2);
  t.is(podRequest(pod, 'cpu'), 7); // 6 for the model server + 1 for the gateway
});

test('when the gateway runs: every confidential job by default; spec.gateway.enabled decides', (t) => {
  t.deepEqual(
    containers(spec(), plain).map((c) => c.name),
    ['workload'],
  );
  for (const engine of ['Triton', 'ONNXRuntime'] as const)
    t.is(containers(spec({ runtime: { engine } }), cc).length, 2, engine);
  const custom = spec({ runtime: { engine: 'Custom', image: `r.example/m@sha256:${'d'.repeat(64)}` } });
  t.is(containers(custom, cc).length, 2, 'Custom');
  // vLLM and TGI too: the gateway fronts their OpenAI API
  for (const engine of ['vLLM', 'TGI'] as const) t.is(containers(spec({ runtime: { engine } }), cc).length, 2, engine);
  const off = inferenceObjects(job, spec({ gateway: { enabled: false } }), cc);
  t.is(off.deployment.spec.template.spec.containers.length, 1);
  t.deepEqual(
    off.service.spec.ports.map((p) => p.targetPort),
    ['http'],
  );
});

test('a change to the gateway settings changes the Deployment', (t) => {
  const a = JSON.stringify(inferenceObjects(job, spec(), cc).deployment);
  const b = JSON.stringify(inferenceObjects(job, spec({ gateway: { cpu: '2' } }), cc).deployment);
  t.not(a, b);
  t.is(a, JSON.stringify(inferenceObjects(job, spec(), cc).deployment));
});

test('the schema refuses the gateway without confidential execution, and vLLM behind it on another protocol', (t) => {
  const base = loadExample('inference') as { spec: Record<string, unknown> };
  const paths = (patch: Record<string, unknown>) =>
    validateManifest({ ...base, spec: { ...structuredClone(base.spec), ...patch } }).map((e) => e.path);
  // the example is a confidential vLLM job
  t.deepEqual(paths({ gateway: { enabled: true } }), []);
  t.deepEqual(paths({ gateway: { enabled: false } }), []);
  t.deepEqual(paths({ gateway: { protocol: 'OpenAI' } }), []);
  t.deepEqual(paths({ gateway: { protocol: 'OpenInference' } }), ['spec.gateway.protocol']);
  const onnx = { runtime: { engine: 'ONNXRuntime' } };
  t.deepEqual(paths({ ...onnx, gateway: { protocol: 'OpenAI' } }), ['spec.gateway.protocol']);
  t.deepEqual(paths({ ...onnx, gateway: { protocol: 'OpenInference' } }), []);
  t.deepEqual(paths({ runtime: { engine: 'Triton' }, gateway: { protocol: 'OpenAI' } }), []);
  t.true(paths({ gateway: { protocol: 'gRPC' } }).includes('spec.gateway.protocol'));
  const triton = { runtime: { engine: 'Triton' } };
  t.deepEqual(paths({ ...triton, gateway: { enabled: true, modelName: 'llama' } }), []);
  t.true(
    paths({ ...triton, confidential: { required: false }, gateway: { enabled: true } }).includes(
      'spec.gateway.enabled',
    ),
  );
});
