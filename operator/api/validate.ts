// Offline validation of NVDAx manifests: the same schema the CRDs carry (via ajv), the
// same defaulting, and the same CEL rules, reported as the API server would name them
// (`spec.sla.maxLatencyMs: must be >= 1`). Pure: no I/O. Transition rules (those using
// oldSelf, e.g. immutability after placement) need the stored object and are skipped.
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { API_VERSION, resources } from './constants.ts';
import type { Kind } from './constants.ts';
import { CelRules } from './cel.ts';
import { rootSchema } from './crd.ts';
import { kindDefs } from './kinds.ts';
import { toAjv } from './offline-schema.ts';
import { patterns } from './patterns.ts';
import type { CelRule, Schema } from './schema.ts';

export interface FieldError {
  /**
   * As the API server names it: `spec.runtime.env[1].name`; map keys as its OpenAPI validator does
   * (`spec.nodeSelector.kubernetes.io/os`), or in brackets in CEL errors (`spec.nodeSelector[kubernetes.io/os]`).
   */
  path: string;
  message: string;
}

const kinds = Object.keys(resources) as Kind[];
const quote = (v: unknown): string => JSON.stringify(v);
const supported = (values: readonly unknown[]): string => `supported values: ${values.map(quote).join(', ')}`;
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const dnsSubdomain = new RegExp(patterns.dnsSubdomain.pattern);
const dnsLabel = new RegExp(patterns.dnsLabel.pattern);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Appends one segment to a path: `.key` for object fields, `[i]` for list items, `[key]` for map keys. */
function join(path: string, seg: string | number, inMap: boolean): string {
  if (typeof seg === 'number' || inMap) return `${path}[${seg}]`;
  return path ? `${path}.${seg}` : seg;
}

/** Follows a JSON pointer through data and schema to the API server's path notation. */
function pointerToPath(pointer: string, root: Schema): { path: string; node: Schema | undefined } {
  let path = '';
  let node: Schema | undefined = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (node?.type === 'array') {
      path = join(path, Number(seg), false);
      node = node.items;
    } else if (node?.additionalProperties) {
      path = join(path, seg, false); // the OpenAPI validator names map keys with a dot: spec.nodeSelector.nvdax.io/pool
      node = node.additionalProperties;
    } else {
      path = join(path, seg, false);
      node = node?.properties?.[seg];
    }
  }
  return { path, node };
}

/** ajv keywords whose errors make the API server skip CEL rules (hasBlockingErr in strategy.go). */
const blocking = new Set(['required', 'enum', 'maxLength', 'maxItems', 'maxProperties', 'type', 'anyOf']);

function fromAjv(e: ErrorObject, root: Schema, data: unknown): FieldError | undefined {
  if (e.schemaPath.includes('/anyOf/')) return undefined; // reported once by the anyOf error itself
  const { path, node } = pointerToPath(e.instancePath, root);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: join(path, String(p['missingProperty']), false), message: 'Required value' };
    case 'additionalProperties':
      return { path: join(path, String(p['additionalProperty']), false), message: 'unknown field' };
    case 'enum':
      return {
        path,
        message: `Unsupported value: ${quote(valueAt(data, e.instancePath))}: ${supported(node?.enum ?? [])}`,
      };
    case 'pattern':
      return { path, message: `must match ${String(p['pattern'])}${node?.hint ? ` (${node.hint})` : ''}` };
    case 'minimum':
      return { path, message: `must be >= ${String(p['limit'])}` };
    case 'maximum':
      return { path, message: `must be <= ${String(p['limit'])}` };
    case 'minLength':
      return { path, message: `must be at least ${String(p['limit'])} characters` };
    case 'maxLength':
      return { path, message: `Too long: must have at most ${String(p['limit'])} characters` };
    case 'minItems':
      return { path, message: `must have at least ${String(p['limit'])} items` };
    case 'maxItems':
      return { path, message: `Too many: must have at most ${String(p['limit'])} items` };
    case 'maxProperties':
      return { path, message: `Too many: must have at most ${String(p['limit'])} entries` };
    case 'type':
      return { path, message: `must be of type ${String(p['type'])}` };
    case 'anyOf':
      return { path, message: 'must be an integer or a string' };
    case 'format':
      return { path, message: 'must be an RFC 3339 date-time' };
    case 'uniqueItems': {
      const i = Math.max(Number(p['i']), Number(p['j']));
      const item = (valueAt(data, e.instancePath) as unknown[])[i];
      return { path: `${path}[${i}]`, message: `Duplicate value: ${quote(item)}` };
    }
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    v = Array.isArray(v) ? v[Number(seg)] : isObject(v) ? v[seg] : undefined;
  }
  return v;
}

/** Visits each value with its schema node and path; `at` is the value, never undefined. */
function visit(s: Schema, v: unknown, path: string, fn: (s: Schema, v: unknown, path: string) => void): void {
  fn(s, v, path);
  const items = s.items;
  if (s.type === 'array' && Array.isArray(v) && items) {
    for (const [i, x] of v.entries()) visit(items, x, join(path, i, false), fn);
  } else if (isObject(v)) {
    if (s.additionalProperties) {
      for (const [k, x] of Object.entries(v)) visit(s.additionalProperties, x, join(path, k, true), fn);
    }
    for (const [k, c] of Object.entries(s.properties ?? {})) {
      if (v[k] !== undefined && !(path === '' && k === 'metadata')) visit(c, v[k], join(path, k, false), fn);
    }
  }
}

