import test from 'ava';
import { describeJob, eventsFor, quoteFormula } from '../../../cli/commands/describe.ts';
import type { EventObject } from '../../../cli/commands/describe.ts';
import { main } from '../../../cli/nvdax.ts';
import { FakeHub, NOW, ago, kubeError, servingJob, testIo, trainingJob, waitingJob } from './fixtures.ts';

const events: EventObject[] = [
  {
    kind: 'Event',
    metadata: { name: 'chat.1', namespace: 'team-a' },
    involvedObject: { kind: 'InferenceJob', name: 'chat', uid: 'uid-chat' },
    type: 'Normal',
    reason: 'Placed',
    message: 'placed on pool-a at 2.57',
    firstTimestamp: ago(280),
    lastTimestamp: ago(280),
    count: 1,
    source: { component: 'nvdax-operator' },
  },
  {
    kind: 'Event',
    metadata: { name: 'chat.2', namespace: 'team-a' },
    involvedObject: { kind: 'InferenceJob', name: 'chat', uid: 'uid-chat' },
    type: 'Warning',
    reason: 'AttestationRetry',
    note: 'evidence not ready',
    eventTime: ago(250),
    series: { count: 3, lastObservedTime: ago(200) },
    reportingComponent: 'nvdax.io/operator',
  },
];

test('quote formula: every factor, ? for one not reported, the bare price without a quote', (t) => {
  const p = servingJob().status!.placement!;
  t.is(quoteFormula(p), 'P = 2.10 × 1.00 × 1.20 + 0.05 = 2.57');
  t.is(quoteFormula({ ...p, quote: { baseRate: '2.10', loadFactor: '1.5' } }), 'P = 2.10 × ? × 1.5 + ? = 2.57');
  t.is(quoteFormula({ price: '1.80' }), 'P = 1.80');
  t.is(quoteFormula({}), '-');
});

test('describe a placed, serving InferenceJob: spec, placement with the quote, conditions, usage, events', (t) => {
  t.is(
    describeJob(servingJob(), events, NOW),
    `Name:            chat
Namespace:       team-a
Kind:            InferenceJob
Created:         2026-03-01T11:55:00Z (5m ago)
Phase:           Running
Attempts:        1
Replicas ready:  2/2
Latency p95:     120 ms
Spec:
  Model:           meta-llama/Llama-3.1-8B-Instruct (sha256:${'a'.repeat(64)})
  Engine:          vLLM
  GPUs:            1 per replica × 2 to 4 replicas (autoscaling)
  GPU products:    NVIDIA-H100-80GB-HBM3, NVIDIA-H200, at least 40Gi each
  Tier:            Premium, p95 latency ≤ 300 ms
  Price cap:       3.5 NVDAx/GPU-hour
  Regions:         eu-west
  Data residency:  DE, EU
  Confidential:    required (TEE snp; GPU attestation on)
Placement:
  Pool:       pool-a (cluster member-1, namespace nvdax-team-a)
  GPUs:       2 × NVIDIA-H100-80GB-HBM3 (Confidential, nvidia.com/pgpu)
  TEE:        snp, runtime class kata-qemu-nvidia-gpu-snp
  Attempt:    1
  Price:      P = 2.10 × 1.00 × 1.20 + 0.05 = 2.57 NVDAx/GPU-hour
  Quoted:     2026-03-01T11:55:20Z
  Init data:  sha384:${'ab'.repeat(24)}
Conditions:
  TYPE        STATUS   REASON          AGE     MESSAGE
  Escrowed    True     Funded          4m50s   escrow covers the quote
  Scheduled   True     Placed          4m40s   placed on pool-a
  Ready       True     WorkloadReady   60s     2/2 replicas ready
Usage:  7200 GPU-seconds (2.00 GPU-hours), 1500 requests
  ATTEMPT   POOL     PRICE   GPU-SECONDS   START                  END       REASON
  1         pool-a   2.57    7200          2026-03-01T11:55:30Z   running   -
Events:
  TYPE      REASON             AGE                     FROM                MESSAGE
  Normal    Placed             4m40s                   nvdax-operator      placed on pool-a at 2.57
  Warning   AttestationRetry   3m20s (x3 over 4m10s)   nvdax.io/operator   evidence not ready`,
  );
});

test('describe shows the settlement: task, escrow, charged and returned, periods, transactions', (t) => {
  const job = servingJob();
  job.status = {
    ...job.status,
    settlement: {
      task: 4,
      taskHash: `0x${'12'.repeat(32)}`,
      provider: '0x976EA74026E726554dB657fA54763abd0C3a0aa9',
      startPeriod: 10,
      span: 30,
      periodSeconds: 60,
      capPerPeriod: '0.166666',
      settledPeriods: 2,
      escrowed: '4.99998',
      charged: '0.004',
      refunded: '0.329332',
      message: '2 of 30 periods settled',
      transactions: [{ txHash: `0x${'34'.repeat(32)}`, type: 'Open', amount: '4.99998', blockNumber: 44 }],
    },
  };
  const out = describeJob(job, [], NOW);
  const part = out.slice(out.indexOf('Settlement:'), out.indexOf('Events:'));
  t.is(
    part,
    `Settlement:
  Task:      4 (0x${'12'.repeat(32)})
  Provider:  0x976EA74026E726554dB657fA54763abd0C3a0aa9
  Escrowed:  4.99998 NVDAx (cap 0.166666 per period)
  Charged:   0.004 NVDAx
  Returned:  0.329332 NVDAx
  Periods:   2 of 30 settled (60 s each, from period 10)
  Status:    2 of 30 periods settled
  TYPE   AMOUNT    BLOCK   TRANSACTION
  Open   4.99998   44      0x${'34'.repeat(32)}
`,
  );
});

