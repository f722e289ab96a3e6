// The pinned helm binary on the project's charts, for the chart tests and scripts:
// render (helm template), lint, and split rendered output into objects.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';

export const projectRoot = resolve(import.meta.dirname, '..', '..');
export const chartsDir = join(projectRoot, 'charts');

/** A rendered Kubernetes object (the fields the tests read are reached through `any`-free helpers). */
export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The pinned binaries folder (~/.cache/nvdax/bin/<K8S_VERSION>, or under $NVDAX_CACHE). */
export function binDir(): string {
  const env = readFileSync(join(projectRoot, 'hack', 'versions.env'), 'utf8');
  const version = /^K8S_VERSION=(\S+)/m.exec(env)?.[1];
  if (!version) throw new Error('hack/versions.env has no K8S_VERSION');
  const cache = process.env['NVDAX_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'nvdax');
  return join(cache, 'bin', version);
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the pinned helm with `args`; never throws on a non-zero exit (the caller asserts). */
export function helm(args: string[], env: Record<string, string> = {}): HelmResult {
  const bin = join(binDir(), 'helm');
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // helm's own state stays out of the user's home
    env: {
      ...process.env,
      HELM_CACHE_HOME: '/tmp/nvdax-helm/cache',
      HELM_CONFIG_HOME: '/tmp/nvdax-helm/config',
      ...env,
    },
  });
  if (r.error) throw new Error(`${bin}: ${r.error.message} (build it with make binaries)`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Options of one rendering: values files (relative to the chart or absolute) and --set pairs. */
export interface RenderOptions {
  release?: string;
  namespace?: string;
  valuesFiles?: string[];
  set?: Record<string, string>;
  /** --set-json pairs */
  setJson?: Record<string, unknown>;
}

/** helm flags for `opts` on `chart` (a folder name under charts/). */
export function valueArgs(chart: string, opts: RenderOptions): string[] {
  const dir = join(chartsDir, chart);
  return [
    ...(opts.valuesFiles ?? []).flatMap((f) => ['-f', resolve(dir, f)]),
    ...Object.entries(opts.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    ...Object.entries(opts.setJson ?? {}).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]),
  ];
}

/** `helm template` of a chart; throws with helm's message when it refuses. */
export function render(chart: string, opts: RenderOptions = {}): Obj[] {
  const r = helm([
    'template',
    opts.release ?? 'nvdax',
    join(chartsDir, chart),
    '--namespace',
    opts.namespace ?? 'nvdax-system',
    '--include-crds',
    ...valueArgs(chart, opts),
  ]);
  if (r.code !== 0) throw new Error(r.stderr.trim());
  return parseObjects(r.stdout);
}

/** Splits a multi-document YAML stream into objects (empty documents dropped). */
export function parseObjects(text: string): Obj[] {
  return YAML.parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]?.message}`);
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null && typeof o === 'object');
}

/** The one object of `kind` (and `name` when given); throws naming what is there when it is not exactly one. */
export function one(objs: Obj[], kind: string, name?: string): Obj {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(
      `expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length} among ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
    );
  }
  return found[0] as Obj;
}

/**
 * NOTES.txt of a chart as `helm install` prints it, rendered offline: helm only renders NOTES at
 * install time (and its --dry-run=client still wants a cluster), so a copy of the chart turns
 * NOTES.txt into a named template and renders it into a ConfigMap.
 */
export function renderNotes(chart: string, opts: RenderOptions = {}): string {
  const tmp = mkdtempSync(join(tmpdir(), 'nvdax-notes-'));
  try {
    const copy = join(tmp, chart);
    cpSync(join(chartsDir, chart), copy, { recursive: true });
    const notes = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    rmSync(join(copy, 'templates', 'NOTES.txt'));
    writeFileSync(
      join(copy, 'templates', '_notes-under-test.tpl'),
      `{{- define "notes-under-test" -}}\n${notes}{{- end -}}\n`,
    );
    writeFileSync(
      join(copy, 'templates', 'notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-under-test\ndata:\n  notes: {{ include "notes-under-test" . | toJson }}\n',
    );
    const r = helm([
      'template',
      opts.release ?? 'nvdax',
      copy,
      '--namespace',
      opts.namespace ?? 'nvdax-system',
      '--show-only',
      'templates/notes-under-test.yaml',
      ...valueArgs(chart, opts),
    ]);
    if (r.code !== 0) throw new Error(r.stderr.trim());
    return String((one(parseObjects(r.stdout), 'ConfigMap') as Obj & { data: { notes: string } }).data.notes);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
