// The YAML front end of the offline validator: splits a (multi-document) file, validates
// each object, and points every error at the line of the offending key. Pure: the text
// comes in, diagnostics go out; the CLI does the reading and printing.
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Node } from 'yaml';
import type { FieldError } from './validate.ts';
import { validateManifest } from './validate.ts';

export interface Diagnostic {
  file: string;
  line: number;
  /** `Kind/name` of the object, or `document N` when the document is not an object. */
  object: string;
  path: string;
  message: string;
}

export interface FileResult {
  objects: number;
  diagnostics: Diagnostic[];
}

/** `spec.runtime.env[1].name` → ['spec', 'runtime', 'env', '1', 'name']; `a[b.c]` keeps `b.c` whole. */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[([^\]]*)\]/g)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** Offset of the deepest key (or list item) of `path` present in the document, and the node found there. */
function locate(doc: Document, path: string): { offset: number; node: unknown } {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  const segs = splitPath(path);
  for (let i = 0; i < segs.length; i++) {
    if (isMap(node)) {
      // A map key may itself hold dots (spec.nodeSelector.nvdax.io/pool): try the longest join that is a key.
      let pair: (typeof node.items)[number] | undefined;
      for (let j = segs.length; j > i && !pair; j--) {
        const key = segs.slice(i, j).join('.');
        pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
        if (pair) i = j - 1;
      }
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segs[i])];
      if (item === undefined) break;
      offset = (item as Node).range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return { offset, node };
}

/** YAML reads unquoted 0x… and digits as numbers; say so where a string was expected. */
function explain(message: string, node: unknown): string {
  if (message === 'must be of type string' && isScalar(node) && node.type === 'PLAIN') {
    return `${message} (quote the value: unquoted, YAML reads ${JSON.stringify(node.source)} as a ${typeof node.value})`;
  }
  return message;
}

function describe(obj: unknown, index: number): string {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return `document ${index + 1}`;
  const o = obj as { kind?: unknown; metadata?: { name?: unknown; generateName?: unknown } };
  const kind = typeof o.kind === 'string' && o.kind ? o.kind : '<no kind>';
  const name = o.metadata?.name ?? (o.metadata?.generateName ? `${String(o.metadata.generateName)}*` : '<no name>');
  return `${kind}/${String(name)}`;
}

export function validateYaml(
  text: string,
  file: string,
  validate: (m: unknown) => FieldError[] = validateManifest,
): FileResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const result: FileResult = { objects: 0, diagnostics: [] };
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, i) => {
    if (doc.errors.length) {
      for (const e of doc.errors) {
        result.diagnostics.push({
          file,
          line: lineAt(e.pos[0]),
          object: `document ${i + 1}`,
          path: '(yaml)',
          message: e.message,
        });
      }
      return;
    }
    let obj: unknown;
    try {
      obj = doc.toJS(); // throws e.g. on excessive alias expansion (a "billion laughs" file)
    } catch (e) {
      result.diagnostics.push({
        file,
        line: lineAt(doc.range[0]),
        object: `document ${i + 1}`,
        path: '(yaml)',
        message: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    if (obj === null || obj === undefined) return; // empty document, e.g. a trailing ---
    result.objects++;
    const object = describe(obj, i);
    const found = validate(obj).map((e) => {
      const { offset, node } = locate(doc, e.path);
      return { file, line: lineAt(offset), object, path: e.path, message: explain(e.message, node) };
    });
    result.diagnostics.push(...found.sort((a, b) => a.line - b.line));
  });
  return result;
}

/** `file:line: Kind/name: field.path: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}: ${d.object}: ${d.path}: ${d.message}`;
}
