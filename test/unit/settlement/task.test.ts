import test from 'ava';
import { AbiCoder, id, keccak256, TypedDataEncoder, toUtf8Bytes, Wallet, ZeroAddress } from 'ethers';
import { decodeItems, encodeItems } from '../../../operator/settlement/contracts.ts';
import {
  buildTask,
  hubJobId,
  recoverTaskSigner,
  signTask,
  stringListHash,
  TASK_TYPES,
  type TaskFields,
  TaskFieldError,
  taskDigest,
  taskDomain,
  taskStructHash,
  toContractTask,
  verifyTask,
} from '../../../operator/settlement/task.ts';

// Fixed keys: deterministic signatures, no randomness in the test.
const requester = new Wallet(`0x${'11'.repeat(32)}`);
const other = new Wallet(`0x${'22'.repeat(32)}`);
const domain = taskDomain(31337n, '0x5FbDB2315678afecb367f032d93F642f64180aa3');

const fields = (over: Partial<TaskFields> = {}): TaskFields => ({
  requester: requester.address,
  hubJob: { namespace: 'team-a', name: 'llama' },
  model: 'hf://meta-llama/Llama-3.1-8B-Instruct',
  sla: { tier: 'Premium', maxLatencyMs: 250, priceCap: '2.5', regions: ['us-east', 'eu-west'], dataResidency: ['EU'] },
  confidential: { required: true, teeTypes: ['tdx', 'snp'] },
  retries: 2,
  gpus: 8,
  maxTotal: '1000',
  nonce: 7n,
  deadline: 1_900_000_000,
  ...over,
});

test('buildTask maps plain fields to the typed-data value', (t) => {
  const v = buildTask(fields());
  t.is(v.hubJob, id('team-a/llama'));
  t.is(v.modelHash, keccak256(toUtf8Bytes('hf://meta-llama/Llama-3.1-8B-Instruct')));
  t.is(v.sla.tier, 2);
  t.is(v.sla.priceCap, 2_500_000_000_000_000_000n);
  t.is(v.maxTotal, 1000n * 10n ** 18n);
  // Sets are sorted, so the same job signs the same hash whatever order the spec lists them in.
  t.deepEqual(v.sla.regions, ['eu-west', 'us-east']);
  t.deepEqual(v.confidential.teeTypes, ['snp', 'tdx']);
  t.true(v.confidential.gpuAttestation, 'secure by default when confidential is required');
  t.is(
    taskStructHash(v),
    taskStructHash(buildTask(fields({ sla: { ...fields().sla, regions: ['us-east', 'eu-west'] } }))),
  );
});

test('the primary type string is the one the contract hashes', (t) => {
  t.is(
    TypedDataEncoder.from(TASK_TYPES).encodeType('Task'),
    'Task(address requester,address provider,bytes32 hubJob,bytes32 modelHash,SLA sla,Confidential confidential,uint16 retries,' +
      'uint32 gpus,uint256 maxTotal,uint256 nonce,uint64 deadline)' +
      'Confidential(bool required,string[] teeTypes,bool gpuAttestation)' +
      'SLA(uint8 tier,uint32 maxLatencyMs,uint64 maxDurationSeconds,uint256 priceCap,string[] regions,string[] dataResidency)',
  );
});

test('string lists hash as EIP-712 arrays (keccak of the concatenated keccaks)', (t) => {
  t.is(stringListHash([]), keccak256('0x'));
  const v = buildTask(fields());
  const c = toContractTask(v);
  t.is(c.sla.regionsHash, stringListHash(['eu-west', 'us-east']));
  // What the contract hashes (list hashes in place of the lists) equals ethers' hash of the real string lists.
  const slaType =
    'SLA(uint8 tier,uint32 maxLatencyMs,uint64 maxDurationSeconds,uint256 priceCap,string[] regions,string[] dataResidency)';
  const byHand = keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ['bytes32', 'uint8', 'uint32', 'uint64', 'uint256', 'bytes32', 'bytes32'],
      [
        id(slaType),
        c.sla.tier,
        c.sla.maxLatencyMs,
        c.sla.maxDurationSeconds,
        c.sla.priceCap,
        c.sla.regionsHash,
        c.sla.dataResidencyHash,
      ],
    ),
  );
  t.is(TypedDataEncoder.from(TASK_TYPES).hashStruct('SLA', v.sla), byHand);
});

test('sign, recover and verify', async (t) => {
  const v = buildTask(fields());
  const sig = await signTask(requester, domain, v);
  t.is(recoverTaskSigner(domain, v, sig), requester.address);
  t.true(verifyTask(domain, v, sig));
  t.is(taskDigest(domain, v), TypedDataEncoder.hash(domain, TASK_TYPES, v));
});

