// A tiny builder for Kubernetes structural schemas (the OpenAPI v3 subset CRDs accept).
// The CRD YAML, the TypeScript types, the ajv validator and the reference docs are all
// generated from the values built here, so every field is typed and described once.
import type { Pattern } from './patterns.ts';

export type CelReason = 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';

/** One `x-kubernetes-validations` entry. Rules that mention `oldSelf` are transition rules. */
export interface CelRule {
  rule: string;
  message: string;
  /** Relative to the node the rule sits on, e.g. `.federated.rounds`. */
  fieldPath?: string;
  reason?: CelReason;
}

/** The structural-schema keywords we use; anything else is deliberately absent. */
export interface Schema {
  description: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  format?: 'date-time' | 'int32' | 'int64';
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  enum?: string[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  anyOf?: Array<{ type: 'integer' | 'string' }>;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'granular' | 'atomic';
  'x-kubernetes-validations'?: CelRule[];
  /** An object kept as is (e.g. a Kubernetes object inside ours): no schema below it. */
  'x-kubernetes-preserve-unknown-fields'?: true;
  /** Name of the generated TypeScript interface (objects) or union type (enums); not emitted to the CRD. */
  tsName?: string;
  /** What the pattern means, for offline error messages; not emitted to the CRD. */
  hint?: string;
}

export interface StringOpts {
  pattern?: Pattern;
  maxLength?: number;
  minLength?: number;
  default?: string;
  format?: 'date-time';
  rules?: CelRule[];
}

/** A string. Every string gets a maxLength so CEL cost estimates stay bounded. */
export function str(description: string, o: StringOpts = {}): Schema {
  const s: Schema = { description, type: 'string' };
  if (o.format) s.format = o.format;
  if (o.pattern) {
    s.pattern = o.pattern.pattern;
    s.hint = o.pattern.hint;
  }
  if (o.minLength !== undefined) s.minLength = o.minLength;
  s.maxLength = o.maxLength ?? o.pattern?.maxLength ?? 253;
  if (o.default !== undefined) s.default = o.default;
  if (o.rules) s['x-kubernetes-validations'] = o.rules;
  return s;
}

/** A string restricted to `values`; `tsName` names the generated union type and const object. */
export function oneOf(tsName: string, description: string, values: readonly string[], dflt?: string): Schema {
  const s: Schema = { description, type: 'string', enum: [...values], tsName };
  if (dflt !== undefined) s.default = dflt;
  return s;
}

export function int(
  description: string,
  o: { minimum?: number; maximum?: number; default?: number; format?: 'int32' | 'int64' } = {},
): Schema {
  const s: Schema = { description, type: 'integer', format: o.format ?? 'int32' };
  if (o.minimum !== undefined) s.minimum = o.minimum;
  if (o.maximum !== undefined) s.maximum = o.maximum;
  if (o.default !== undefined) s.default = o.default;
  return s;
}

export function bool(description: string, dflt?: boolean): Schema {
  const s: Schema = { description, type: 'boolean' };
  if (dflt !== undefined) s.default = dflt;
  return s;
}

/**
 * A Kubernetes quantity ("4", "500m", "80Gi"): integer or string, as core/v1 resources accept. The pattern
 * checks strings only; `minimum` bounds the integer form.
 */
export function quantity(description: string, pattern: Pattern, o: { minimum?: number } = {}): Schema {
  const s: Schema = {
    description,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: pattern.pattern,
    maxLength: pattern.maxLength,
    hint: pattern.hint,
  };
  if (o.minimum !== undefined) s.minimum = o.minimum;
  return s;
}

export function obj(
  tsName: string,
  description: string,
  properties: Record<string, Schema>,
  o: { required?: string[]; rules?: CelRule[]; default?: Record<string, unknown> } = {},
): Schema {
  for (const r of o.required ?? []) {
    if (!(r in properties)) throw new Error(`${tsName}: required field ${r} is not a property`);
  }
  const s: Schema = { description, type: 'object', tsName, properties };
  if (o.required?.length) s.required = o.required;
  if (o.default !== undefined) s.default = o.default;
  if (o.rules) s['x-kubernetes-validations'] = o.rules;
  return s;
}

export interface ListOpts {
  maxItems: number;
  minItems?: number;
  /** `set` for scalars compared as a set, `map` (with `keys`) for objects merged by key. */
  listType?: 'atomic' | 'set' | 'map';
  keys?: string[];
  default?: unknown[];
}

export function list(description: string, items: Schema, o: ListOpts): Schema {
  const s: Schema = { description, type: 'array', items, maxItems: o.maxItems };
  if (o.minItems !== undefined) s.minItems = o.minItems;
  s['x-kubernetes-list-type'] = o.listType ?? 'atomic';
  if (o.listType === 'map') {
    if (!o.keys?.length) throw new Error(`list-type map needs keys: ${description}`);
    s['x-kubernetes-list-map-keys'] = o.keys;
  }
  if (o.default !== undefined) s.default = o.default;
  return s;
}

/** A string-keyed map (JSON object with arbitrary keys). */
export function map(description: string, values: Schema, maxProperties: number): Schema {
  return { description, type: 'object', additionalProperties: values, maxProperties };
}

/** Walks every node with its dotted schema path (`spec.sla.tier`, `spec.env[]`). */
export function walk(s: Schema, visit: (node: Schema, path: string) => void, path = ''): void {
  visit(s, path);
  for (const [k, child] of Object.entries(s.properties ?? {})) walk(child, visit, path ? `${path}.${k}` : k);
  if (s.items) walk(s.items, visit, `${path}[]`);
  if (s.additionalProperties) walk(s.additionalProperties, visit, `${path}[*]`);
}

/** An RFC 3339 timestamp, as metav1.Time serializes. */
export function time(description: string): Schema {
  return { description, type: 'string', format: 'date-time', maxLength: 64 };
}

/** An object whose content the API server keeps as is (e.g. a whole Kubernetes object carried in ours). */
export function anyObject(description: string): Schema {
  return { description, type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
}
