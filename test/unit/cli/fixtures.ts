// Fixtures for the CLI tests: concrete jobs and pools as the hub would send them, a fake
// hub that records what it is asked, and an Io that collects output.
import type { Hub, HubOptions } from '../../../cli/hub.ts';
import type { Io } from '../../../cli/io.ts';
import type { InferenceJobObject, ProviderPoolObject, TrainingJobObject } from '../../../operator/api/resources.ts';
import { KubeError } from '../../../operator/kube/errors.ts';
import type { KubeErrorReason } from '../../../operator/kube/errors.ts';
import type { ListOptions, WatchOptions } from '../../../operator/kube/options.ts';
import type { KubeObject, ResourceType } from '../../../operator/kube/types.ts';
import type { WatchEvent } from '../../../operator/kube/watch.ts';

/** 2026-03-01T12:00:00Z: "now" in every test. */
export const NOW = Date.parse('2026-03-01T12:00:00Z');
/** An RFC 3339 time `s` seconds before NOW. */
export const ago = (s: number): string => new Date(NOW - s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

const hash = `sha256:${'a'.repeat(64)}`;
const payment = { requester: `0x${'1'.repeat(40)}`, escrowId: `0x${'2'.repeat(64)}` };

/** A confidential InferenceJob, placed on pool-a and serving. */
export function servingJob(): InferenceJobObject {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'InferenceJob',
    metadata: {
      name: 'chat',
      namespace: 'team-a',
      uid: 'uid-chat',
      resourceVersion: '100',
      creationTimestamp: ago(300),
    },
    spec: {
      model: { id: 'meta-llama/Llama-3.1-8B-Instruct', hash },
      runtime: { engine: 'vLLM' },
      resources: { gpus: 1, gpuProducts: ['NVIDIA-H100-80GB-HBM3', 'NVIDIA-H200'], minGpuMemory: '40Gi' },
      autoscaling: { minReplicas: 2, maxReplicas: 4 },
      sla: { tier: 'Premium', maxLatencyMs: 300, priceCap: '3.5', regions: ['eu-west'], dataResidency: ['DE', 'EU'] },
      confidential: { required: true, teeTypes: ['snp'] },
      payment,
    },
    status: {
      phase: 'Running',
      attempts: 1,
      conditions: [
        {
          type: 'Escrowed',
          status: 'True',
          reason: 'Funded',
          message: 'escrow covers the quote',
          lastTransitionTime: ago(290),
        },
        {
          type: 'Scheduled',
          status: 'True',
          reason: 'Placed',
          message: 'placed on pool-a',
          lastTransitionTime: ago(280),
        },
        {
          type: 'Ready',
          status: 'True',
          reason: 'WorkloadReady',
          message: '2/2 replicas ready',
          lastTransitionTime: ago(60),
        },
      ],
      placement: {
        pool: 'pool-a',
        cluster: 'member-1',
        namespace: 'nvdax-team-a',
        gpuProduct: 'NVIDIA-H100-80GB-HBM3',
        gpus: 2,
        mode: 'Confidential',
        resourceName: 'nvidia.com/pgpu',
        price: '2.57',
        teeType: 'snp',
        runtimeClass: 'kata-qemu-nvidia-gpu-snp',
        attempt: 1,
        quote: {
          baseRate: '2.10',
          latencyFactor: '1.00',
          loadFactor: '1.20',
          verifierFee: '0.05',
          quotedTime: ago(280),
        },
        initDataDigest: 'ab'.repeat(24),
        initDataAlgorithm: 'sha384',
      },
      usage: {
        gpuSeconds: 7200,
        requests: 1500,
        attempts: [{ attempt: 1, pool: 'pool-a', price: '2.57', gpuSeconds: 7200, startTime: ago(270) }],
      },
      replicas: 2,
      readyReplicas: 2,
      latencyMs: 120,
    },
  };
}