test('verify refuses the wrong signer, a changed field, another domain and garbage', async (t) => {
  const v = buildTask(fields());
  const sig = await signTask(other, domain, v);
  t.false(verifyTask(domain, v, sig), 'signed by someone else');
  const good = await signTask(requester, domain, v);
  t.false(verifyTask(domain, { ...v, maxTotal: v.maxTotal + 1n }, good), 'maxTotal changed');
  t.false(verifyTask(domain, { ...v, sla: { ...v.sla, priceCap: v.sla.priceCap * 2n } }, good), 'price cap changed');
  t.false(verifyTask(domain, { ...v, nonce: 8n }, good), 'nonce changed');
  t.false(verifyTask(taskDomain(1n, domain.verifyingContract as string), v, good), 'other chain');
  t.false(verifyTask(domain, v, '0x1234'), 'malformed signature');
});

test('the provider is optional: absent means any (the zero address), else signed and checksummed', async (t) => {
  t.is(buildTask(fields()).provider, ZeroAddress);
  t.is(buildTask(fields({ provider: '' })).provider, ZeroAddress);
  const named = buildTask(fields({ provider: other.address.toLowerCase() }));
  t.is(named.provider, other.address);
  t.is(toContractTask(named).provider, other.address);
  const good = await signTask(requester, domain, named);
  t.false(verifyTask(domain, { ...named, provider: ZeroAddress }, good), 'the provider is signed');
  t.not(taskStructHash(named), taskStructHash(buildTask(fields())));
});

const bad: Array<[string, Partial<TaskFields>, string]> = [
  ['requester', { requester: '0xnope' }, 'requester'],
  ['provider', { provider: '0xnope' }, 'provider'],
  ['model', { model: '' }, 'model'],
  ['priceCap zero', { sla: { priceCap: '0' } }, 'sla.priceCap'],
  ['priceCap not decimal', { sla: { priceCap: '1e3' } }, 'sla.priceCap'],
  ['priceCap too precise', { sla: { priceCap: `0.${'1'.repeat(19)}` } }, 'sla.priceCap'],
  ['maxTotal', { maxTotal: '-1' }, 'maxTotal'],
  ['gpus zero', { gpus: 0 }, 'gpus'],
  ['gpus fraction', { gpus: 1.5 }, 'gpus'],
  ['retries', { retries: 70_000 }, 'retries'],
  ['latency', { sla: { priceCap: '1', maxLatencyMs: -1 } }, 'sla.maxLatencyMs'],
  ['tier', { sla: { priceCap: '1', tier: 'Gold' as never } }, 'sla.tier'],
  ['residency', { sla: { priceCap: '1', dataResidency: ['germany'] } }, 'sla.dataResidency'],
  ['duplicate region', { sla: { priceCap: '1', regions: ['a', 'a'] } }, 'sla.regions'],
  ['tee without required', { confidential: { required: false, teeTypes: ['snp'] } }, 'confidential'],
  ['tee type', { confidential: { required: true, teeTypes: ['sgx'] } }, 'confidential.teeTypes'],
  ['nonce', { nonce: -1n }, 'nonce'],
  ['deadline', { deadline: 0 }, 'deadline'],
  ['hub job name', { hubJob: { namespace: 'a', name: 'b/c' } }, 'hubJob.name'],
];
for (const [name, over, field] of bad) {
  test(`buildTask refuses bad ${name}, naming ${field}`, (t) => {
    const e = t.throws(() => buildTask(fields(over)), { instanceOf: TaskFieldError });
    t.is(e?.field, field);
    t.true(e?.message.startsWith(`task ${field}:`));
  });
}

test('hubJobId is keccak of namespace/name (the uid is not known when the requester signs)', (t) => {
  t.is(hubJobId({ namespace: 'n', name: 'j' }), id('n/j'));
});

test('settle items pack into 12 bytes and decode back', (t) => {
  const items = [
    { task: 0, period: 0, amount: 0n },
    { task: 2 ** 32 - 1, period: 2 ** 24 - 1, amount: 2n ** 40n - 1n },
    { task: 513, period: 77, amount: 1_234_567n },
  ];
  const hex = encodeItems(items);
  t.is(hex.length, 2 + items.length * 24);
  t.deepEqual(decodeItems(hex), items);
  t.throws(() => encodeItems([{ task: 2 ** 32, period: 0, amount: 0n }]), {
    message: /\[0\]\.task .* 0\.\.4294967295/,
  });
  t.throws(() => encodeItems([{ task: 0, period: 0, amount: 2n ** 40n }]), { message: /amount/ });
  t.throws(() => decodeItems('0x00'), { message: /multiple of 12/ });
});
