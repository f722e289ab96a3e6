import test from 'ava';
import { ConfigError, parseDuration, parseRuntimeConfig } from '../../../operator/runtime/config.ts';

test('defaults are sane', (t) => {
  const { config } = parseRuntimeConfig([], {}, { defaultIdentity: 'host-1' });
  t.deepEqual(config, {
    kubeconfig: '',
    context: '',
    leaderElection: {
      enabled: true,
      namespace: 'nvdax-system',
      id: 'nvdax-operator',
      identity: 'host-1',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    ops: { host: '0.0.0.0', port: 8080 },
    logLevel: 'info',
    maxConcurrentReconciles: 4,
    resyncPeriodMs: 600_000,
    requestTimeoutMs: 30_000,
    shutdownTimeoutMs: 30_000,
    kubeApiQps: 2000,
    kubeApiBurst: 4000,
  });
});

test('flags win over environment, environment over defaults', (t) => {
  const env = {
    NVDAX_LEASE_DURATION: '20s',
    NVDAX_LOG_LEVEL: 'debug',
    POD_NAME: 'op-0',
    POD_NAMESPACE: 'ops',
    KUBECONFIG: '/k',
  };
  const { config } = parseRuntimeConfig(['--lease-duration=30s', '--ops-bind-address', '127.0.0.1:0'], env);
  t.is(config.leaderElection.leaseDurationMs, 30_000);
  t.is(config.logLevel, 'debug');
  t.is(config.leaderElection.identity, 'op-0');
  t.is(config.leaderElection.namespace, 'ops');
  t.is(config.kubeconfig, '/k');
  t.deepEqual(config.ops, { host: '127.0.0.1', port: 0 });
});

test('--no-leader-elect and NVDAX_LEADER_ELECT=false turn leader election off', (t) => {
  t.false(parseRuntimeConfig(['--no-leader-elect'], {}).config.leaderElection.enabled);
  t.false(parseRuntimeConfig([], { NVDAX_LEADER_ELECT: 'false' }).config.leaderElection.enabled);
  t.true(parseRuntimeConfig(['--leader-elect'], { NVDAX_LEADER_ELECT: 'false' }).config.leaderElection.enabled);
});

const bad: Array<[string[], Record<string, string>, RegExp]> = [
  [['--lease-duration=soon'], {}, /^--lease-duration: invalid duration "soon"/],
  [[], { NVDAX_REQUEST_TIMEOUT: '10' }, /^NVDAX_REQUEST_TIMEOUT: invalid duration "10"/],
  [['--log-level=loud'], {}, /^--log-level: invalid level "loud"/],
  [[], { NVDAX_LEADER_ELECT: 'maybe' }, /^NVDAX_LEADER_ELECT: invalid boolean "maybe"/],
  [['--max-concurrent-reconciles=0'], {}, /^--max-concurrent-reconciles: invalid count "0"/],
  [['--ops-bind-address=8080'], {}, /^--ops-bind-address: invalid address "8080"/],
  [['--renew-deadline=20s'], {}, /--renew-deadline must be shorter than --lease-duration/],
  [['--retry-period=10s'], {}, /--retry-period must be shorter than --renew-deadline/],
  [['--frobnicate'], {}, /frobnicate/],
  [['--kube-api-qps=fast'], {}, /^--kube-api-qps: invalid rate "fast"/],
  [['--kube-api-qps=-1'], {}, /^--kube-api-qps: invalid rate "-1"/],
  [[], { NVDAX_KUBE_API_BURST: '0' }, /^NVDAX_KUBE_API_BURST: invalid count "0"/],
];
for (const [args, env, message] of bad) {
  test(`refuses ${args.join(' ') || JSON.stringify(env)} naming the flag`, (t) => {
    t.throws(() => parseRuntimeConfig(args, env), { instanceOf: ConfigError, message });
  });
}

test('--kube-api-qps and --kube-api-burst or their NVDAX_ variables; qps 0 turns the limit off', (t) => {
  const env = { NVDAX_KUBE_API_BURST: '80', NVDAX_KUBE_API_QPS: '7' };
  const { config } = parseRuntimeConfig(['--kube-api-qps=50.5'], env);
  t.is(config.kubeApiQps, 50.5);
  t.is(config.kubeApiBurst, 80);
  t.is(parseRuntimeConfig([], { NVDAX_KUBE_API_QPS: '0' }).config.kubeApiQps, 0);
});

test('a program can add its own flags', (t) => {
  const { extra, config } = parseRuntimeConfig(
    ['--members=a,b', '--log-level=warn'],
    {},
    { extra: { members: { type: 'string' } } },
  );
  t.is(extra['members'], 'a,b');
  t.is(config.logLevel, 'warn');
});

test('durations parse like Go', (t) => {
  t.is(parseDuration('500ms'), 500);
  t.is(parseDuration('1m30s'), 90_000);
  t.is(parseDuration('1.5h'), 5_400_000);
  t.is(parseDuration('15'), undefined);
  t.is(parseDuration(''), undefined);
});

test('durations use the same grammar as the API schema, ns and us included', async (t) => {
  const { parseDuration } = await import('../../../operator/runtime/config.ts');
  t.is(parseDuration('90000000000ns'), 90_000);
  t.is(parseDuration('1500us'), 1.5);
  t.is(parseDuration('1m30s'), 90_000);
  t.is(parseDuration('a minute'), undefined);
});

test("a program's own flags are read with the same rules: flag, then NVDAX_ env, then default; errors name the source", async (t) => {
  const { parseRuntimeConfig, ConfigError } = await import('../../../operator/runtime/config.ts');
  const extra = { 'heartbeat-interval': { type: 'string' }, 'pool-selector': { type: 'string' } } as const;
  const { read } = parseRuntimeConfig(['--heartbeat-interval', '3s'], { NVDAX_POOL_SELECTOR: 'a=b' }, { extra });
  t.is(read.duration('heartbeat-interval', '15s'), 3000);
  t.is(read.str('pool-selector', ''), 'a=b');
  const fromEnv = parseRuntimeConfig([], { NVDAX_HEARTBEAT_INTERVAL: '0s' }, { extra }).read;
  t.throws(() => fromEnv.duration('heartbeat-interval', '15s'), {
    instanceOf: ConfigError,
    message: /^NVDAX_HEARTBEAT_INTERVAL: invalid duration "0s"/,
  });
  t.is(
    parseRuntimeConfig([], { NVDAX_HEARTBEAT_INTERVAL: '' }, { extra }).read.duration('heartbeat-interval', '15s'),
    15_000,
  );
});

test("a program's boolean flags: --flag, --no-flag, NVDAX_ env, default; a bad value names its source", async (t) => {
  const { parseRuntimeConfig, ConfigError } = await import('../../../operator/runtime/config.ts');
  const extra = { 'require-signed-tasks': { type: 'boolean' } } as const;
  t.true(parseRuntimeConfig(['--require-signed-tasks'], {}, { extra }).read.bool('require-signed-tasks', false));
  t.false(parseRuntimeConfig(['--no-require-signed-tasks'], {}, { extra }).read.bool('require-signed-tasks', true));
  t.true(
    parseRuntimeConfig([], { NVDAX_REQUIRE_SIGNED_TASKS: 'true' }, { extra }).read.bool('require-signed-tasks', false),
  );
  t.false(parseRuntimeConfig([], {}, { extra }).read.bool('require-signed-tasks', false));
  t.throws(
    () =>
      parseRuntimeConfig([], { NVDAX_REQUIRE_SIGNED_TASKS: 'maybe' }, { extra }).read.bool(
        'require-signed-tasks',
        false,
      ),
    {
      instanceOf: ConfigError,
      message: /^NVDAX_REQUIRE_SIGNED_TASKS: invalid boolean "maybe"/,
    },
  );
});

test("a program's positive numbers: flag, NVDAX_ env, default; 0, a sign or a word is refused naming its source", async (t) => {
  const { parseRuntimeConfig, ConfigError } = await import('../../../operator/runtime/config.ts');
  const extra = { 'usage-meter-qps': { type: 'string' } } as const;
  const read = (argv: string[], env: Record<string, string> = {}) =>
    parseRuntimeConfig(argv, env, { extra }).read.positive('usage-meter-qps', 10);
  t.is(read([]), 10);
  t.is(read(['--usage-meter-qps', '2.5']), 2.5);
  t.is(read([], { NVDAX_USAGE_METER_QPS: '40' }), 40);
  for (const bad of ['0', '-1', 'fast', '1e3'])
    t.throws(() => read([`--usage-meter-qps=${bad}`]), {
      instanceOf: ConfigError,
      message: new RegExp(`^--usage-meter-qps: invalid number "${bad}" \\(expected a number above 0`),
    });
  t.throws(() => read([], { NVDAX_USAGE_METER_QPS: '0.0' }), { message: /^NVDAX_USAGE_METER_QPS: invalid number/ });
});