/** An InferenceJob no pool takes: Pending with rejections. */
export function waitingJob(): InferenceJobObject {
  const j = servingJob();
  return {
    ...j,
    metadata: { ...j.metadata, name: 'big', uid: 'uid-big', creationTimestamp: ago(7200) },
    spec: { ...j.spec, resources: { gpus: 8 }, autoscaling: undefined, replicas: 1, confidential: undefined },
    status: {
      phase: 'Pending',
      conditions: [
        {
          type: 'Scheduled',
          status: 'False',
          reason: 'NoMatchingPool',
          message: 'no pool fits: 2 pools: InsufficientGpus 1, PriceCapExceeded 1',
          lastTransitionTime: ago(3600),
        },
      ],
      rejections: [
        { pool: 'pool-a', reason: 'InsufficientGpus', message: 'largest free block 4 GPUs, job needs 8 per pod' },
        { pool: 'pool-b', reason: 'PriceCapExceeded', message: 'price 4.10 above cap 3.5' },
      ],
    },
  };
}

/** A Federated TrainingJob, placed and starting. */
export function trainingJob(): TrainingJobObject {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 'fl', namespace: 'team-a', uid: 'uid-fl', resourceVersion: '7', creationTimestamp: ago(90) },
    spec: {
      mode: 'Federated',
      runtime: { engine: 'Flower' },
      workers: 3,
      resources: { gpus: 2 },
      federated: { rounds: 10 },
      sla: { priceCap: '2' },
      payment,
    },
    status: {
      phase: 'Scheduled',
      conditions: [
        {
          type: 'Scheduled',
          status: 'True',
          reason: 'Placed',
          message: 'aggregator on pool-b',
          lastTransitionTime: ago(30),
        },
        {
          type: 'Ready',
          status: 'False',
          reason: 'WorkloadNotReady',
          message: '1/3 workers running',
          lastTransitionTime: ago(30),
        },
      ],
      placement: { pool: 'pool-b', price: '1.80', gpus: 6 },
      readyWorkers: 1,
      participants: [
        { index: 0, pool: 'pool-b', price: '1.80', ready: true, roundsCompleted: 0 },
        { index: 1, pool: 'pool-c', price: '1.95', ready: false },
      ],
    },
  };
}

export function pool(
  name: string,
  region: string,
  over: Partial<ProviderPoolObject['status']> = {},
): ProviderPoolObject {
  return {
    apiVersion: 'nvdax.io/v1alpha1',
    kind: 'ProviderPool',
    metadata: { name, creationTimestamp: ago(86400) },
    spec: {
      provider: { address: `0x${'3'.repeat(40)}` },
      region,
      jurisdiction: 'DE',
      cluster: { mode: 'Local' },
      baseRates: [
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', pricePerGpuHour: '2.10' },
        { gpuProduct: 'NVIDIA-H100-80GB-HBM3', mode: 'Confidential', pricePerGpuHour: '2.60' },
      ],
    },
    status: { phase: 'Ready', totalGpus: 16, availableGpus: 6, ...over },
  };
}

export function kubeError(reason: KubeErrorReason, code: number, message = `${code} ${reason}`): KubeError {
  return new KubeError(code, reason, message);
}

export interface Call {
  verb: 'get' | 'list' | 'watch' | 'create';
  plural: string;
  name?: string;
  namespace?: string | undefined;
  fieldSelector?: string | undefined;
  resourceVersion?: string | undefined;
}

/** One watch's events (and how it ends): yield the events, then end or throw. */
export type WatchScript = { events: WatchEvent<KubeObject>[]; end?: Error | 'hang' };

/** A hub in memory: objects by plural/namespace/name, scripted watches, every call recorded. */
export class FakeHub implements Hub {
  /** The context's namespace; connect() sets `namespace` from --namespace or this. */
  readonly contextNamespace: string;
  namespace: string;
  readonly context = 'test-ctx';
  readonly calls: Call[] = [];
  readonly objects: KubeObject[] = [];
  /** Errors to throw, by verb and plural (e.g. 'list events'). */
  readonly failures = new Map<string, Error>();
  /** Each watch call takes the next script; none left: the watch hangs until aborted. */
  readonly watches: WatchScript[] = [];
  /** Each get takes the next object when set (reads between watches). */
  readonly gets: Array<KubeObject | Error> = [];
  closed = false;

