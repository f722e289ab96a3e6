import test from 'ava';
import type { TrainingJobSpec } from '../../../operator/api/types.gen.ts';
import {
  type ContainerEnvVar,
  engineImages,
  hubKeyOf,
  type JobRef,
  initData,
  MaterializeError,
  participantObjects,
  type PlacedOn,
  trainingObjects,
} from '../../../operator/materialize/index.ts';

const job: JobRef = { kind: 'TrainingJob', namespace: 'research', name: 'pretrain', uid: 'uid-t' };
const spec = (more: Partial<TrainingJobSpec> = {}): TrainingJobSpec => ({
  mode: 'Distributed',
  runtime: { engine: 'PyTorch', command: ['torchrun'], args: ['train.py'] },
  workers: 4,
  resources: { gpus: 8 },
  sla: { priceCap: '3' },
  payment: { requester: `0x${'1'.repeat(40)}`, escrowId: `0x${'2'.repeat(64)}` },
  ...more,
});
const on: PlacedOn = {
  pool: 'pool-a',
  attempt: 2,
  mode: 'container',
  resourceName: 'nvidia.com/gpu',
  product: 'NVIDIA-H200',
};
const envMap = (env: ContainerEnvVar[]) => new Map(env.map((e) => [e.name, e]));

test('Distributed: an Indexed Job of `workers` pods that never retries by itself', (t) => {
  const { job: j } = trainingObjects(job, spec(), on);
  t.is(j.apiVersion, 'batch/v1');
  t.is(j.kind, 'Job');
  t.is(j.metadata.name, 'pretrain-a2');
  t.is(j.metadata.namespace, 'nvdax-research');
  t.is(j.metadata.labels['nvdax.io/job-kind'], 'TrainingJob');
  t.is(hubKeyOf(j), 'research/pretrain');
  t.is(j.spec.completionMode, 'Indexed');
  t.is(j.spec.completions, 4);
  t.is(j.spec.parallelism, 4);
  t.is(j.spec.backoffLimit, 0);
  const pod = j.spec.template;
  t.is(pod.spec.restartPolicy, 'Never');
  t.is(pod.spec.subdomain, 'pretrain-a2');
  t.is(pod.metadata.labels['nvdax.io/slot-group'], 'pretrain-a2');
  t.is(hubKeyOf(pod), 'research/pretrain');
  const c = pod.spec.containers[0]!;
  t.is(c.image, engineImages.PyTorch);
  t.deepEqual(c.command, ['torchrun']);
  t.deepEqual(c.args, ['train.py']);
  t.deepEqual(c.resources.limits, { cpu: '8', memory: '64Gi', 'nvidia.com/gpu': '8' });
});

test('Distributed: torchrun env with NODE_RANK from the completion index', (t) => {
  const env = envMap(trainingObjects(job, spec(), on).job.spec.template.spec.containers[0]!.env);
  t.is(env.get('MASTER_ADDR')?.value, 'pretrain-a2-0.pretrain-a2');
  t.is(env.get('MASTER_PORT')?.value, '29500');
  t.is(env.get('WORLD_SIZE')?.value, '4');
  t.is(env.get('NPROC_PER_NODE')?.value, '8');
  t.deepEqual(env.get('NODE_RANK'), {
    name: 'NODE_RANK',
    valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
  });
  t.is(env.get('NODE_RANK')?.value, undefined);
  t.is(env.get('PET_NNODES')?.value, '4');
  t.is(env.get('NVDAX_JOB')?.value, 'research/pretrain');
  t.is(env.get('NVDAX_ATTEMPT')?.value, '2');
  t.false(env.has('NVDAX_CHECKPOINT_URI'));
  t.false(env.has('NVDAX_MODEL_ID'));
});

test('Distributed: the headless Service publishes not-ready ranks', (t) => {
  const { service } = trainingObjects(job, spec(), on);
  t.is(service.metadata.name, 'pretrain-a2');
  t.is(service.spec.clusterIP, 'None');
  t.true(service.spec.publishNotReadyAddresses);
  t.deepEqual(service.spec.selector, { 'nvdax.io/slot-group': 'pretrain-a2' });
  t.deepEqual(service.spec.ports, [{ name: 'rendezvous', port: 29500, targetPort: 29500, protocol: 'TCP' }]);
});

test('checkpoint, model and dataset reach the env', (t) => {
  const env = envMap(
    trainingObjects(
      job,
      spec({
        checkpoint: { uri: 's3://ckpt/pretrain', interval: '15m' },
        model: { id: 'base', hash: `sha256:${'d'.repeat(64)}` },
        dataset: { uri: 's3://data/set', hash: `sha256:${'e'.repeat(64)}` },
      }),
      on,
    ).job.spec.template.spec.containers[0]!.env,
  );
  t.is(env.get('NVDAX_CHECKPOINT_URI')?.value, 's3://ckpt/pretrain');
  t.is(env.get('NVDAX_CHECKPOINT_INTERVAL')?.value, '15m');
  t.is(env.get('NVDAX_CHECKPOINT_KEEP')?.value, '3');
  t.is(env.get('NVDAX_MODEL_ID')?.value, 'base');
  t.is(env.get('NVDAX_DATASET_URI')?.value, 's3://data/set');
});

