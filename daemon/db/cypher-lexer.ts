/**
 * A small Cypher lexer for the statement policy (statement-screen.ts, plan-screen.ts). It does not
 * parse Cypher; it only has to agree with Neo4j on where strings, comments, quoted names and
 * parameters begin and end, so that a keyword or a procedure name can never hide inside what the
 * screen takes for a string or a comment, nor a string inside what it takes for code.
 *
 * Where the lexer and the server could disagree it errs towards seeing MORE code, never less:
 *  - Neo4j decodes `\uXXXX` escapes before it lexes (inside strings, names and comments alike:
 *    `'a\u0027` ends a string, `// \u000a` ends a comment). The lexer refuses any backslash-u in a
 *    statement instead of modelling that; values with such characters belong in parameters.
 *  - `//` comments end at any line terminator Java knows (\n, \r, U+0085, U+2028, U+2029);
 *    `/* *\/` comments do not nest (if the server nested them, the lexer would see extra code).
 *  - A character that is neither whitespace, an identifier character nor Cypher punctuation makes
 *    the statement unclassifiable (e.g. U+200B, which Neo4j rejects but a lexer might swallow).
 *
 * Strings: '…' or "…", a backslash escapes the next character. Quoted names: `…` with `` for a
 * backtick. Parameters: $name, $`name`, $0; a `$` not followed by a name (dynamic labels `$(…)`)
 * is its own token.
 */

export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'param' | 'dollar' | 'punct';

export interface Token {
  kind: TokenKind;
  /** The value: a name or string unescaped, punctuation as written, a parameter's name. */
  value: string;
  /** Offset of the token in the statement. */
  at: number;
}

/** The statement cannot be split into tokens the way the server would; it is refused. */
export class LexError extends Error {
  constructor(message: string, readonly at: number) {
    super(message);
    this.name = 'LexError';
  }
}

const WHITESPACE = /[\s\u0085\u001c-\u001f]/u;
const IDENT_START = /[\p{L}\p{Nl}_]/u;
const IDENT_PART = /[\p{L}\p{N}\p{M}\p{Pc}]/u;
const PUNCT = new Set([...'(){}[],.:;|&+-*/%^=<>!~?']);
const LINE_END = /[\n\r\u0085\u2028\u2029]/u;

export interface LexOptions {
  /**
   * Tolerate what the server itself writes into plan details (truncated strings, ellipses):
   * unknown characters are skipped and an unterminated token ends the input instead of failing.
   * Never for statements from a model or a plugin.
   */
  lenient?: boolean;
}

