/**
 * Where a problem inside a rule is in its YAML file: the rule compiler names a path inside the
 * rule (`actions[1].webhook.url`, `when`) and, for an expression or a template, a line and column
 * inside that value; this turns both into the line and column of the file.
 */
import { isAlias, isMap, isScalar, isSeq, type Node, type Scalar } from 'yaml';
import { locate, type ParsedYaml, type PathSegment } from './yaml-doc.js';

/** `actions[1].webhook.url` → `['actions', 1, 'webhook', 'url']`. */
export function rulePathSegments(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** The node at `segments`, or undefined when the path does not exist. */
function nodeAt(parsed: ParsedYaml, segments: readonly PathSegment[]): unknown {
  let node: unknown = parsed.doc.contents;
  for (const seg of segments) {
    if (isAlias(node)) node = node.resolve(parsed.doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (!pair) return undefined;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else return undefined;
  }
  return node;
}

/**
 * Line and column (1-based) of the value at `segments`, moved to `inner` (a 1-based line and column
 * inside the value's text) when given and the value is a scalar; otherwise the position of the
 * key, as `locate` gives it.
 */
export function positionIn(parsed: ParsedYaml, text: string, segments: readonly PathSegment[], inner?: { line: number; column: number }): { line: number; column: number } {
  const at = locate(parsed, segments);
  const node = inner ? nodeAt(parsed, segments) : undefined;
  if (!inner || !isScalar(node) || !(node as Node).range) return { line: at.line, column: at.column };
  const scalar = node as Scalar;
  const start = scalar.range![0];
  const head = parsed.lines.linePos(start);
  if (scalar.type === 'BLOCK_LITERAL' || scalar.type === 'BLOCK_FOLDED') {
    // the content starts on the line after the | or > header, indented
    const line = head.line + inner.line;
    const indent = /^ */.exec(text.split(/\r?\n/)[line - 1] ?? '')![0].length;
    return { line, column: indent + inner.column };
  }
  if (inner.line === 1) {
    const quote = scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE' ? 1 : 0;
    const pos = parsed.lines.linePos(start + quote + inner.column - 1);
    return { line: pos.line, column: pos.col };
  }
  // a plain or quoted value folded over several lines: the line is right, the column roughly
  return { line: head.line + inner.line - 1, column: inner.column };
}
