// docs/operator.md must not say less (or other) than the code: its conditions table names
// every reason the ProviderPool controller can set, and every condition type.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PoolConditionType, PoolReason } from '../../../operator/api/constants.ts';

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'operator.md'), 'utf8');
const table = doc
  .split('\n')
  .filter((l) => /^\| `(Connected|Ready|ConfidentialReady)` *\|/.test(l))
  .join('\n');

test('the ProviderPool conditions table lists every condition type and every reason the code sets', (t) => {
  for (const type of Object.values(PoolConditionType)) t.regex(table, new RegExp(`^\\| \`${type}\` *\\|`, 'm'), type);
  const missing = Object.values(PoolReason).filter((r) => !table.includes(`\`${r}\``));
  t.deepEqual(missing, [], 'reasons set by operator/controllers/providerpool but absent from docs/operator.md');
});
