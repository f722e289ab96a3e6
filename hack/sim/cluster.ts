// One simulated cluster: etcd + kube-apiserver + kube-controller-manager +
// kube-scheduler + kwok on loopback, state under <simDir>/<name>/.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import YAML from 'yaml';
import { ensurePki, type Pki } from './pki.ts';
import { livePid, startProc, stopProc, type ProcSpec } from './procs.ts';
import { clusterObjects, type NodeGroup } from './nodes.ts';

export const components = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Component = (typeof components)[number];

export interface ClusterShape {
  region: string;
  nodes: NodeGroup[];
}

export interface ClusterPlan {
  name: string;
  dir: string;
  binDir: string;
  /** First of the ports this cluster owns: etcd client +0, etcd peer +1, API server +2, kwok +3. */
  portBase: number;
  shape: ClusterShape;
}

export const apiserverPort = (p: ClusterPlan) => p.portBase + 2;
export const serverURL = (p: ClusterPlan) => `https://127.0.0.1:${apiserverPort(p)}`;
const runDir = (p: ClusterPlan) => join(p.dir, 'run');
const pidFile = (p: ClusterPlan, c: Component) => join(runDir(p), `${c}.pid`);

function procSpec(p: ClusterPlan, pki: Pki, c: Component): ProcSpec {
  const kubeconfig = join(p.dir, 'kubeconfig');
  const etcd = `http://127.0.0.1:${p.portBase}`;
  const args: Record<Component, string[]> = {
    etcd: [
      `--name=${p.name}`,
      `--data-dir=${join(p.dir, 'etcd-data')}`,
      `--listen-client-urls=${etcd}`,
      `--advertise-client-urls=${etcd}`,
      `--listen-peer-urls=http://127.0.0.1:${p.portBase + 1}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${p.portBase + 1}`,
      `--initial-cluster=${p.name}=http://127.0.0.1:${p.portBase + 1}`,
      '--quota-backend-bytes=4294967296',
      '--snapshot-count=10000',
      '--log-level=warn',
      '--unsafe-no-fsync=true',
    ],
    'kube-apiserver': [
      `--etcd-servers=${etcd}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiserverPort(p)}`,
      // a loopback advertise address is refused unless the endpoint reconciler is off
      '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      `--profiling=${process.env['NVDAX_SIM_PROFILING'] === '1'}`,
      '--event-ttl=1h',
      '--max-requests-inflight=800',
      '--max-mutating-requests-inflight=400',
    ],
    'kube-controller-manager': [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=true',
      '--controllers=*,-nodeipam',
      '--kube-api-qps=200',
      '--kube-api-burst=400',
      '--profiling=false',
    ],
    'kube-scheduler': [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--kube-api-qps=500',
      '--kube-api-burst=1000',
      '--profiling=false',
    ],
    kwok: [
      `--kubeconfig=${kubeconfig}`,
      `--config=${join(p.dir, 'kwok.yaml')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-lease-duration-seconds=40',
      `--server-address=127.0.0.1:${p.portBase + 3}`,
      '--cidr=10.244.0.0/16',
    ],
  };
  return {
    name: c,
    bin: join(p.binDir, c),
    args: args[c],
    logFile: join(p.dir, 'logs', `${c}.log`),
    pidFile: pidFile(p, c),
  };
}

/** The admin kubeconfig with embedded certificates, so it can be stored in a Secret as is. */
export function kubeconfigFor(p: ClusterPlan, pki: Pki, contextName = `nvdax-${p.name}`): Record<string, unknown> {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': contextName,
    preferences: {},
    clusters: [{ name: contextName, cluster: { server: serverURL(p), 'certificate-authority-data': b64(pki.caCert) } }],
    users: [
      {
        name: contextName,
        user: { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) },
      },
    ],
    contexts: [{ name: contextName, context: { cluster: contextName, user: contextName } }],
  };
}

function kwokConfig(binDir: string): string {
  const shipped = join(binDir, 'kwok-stages');
  const files = [
    'node/fast/node-initialize.yaml',
    'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
    ...readdirSync(join(shipped, 'pod/general'))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .map((f) => `pod/general/${f}`),
  ];
  const docs = files.map((f) => {
    const text = readFileSync(join(shipped, f), 'utf8').trim();
    return f === 'pod/general/pod-complete.yaml' ? keepRunningOptOut(text) : text;
  });
  docs.push(readFileSync(join(import.meta.dirname, 'kwok-stages.yaml'), 'utf8').trim());
  return docs.join('\n---\n') + '\n';
}

/** The env var a container sets to run until it is stopped, as a long training run does. */
export const SIM_RUN_ENV = { name: 'NVDAX_SIM_RUN', value: 'forever' } as const;

/**
 * kwok's pod-complete stage finishes every pod a batch Job owns 1-6 s after it is Ready. A test that talks to a
 * running training workload (its reports, its checkpoints) needs it to stay up: a pod whose container sets
 * NVDAX_SIM_RUN=forever is left running (our pods carry no annotations of the user's, so kwok's own delay
 * annotation cannot be set through a job's spec).
 */
export function keepRunningOptOut(stageYaml: string): string {
  const stage = YAML.parse(stageYaml) as { spec: { selector: { matchExpressions: unknown[] } } };
  stage.spec.selector.matchExpressions.push({
    key: `.spec.containers.[].env.[]? | select(.name == "${SIM_RUN_ENV.name}") | .value`,
    operator: 'NotIn',
    values: [SIM_RUN_ENV.value],
  });
  return YAML.stringify(stage).trim();
}

function get(p: ClusterPlan, pki: Pki, path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: apiserverPort(p),
        path,
        method: 'GET',
        timeout: timeoutMs,
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  onTimeout: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}: ${onTimeout()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const tail = (file: string, n = 15) =>
  existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n') : '(no log)';

export function isRunning(p: ClusterPlan): boolean {
  return components.every((c) => livePid(pidFile(p, c)) !== undefined);
}

export function pidsOf(p: ClusterPlan): Partial<Record<Component, number>> {
  const out: Partial<Record<Component, number>> = {};
  for (const c of components) {
    const pid = livePid(pidFile(p, c));
    if (pid) out[c] = pid;
  }
  return out;
}

/** Starts one component (used by `up` and by tests that restart an API server). */
export async function startComponent(p: ClusterPlan, c: Component): Promise<void> {
  const pki = ensurePki(join(p.dir, 'pki'), p.name);
  if (livePid(pidFile(p, c)) !== undefined) return;
  startProc(procSpec(p, pki, c));
  if (c === 'kube-apiserver') {
    await waitFor(
      `${p.name} kube-apiserver /readyz`,
      60_000,
      async () => (await get(p, pki, '/readyz')).status === 200,
      () => tail(join(p.dir, 'logs', 'kube-apiserver.log')),
    );
  }
  if (c === 'etcd') {
    await waitFor(
      `${p.name} etcd`,
      30_000,
      async () => (await fetch(`http://127.0.0.1:${p.portBase}/health`)).ok,
      () => tail(join(p.dir, 'logs', 'etcd.log')),
    );
  }
}