test('describe an unplaced job: no placement, the rejections table, events that could not be read', (t) => {
  const out = describeJob(waitingJob(), 'not allowed to read events', NOW);
  const tail = out.slice(out.indexOf('Placement:'));
  t.is(
    tail,
    `Placement:  <none>
Conditions:
  TYPE        STATUS   REASON           AGE   MESSAGE
  Scheduled   False    NoMatchingPool   60m   no pool fits: 2 pools: InsufficientGpus 1, PriceCapExceeded 1
Rejections:
  POOL     REASON             MESSAGE
  pool-a   InsufficientGpus   largest free block 4 GPUs, job needs 8 per pod
  pool-b   PriceCapExceeded   price 4.10 above cap 3.5
Events:  <unavailable: not allowed to read events>`,
  );
  t.regex(out, /\n {2}GPUs: +8 per replica × 1 replica\n/);
  t.regex(out, /\n {2}Confidential: +no\n/);
  // once placed, old rejections are history: not shown
  const placed = servingJob();
  placed.status!.rejections = [{ pool: 'pool-z', reason: 'TeeMismatch' }];
  t.notRegex(describeJob(placed, [], NOW), /Rejections|pool-z/);
});

test('describe a federated TrainingJob: mode, workers, participants; events sorted oldest first', (t) => {
  const newer = { ...events[0]!, lastTimestamp: ago(10), firstTimestamp: ago(10), reason: 'Later' };
  const out = describeJob(trainingJob(), [newer, events[1]!], NOW);
  t.regex(out, /^Name: +fl\nNamespace: +team-a\nKind: +TrainingJob\n/);
  t.regex(out, /\nWorkers ready: +1\/3\n/);
  t.regex(out, /\n {2}Mode: +Federated, 10 rounds, FedAvg\n {2}Model: +from scratch\n/);
  t.regex(out, /\n {2}GPUs: +2 per worker × 3 workers \(6\)\n/);
  t.regex(out, /\n {2}Price: +P = 1\.80 NVDAx\/GPU-hour\n/);
  t.regex(
    out,
    /\nParticipants:\n {2}INDEX {3}POOL {5}PRICE {3}READY {3}ROUNDS\n {2}0 {7}pool-b {3}1\.80 {4}yes {5}0\n {2}1 {7}pool-c {3}1\.95 {4}no {6}-\n/,
  );
  const ev = out.slice(out.indexOf('Events:')).split('\n');
  t.deepEqual(
    ev.map((l) => l.trim().split(/\s+/)[1]),
    [undefined, 'REASON', 'AttestationRetry', 'Later'],
  );
});

test('events: core/v1 by involvedObject kind, name and uid in the job namespace; others are filtered out', async (t) => {
  const stray = { ...events[0]!, involvedObject: { kind: 'InferenceJob', name: 'chat', uid: 'old-uid' } };
  const hub = new FakeHub('team-a', [...events, stray]);
  const got = await eventsFor(hub, servingJob());
  t.deepEqual(Array.isArray(got) ? got.map((e) => e.metadata?.name) : got, ['chat.1', 'chat.2']);
  t.deepEqual(hub.calls, [
    {
      verb: 'list',
      plural: 'events',
      namespace: 'team-a',
      fieldSelector: 'involvedObject.kind=InferenceJob,involvedObject.name=chat,involvedObject.uid=uid-chat',
    },
  ]);
  hub.failures.set('list events', kubeError('Forbidden', 403, 'events is forbidden'));
  t.is(await eventsFor(hub, servingJob()), 'not allowed to read events (context "test-ctx"): events is forbidden');
});

test('nvdax describe ij NAME: the report on stdout; a missing job names kind, name and namespace', async (t) => {
  const hub = new FakeHub('team-a', [servingJob(), ...events]);
  let io = testIo(hub);
  t.is(await main(['describe', 'inferencejobs', 'chat'], io), 0);
  t.is(io.stdout.join('\n'), describeJob(servingJob(), events, NOW));
  t.deepEqual(io.stderr, []);
  io = testIo(hub);
  t.is(await main(['describe', 'ij', 'gone', '-n', 'team-b'], io), 1);
  t.deepEqual(io.stderr, ['nvdax describe: InferenceJob "gone" in namespace "team-b" not found']);
  io = testIo(hub);
  t.is(await main(['describe', 'pp', 'pool-a'], io), 2);
  t.regex(
    io.stderr[0]!,
    /^nvdax describe: unknown resource type "pp"; use one of: ij, tj, inferencejobs, trainingjobs\n/,
  );
  io = testIo(hub);
  t.is(await main(['describe', 'ij'], io), 2);
  t.regex(io.stderr[0]!, /Usage: nvdax describe ij\|tj NAME/);
  t.true(hub.closed);
});
