/**
 * Turns Ajv errors into ConfigIssues an operator can act on: the dotted path, the line, a message
 * that says what is wrong and what was found, and a hint that says what to write instead.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { ConfigIssue } from './errors.js';
import { isSecretKey } from './redact.js';
import { formatPath, locate, type ParsedYaml, type PathSegment } from './yaml-doc.js';

type Schema = Record<string, unknown> & {
  default?: unknown;
  properties?: Record<string, Schema>;
  oneOf?: Schema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  type?: string;
};

/** Texts for the schema's patterns, so no operator ever reads a regular expression. */
const PATTERN_TEXT: Record<string, string> = {
  '^(bolt|neo4j)(\\+s|\\+ssc)?://': 'start with bolt://, neo4j://, bolt+s://, neo4j+s://, bolt+ssc:// or neo4j+ssc://',
  '^https?://': 'start with http:// or https://',
};

/** Lower is preferred when several errors land on the same path. */
const PRIORITY: Record<string, number> = { discriminator: 0, enum: 1, const: 1, additionalProperties: 1, required: 1, type: 2 };

/** One issue per path (the most useful one), sorted by line. */
export function issuesFromAjv(errors: readonly ErrorObject[], data: unknown, parsed: ParsedYaml): ConfigIssue[] {
  const best = new Map<string, { rank: number; issue: ConfigIssue }>();
  for (const err of errors) {
    const converted = convert(err, data);
    if (!converted) continue;
    const path = formatPath(converted.segments);
    const rank = PRIORITY[err.keyword] ?? 3;
    const prev = best.get(path);
    if (prev && prev.rank <= rank) continue;
    const pos = locate(parsed, converted.segments);
    best.set(path, { rank, issue: { path, line: pos.line, column: pos.column, message: converted.message, hint: converted.hint } });
  }
  return [...best.values()].map((b) => b.issue);
}

interface Converted {
  segments: PathSegment[];
  message: string;
  hint: string;
}

/**
 * The issue for one Ajv error. Under a key that looks secret (password, token, apiKey, …) the
 * value is not echoed: the message says "a hidden value" and a hint that would quote it shows ***.
 */
function convert(err: ErrorObject, data: unknown): Converted | undefined {
  const c = convertError(err, data);
  const v: unknown = err.data;
  if (!c || (typeof v !== 'string' && typeof v !== 'number') || String(v) === '') return c;
  if (!c.segments.some((s) => typeof s === 'string' && isSecretKey(s))) return c;
  const hide = (text: string): string => text.split(describe(v)).join('a hidden value').split(String(v)).join('***');
  return { ...c, message: hide(c.message), hint: hide(c.hint) };
}

function convertError(err: ErrorObject, data: unknown): Converted | undefined {
  const segments = pointerToSegments(err.instancePath, data);
  const path = formatPath(segments);
  const where = path || 'The config';
  const schema = (err.parentSchema ?? {}) as Schema;
  const value = err.data;
  const p = err.params as Record<string, any>;

  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = Object.keys(schema.properties ?? {});
      const container = path ? `in ${path}` : 'at the top level';
      const near = closest(key, allowed);
      return {
        segments: [...segments, key],
        message: `Unknown key '${key}' ${container}; the allowed keys are ${allowed.join(', ')}${schema['patternProperties'] ? ' and any key starting with x-' : ''}.`,
        hint: near
          ? `Did you mean '${near}'? Rename ${key} to ${near}.`
          : `Remove ${key}, or correct its spelling to one of the allowed keys.`,
      };
    }
    case 'required': {
      const key = String(p.missingProperty);
      // The discriminator error on the same object says it better.
      if (schema.discriminator) return undefined;
      return {
        segments: [...segments, key],
        message: `${formatPath([...segments, key])} is required but missing.`,
        hint: `Add a ${key}: line ${path ? `under ${path}` : 'at the top level'}.`,
      };
    }
    case 'discriminator': {
      const tags = (schema.oneOf ?? []).map((s) => String((s.properties?.['type'] as Schema | undefined)?.['const']));
      const tagPath = formatPath([...segments, String(p.tag)]);
      const missing = p.tagValue === undefined;
      return {
        segments: [...segments, String(p.tag)],
        message: missing
          ? `${where} has no ${p.tag}; it must be one of ${tags.join(', ')}.`
          : `${tagPath} must be one of ${tags.join(', ')}; got ${describe(p.tagValue)}.`,
        hint: `${missing ? 'Add' : 'Set'} ${p.tag}: ${orList(tags)}.`,
      };
    }
    case 'enum':
    case 'const': {
      const allowed: unknown[] = err.keyword === 'enum' ? p.allowedValues : [p.allowedValue];
      const near = typeof value === 'string' ? closest(value, allowed.map(String)) : undefined;
      const list = orList(allowed.map((v) => (v === schema.default ? `${String(v)} (the default)` : String(v))));
      return {
        segments,
        message: `${where} must be one of ${allowed.map(String).join(', ')}; got ${describe(value)}.`,
        hint: `${near ? `Did you mean ${near}? ` : ''}Set it to ${list}.`,
      };
    }
    case 'type':
      return { segments, ...typeMessage(where, segments, [p.type].flat() as string[], value, schema) };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const bound = { minimum: 'at least', maximum: 'at most', exclusiveMinimum: 'greater than', exclusiveMaximum: 'less than' }[err.keyword];
      return {
        segments,
        message: `${where} must be ${bound} ${p.limit}; got ${describe(value)}.`,
        hint: `Use ${schema.type === 'integer' ? 'a whole number' : 'a number'} ${rangeText(schema)}${defaultText(schema)}.`,
      };
    }
    case 'minLength':
      return {
        segments,
        message: `${where} must not be empty.`,
        hint: schema.default !== undefined
          ? `Set it to a value, or remove the line to use the default (${String(schema.default)}).`
          : 'Set it to a non-empty value.',
      };
    case 'pattern': {
      const text = PATTERN_TEXT[String(p.pattern)] ?? `match the pattern ${p.pattern}`;
      return { segments, message: `${where} must ${text}; got ${describe(value)}.`, hint: `Change it so that it ${text.replace(/^start /, 'starts ').replace(/^match /, 'matches ')}.` };
    }
    case 'format':
      return { segments, message: `${where} must be a valid ${p.format}; got ${describe(value)}.`, hint: `Write a complete ${p.format}, e.g. https://api.openai.com/v1.` };
    default:
      return {
        segments,
        message: `${where} ${err.message ?? 'is invalid'}.`,
        hint: 'Check this value against the configuration reference in the README.',
      };
  }
}

