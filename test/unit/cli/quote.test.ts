import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { quoteReport } from '../../../cli/commands/quote.ts';
import { main } from '../../../cli/nvdax.ts';
import type { ProviderPoolObject } from '../../../operator/api/resources.ts';
import { projectRoot } from '../../../operator/api/generate.ts';
import { FakeHub, pool, testIo } from './fixtures.ts';

const lines = (io: { stdout: string[] }) => io.stdout.join('\n').split('\n');
const example = readFileSync(join(projectRoot, 'examples/inferencejob-chat-confidential.yaml'), 'utf8');

/** A pool with confidential H100s on SNP nodes (`free` of 8) and container H100s, at `rate` per GPU-hour. */
function ccPool(name: string, region: string, jurisdiction: string, rate: string, free: number, phase = 'Ready') {
  const p = pool(name, region, {
    phase: phase as 'Ready',
    runtimeClasses: ['kata-qemu-nvidia-gpu-snp'],
    capacity: [
      {
        gpuProduct: 'NVIDIA-H100-80GB-HBM3',
        mode: 'Confidential',
        resourceName: 'nvidia.com/pgpu',
        gpuMemory: '81559Mi',
        allocatable: 8,
        available: free,
        largestFreeBlock: Math.min(free, 4),
        teeTypes: ['snp'],
      },
      {
        gpuProduct: 'NVIDIA-H100-80GB-HBM3',
        mode: 'Container',
        resourceName: 'nvidia.com/gpu',
        gpuMemory: '81559Mi',
        allocatable: 8,
        available: free,
        largestFreeBlock: Math.min(free, 8),
      },
    ],
  });
  p.spec.jurisdiction = jurisdiction;
  p.spec.baseRates = [{ gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Confidential', pricePerGpuHour: rate }];
  p.spec.confidentialRuntimes = [{ runtimeClassName: 'kata-qemu-nvidia-gpu-snp', teeType: 'snp' }];
  return p;
}

test('quoteReport: headline, candidates in rank order with the quote parts, rejections', (t) => {
  const pools: ProviderPoolObject[] = [pool('pool-a', 'eu-west'), pool('pool-b', 'us-east'), pool('pool-c', 'eu-west')];
  const out = quoteReport(
    'InferenceJob/team-a/chat',
    {
      candidates: [
        {
          pool: 'pool-b',
          cls: { product: 'NVIDIA-H100-80GB-HBM3', mode: 'confidential', tee: 'snp', free: 4 },
          quote: { baseRate: '2.10', latencyFactor: '1.00', loadFactor: '1.20', verifierFee: '0.05', price: '2.57' },
        },
        {
          pool: 'pool-a',
          cls: { product: 'NVIDIA-H200', mode: 'container', free: 12 },
          quote: { baseRate: 3, latencyFactor: 1, loadFactor: 1.0500001, verifierFee: 0.05, price: 3.2 },
        },
      ],
      rejections: [{ pool: 'pool-c', reason: 'TeeMismatch', message: 'offers tdx not snp' }],
    },
    pools,
  );
  t.is(
    out,
    [
      'InferenceJob/team-a/chat: 2 of 3 pools fit; the scheduler would choose pool-b at 2.57 NVDAx/GPU-hour',
      'POOL     REGION    GPU                     MODE/TEE           FREE   BASE   LATENCYx   LOADx   FEE    PRICE',
      'pool-b   us-east   NVIDIA-H100-80GB-HBM3   Confidential/snp   4      2.10   1.00       1.20    0.05   2.57',
      'pool-a   eu-west   NVIDIA-H200             Container          12     3      1          1.05    0.05   3.2',
      '',
      'Rejected:',
      'POOL     REASON        MESSAGE',
      'pool-c   TeeMismatch   offers tdx not snp',
    ].join('\n'),
  );
});

test('quoteReport: no pool fits: the summary line and every rejection', (t) => {
  const out = quoteReport(
    'TrainingJob/ft',
    { candidates: [], rejections: [{ pool: 'pool-a', reason: 'PoolNotReady', message: 'phase Degraded' }] },
    [pool('pool-a', 'eu-west')],
    '0/1 pools: 1 phase Degraded',
  );
  t.is(
    out,
    [
      'TrainingJob/ft: no pool fits: 0/1 pools: 1 phase Degraded',
      '',
      'Rejected:',
      'POOL     REASON         MESSAGE',
      'pool-a   PoolNotReady   phase Degraded',
    ].join('\n'),
  );
});

test('nvdax quote: the example job against live pools, ranked by the operator matcher, exit 0', async (t) => {
  const hub = new FakeHub('team-a', [
    ccPool('frankfurt', 'eu-central', 'DE', '2.60', 1),
    ccPool('paris', 'eu-west', 'FR', '2.60', 8),
    ccPool('virginia', 'us-east', 'US', '1.00', 8),
    ccPool('amsterdam', 'eu-west', 'NL', '2.00', 8, 'Degraded'),
    ccPool('lyon', 'eu-west', 'FR', '9.00', 8),
  ]);
  const io = testIo(hub, { 'job.yaml': example });
  t.is(await main(['quote', '-f', 'job.yaml'], io), 0, io.stderr.join('\n'));
  t.deepEqual(hub.calls, [{ verb: 'list', plural: 'providerpools', namespace: undefined, fieldSelector: undefined }]);
  const [headline, header, ...rest] = io.stdout.join('\n').split('\n');
  t.regex(
    headline!,
    /^InferenceJob\/llama-chat: 2 of 5 pools fit; the scheduler would choose paris at [\d.]+ NVDAx\/GPU-hour$/,
  );
  t.regex(header!, /^POOL\s+REGION\s+GPU\s+MODE\/TEE\s+FREE\s+BASE\s+LATENCYx\s+LOADx\s+FEE\s+PRICE$/);
  const rows = rest.slice(0, 2).map((l) => l.split(/\s+/));
  t.deepEqual(
    rows.map((r) => r.slice(0, 5)),
    [
      ['paris', 'eu-west', 'NVIDIA-H100-80GB-HBM3', 'Confidential/snp', '8'],
      ['frankfurt', 'eu-central', 'NVIDIA-H100-80GB-HBM3', 'Confidential/snp', '1'],
    ],
  );
  for (const [, , , , , base, lat, load, fee, price] of rows) {
    // the printed parts make the printed price: P = base × latency × load + fee
    t.is(Number(price), Math.round((Number(base) * Number(lat) * Number(load) + Number(fee)) * 1e6) / 1e6);
    t.is(fee, '0.05');
  }
  t.true(Number(rows[0]![9]) < Number(rows[1]![9]), 'the busy pool quotes higher (LoadFactor)');
  t.deepEqual(
    rest.slice(2).map((l) => l.split(/\s{3,}/)),
    [
      [''],
      ['Rejected:'],
      ['POOL', 'REASON', 'MESSAGE'],
      ['amsterdam', 'PoolNotReady', 'phase Degraded'],
      ['lyon', 'PriceCapExceeded', 'price 9.05 above cap 4.50'],
      ['virginia', 'RegionMismatch', 'region us-east not in eu-central, eu-west'],
    ],
  );
});

test('nvdax quote: none fits: the matcher summary, exit 1; the verifier fee is an option', async (t) => {
  const hub = new FakeHub('team-a', [ccPool('virginia', 'us-east', 'US', '1.00', 8)]);
  let io = testIo(hub, { '-': example });
  t.is(await main(['quote', '-f', '-'], io), 1);
  t.is(lines(io)[0], 'InferenceJob/llama-chat: no pool fits: 0/1 pools: 1 region us-east not in eu-central, eu-west');
  io = testIo(new FakeHub('x', []), { 'job.yaml': example });
  t.is(await main(['quote', '-f', 'job.yaml'], io), 1);
  t.is(lines(io)[0], 'InferenceJob/llama-chat: no pool fits: 0/0 pools: no ProviderPool exists');
  io = testIo(new FakeHub('x', [ccPool('paris', 'eu-west', 'FR', '2.60', 8)]), { 'job.yaml': example });
  t.is(await main(['quote', '-f', 'job.yaml', '--verifier-fee', '0.5'], io), 0);
  t.regex(lines(io)[2]!, /\s0\.50\s+3\.10$/);
  io = testIo(hub, { 'job.yaml': example });
  t.is(await main(['quote', '-f', 'job.yaml', '--verifier-fee', 'lots'], io), 2);
  t.regex(io.stderr[0]!, /^nvdax quote: invalid --verifier-fee "lots"/);
});

test('nvdax quote: an invalid manifest is reported as validate does and never reaches the hub', async (t) => {
  const bad = example.replace('maxLatencyMs: 800', 'maxLatencyMs: 0');
  const io = testIo(new FakeHub(), { 'job.yaml': bad });
  t.is(await main(['quote', '-f', 'job.yaml'], io), 1);
  const line = bad.split('\n').findIndex((l) => l.includes('maxLatencyMs: 0')) + 1;
  t.deepEqual(io.stderr, [
    `job.yaml:${line}: InferenceJob/llama-chat: spec.sla.maxLatencyMs: must be >= 1`,
    'nvdax quote: job.yaml is not valid; nothing quoted',
  ]);
  t.deepEqual(io.opened, []);
});

test('nvdax quote: only jobs are quoted; a missing file is named', async (t) => {
  const pp = readFileSync(join(projectRoot, 'examples/providerpool.yaml'), 'utf8');
  let io = testIo(new FakeHub(), { 'pp.yaml': pp });
  t.is(await main(['quote', '-f', 'pp.yaml'], io), 1);
  t.deepEqual(io.stderr, [
    'nvdax quote: pp.yaml must hold InferenceJobs or TrainingJobs only (not ProviderPool/frankfurt-h100)',
  ]);
  io = testIo(new FakeHub(), {});
  t.is(await main(['quote', '-f', 'nope.yaml'], io), 1);
  t.regex(io.stderr[0]!, /^nope\.yaml: ENOENT/);
  t.deepEqual(io.opened, []);
});
