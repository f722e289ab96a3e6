#!/usr/bin/env node
// Prints the simulated GPU nodes and RuntimeClasses of one cluster shape as YAML, for
// clusters the sim does not start itself (the kind path):
//   node hack/sim/objects.ts --cluster gpu-a | kubectl apply --server-side -f -
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { clusterObjects } from './nodes.ts';
import { loadShapes } from './state.ts';

const { values } = parseArgs({
  options: { cluster: { type: 'string', default: 'default' }, shapes: { type: 'string' } },
});
const shapes = loadShapes(values.shapes ?? join(import.meta.dirname, 'shapes.yaml'));
const name = values.cluster ?? 'default';
const shape = shapes[name] ?? shapes['default'];
if (!shape) throw new Error(`--cluster: no shape "${name}" and no default in shapes.yaml`);
process.stdout.write(
  clusterObjects(name, shape)
    .map((o) => YAML.stringify(o, { version: '1.1' }))
    .join('---\n'),
);