  constructor(namespace = 'team-a', objects: KubeObject[] = []) {
    this.namespace = namespace;
    this.contextNamespace = namespace;
    this.objects.push(...objects);
  }

  #matches(res: ResourceType, o: KubeObject, namespace?: string): boolean {
    return (
      (o.kind === res.kind || (res.plural === 'events' && o.kind === 'Event')) &&
      (!res.namespaced || namespace === undefined || o.metadata?.namespace === namespace)
    );
  }

  async get<T extends KubeObject>(res: ResourceType, name: string, namespace?: string): Promise<T> {
    this.calls.push({ verb: 'get', plural: res.plural, name, namespace });
    const f = this.failures.get(`get ${res.plural}`);
    if (f) throw f;
    const next = this.gets.shift();
    if (next instanceof Error) throw next;
    if (next) return structuredClone(next) as T;
    const o = this.objects.find((x) => this.#matches(res, x, namespace) && x.metadata?.name === name);
    if (!o) throw kubeError('NotFound', 404, `GET ${res.plural}/${name}: 404 not found`);
    return structuredClone(o) as T;
  }

  async listAll<T extends KubeObject>(
    res: ResourceType,
    opts: Omit<ListOptions, 'continue'> = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    this.calls.push({ verb: 'list', plural: res.plural, namespace: opts.namespace, fieldSelector: opts.fieldSelector });
    const f = this.failures.get(`list ${res.plural}`);
    if (f) throw f;
    // list items come without kind, as from the API server for built-in kinds
    const items = this.objects
      .filter((o) => this.#matches(res, o, opts.namespace))
      .map((o) => {
        const { kind: _, apiVersion: __, ...rest } = structuredClone(o);
        return rest as T;
      });
    return { items, resourceVersion: '1000' };
  }

  async *watch<T extends KubeObject>(res: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    this.calls.push({
      verb: 'watch',
      plural: res.plural,
      namespace: opts.namespace,
      fieldSelector: opts.fieldSelector,
      resourceVersion: opts.resourceVersion,
    });
    const script = this.watches.shift() ?? { events: [], end: 'hang' as const };
    for (const ev of script.events) {
      await new Promise((r) => setImmediate(r));
      yield structuredClone(ev) as WatchEvent<T>;
    }
    if (script.end === 'hang') {
      const signal = opts.signal;
      if (signal) await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r())));
      return;
    }
    if (script.end) throw script.end;
  }

  async create<T extends KubeObject>(res: ResourceType, obj: T): Promise<T> {
    const { name, namespace } = obj.metadata ?? {};
    this.calls.push({ verb: 'create', plural: res.plural, name, namespace });
    const f = this.failures.get(`create ${res.plural}`);
    if (f) throw f;
    if (this.objects.some((x) => this.#matches(res, x, namespace) && x.metadata?.name === name)) {
      throw kubeError('AlreadyExists', 409, `${res.plural} "${name}" already exists`);
    }
    this.objects.push(structuredClone(obj));
    return structuredClone(obj);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export type TestIo = Io & { stdout: string[]; stderr: string[]; opened: HubOptions[] };

/** An Io whose hub is `hub` and whose time is NOW; files from `files`. */
export function testIo(hub?: Hub, files: Record<string, string> = {}, extra: Partial<Io> = {}): TestIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const opened: HubOptions[] = [];
  return {
    stdout,
    stderr,
    opened,
    out: (l) => stdout.push(l),
    err: (l) => stderr.push(l),
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`));
      return text;
    },
    readStdin: async () => files['-'] ?? '',
    listManifests: () => undefined,
    now: () => NOW,
    async connect(opts) {
      opened.push(opts);
      if (!hub) throw new Error('no hub in this test');
      if (hub instanceof FakeHub) hub.namespace = opts.namespace ?? hub.contextNamespace;
      return hub;
    },
    ...extra,
  };
}
