// Offline evaluation of the CRDs' x-kubernetes-validations rules with a JavaScript CEL
// implementation (@marcbachmann/cel-js). The rules stay within standard CEL (has, size,
// comparisons, macros, matches with simple regexes) so they mean the same here as in
// the API server; test/integration/api.test.ts proves it rule by rule.
import { Environment } from '@marcbachmann/cel-js';

export interface CompiledRule {
  /** Mentions oldSelf: a transition rule, only checkable by the API server. */
  transition: boolean;
  evaluate(self: unknown): unknown;
}

function mentionsOldSelf(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(mentionsOldSelf);
  if (node && typeof node === 'object') {
    const n = node as { op?: unknown; args?: unknown };
    if (n.op === 'id' && n.args === 'oldSelf') return true;
    return mentionsOldSelf(n.args);
  }
  return false;
}

/** CEL ints are int64 (BigInt here): JSON integers become BigInt, as the API server reads them as int. */
export function toCel(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

export class CelRules {
  private readonly env = new Environment({ unlistedVariablesAreDyn: true });
  private readonly cache = new Map<string, CompiledRule>();

  compile(rule: string): CompiledRule {
    let c = this.cache.get(rule);
    if (!c) {
      const parsed = this.env.parse(rule);
      const transition = mentionsOldSelf(parsed.ast);
      c = { transition, evaluate: (self) => parsed({ self: toCel(self) }) };
      this.cache.set(rule, c);
    }
    return c;
  }
}
