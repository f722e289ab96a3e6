// values.schema.json of both charts: bad values are refused before anything renders, with a
// message naming the value and what is wrong; the provider's pool formats are the API's own.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartsDir, helm, valueArgs, type RenderOptions } from '../../../hack/charts/helm.ts';
import { patterns } from '../../../operator/api/patterns.ts';

interface Case {
  chart: 'nvdax-operator' | 'nvdax-provider';
  what: string;
  opts: RenderOptions;
  /** fragments of helm's message, each must appear */
  says: string[];
}

const provider: RenderOptions = { valuesFiles: ['examples/minimal.yaml'] };
const withProvider = (o: RenderOptions): RenderOptions => ({ ...provider, ...o });

const cases: Case[] = [
  {
    chart: 'nvdax-operator',
    what: 'no replicas',
    opts: { set: { replicas: '0' } },
    says: ["at '/replicas'", 'minimum: got 0, want 1'],
  },
  {
    chart: 'nvdax-operator',
    what: 'an unknown log level',
    opts: { set: { logLevel: 'loud' } },
    says: ["at '/logLevel'", "value must be one of 'trace'"],
  },
  {
    chart: 'nvdax-operator',
    what: 'a misspelt top-level value',
    opts: { set: { replicaCount: '2' } },
    says: ["additional properties 'replicaCount' not allowed"],
  },
  {
    chart: 'nvdax-operator',
    what: 'a duration without a unit',
    opts: { setJson: { 'leaderElection.leaseDuration': '15' } },
    says: ["at '/leaderElection/leaseDuration'", 'does not match pattern'],
  },
  {
    chart: 'nvdax-operator',
    what: 'a Node option that is not a flag',
    opts: { setJson: { nodeOptions: ['operator/other.ts'] } },
    says: ["at '/nodeOptions/0'", 'does not match pattern'],
  },
  {
    chart: 'nvdax-operator',
    what: 'a writable root filesystem',
    opts: { set: { 'securityContext.readOnlyRootFilesystem': 'false' } },
    says: ["at '/securityContext/readOnlyRootFilesystem'", 'value must be true'],
  },
  {
    chart: 'nvdax-operator',
    what: 'running as root allowed',
    opts: { set: { 'podSecurityContext.runAsNonRoot': 'false' } },
    says: ["at '/podSecurityContext/runAsNonRoot'", 'value must be true'],
  },
  {
    chart: 'nvdax-operator',
    what: 'a digest that is not sha256',
    opts: { set: { 'image.digest': 'latest' } },
    says: ["at '/image/digest'"],
  },
  {
    chart: 'nvdax-operator',
    what: 'settlement without its Secret and deployment',
    opts: { set: { 'settlement.enabled': 'true' } },
    says: [
      "at '/settlement/existingSecret'",
      "at '/settlement/deployment'",
      "missing properties 'chainId', 'contracts'",
    ],
  },
  {
    chart: 'nvdax-operator',
    what: 'a reports address without a port',
    opts: { set: { 'reports.enabled': 'true', 'reports.advertiseAddress': 'hub.example.com' } },
    says: ["at '/reports/advertiseAddress'", 'does not match pattern'],
  },
  {
    chart: 'nvdax-operator',
    what: 'a privileged reports port',
    opts: { set: { 'reports.enabled': 'true', 'reports.port': '443' } },
    says: ["at '/reports/port'", 'minimum: got 443, want 1,024'],
  },
  {
    chart: 'nvdax-operator',
    what: 'a bad contract address',
    opts: {
      set: { 'settlement.enabled': 'true', 'settlement.existingSecret': 'chain' },
      setJson: { 'settlement.deployment': { chainId: 1, contracts: { settlement: '0x12', registry: '0x12' } } },
    },
    says: ["at '/settlement/deployment/contracts/settlement'", "at '/settlement/deployment/contracts/registry'"],
  },
  {
    chart: 'nvdax-operator',
    what: 'no resource requests',
    opts: { setJson: { 'resources.requests.cpu': null } },
    says: ["at '/resources/requests'", "missing property 'cpu'"],
  },
  {
    chart: 'nvdax-operator',
    what: 'an extra arg that is not a flag',
    opts: { setJson: { extraArgs: ['verifier-fee=1'] } },
    says: ["at '/extraArgs/0'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'a price as a number',
    opts: withProvider({ setJson: { 'pool.baseRates': [{ gpuProduct: 'NVIDIA-L4', pricePerGpuHour: 0.4 }] } }),
    says: ["at '/pool/baseRates/0/pricePerGpuHour'", 'got number, want string'],
  },
  {
    chart: 'nvdax-provider',
    what: 'a negative price',
    opts: withProvider({ setJson: { 'pool.baseRates': [{ gpuProduct: 'NVIDIA-L4', pricePerGpuHour: '-1' }] } }),
    says: ["at '/pool/baseRates/0/pricePerGpuHour'", 'does not match pattern'],
  },
  {
    chart: 'nvdax-provider',
    what: 'a product that is not a GFD name',
    opts: withProvider({ setJson: { 'pool.baseRates': [{ gpuProduct: 'H100', pricePerGpuHour: '2' }] } }),
    says: ["at '/pool/baseRates/0/gpuProduct'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'an unknown GPU mode',
    opts: withProvider({
      setJson: { 'pool.baseRates': [{ gpuProduct: 'NVIDIA-L4', mode: 'Secure', pricePerGpuHour: '2' }] },
    }),
    says: ["at '/pool/baseRates/0/mode'", "value must be one of 'Container', 'Confidential'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'a region in capitals',
    opts: withProvider({ set: { 'pool.region': 'EU-West' } }),
    says: ["at '/pool/region'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'a jurisdiction that is not a country code',
    opts: withProvider({ set: { 'pool.jurisdiction': 'Ireland' } }),
    says: ["at '/pool/jurisdiction'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'an address that is not one',
    opts: withProvider({ set: { 'pool.providerAddress': '0xabc' } }),
    says: ["at '/pool/providerAddress'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'an unknown TEE',
    opts: withProvider({ setJson: { 'pool.confidentialRuntimes': [{ runtimeClassName: 'kata', teeType: 'sgx' }] } }),
    says: ["at '/pool/confidentialRuntimes/0/teeType'", "value must be one of 'snp', 'tdx'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'the agent without the hub Secret',
    opts: withProvider({ set: { 'hub.existingSecret': '' } }),
    says: ["at '/hub/existingSecret'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'coco-dev on a pool that is not a development pool',
    opts: withProvider({ set: { 'runtimeClasses.create': 'true', 'runtimeClasses.cocoDev': 'true' } }),
    says: ["at '/pool/development'", 'value must be true'],
  },
  {
    chart: 'nvdax-provider',
    what: 'an overhead that is not a quantity',
    opts: withProvider({ set: { 'runtimeClasses.gpuOverhead.memory': '10G' } }),
    says: ["at '/runtimeClasses/gpuOverhead/memory'"],
  },
  {
    chart: 'nvdax-provider',
    what: 'an egress CIDR that is not one',
    opts: withProvider({ setJson: { 'networkPolicy.egressCidrs': ['hub.example.com'] } }),
    says: ["at '/networkPolicy/egressCidrs/0'"],
  },
];

for (const c of cases) {
  test(`${c.chart}: refuses ${c.what}`, (t) => {
    const r = helm(['template', 'x', join(chartsDir, c.chart), ...valueArgs(c.chart, c.opts)]);
    t.not(r.code, 0);
    t.true(r.stderr.includes("values don't meet the specifications of the schema"), r.stderr);
    for (const s of c.says) t.true(r.stderr.includes(s), `"${s}" in: ${r.stderr}`);
  });
}

test('the same values without the fault render (each case fails only for its fault)', (t) => {
  for (const chart of ['nvdax-operator', 'nvdax-provider'] as const) {
    const r = helm([
      'template',
      'x',
      join(chartsDir, chart),
      ...valueArgs(chart, chart === 'nvdax-provider' ? provider : {}),
    ]);
    t.is(r.code, 0, r.stderr);
  }
});

test("the provider schema's pool formats are the API's (operator/api/patterns.ts)", (t) => {
  const schema = JSON.parse(readFileSync(join(chartsDir, 'nvdax-provider', 'values.schema.json'), 'utf8')) as {
    definitions: Record<string, { pattern?: string }>;
  };
  const same: Array<[string, keyof typeof patterns]> = [
    ['price', 'price'],
    ['gpuProduct', 'gpuProduct'],
    ['address', 'address'],
    ['region', 'region'],
    ['country', 'country'],
    ['dnsSubdomain', 'dnsSubdomain'],
    ['labelValue', 'labelValue'],
    ['duration', 'duration'],
  ];
  for (const [def, api] of same) t.is(schema.definitions[def]?.pattern, patterns[api].pattern, def);
});
