import test from 'ava';
import { parse } from 'yaml';
import { formatJobsTable, formatObjects, formatPoolsTable, priceSummary } from '../../../cli/commands/get.ts';
import { main } from '../../../cli/nvdax.ts';
import { FakeHub, NOW, kubeError, pool, servingJob, testIo, trainingJob, waitingJob } from './fixtures.ts';

const jobs = () => [servingJob(), waitingJob(), trainingJob()];

test('jobs table: columns, sorted by name, REASON and AGE per job', (t) => {
  t.is(
    formatJobsTable(jobs(), { now: NOW }),
    [
      'NAME   KIND           PHASE       POOL     PRICE   GPUS   READY   REASON             AGE',
      'big    InferenceJob   Pending     -        -       8      0/1     NoMatchingPool     120m',
      'chat   InferenceJob   Running     pool-a   2.57    2      2/2     WorkloadReady      5m',
      'fl     TrainingJob    Scheduled   pool-b   1.80    6      1/3     WorkloadNotReady   90s',
    ].join('\n'),
  );
});

test('jobs table with -A: NAMESPACE first, sorted by namespace then name', (t) => {
  const other = { ...trainingJob(), metadata: { ...trainingJob().metadata, namespace: 'aaa' } };
  const lines = formatJobsTable([servingJob(), other], { now: NOW, allNamespaces: true }).split('\n');
  t.deepEqual(
    lines.map((l) => l.split(/\s{3,}/).slice(0, 3)),
    [
      ['NAMESPACE', 'NAME', 'KIND'],
      ['aaa', 'fl', 'TrainingJob'],
      ['team-a', 'chat', 'InferenceJob'],
    ],
  );
});

test('a job the operator has not seen yet: dashes, requested GPUs', (t) => {
  const fresh = { ...servingJob(), status: undefined };
  t.is(
    formatJobsTable([fresh], { now: NOW }).split('\n')[1],
    'chat   InferenceJob   -       -      -       2      0/2     -        5m',
  );
});

test('pools table: region, phase, capacity and base rates (NVIDIA- left off, /cc for Confidential)', (t) => {
  t.is(priceSummary(pool('p', 'eu')), 'H100-80GB-HBM3=2.10, H100-80GB-HBM3/cc=2.60');
  t.is(
    formatPoolsTable([pool('pool-b', 'us-east', { phase: 'Degraded', availableGpus: 0 }), pool('pool-a', 'eu-west')]),
    [
      'NAME     REGION    PHASE      GPUS   AVAILABLE   PRICES',
      'pool-a   eu-west   Ready      16     6           H100-80GB-HBM3=2.10, H100-80GB-HBM3/cc=2.60',
      'pool-b   us-east   Degraded   16     0           H100-80GB-HBM3=2.10, H100-80GB-HBM3/cc=2.60',
    ].join('\n'),
  );
  const unobserved = { ...pool('new', 'eu'), status: undefined };
  t.is(
    formatPoolsTable([unobserved]).split('\n')[1],
    'new    eu       -       -      -           H100-80GB-HBM3=2.10, H100-80GB-HBM3/cc=2.60',
  );
});

test('-o yaml/json: one object as is (no managedFields), several as a v1 List', (t) => {
  const j = servingJob();
  j.metadata.managedFields = [{ manager: 'x' }];
  const one = JSON.parse(formatObjects([j], 'json', true));
  t.is(one.kind, 'InferenceJob');
  t.is(one.metadata.managedFields, undefined);
  t.is(one.status.placement.quote.baseRate, '2.10');
  const list = parse(formatObjects([j, trainingJob()], 'yaml', false));
  t.is(list.kind, 'List');
  t.deepEqual(
    list.items.map((i: { kind: string }) => i.kind),
    ['InferenceJob', 'TrainingJob'],
  );
});

test('nvdax get: both job kinds of the context namespace, through the hub', async (t) => {
  const hub = new FakeHub('team-a', jobs());
  const io = testIo(hub);
  t.is(await main(['get', '--context', 'prod'], io), 0);
  t.deepEqual(io.opened, [{ kubeconfig: undefined, context: 'prod', namespace: undefined }]);
  t.deepEqual(
    hub.calls.map((c) => `${c.verb} ${c.plural} ${c.namespace}`),
    ['list inferencejobs team-a', 'list trainingjobs team-a'],
  );
  t.is(io.stdout.join('\n'), formatJobsTable(jobs(), { now: NOW }));
  t.true(hub.closed);
});

