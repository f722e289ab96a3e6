// The CRD schema as a JSON Schema for ajv. Differences from the API server are made
// explicit here: unknown fields are errors (kubectl --validate=strict), set-lists get
// uniqueItems (the server checks x-kubernetes-list-type: set), formats other than
// date-time are dropped (the server ignores int32/int64 on integers).
import type { Schema } from './schema.ts';

type Json = Record<string, unknown>;

/** metav1.ObjectMeta fields a manifest may carry; anything else is an unknown field. */
const objectMeta: Json = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    generateName: { type: 'string' },
    namespace: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    finalizers: { type: 'array', items: { type: 'string' } },
    ownerReferences: { type: 'array', items: { type: 'object' } },
    uid: { type: 'string' },
    resourceVersion: { type: 'string' },
    generation: { type: 'integer' },
    creationTimestamp: {},
    deletionTimestamp: {},
    deletionGracePeriodSeconds: { type: 'integer' },
    managedFields: { type: 'array' },
    selfLink: { type: 'string' },
  },
};

const copied = [
  'type',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'maxProperties',
  'required',
] as const;

export function toAjv(s: Schema, path = ''): Json {
  if (path === 'metadata') return objectMeta;
  const out: Json = {};
  for (const k of copied) if (s[k] !== undefined) out[k] = s[k];
  if (s.format === 'date-time') out['format'] = 'date-time';
  if (s.anyOf) out['anyOf'] = s.anyOf;
  if (s.properties) {
    out['properties'] = Object.fromEntries(
      Object.entries(s.properties).map(([k, c]) => [k, toAjv(c, path ? `${path}.${k}` : k)]),
    );
    out['additionalProperties'] = false;
  }
  if (s.additionalProperties) out['additionalProperties'] = toAjv(s.additionalProperties, `${path}[*]`);
  if (s.items) out['items'] = toAjv(s.items, `${path}[]`);
  if (s['x-kubernetes-list-type'] === 'set') out['uniqueItems'] = true;
  return out;
}
