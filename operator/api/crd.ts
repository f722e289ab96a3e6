// From a kind's definition to its CustomResourceDefinition. Used by the generator (to
// write crds/*.yaml) and by the offline validator (to validate against the same schema).
import { API_VERSION, CATEGORY, GROUP, VERSION, resources } from './constants.ts';
import type { Kind } from './constants.ts';
import type { CelRule, Schema } from './schema.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDef {
  kind: Kind;
  description: string;
  spec: Schema;
  status: Schema;
  /** Rules on the whole object; the immutability rules need both spec and status, so they live here. */
  rootRules: CelRule[];
  printerColumns: PrinterColumn[];
  /** Fields usable in field selectors (kubectl get --field-selector), e.g. .status.placement.pool. */
  selectableFields?: string[];
}

/** The openAPIV3Schema of a kind, including our private keys (tsName, hint). */
export function rootSchema(def: KindDef): Schema {
  const s: Schema = {
    description: def.description,
    type: 'object',
    properties: {
      apiVersion: {
        description: `APIVersion of this object: ${API_VERSION}.`,
        type: 'string',
      },
      kind: { description: `Kind of this object: ${def.kind}.`, type: 'string' },
      // The API server owns metadata's schema and refuses a description here.
      metadata: { description: '', type: 'object' },
      spec: def.spec,
      status: def.status,
    },
    required: ['spec'],
  };
  if (def.rootRules.length) s['x-kubernetes-validations'] = def.rootRules;
  return s;
}

const privateKeys = new Set(['tsName', 'hint']);

/** The schema as the API server gets it: our private keys removed. */
export function publicSchema(s: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (privateKeys.has(k) || (k === 'description' && v === '')) continue;
    if (k === 'properties') {
      out[k] = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([n, c]) => [n, publicSchema(c)]));
    } else if (k === 'items' || k === 'additionalProperties') {
      out[k] = publicSchema(v as Schema);
    } else {
      out[k] = v;
    }
  }
  return out;
}

export function crdName(kind: Kind): string {
  return `${resources[kind].plural}.${GROUP}`;
}

export function customResourceDefinition(def: KindDef): Record<string, unknown> {
  const r = resources[def.kind];
  const version: Record<string, unknown> = {
    name: VERSION,
    served: true,
    storage: true,
    subresources: { status: {} },
    additionalPrinterColumns: def.printerColumns,
  };
  if (def.selectableFields?.length)
    version['selectableFields'] = def.selectableFields.map((jsonPath) => ({ jsonPath }));
  version['schema'] = { openAPIV3Schema: publicSchema(rootSchema(def)) };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName(def.kind), labels: { 'app.kubernetes.io/part-of': 'nvdax' } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: r.plural,
        singular: r.singular,
        shortNames: [r.shortName],
        categories: [CATEGORY],
      },
      scope: r.scope,
      versions: [version],
    },
  };
}
