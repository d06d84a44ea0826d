/**
 * YAML side of the loader: parsing with positions, mapping data paths back to lines, and
 * `${VAR}` / `${VAR:-default}` interpolation on scalar values (after parsing, so a substituted
 * value can never change the document's structure).
 */
import { Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Node, type Scalar } from 'yaml';
import type { ConfigIssue } from './errors.js';

export type PathSegment = string | number;

export interface ParsedYaml {
  doc: Document.Parsed;
  lines: LineCounter;
  /** YAML syntax errors, with line and column. Empty when the text parsed. */
  issues: ConfigIssue[];
}

export function parseYaml(source: string): ParsedYaml {
  const text = source.replace(/^\uFEFF/, '');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  // One issue per line, at most five: after the first error the parser's findings mostly cascade.
  const issues: ConfigIssue[] = [];
  const seenLines = new Set<number>();
  const sourceLines = text.split(/\r?\n/);
  for (const err of doc.errors) {
    const quote = unclosedQuoteStart(text, err.code, err.message, err.pos[0]);
    const pos = lines.linePos(quote ?? err.pos[0]);
    if (seenLines.has(pos.line) || seenLines.size >= 5) continue;
    seenLines.add(pos.line);
    const lineText = sourceLines[pos.line - 1] ?? '';
    issues.push({
      path: '',
      line: pos.line,
      column: pos.col,
      message: quote !== undefined
        ? `The file is not valid YAML: the quoted value that starts here is never closed.`
        : `The file is not valid YAML: ${sentence(err.message)}`,
      hint: quote !== undefined
        ? `Add the closing ${text.charAt(quote)} at the end of the value.`
        : lineText.includes('${') && /[[{]/.test(lineText)
        ? 'Inside { } or [ ] a ${…} must be quoted, which keeps it text; write the mapping one key per line instead, e.g. port: ${PORT:-8787}.'
        : 'Fix the YAML syntax here; check the indentation, the colon after each key, and that quotes are closed.',
    });
  }
  return { doc, lines, issues };
}

/** For a missing closing quote (reported at the end of the text), the offset of the opening quote. */
function unclosedQuoteStart(text: string, code: string, message: string, at: number): number | undefined {
  if (code !== 'MISSING_CHAR' || !/closing ["']quote/.test(message)) return undefined;
  const q = message.includes('"quote') ? '"' : "'";
  for (let i = Math.min(at, text.length) - 1; i >= 0; i--) {
    if (text[i] === q && (q === "'" || text[i - 1] !== '\\')) return i;
  }
  return undefined;
}

/** `['plugins', 0, 'queue', 'whenFull']` → `plugins[0].queue.whenFull`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

export interface Position {
  line: number;
  column: number;
  /** False when the path does not exist and this is the nearest existing parent. */
  exact: boolean;
}

/**
 * Line and column of the node at `segments`: the key of a mapping entry, the start of a list item,
 * or, for a path that does not exist, the nearest existing parent.
 */
export function locate(parsed: ParsedYaml, segments: readonly PathSegment[]): Position {
  const { doc, lines } = parsed;
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const seg of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    let found = false;
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        if (k !== null && k !== undefined && String(k) === String(seg)) {
          offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
          node = pair.value;
          found = true;
          break;
        }
      }
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
      offset = rangeStart(node) ?? offset;
      found = true;
    }
    if (!found) {
      const pos = lines.linePos(offset);
      return { line: pos.line, column: pos.col, exact: false };
    }
  }
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col, exact: true };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

export interface InterpolationResult {
  issues: ConfigIssue[];
  /** Paths whose interpolation failed; schema errors at or under them are noise. */
  failed: string[];
  /** Plain scalars that were wholly `${…}` and re-read as a number or boolean: path → substituted text. */
  retyped: Map<string, { segments: PathSegment[]; text: string }>;
}

const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const WHOLE = /^\$\{[^}]*\}$/;
const INNER = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string scalar value (not keys) of the document,
 * in place. The default applies when VAR is unset or empty, as in the shell. `$${` is a literal `${`.
 * A plain scalar that was wholly one `${…}` is re-read as YAML, so `${PORT:-8787}` becomes a number
 * and `${X:-true}` a boolean; any other result stays a string.
 */
export function interpolate(parsed: ParsedYaml, env: Record<string, string | undefined>): InterpolationResult {
  const result: InterpolationResult = { issues: [], failed: [], retyped: new Map() };
  const walk = (node: unknown, segments: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        walk(pair.value, [...segments, String(k)]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...segments, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      substituteScalar(node, segments, parsed, env, result);
    }
  };
  walk(parsed.doc.contents, []);
  return result;
}

function substituteScalar(
  node: Scalar,
  segments: PathSegment[],
  parsed: ParsedYaml,
  env: Record<string, string | undefined>,
  result: InterpolationResult,
): void {
  const original = node.value as string;
  const path = formatPath(segments);
  const problems: Array<Pick<ConfigIssue, 'message' | 'hint'>> = [];
  const text = original.replace(TOKEN, (match: string, inner: string | undefined) => {
    if (match === '$${') return '${';
    if (inner === undefined) {
      problems.push({
        message: `${path || 'The value'} has a \${ with no closing }.`,
        hint: 'Close it as ${NAME} or ${NAME:-default}, or write $${ for a literal ${.',
      });
      return match;
    }
    const m = INNER.exec(inner);
    if (!m) {
      problems.push({
        message: `${path || 'The value'} contains ${match}, which is not a valid variable reference.`,
        hint: 'Write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or write $${ for a literal ${.',
      });
      return '';
    }
    const [, name, fallback] = m;
    const value = env[name!];
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value;
    if (value === undefined) {
      problems.push({
        message: `${path || 'The value'} uses \${${name}}, but the environment variable ${name} is not set.`,
        hint: `Set ${name} in the environment, or give a default with \${${name}:-value}.`,
      });
      return '';
    }
    return value;
  });

  if (problems.length > 0) {
    const pos = parsed.lines.linePos(node.range?.[0] ?? 0);
    for (const p of problems) result.issues.push({ path, line: pos.line, column: pos.col, ...p });
    result.failed.push(path);
    node.value = text;
    return;
  }
  node.value = text;
  if (node.type === 'PLAIN' && WHOLE.test(original) && text.trim() !== '') {
    const typed = readScalar(text);
    if (typeof typed === 'number' || typeof typed === 'boolean') {
      node.value = typed;
      result.retyped.set(path, { segments, text });
    }
  }
}

/** Reads `text` as one YAML scalar; undefined when it is not exactly one scalar. */
function readScalar(text: string): unknown {
  if (/[\r\n]/.test(text)) return undefined;
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isScalar(doc.contents)) return undefined;
  return doc.contents.value;
}

function sentence(s: string): string {
  const t = s.trim().replace(/\s+/g, ' ');
  const cap = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(cap) ? cap : `${cap}.`;
}
