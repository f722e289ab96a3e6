// hack/agent/hub-rbac.yaml for one pool: its tokens replaced, as objects.
//   node hack/agent/hub-rbac.ts --pool NAME [--operator-namespace nvdax-system] [--operator-sa nvdax-operator] | kubectl apply -f -
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { poolNamespace } from '../../operator/fleet/agent-work.ts';

export const hubRbacFile = join(import.meta.dirname, 'hub-rbac.yaml');

/** The manifest's text for `pool`. */
export function hubRbacText(pool: string, operator = { namespace: 'nvdax-system', serviceAccount: 'nvdax-operator' }) {
  // the header's comments name the tokens: left as they are
  return readFileSync(hubRbacFile, 'utf8')
    .split('\n')
    .map((line) =>
      line.startsWith('#')
        ? line
        : line
            .replaceAll('__WORK_NAMESPACE__', poolNamespace(pool))
            .replaceAll('__POOL__', pool)
            .replaceAll('__OPERATOR_NAMESPACE__', operator.namespace)
            .replaceAll('__OPERATOR_SA__', operator.serviceAccount),
    )
    .join('\n');
}

/** The manifest's objects for `pool`. */
export function hubRbac(pool: string, operator?: { namespace: string; serviceAccount: string }): object[] {
  return YAML.parseAllDocuments(hubRbacText(pool, operator))
    .map((d) => d.toJS() as object | null)
    .filter((o): o is object => o !== null);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      pool: { type: 'string' },
      'operator-namespace': { type: 'string', default: 'nvdax-system' },
      'operator-sa': { type: 'string', default: 'nvdax-operator' },
    },
  });
  if (!values.pool) {
    process.stderr.write('usage: hub-rbac.ts --pool NAME [--operator-namespace NS] [--operator-sa NAME]\n');
    process.exit(2);
  }
  process.stdout.write(
    hubRbacText(values.pool, { namespace: values['operator-namespace'], serviceAccount: values['operator-sa'] }),
  );
}