export async function stopComponent(p: ClusterPlan, c: Component): Promise<boolean> {
  return stopProc(pidFile(p, c));
}

function kubectl(p: ClusterPlan, args: string[], input?: string): string {
  try {
    return execFileSync(join(p.binDir, 'kubectl'), ['--kubeconfig', join(p.dir, 'kubeconfig'), ...args], {
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch (e) {
    throw new Error(`kubectl ${args.join(' ')} on ${p.name} failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Fails fast, naming the port, when another process (often a sim in another folder) holds one of ours. */
export async function checkPorts(p: ClusterPlan): Promise<void> {
  const names = ['etcd client', 'etcd peer', 'kube-apiserver', 'kwok'];
  for (let i = 0; i < names.length; i++) {
    if (!(await portFree(p.portBase + i))) {
      throw new Error(
        `port ${p.portBase + i} (${p.name} ${names[i]}) is in use: is another sim running on these ports (make sim-down / make sim-test-down, or another --port-base)?`,
      );
    }
  }
}

/** Starts a whole cluster from a clean etcd, creates its nodes and RuntimeClasses, and waits until pods can be scheduled. */
export async function up(p: ClusterPlan): Promise<void> {
  await down(p);
  await checkPorts(p);
  rmSync(join(p.dir, 'etcd-data'), { recursive: true, force: true });
  for (const d of ['logs', 'run']) mkdirSync(join(p.dir, d), { recursive: true });
  const pki = ensurePki(join(p.dir, 'pki'), p.name);
  writeFileSync(join(p.dir, 'kubeconfig'), YAML.stringify(kubeconfigFor(p, pki)), { mode: 0o600 });
  writeFileSync(join(p.dir, 'kwok.yaml'), kwokConfig(p.binDir));
  for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const) {
    await startComponent(p, c);
  }
  const objects = clusterObjects(p.name, p.shape);
  const nodeCount = objects.filter((o) => o['kind'] === 'Node').length;
  // YAML 1.1 quotes on/off/yes/no, which kubectl's YAML 1.1 parser would read as booleans
  const manifests = objects.map((o) => YAML.stringify(o, { version: '1.1' })).join('---\n');
  writeFileSync(join(p.dir, 'objects.yaml'), manifests);
  kubectl(p, ['create', '-f', join(p.dir, 'objects.yaml')]);
  // New nodes carry node.kubernetes.io/not-ready:NoSchedule until kwok reports them Ready
  // and the node lifecycle controller lifts it; pods need the default ServiceAccount.
  // (The shape's own taints, e.g. nvidia.com/gpu=present:NoSchedule, stay: only the lifecycle ones must go.)
  await waitFor(
    `${p.name} nodes Ready and without lifecycle taints`,
    90_000,
    async () => {
      const list = JSON.parse((await get(p, pki, '/api/v1/nodes')).body) as {
        items: Array<{
          spec?: { taints?: Array<{ key: string }> };
          status?: { conditions?: Array<{ type: string; status: string }> };
        }>;
      };
      return (
        list.items.length === nodeCount &&
        list.items.every(
          (n) =>
            !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/')) &&
            n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        )
      );
    },
    () => kubectl(p, ['get', 'nodes', '-o', 'wide']) + tail(join(p.dir, 'logs', 'kwok.log')),
  );
  await waitFor(
    `${p.name} default ServiceAccount`,
    60_000,
    async () => (await get(p, pki, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
    () => tail(join(p.dir, 'logs', 'kube-controller-manager.log')),
  );
}

/** Stops every component, etcd last (its data is wiped by the next `up`, so kwok never meets stale node leases). */
export async function down(p: ClusterPlan): Promise<void> {
  await Promise.all(
    (['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver'] as const).map((c) => stopComponent(p, c)),
  );
  await stopComponent(p, 'etcd');
}
