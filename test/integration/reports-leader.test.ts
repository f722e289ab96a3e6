// The report intake runs on the leader alone, and a Service reaches it through the label the leader writes on
// its own Pod (--leader-pod-label, the chart's reports Service). Two real operator processes, each as one of
// two Pods on a kwok node of the hub (POD_NAMESPACE/POD_NAME, as the downward API gives them), share a Lease:
// only the leader's Pod carries nvdax.io/leader=true and is the Service's endpoint; a graceful stop removes the
// label and the standby labels its own Pod; a killed leader's label stays on its Pod until that Pod's next
// process clears it at start, while the new leader labels its own.
import test from 'ava';
import { buildNodes } from '../../hack/sim/nodes.ts';
import { createNamespace, deleteNamespace, eventually } from '../helpers/kube.ts';
import { apply, getJson, kubectl } from '../helpers/kubectl.ts';
import { type OperatorProc, startOperator } from '../helpers/operator.ts';
import { loadKubeConfig, uniqueName } from '../helpers/sim.ts';

const run = uniqueName('rl');
const ns = `${run}-system`;
const label = { 'nvdax.io/test-run': run };
const hub = loadKubeConfig('hub');
const procs: OperatorProc[] = [];
const node = buildNodes(run, { template: 'cpu', count: 1, labels: label }, 'eu-west', 'eu-west-a')[0];

type Pod = { metadata: { name: string; labels?: Record<string, string> }; status?: { podIP?: string } };
const pod = (name: string) => getJson<Pod>('hub', ['-n', ns, 'get', 'pod', name]);
const leaderLabel = (name: string) => pod(name).metadata.labels?.['nvdax.io/leader'];
/** The Service's ready endpoint addresses, from its EndpointSlices. */
const endpoints = () =>
  getJson<{ items: Array<{ endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> }> }>('hub', [
    '-n',
    ns,
    'get',
    'endpointslices',
    '-l',
    `kubernetes.io/service-name=${run}-reports`,
  ])
    .items.flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .flatMap((e) => e.addresses)
    .sort();

/** An operator process as Pod `podName` (the downward API's env), labelling its Pod while it leads. */
function operatorAs(podName: string, n: number): OperatorProc {
  const saved = { ns: process.env['POD_NAMESPACE'], name: process.env['POD_NAME'] };
  process.env['POD_NAMESPACE'] = ns;
  process.env['POD_NAME'] = podName;
  try {
    const op = startOperator({
      identity: `${run}-op-${n}`,
      poolSelector: `nvdax.io/test-run=${run}`,
      leaseNamespace: ns,
      extra: ['--leader-pod-label', '--reports-bind-address', '127.0.0.1:0'],
    });
    procs.push(op);
    return op;
  } finally {
    for (const [k, v] of [
      ['POD_NAMESPACE', saved.ns],
      ['POD_NAME', saved.name],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const waitFor = <T>(what: string, f: () => T | undefined, ms = 60_000) => eventually(what, async () => f(), ms, 250);

test.before(async () => {
  if (!node) throw new Error('no node');
  apply('hub', [node]);
  await createNamespace(hub, ns);
  const podOf = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: label },
    spec: {
      nodeName: node.metadata.name,
      containers: [{ name: 'operator', image: 'x' }],
      tolerations: [{ operator: 'Exists' }],
    },
  });
  apply('hub', [
    podOf('op-a'),
    podOf('op-b'),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${run}-reports`, namespace: ns },
      spec: { selector: { ...label, 'nvdax.io/leader': 'true' }, ports: [{ name: 'reports', port: 9443 }] },
    },
  ]);
  for (const p of ['op-a', 'op-b']) await waitFor(`${p} has an IP`, () => pod(p).status?.podIP);
});

test.after.always(async () => {
  for (const p of procs) await p.stop().catch(() => {});
  await deleteNamespace(hub, ns).catch(() => {});
  if (node) kubectl('hub', ['delete', 'node', node.metadata.name, '--wait=false']);
});

test.serial('only the leader’s Pod is labelled and is the Service’s endpoint, across a stop and a kill', async (t) => {
  const ip = { a: pod('op-a').status?.podIP, b: pod('op-b').status?.podIP };
  const a = operatorAs('op-a', 1);
  await a.proc.waitFor('A labelled its Pod', (l) => l.msg === 'Pod labelled leader', 60_000);
  t.is(leaderLabel('op-a'), 'true');
  await waitFor('the Service selects op-a', () => (endpoints().join() === ip.a ? true : undefined));

  // a standby labels nothing
  const b = operatorAs('op-b', 2);
  await b.proc.waitFor('B runs', (l) => l.msg === 'Starting operator', 60_000);
  await new Promise((r) => setTimeout(r, 3000));
  t.is(leaderLabel('op-b'), undefined);
  t.deepEqual(endpoints(), [ip.a]);

  // a graceful stop: A removes its label, B leads and labels its own Pod
  await a.stop();
  t.is(leaderLabel('op-a'), undefined);
  await b.proc.waitFor('B labelled its Pod', (l) => l.msg === 'Pod labelled leader', 60_000);
  t.is(leaderLabel('op-b'), 'true');
  await waitFor('the Service selects op-b', () => (endpoints().join() === ip.b ? true : undefined));

  // a killed leader keeps its label (its process cannot remove it) ...
  await b.kill();
  t.is(leaderLabel('op-b'), 'true');
  // ... the next leader labels its own Pod, and op-b's next process (a container restart) clears the stale one
  const a2 = operatorAs('op-a', 3);
  await a2.proc.waitFor('A2 labelled its Pod', (l) => l.msg === 'Pod labelled leader', 60_000);
  const b2 = operatorAs('op-b', 4);
  await b2.proc.waitFor('B2 cleared the stale label', (l) => l.msg === 'Leader label removed', 60_000);
  t.is(leaderLabel('op-a'), 'true');
  t.is(leaderLabel('op-b'), undefined);
  await waitFor('the Service selects op-a again', () => (endpoints().join() === ip.a ? true : undefined));
});