function typeMessage(where: string, segments: PathSegment[], expected: string[], value: unknown, schema: Schema): Omit<Converted, 'segments'> {
  const want = expected.map(typeName).join(' or ');
  const message = `${where} must be ${want}; got ${describe(value)}.`;
  const key = String(segments[segments.length - 1] ?? 'key');
  const numeric = expected.includes('integer') || expected.includes('number');
  let hint: string;
  if (value === null) {
    hint = expected.includes('object')
      ? `Indent its keys on the lines below ${key}:, or remove the empty ${key}: line.`
      : `Give ${key} a value, or remove the line${schema.default !== undefined ? ` to use the default (${JSON.stringify(schema.default)})` : ''}.`;
  } else if (numeric && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    hint = `Remove the quotes so YAML reads ${value.trim()} as a number.`;
  } else if (expected.includes('integer') && typeof value === 'number') {
    hint = `Use a whole number without a decimal point${defaultText(schema)}.`;
  } else if (expected.includes('boolean') && typeof value === 'string' && /^(true|false|yes|no|on|off)$/i.test(value.trim())) {
    hint = 'Write true or false without quotes; YAML 1.2 reads yes, no, on and off as text.';
  } else if (expected.includes('string') && (typeof value === 'number' || typeof value === 'boolean')) {
    hint = `Put the value in quotes, e.g. ${key}: "${String(value)}".`;
  } else if (expected.includes('object') && schema.discriminator && typeof value === 'string') {
    hint = `Write each source as a mapping, e.g. - type: ${value}.`;
  } else if (expected.includes('object') && Array.isArray(value)) {
    hint = `Write ${key} as key: value lines indented under it, not as a list of - items.`;
  } else if (expected.includes('array')) {
    hint = `Write ${key} as a list, one "- " item per entry.`;
  } else {
    hint = `Change ${key} to ${want}${defaultText(schema)}.`;
  }
  return { message, hint };
}

/** Splits a JSON pointer into path segments; array indexes become numbers. */
export function pointerToSegments(pointer: string, data: unknown): PathSegment[] {
  if (!pointer) return [];
  const out: PathSegment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(key)) {
      out.push(Number(key));
      cur = cur[Number(key)];
    } else {
      out.push(key);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}

function typeName(t: string): string {
  const names: Record<string, string> = {
    integer: 'a whole number', number: 'a number', string: 'text (a string)', boolean: 'true or false',
    object: 'a mapping of keys', array: 'a list', null: 'empty',
  };
  return names[t] ?? t;
}

/** A value as an operator would recognise it in the file. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (an empty value)';
  if (typeof v === 'string') return `'${v.length > 60 ? `${v.slice(0, 57)}...` : v}'`;
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function rangeText(s: Schema): string {
  const lo = s.minimum !== undefined ? `${s.minimum}` : s.exclusiveMinimum !== undefined ? `above ${s.exclusiveMinimum}` : undefined;
  const hi = s.maximum !== undefined ? `${s.maximum}` : s.exclusiveMaximum !== undefined ? `below ${s.exclusiveMaximum}` : undefined;
  if (s.minimum !== undefined && s.maximum !== undefined) return `from ${lo} to ${hi}`;
  if (lo && hi) return `${lo} and ${hi}`;
  if (s.minimum !== undefined) return `of at least ${lo}`;
  if (lo) return `greater than ${s.exclusiveMinimum}`;
  if (s.maximum !== undefined) return `of at most ${hi}`;
  return hi ? `less than ${s.exclusiveMaximum}` : 'in range';
}

function defaultText(s: Schema): string {
  return s.default !== undefined ? `; the default is ${JSON.stringify(s.default)}` : '';
}

/** `['a','b','c']` → `a, b or c`. */
function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** The candidate nearest to `word` (case-insensitive, transpositions count once), if it is near enough. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  const limit = word.length <= 3 ? 1 : word.length <= 8 ? 2 : 3;
  return bestDist <= limit ? best : undefined;
}

/** Optimal-string-alignment edit distance. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
