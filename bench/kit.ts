// What every benchmark shares: a report that prints and is saved under bench/out/, a
// bounded-concurrency runner, the heap after a full GC, and the realistic inference pod
// the memory figures are measured on.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PodObject } from '../operator/fleet/member.ts';

export const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Lines printed as they come and written to bench/out/<name>.md by `save`. */
export function report(name: string) {
  const out: string[] = [];
  const say = (s = '') => {
    out.push(s);
    process.stdout.write(`${s}\n`);
  };
  const table = (head: string[], rows: Array<Array<string | number>>) => {
    say(`| ${head.join(' | ')} |`);
    say(`|${head.map(() => '---').join('|')}|`);
    for (const r of rows) say(`| ${r.join(' | ')} |`);
    say();
  };
  const save = () => {
    mkdirSync(join(import.meta.dirname, 'out'), { recursive: true });
    writeFileSync(join(import.meta.dirname, 'out', `${name}.md`), `${out.join('\n')}\n`);
  };
  return { say, table, save };
}

/** Runs `fn` over `items`, `concurrency` at a time; resolves with the ms it took. */
export async function pool<T>(items: T[], concurrency: number, fn: (x: T) => Promise<unknown>): Promise<number> {
  const t = performance.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
  return performance.now() - t;
}

/** Heap in use after two full collections (run with --expose-gc). */
export function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * A realistic inference pod: labels, annotations, env, GPU limits. Its schedulerName is
 * nobody's, so it stays Pending without keeping the scheduler busy.
 */
export const inferencePod = (i: number, namespace: string): PodObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `p-${i}`,
    namespace,
    labels: { app: 'llm', 'nvdax.io/job': `job-${i % 97}`, 'nvdax.io/pool': 'gpu-a' },
    annotations: {
      'nvdax.io/quote': '2.10',
      'io.katacontainers.config.hypervisor.cc_init_data': 'H4sIAAAAAAAAA'.repeat(20),
    },
  },
  spec: {
    schedulerName: 'bench-none',
    runtimeClassName: 'kata-qemu-nvidia-gpu-snp',
    containers: [
      {
        name: 'vllm',
        image: 'vllm/vllm-openai:v0.9.0',
        args: ['--model', '/models/llama', '--max-model-len=8192'],
        env: Array.from({ length: 8 }, (_, k) => ({ name: `VAR_${k}`, value: `value-${k}` })),
        resources: {
          limits: { 'nvidia.com/pgpu': '1', cpu: '8', memory: '64Gi' },
          requests: { cpu: '8', memory: '64Gi' },
        },
      } as never,
    ],
  } as PodObject['spec'],
});