function duplicateKeys(s: Schema, v: unknown, path: string, out: FieldError[]): void {
  const keys = s['x-kubernetes-list-map-keys'];
  if (!keys || !Array.isArray(v)) return;
  const seen = new Set<string>();
  v.forEach((item, i) => {
    if (!isObject(item)) return;
    const key = Object.fromEntries(keys.map((k) => [k, item[k]]));
    const id = quote(key);
    if (seen.has(id)) out.push({ path: join(path, i, false), message: `Duplicate value: ${id}` });
    seen.add(id);
  });
}

function celError(path: string, r: CelRule, failure?: string): FieldError {
  const at = r.fieldPath ? `${path}${r.fieldPath}`.replace(/^\./, '') : path;
  if (failure) return { path: at, message: `Invalid value: evaluating ${r.rule}: ${failure}` };
  const prefix = {
    FieldValueRequired: 'Required value: ',
    FieldValueForbidden: 'Forbidden: ',
    FieldValueDuplicate: 'Duplicate value: ',
  };
  return { path: at, message: `${r.reason && r.reason !== 'FieldValueInvalid' ? prefix[r.reason] : ''}${r.message}` };
}

function metadataErrors(meta: unknown, kind: Kind): FieldError[] {
  if (!isObject(meta)) return [{ path: 'metadata.name', message: 'Required value: name or generateName is required' }];
  const errs: FieldError[] = [];
  const name = meta['name'];
  if (name === undefined && meta['generateName'] === undefined) {
    errs.push({ path: 'metadata.name', message: 'Required value: name or generateName is required' });
  } else if (typeof name === 'string' && (!dnsSubdomain.test(name) || name.length > 253)) {
    errs.push({
      path: 'metadata.name',
      message: `Invalid value: ${quote(name)}: must be ${patterns.dnsSubdomain.hint} (at most 253 characters)`,
    });
  }
  const ns = meta['namespace'];
  if (typeof ns === 'string' && resources[kind].scope === 'Namespaced' && !dnsLabel.test(ns)) {
    errs.push({
      path: 'metadata.namespace',
      message: `Invalid value: ${quote(ns)}: must be ${patterns.dnsLabel.hint}`,
    });
  }
  return errs;
}

export class Validator {
  private readonly ajv = new Ajv({ allErrors: true, useDefaults: true, strictTypes: false });
  private readonly compiled = new Map<Kind, ValidateFunction>();
  private readonly cel = new CelRules();

  constructor() {
    this.ajv.addFormat('date-time', rfc3339);
  }

  private compile(kind: Kind): ValidateFunction {
    let fn = this.compiled.get(kind);
    if (!fn) {
      fn = this.ajv.compile(toAjv(rootSchema(kindDefs[kind])));
      this.compiled.set(kind, fn);
    }
    return fn;
  }

  /** All errors in a parsed manifest; [] when the API server would accept it (on create). */
  validate(manifest: unknown): FieldError[] {
    if (!isObject(manifest))
      return [{ path: '(root)', message: 'must be a Kubernetes object (a mapping with apiVersion and kind)' }];
    const { apiVersion, kind } = manifest;
    const errs: FieldError[] = [];
    if (apiVersion === undefined) errs.push({ path: 'apiVersion', message: 'Required value' });
    else if (apiVersion !== API_VERSION)
      errs.push({
        path: 'apiVersion',
        message: `Unsupported value: ${quote(apiVersion)}: ${supported([API_VERSION])}`,
      });
    if (kind === undefined) errs.push({ path: 'kind', message: 'Required value' });
    else if (!kinds.includes(kind as Kind))
      errs.push({ path: 'kind', message: `Unsupported value: ${quote(kind)}: ${supported(kinds)}` });
    if (errs.length) return errs;
    return this.validateKind(kind as Kind, manifest);
  }

  private validateKind(kind: Kind, manifest: Record<string, unknown>): FieldError[] {
    const root = rootSchema(kindDefs[kind]);
    const data = structuredClone(manifest); // ajv writes defaults into it, as the API server defaults before validating
    const check = this.compile(kind);
    const errs = metadataErrors(data['metadata'], kind);
    let blocked = false;
    if (!check(data)) {
      for (const e of check.errors ?? []) {
        const fe = fromAjv(e, root, data);
        if (fe) errs.push(fe);
        if (blocking.has(e.keyword)) blocked = true;
      }
    }
    visit(root, data, '', (s, v, path) => duplicateKeys(s, v, path, errs));
    if (!blocked) visit(root, data, '', (s, v, path) => this.rules(s, v, path, errs));
    return dedupe(errs);
  }

  private rules(s: Schema, v: unknown, path: string, out: FieldError[]): void {
    for (const r of s['x-kubernetes-validations'] ?? []) {
      const rule = this.cel.compile(r.rule);
      if (rule.transition) continue; // needs the stored object: the API server checks it on update
      try {
        if (rule.evaluate(v) !== true) out.push(celError(path, r));
      } catch (e) {
        out.push(celError(path, r, e instanceof Error ? e.message : String(e)));
      }
    }
  }
}

function dedupe(errs: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errs.filter((e) => {
    const id = `${e.path}\0${e.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

let shared: Validator | undefined;

/** Validates one parsed manifest with a shared validator (schemas compile on first use). */
export function validateManifest(manifest: unknown): FieldError[] {
  shared ??= new Validator();
  return shared.validate(manifest);
}
