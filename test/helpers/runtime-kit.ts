// Shared pieces of the runtime integration tests: a hub client, per-test namespaces,
// polling, a tiny test CRD with a status subresource, and child processes that speak
// JSON lines. Tests poll for state; they never sleep a fixed time to "let it happen".
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { KubeClient } from '../../operator/kube/client.ts';
import { isAlreadyExists } from '../../operator/kube/errors.ts';
import type { KubeObject } from '../../operator/kube/types.ts';
import { resourceType, resources } from '../../operator/kube/types.ts';
import { loadKubeConfig, uniqueName } from './sim.ts';
import { eventually } from './kube.ts';

/** A pooled client for the hub sim cluster. */
export function hubClient(opts: { requestTimeoutMs?: number } = {}): KubeClient {
  return new KubeClient(loadKubeConfig('hub'), { name: 'hub', fieldManager: 'runtime-test', ...opts });
}

/** Polls `fn` until it returns a value other than undefined/false (every 50 ms, 20 s by default). */
export function poll<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  return eventually(what, fn, timeoutMs, intervalMs);
}

/** Creates a fresh namespace named after `prefix`; returns its name. */
export async function freshNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await client.create(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

/** A ConfigMap manifest. */
export function configMap(
  namespace: string,
  name: string,
  data: Record<string, string> = {},
  labels: Record<string, string> = {},
): KubeObject & { data: Record<string, string> } {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels }, data };
}

/** The runtime tests' own kind (independent of the project's CRDs): spec.failTimes, status.conditions. */
export const probes = resourceType('runtime-test.nvdax.io/v1', 'RuntimeProbe', 'runtimeprobes', true);

/** Installs the RuntimeProbe CRD (idempotent) and waits until it is served. */
export async function ensureProbeCrd(client: KubeClient): Promise<void> {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'runtimeprobes.runtime-test.nvdax.io' },
    spec: {
      group: 'runtime-test.nvdax.io',
      scope: 'Namespaced',
      names: { plural: 'runtimeprobes', singular: 'runtimeprobe', kind: 'RuntimeProbe', listKind: 'RuntimeProbeList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', properties: { failTimes: { type: 'integer' } } },
                status: {
                  type: 'object',
                  properties: {
                    observedGeneration: { type: 'integer' },
                    conditions: {
                      type: 'array',
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['type'],
                      items: {
                        type: 'object',
                        required: ['type', 'status', 'reason', 'lastTransitionTime'],
                        properties: {
                          type: { type: 'string' },
                          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
                          reason: { type: 'string' },
                          message: { type: 'string' },
                          lastTransitionTime: { type: 'string', format: 'date-time' },
                          observedGeneration: { type: 'integer' },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  try {
    await client.apply(resources.customResourceDefinitions, crd, { fieldManager: 'runtime-test-crd' });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  await poll('RuntimeProbe CRD established', async () => {
    const got = await client.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
      resources.customResourceDefinitions,
      crd.metadata.name,
    );
    if (!got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
    await client.list(probes, { namespace: 'default', limit: 1 });
    return true;
  });
}

/** One JSON log line of a child process (pino fields plus the runtime's). */
export type LogLine = Record<string, unknown> & { msg?: string; time?: string };

/** A child process whose stdout JSON lines are collected as they arrive. */
export class JsonProc {
  readonly lines: LogLine[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  #stderr = '';

  /** `nodeFlags` go before the script, as a container's `command: ["node", …flags, script]` puts them. */
  constructor(script: string, args: string[], nodeFlags: string[] = []) {
    this.child = spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      try {
        this.lines.push({ ...(JSON.parse(l) as LogLine), receivedAt: Date.now() });
      } catch {
        this.lines.push({ msg: 'non-json', text: l, receivedAt: Date.now() });
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, sig) => resolve(code ?? sig ?? 'unknown')));
  }

  /** Lines with message `msg`. */
  find(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /** Waits for a line matching `pred`. */
  waitFor(what: string, pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    return poll(
      what,
      () =>
        this.lines.find(pred) ??
        (this.child.exitCode !== null ? Promise.reject(new Error(`process exited: ${this.#stderr}`)) : undefined),
      timeoutMs,
    );
  }

  get stderr(): string {
    return this.#stderr;
  }
}

/** Milliseconds since the epoch of a pino line's ISO `time`. */
export function lineTime(l: LogLine): number {
  return Date.parse(String(l.time));
}

/** GETs a URL and returns status and body text. */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
}

/** The value of one sample of a Prometheus text exposition, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}