/** Splits a statement into tokens (comments and whitespace dropped); throws LexError. */
export function lex(text: string, opts: LexOptions = {}): Token[] {
  const lenient = opts.lenient === true;
  if (!lenient) {
    const u = text.search(/\\[uU]/);
    if (u >= 0) {
      throw new LexError(`The statement contains a unicode escape (\\u) at offset ${u}, which Neo4j decodes before it reads the statement; Heimdall does not accept them. Pass such text as a $parameter instead.`, u);
    }
  }
  const out: Token[] = [];
  const n = text.length;
  let i = 0;
  const fail = (message: string, at: number): never => {
    throw new LexError(message, at);
  };
  while (i < n) {
    const c = text[i]!;
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (WHITESPACE.test(ch)) {
      i += ch.length;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      i += 2;
      while (i < n && !LINE_END.test(text[i]!)) i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) {
        if (lenient) break;
        fail(`The statement has a comment that is never closed (/* at offset ${i}).`, i);
      }
      i = end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      const start = i;
      let value = '';
      i++;
      let closed = false;
      while (i < n) {
        const d = text[i]!;
        if (d === '\\') {
          value += unescape(text[i + 1]);
          i += 2;
          continue;
        }
        if (d === c) {
          closed = true;
          i++;
          break;
        }
        value += d;
        i++;
      }
      if (!closed) {
        if (lenient) break;
        fail(`The statement has a string that is never closed (${c} at offset ${start}).`, start);
      }
      out.push({ kind: 'string', value, at: start });
      continue;
    }
    if (c === '`') {
      const start = i;
      const name = quotedName(text, i + 1);
      if (!name) {
        if (lenient) break;
        fail(`The statement has a quoted name that is never closed (\` at offset ${start}).`, start);
      }
      out.push({ kind: 'quoted', value: name!.value, at: start });
      i = name!.end;
      continue;
    }
    if (c === '$') {
      const start = i;
      if (text[i + 1] === '`') {
        const name = quotedName(text, i + 2);
        if (!name) {
          if (lenient) break;
          fail(`The statement has a quoted parameter name that is never closed (offset ${start}).`, start);
        }
        out.push({ kind: 'param', value: name!.value, at: start });
        i = name!.end;
        continue;
      }
      let j = i + 1;
      while (j < n && IDENT_PART.test(String.fromCodePoint(text.codePointAt(j)!))) j += String.fromCodePoint(text.codePointAt(j)!).length;
      if (j > i + 1) out.push({ kind: 'param', value: text.slice(i + 1, j), at: start });
      else out.push({ kind: 'dollar', value: '$', at: start });
      i = j;
      continue;
    }
    if (c >= '0' && c <= '9') {
      const m = /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9]+)?)/.exec(text.slice(i, i + 64))!;
      out.push({ kind: 'number', value: m[0], at: i });
      i += m[0].length;
      continue;
    }
    if (IDENT_START.test(ch)) {
      const start = i;
      while (i < n) {
        const p = String.fromCodePoint(text.codePointAt(i)!);
        if (!IDENT_PART.test(p)) break;
        i += p.length;
      }
      out.push({ kind: 'word', value: text.slice(start, i), at: start });
      continue;
    }
    if (PUNCT.has(c)) {
      out.push({ kind: 'punct', value: c, at: i });
      i++;
      continue;
    }
    if (lenient) {
      i += ch.length;
      continue;
    }
    fail(`The statement contains the character U+${cp.toString(16).toUpperCase().padStart(4, '0')} at offset ${i}, which Heimdall cannot classify; remove it or pass the text as a $parameter.`, i);
  }
  return out;
}

function unescape(d: string | undefined): string {
  switch (d) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case "'":
    case '"':
    case '\\':
      return d;
    default:
      return `\\${d ?? ''}`;
  }
}

/** A backtick-quoted name starting after the opening backtick; `` is one backtick. */
function quotedName(text: string, from: number): { value: string; end: number } | undefined {
  let value = '';
  let i = from;
  while (i < text.length) {
    if (text[i] === '`') {
      if (text[i + 1] === '`') {
        value += '`';
        i += 2;
        continue;
      }
      return { value, end: i + 1 };
    }
    value += text[i];
    i++;
  }
  return undefined;
}

/** True for an unquoted word equal to `kw` (case-insensitive). */
export function isKeyword(t: Token | undefined, kw: string): boolean {
  return t !== undefined && t.kind === 'word' && t.value.toUpperCase() === kw;
}

/** True for the punctuation `p`. */
export function isPunct(t: Token | undefined, p: string): boolean {
  return t !== undefined && t.kind === 'punct' && t.value === p;
}

/**
 * A dotted name starting at `i` (`apoc.periodic.iterate`, `` `db`.labels ``): its parts and the
 * index after it, or undefined when no name starts there. `ambiguous` is set when a quoted part
 * contains a dot (the server reads `` `db.labels` `` as one part, a reader as two).
 */
export function dottedName(tokens: readonly Token[], i: number): { parts: string[]; end: number; ambiguous: boolean } | undefined {
  const first = tokens[i];
  if (!first || (first.kind !== 'word' && first.kind !== 'quoted')) return undefined;
  const parts = [first.value];
  let ambiguous = first.kind === 'quoted' && first.value.includes('.');
  let j = i + 1;
  while (isPunct(tokens[j], '.') && (tokens[j + 1]?.kind === 'word' || tokens[j + 1]?.kind === 'quoted')) {
    const t = tokens[j + 1]!;
    if (t.kind === 'quoted' && t.value.includes('.')) ambiguous = true;
    parts.push(t.value);
    j += 2;
  }
  return { parts, end: j, ambiguous };
}
