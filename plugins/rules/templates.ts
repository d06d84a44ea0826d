/**
 * Templates in action inputs, rendered by liquidjs: `{{ event.properties.status }}`,
 * `{{ window.count }}`, `{{ rule.name }}`, `{{ now }}`, with Liquid filters such as
 * `{{ event.properties.total | round }}` or `{{ event.properties.note | default: "none" }}`.
 * Liquid runs no code; the tags that read files (include, render, layout) are refused.
 *
 * A string that is exactly one `{{ … }}` keeps the JSON type of its value (a number stays a
 * number, `{{ window.events }}` stays a list); in longer text an object or list renders as JSON.
 * Unknown roots (anything but event, window, rule, now), unknown filters and bad syntax are
 * compile errors.
 */
import { Context, Liquid, Tag, Value, toValueSync, type Template } from 'liquidjs';

/** The roots a template may read. */
export const TEMPLATE_ROOTS = ['event', 'window', 'rule', 'now'] as const;

/** What a template sees. */
export interface TemplateScope {
  event: unknown;
  window: { count: number; events: unknown[]; key?: string };
  rule: { name: string; description: string; priority: number };
  now: string;
}

/** A value of an action input, compiled: literals stay, strings with `{{` become templates. */
export type TemplateNode =
  | { kind: 'literal'; value: unknown }
  | { kind: 'text'; source: string; tpl: Template[] }
  | { kind: 'value'; source: string; value: Value }
  | { kind: 'list'; items: TemplateNode[] }
  | { kind: 'map'; entries: Array<[string, TemplateNode]> };

/** One template problem; `path` is relative to the value handed to compileTemplate. */
export interface TemplateError {
  path: string;
  message: string;
  position?: { line: number; column: number };
}

const liquid = new Liquid({
  strictFilters: true,
  ownPropertyOnly: true,
  templates: {},
  outputEscape: (v: unknown) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v ?? '')),
  parseLimit: 100_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
});
for (const name of ['include', 'render', 'layout', 'block']) {
  liquid.registerTag(
    name,
    class extends Tag {
      constructor(...args: ConstructorParameters<typeof Tag>) {
        super(...args);
        throw new Error(`the {% ${name} %} tag reads files and is not available in rule templates`);
      }
      *render(): Generator<unknown, void, unknown> {
        // never reached: the constructor refuses the tag
      }
    },
  );
}

/** `{{ expr }}` and nothing else (whitespace control dashes allowed). */
const WHOLE = /^\s*\{\{-?((?:(?!\}\}|\{\{)[\s\S])*?)-?\}\}\s*$/;

function liquidPosition(err: unknown): { line: number; column: number } | undefined {
  const m = /line:(\d+), col:(\d+)/.exec(String((err as Error)?.message ?? ''));
  return m ? { line: Number(m[1]), column: Number(m[2]) } : undefined;
}

function liquidMessage(err: unknown): string {
  const e = err as Error & { originalError?: Error };
  const text = e.originalError?.message ?? e.message ?? String(err);
  return text.replace(/, line:\d+, col:\d+$/, '').split('\n')[0]!;
}

function checkRoots(tpl: Template[], path: string, errors: TemplateError[]): boolean {
  let roots: string[];
  try {
    roots = liquid.globalVariablesSync(tpl);
  } catch (err) {
    errors.push({ path, message: `the template cannot be analysed: ${liquidMessage(err)}` });
    return false;
  }
  const bad = roots.filter((r) => !(TEMPLATE_ROOTS as readonly string[]).includes(r));
  if (bad.length === 0) return true;
  errors.push({ path, message: `the template reads ${bad.map((b) => `"${b}"`).join(', ')}, and templates may only read ${TEMPLATE_ROOTS.join(', ')}` });
  return false;
}

function compileString(source: string, path: string, errors: TemplateError[]): TemplateNode {
  if (!source.includes('{{') && !source.includes('{%')) return { kind: 'literal', value: source };
  let tpl: Template[];
  try {
    tpl = liquid.parse(source);
  } catch (err) {
    const position = liquidPosition(err);
    errors.push({ path, message: `the template does not parse: ${liquidMessage(err)}`, ...(position ? { position } : {}) });
    return { kind: 'literal', value: source };
  }
  if (!checkRoots(tpl, path, errors)) return { kind: 'literal', value: source };
  const whole = WHOLE.exec(source);
  if (whole) {
    try {
      return { kind: 'value', source, value: new Value(whole[1]!.trim(), liquid) };
    } catch (err) {
      errors.push({ path, message: `the template does not parse: ${liquidMessage(err)}`, position: { line: 1, column: 1 } });
      return { kind: 'literal', value: source };
    }
  }
  return { kind: 'text', source, tpl };
}

const childPath = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;

/** Compiles every string inside `value` (recursively); problems go to `errors`. */
export function compileTemplate(value: unknown, path: string, errors: TemplateError[], skip: (path: string) => boolean = () => false): TemplateNode {
  if (typeof value === 'string') return skip(path) ? { kind: 'literal', value } : compileString(value, path, errors);
  if (Array.isArray(value)) return { kind: 'list', items: value.map((v, i) => compileTemplate(v, childPath(path, i), errors, skip)) };
  if (value !== null && typeof value === 'object') {
    return { kind: 'map', entries: Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, compileTemplate(v, childPath(path, k), errors, skip)]) };
  }
  return { kind: 'literal', value };
}

/** Makes a value JSON-safe: drops undefined and functions, turns bigints into numbers. */
function plain(v: unknown): unknown {
  if (v === undefined || typeof v === 'function') return null;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined && typeof x !== 'function') out[k] = plain(x);
    return out;
  }
  return v;
}

/** Renders a compiled tree; throws (an Error with a sentence) when a filter fails while rendering. */
export function renderTemplate(node: TemplateNode, scope: TemplateScope): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'text':
      return String(liquid.renderSync(node.tpl, scope));
    case 'value': {
      const ctx = new Context(scope, liquid.options, {}, { liquid } as never);
      return plain(toValueSync(node.value.value(ctx)));
    }
    case 'list':
      return node.items.map((n) => renderTemplate(n, scope));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, n] of node.entries) out[k] = renderTemplate(n, scope);
      return out;
    }
  }
}

/** Whether a compiled tree holds any template (false: it renders to itself). */
export function hasTemplates(node: TemplateNode): boolean {
  switch (node.kind) {
    case 'literal':
      return false;
    case 'text':
    case 'value':
      return true;
    case 'list':
      return node.items.some(hasTemplates);
    case 'map':
      return node.entries.some(([, n]) => hasTemplates(n));
  }
}
