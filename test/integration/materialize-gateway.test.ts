// A confidential InferenceJob as the operator materializes it, with the attested gateway beside the model
// server, applied to a real API server (restricted Pod Security in the tenant namespace, RuntimeClass admission)
// and scheduled by the real kube-scheduler onto a kwok confidential node, counting the gateway's requests.
import test from 'ava';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { InferenceJobSpec } from '../../operator/api/types.gen.ts';
import {
  annotationKeys,
  GATEWAY_PORT,
  inferenceObjects,
  initData,
  type JobRef,
  labelKeys,
  type PlacedOn,
  tenantObjects,
} from '../../operator/materialize/index.ts';
import { eventually } from '../helpers/kube.ts';
import { SHAPE_LABEL } from '../../hack/sim/nodes.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { loadKubeConfig, uniqueName } from '../helpers/sim.ts';

const cluster = 'gpu-a';
const kc = loadKubeConfig(cluster);
const core = kc.makeApiClient(CoreV1Api);
const hubNs = uniqueName('gw');
const [namespace, policy, gatewayPolicy] = tenantObjects(hubNs);
const tenant = namespace.metadata.name;

const spec = (cpu: number): InferenceJobSpec => ({
  model: { id: 'vision/resnet50', hash: `sha256:${'ab'.repeat(32)}` },
  runtime: { engine: 'Triton' },
  resources: { gpus: 1, cpu, memory: '8Gi' },
  replicas: 1,
  sla: { priceCap: '2.5' },
  payment: { requester: `0x${'1'.repeat(40)}`, escrowId: `0x${'2'.repeat(64)}` },
});
const on: PlacedOn = {
  pool: 'pool-gw',
  attempt: 1,
  mode: 'confidential',
  resourceName: 'nvidia.com/pgpu',
  product: 'H100',
  tee: 'snp',
  runtimeClassName: 'kata-qemu-nvidia-gpu-snp',
  initData: initData({ kbsUrl: 'http://kbs-service.trustee-operator-system.svc:8080' }),
  gateway: { development: true, chainId: '31337', settlement: `0x${'5'.repeat(40)}` },
  // the cluster's own nodes, as a pool's selector would: never the GPUs of nodes other test files add beside it
  nodeSelector: { [SHAPE_LABEL]: 'true' },
};

test.before(async () => {
  apply(cluster, [namespace, policy, gatewayPolicy]);
  await eventually(
    `default ServiceAccount in ${tenant}`,
    async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: tenant })) !== undefined,
    90_000,
  );
});
test.after.always(() => {
  kubectl(cluster, ['delete', 'namespace', tenant, '--wait=false', '--ignore-not-found']);
});

/**
 * The objects without the marks that make them an operator's (managed-by, the hub job): the operators other
 * tests run on this member would rightly delete objects of a hub job that does not exist.
 */
function disown<T extends { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } }>(
  o: T,
): T {
  const strip = (m: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined) => {
    if (m?.labels) delete m.labels[labelKeys.managedBy];
    if (m?.annotations) delete m.annotations[annotationKeys.job];
  };
  strip(o.metadata);
  strip((o as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } }).spec?.template?.metadata);
  return o;
}

const podsOf = async (workload: string) =>
  (await core.listNamespacedPod({ namespace: tenant, labelSelector: `nvdax.io/slot-group=${workload}` })).items;

test('the API server admits the Deployment and Service; kube-scheduler puts the pod on an SNP confidential node', async (t) => {
  const job: JobRef = { kind: 'InferenceJob', namespace: hubNs, name: 'resnet', uid: 'u-1' };
  const { deployment, service } = inferenceObjects(job, spec(2), on);
  // restricted Pod Security is enforced in the tenant namespace: a non-compliant gateway is refused here
  apply(cluster, [disown(deployment), disown(service)]);
  const pod = await eventually(
    'the pod scheduled',
    async () => (await podsOf(deployment.metadata.name)).find((p) => p.spec?.nodeName),
    60_000,
  );
  const node = getJson<{ metadata: { labels: Record<string, string> } }>(cluster, ['get', 'node', pod.spec!.nodeName!]);
  t.is(node.metadata.labels['amd.feature.node.kubernetes.io/snp'], 'true');
  t.is(node.metadata.labels['nvidia.com/cc.ready.state'], 'true');
  t.deepEqual(
    pod.spec?.containers.map((c) => c.name),
    ['workload', 'gateway'],
  );
  const gw = pod.spec!.containers[1]!;
  t.is(gw.securityContext?.readOnlyRootFilesystem, true);
  t.is(gw.securityContext?.allowPrivilegeEscalation, false);
  t.deepEqual(gw.resources?.requests, { cpu: '1', memory: '512Mi' });
  // the API server took the downward-API reference to the init-data annotation the development attester binds
  t.deepEqual(
    gw.env?.find((e) => e.name === 'NVDAX_INIT_DATA')?.valueFrom?.fieldRef?.fieldPath,
    "metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data']",
  );
  t.is(pod.spec?.runtimeClassName, 'kata-qemu-nvidia-gpu-snp');
  t.deepEqual(pod.spec?.overhead, { cpu: '1', memory: '10Gi' });
  // the Service the API server stored exposes the gateway only
  const svc = getJson<{ spec: { ports: Array<{ name: string; port: number }> } }>(cluster, [
    'get',
    'service',
    '-n',
    tenant,
    service.metadata.name,
  ]);
  t.deepEqual(
    svc.spec.ports.map((p) => [p.name, p.port]),
    [['gateway', GATEWAY_PORT]],
  );
});

test("kube-scheduler counts the gateway's requests: a pod that fits only without them stays Pending", async (t) => {
  // every SNP node has 192 CPUs: 190 for the model server + 1 RuntimeClass overhead fit, the gateway's 1 more
  // with anything else there does not — and 191 + 1 + 1 never does
  const job: JobRef = { kind: 'InferenceJob', namespace: hubNs, name: 'too-big', uid: 'u-2' };
  const { deployment } = inferenceObjects(job, spec(191), on);
  apply(cluster, [disown(deployment)]);
  const pod = await eventually(
    'the pod marked unschedulable',
    async () =>
      (await podsOf(deployment.metadata.name)).find((p: V1Pod) =>
        p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'),
      ),
    60_000,
  );
  t.falsy(pod.spec?.nodeName);
  const msg = pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '';
  t.regex(msg, /Insufficient cpu/);
});