test('nvdax get -A lists every namespace; pp ignores the namespace', async (t) => {
  const hub = new FakeHub('team-a', [...jobs(), pool('pool-a', 'eu-west')]);
  let io = testIo(hub);
  t.is(await main(['get', 'ij', '-A', '-n', 'x'], io), 0);
  t.deepEqual(hub.calls.at(-1), {
    verb: 'list',
    plural: 'inferencejobs',
    namespace: undefined,
    fieldSelector: undefined,
  });
  t.regex(io.stdout[0]!, /^NAMESPACE\s+NAME/);
  io = testIo(hub);
  t.is(await main(['get', 'providerpools'], io), 0);
  t.deepEqual(hub.calls.at(-1), {
    verb: 'list',
    plural: 'providerpools',
    namespace: undefined,
    fieldSelector: undefined,
  });
  t.regex(io.stdout[0]!, /^NAME\s+REGION\s+PHASE\s+GPUS\s+AVAILABLE\s+PRICES\npool-a\s+eu-west\s+Ready/);
});

test('nvdax get TYPE NAME -o yaml prints the object; a missing one names kind, name and namespace', async (t) => {
  const hub = new FakeHub('team-a', jobs());
  let io = testIo(hub);
  t.is(await main(['get', 'ij', 'chat', '-o', 'yaml'], io), 0);
  const obj = parse(io.stdout.join('\n'));
  t.is(obj.metadata.name, 'chat');
  t.is(obj.status.placement.price, '2.57');
  io = testIo(hub);
  t.is(await main(['get', 'tj', 'nope', '-n', 'team-b'], io), 1);
  t.deepEqual(io.stderr, ['nvdax get: TrainingJob "nope" in namespace "team-b" not found']);
  t.deepEqual(hub.calls.at(-1), { verb: 'get', plural: 'trainingjobs', name: 'nope', namespace: 'team-b' });
  io = testIo(hub);
  t.is(await main(['get', 'pp', 'nope'], io), 1);
  t.deepEqual(io.stderr, ['nvdax get: ProviderPool "nope" not found']);
});

test('nvdax get: nothing found, CRDs missing, RBAC, unknown type, bad output', async (t) => {
  const hub = new FakeHub('team-a', []);
  let io = testIo(hub);
  t.is(await main(['get'], io), 0);
  t.deepEqual(io.stderr, ['No InferenceJobs or TrainingJobs found in namespace "team-a".']);
  hub.failures.set('list inferencejobs', kubeError('NotFound', 404));
  io = testIo(hub);
  t.is(await main(['get', 'ij'], io), 1);
  t.deepEqual(io.stderr, [
    'nvdax get: the hub (context "test-ctx") has no inferencejobs: are the NVDAx CRDs installed?',
  ]);
  hub.failures.set('list inferencejobs', kubeError('Forbidden', 403, 'GET …: 403 inferencejobs is forbidden'));
  io = testIo(hub);
  t.is(await main(['get', 'ij'], io), 1);
  t.deepEqual(io.stderr, [
    'nvdax get: not allowed to read inferencejobs in namespace "team-a" (context "test-ctx"): GET …: 403 inferencejobs is forbidden',
  ]);
  io = testIo(hub);
  t.is(await main(['get', 'pods'], io), 2);
  t.is(
    io.stderr[0],
    'nvdax get: unknown resource type "pods"; use one of: ij, tj, pp, inferencejobs, trainingjobs, providerpools\n' +
      'Usage: nvdax get [TYPE] [NAME] [-A] [-o table|yaml|json] (see nvdax get --help)',
  );
  io = testIo(hub);
  t.is(await main(['get', '-o', 'wide'], io), 2);
  t.regex(io.stderr[0]!, /^nvdax get: invalid --output "wide"; use one of: table, yaml, json/);
  io = testIo(hub);
  t.is(await main(['get', 'ij', 'chat', '-A'], io), 2);
  t.deepEqual(io.stderr, ['nvdax get: NAME with --all-namespaces: a job is read by name in one namespace (use -n)']);
  t.is(hub.calls.length, 4, 'usage errors never reach the hub');
});

test('nvdax get: a hub that cannot be opened is one clear line, exit 1', async (t) => {
  const io = testIo(
    undefined,
    {},
    {
      connect: async () => {
        throw new Error('no kubeconfig: pass --kubeconfig FILE, set $KUBECONFIG, or create ~/.kube/config');
      },
    },
  );
  t.is(await main(['get'], io), 1);
  t.deepEqual(io.stderr, [
    'nvdax get: no kubeconfig: pass --kubeconfig FILE, set $KUBECONFIG, or create ~/.kube/config',
  ]);
});