test('user env cannot override the rendezvous variables', (t) => {
  const env = envMap(
    trainingObjects(
      job,
      spec({
        runtime: {
          engine: 'PyTorch',
          env: [
            { name: 'MASTER_ADDR', value: 'evil' },
            { name: 'NCCL_DEBUG', value: 'INFO' },
          ],
        },
      }),
      on,
    ).job.spec.template.spec.containers[0]!.env,
  );
  t.is(env.get('MASTER_ADDR')?.value, 'pretrain-a2-0.pretrain-a2');
  t.is(env.get('NCCL_DEBUG')?.value, 'INFO');
});

test('confidential training pods carry the runtime class and init-data', (t) => {
  const cc: PlacedOn = {
    ...on,
    mode: 'confidential',
    resourceName: 'nvidia.com/GH100_H100_SXM5_80GB',
    product: 'H100',
    tee: 'tdx',
    runtimeClassName: 'kata-qemu-nvidia-gpu-tdx',
    initData: initData({ kbsUrl: 'https://kbs.example', algorithm: 'sha384' }),
  };
  const pod = trainingObjects(job, spec(), cc).job.spec.template;
  t.is(pod.spec.runtimeClassName, 'kata-qemu-nvidia-gpu-tdx');
  t.is(pod.spec.containers[0]!.resources.limits['nvidia.com/GH100_H100_SXM5_80GB'], '8');
  t.is(pod.metadata.annotations['io.katacontainers.config.hypervisor.cc_init_data'], cc.initData!.annotation);
});

test('a Federated spec is refused by trainingObjects and a Distributed one by participantObjects', (t) => {
  const fed = spec({ mode: 'Federated', federated: { rounds: 10 } });
  t.is(t.throws(() => trainingObjects(job, fed, on), { instanceOf: MaterializeError })?.field, 'spec.mode');
  t.is(t.throws(() => participantObjects(job, spec(), on, 0), { instanceOf: MaterializeError })?.field, 'spec.mode');
});

test('Federated: one single-pod Indexed Job per participant with the round settings', (t) => {
  const fed = spec({
    mode: 'Federated',
    runtime: { engine: 'Flower' },
    workers: 3,
    federated: { rounds: 10, minParticipants: 3, aggregation: 'SecureAggregation' },
  });
  const { job: j, service } = participantObjects(job, fed, on, 1);
  t.is(j.metadata.name, 'pretrain-a2-p1');
  t.is(j.metadata.labels['nvdax.io/participant'], '1');
  t.is(j.spec.completionMode, 'Indexed');
  t.is(j.spec.completions, 1);
  t.is(j.spec.parallelism, 1);
  t.is(j.spec.backoffLimit, 0);
  const pod = j.spec.template;
  t.is(pod.metadata.labels['nvdax.io/slot-group'], 'pretrain-a2-p1');
  t.is(pod.metadata.labels['nvdax.io/participant'], '1');
  t.is(pod.spec.containers[0]!.image, engineImages.Flower);
  const env = envMap(pod.spec.containers[0]!.env);
  t.is(env.get('NVDAX_PARTICIPANT_INDEX')?.value, '1');
  t.is(env.get('NVDAX_ROUNDS')?.value, '10');
  t.is(env.get('NVDAX_MIN_PARTICIPANTS')?.value, '3');
  t.is(env.get('NVDAX_AGGREGATION')?.value, 'SecureAggregation');
  t.false(env.has('MASTER_ADDR'));
  t.is(env.get('NVDAX_PARTICIPANT_ID')?.value, 'pretrain-a2-p1');
  t.is(env.get('NVDAX_JOB')?.value, `${job.namespace}/${job.name}`);
  t.false(env.has('NVDAX_COORDINATOR'), 'no coordinator published: none in the env');
  const withHub = envMap(
    participantObjects(job, fed, { ...on, coordinator: '10.0.0.5:41234' }, 1).job.spec.template.spec.containers[0]!.env,
  );
  t.is(withHub.get('NVDAX_COORDINATOR')?.value, '10.0.0.5:41234');
  t.is(service.metadata.name, 'pretrain-a2-p1');
  t.is(service.spec.clusterIP, 'None');
  t.not(participantObjects(job, fed, on, 2).job.metadata.name, j.metadata.name);
  t.throws(() => participantObjects(job, fed, on, 3), { instanceOf: RangeError });
  const defaults = envMap(
    participantObjects(job, { ...fed, federated: { rounds: 5 } }, on, 0).job.spec.template.spec.containers[0]!.env,
  );
  t.is(defaults.get('NVDAX_MIN_PARTICIPANTS')?.value, '2');
  t.is(defaults.get('NVDAX_AGGREGATION')?.value, 'FedAvg');
});
