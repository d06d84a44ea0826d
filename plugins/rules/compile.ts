/**
 * compileRules: checks a list of rules and compiles the good ones (structure by JSON Schema, `when`
 * and `window.by` as CEL, every action input as templates). A broken rule is reported with its
 * name, the path inside it and a sentence, and never keeps the others from compiling.
 *
 * Pure and safe on any thread: `heimdall validate` can call it on the main thread.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { compileCel } from './conditions.js';
import { ACTION_BODY_SCHEMAS, RULE_SCHEMA, actionSchema, parseDuration } from './rule-schema.js';
import { compileTemplate, type TemplateError } from './templates.js';
import { ACTION_TYPES, type ActionType, type CompileResult, type CompiledAction, type CompiledRule, type RetryPolicy, type RuleError, type RuleSpec } from './types.js';

const ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true });
const validateRule = ajv.compile(RULE_SCHEMA);
const validateAction = Object.fromEntries(ACTION_TYPES.map((t) => [t, ajv.compile(actionSchema(t))])) as Record<ActionType, ValidateFunction>;

const NAME_RE = /^[a-z][a-z0-9-]*$/;

/** `/actions/0/webhook/url` → `actions[0].webhook.url`. */
function pathOf(pointer: string, prefix = ''): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  }
  return out;
}

function schemaMessage(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `needs the key "${String(p.missingProperty)}"`;
    case 'additionalProperties':
      return `has an unknown key "${String(p.additionalProperty)}"${e.parentSchema && typeof e.parentSchema === 'object' && 'properties' in e.parentSchema ? ` (known keys: ${Object.keys((e.parentSchema as { properties: object }).properties).join(', ')})` : ''}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'minItems':
      return `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long`;
    case 'type':
      return `must be ${String(p.type).replace(',', ' or ')}`;
    case 'pattern': {
      const pattern = String(p.pattern);
      if (pattern.includes('ms|s|m|h|d')) return "must be a duration such as '500ms', '2s', '5m' or '1h'";
      if (pattern.includes('node')) return 'must be an event type such as "node.updated", a family such as "node.*", or "*"';
      if (pattern.includes('[a-z][a-z0-9-]*')) return 'must match [a-z][a-z0-9-]* (lower-case letters, digits and dashes, starting with a letter)';
      return `must match ${pattern}`;
    }
    default:
      return e.message ?? 'is invalid';
  }
}

/** Schema errors, one per path and message, most specific first. */
function schemaErrors(errors: ErrorObject[] | null | undefined, prefix: string): Array<{ path: string; message: string }> {
  const seen = new Set<string>();
  const out: Array<{ path: string; message: string }> = [];
  for (const e of errors ?? []) {
    const path = pathOf(e.instancePath, prefix);
    const message = schemaMessage(e);
    if (seen.has(path + message)) continue;
    seen.add(path + message);
    out.push({ path, message });
  }
  return out;
}

const asList = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? [...v] : [v]);

function retryPolicy(r: RuleSpec['actions'][number]['retry']): RetryPolicy {
  return { maxAttempts: r?.maxAttempts ?? 1, initialDelayMs: r?.initialDelayMs ?? 1000, backoff: r?.backoff ?? 'exponential', maxDelayMs: r?.maxDelayMs ?? 30_000 };
}

interface Problem {
  path: string;
  message: string;
  position?: { line: number; column: number };
}

/** Compiles the actions of one rule; problems go to `problems`. */
function compileActions(actions: unknown[], problems: Problem[]): CompiledAction[] {
  const out: CompiledAction[] = [];
  actions.forEach((a, j) => {
    const at = `actions[${j}]`;
    if (!a || typeof a !== 'object' || Array.isArray(a)) {
      problems.push({ path: at, message: 'must be an object with one action key' });
      return;
    }
    const types = ACTION_TYPES.filter((t) => t in a);
    if (types.length !== 1) {
      problems.push({ path: at, message: types.length === 0 ? `needs one action key: ${ACTION_TYPES.join(', ')}` : `has ${types.join(' and ')}; an action has exactly one of ${ACTION_TYPES.join(', ')}` });
      return;
    }
    const type = types[0]!;
    const v = validateAction[type];
    const before = problems.length;
    if (!v(a)) for (const e of schemaErrors(v.errors, at)) problems.push(e);
    const spec = a as Record<string, unknown> & { timing?: 'sync' | 'async'; retry?: RuleSpec['actions'][number]['retry']; continueOnError?: boolean };
    const body = spec[type] as Record<string, unknown>;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return;
    const tErrors: TemplateError[] = [];
    const base = `${at}.${type}`;
    if (type === 'cypher' && /\{\{|\{%/.test(String(body.statement))) {
      problems.push({ path: `${base}.statement`, message: 'is a template, and Cypher statements are never templated (that would let event data rewrite the query); pass values in params and refer to them as $name' });
    }
    if (type === 'webhook' && !/\{\{|\{%/.test(String(body.url)) && !/^https?:\/\/[^\s/]+/.test(String(body.url))) {
      problems.push({ path: `${base}.url`, message: 'must be an http:// or https:// URL' });
    }
    const literal = new Set([`${base}.statement`, `${base}.level`, `${base}.method`]);
    const input = compileTemplate(body, base, tErrors, (p) => literal.has(p));
    for (const e of tErrors) problems.push(e);
    const r = spec.retry;
    if (r && typeof r === 'object' && typeof r.maxDelayMs === 'number' && typeof r.initialDelayMs === 'number' && r.maxDelayMs < r.initialDelayMs) {
      problems.push({ path: `${at}.retry.maxDelayMs`, message: 'is smaller than initialDelayMs' });
    }
    if (problems.length > before) return;
    out.push({ index: j, type, timing: spec.timing ?? 'sync', retry: retryPolicy(spec.retry), continueOnError: spec.continueOnError === true, input });
  });
  return out;
}

function where(p: Problem): string {
  const pos = p.position ? ` (line ${p.position.line}, column ${p.position.column})` : '';
  return p.path ? `at ${p.path}${pos}` : `${pos.trim()}`;
}

/** Compiles one rule, or returns its problems. */
export function compileRule(raw: unknown, index: number): { rule?: CompiledRule; name: string; label: string; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { name: `#${index}`, label: `#${index}`, problems: [{ path: '', message: `must be an object with name, on and actions, not ${Array.isArray(raw) ? 'a list' : raw === null ? 'null' : typeof raw}` }] };
  }
  const r = raw as Record<string, unknown>;
  const name = typeof r.name === 'string' && NAME_RE.test(r.name) ? r.name : `#${index}`;
  const label = name.startsWith('#') ? (typeof r.name === 'string' ? `${name} (named ${JSON.stringify(r.name)})` : name) : `"${name}"`;
  if (!validateRule(r)) problems.push(...schemaErrors(validateRule.errors, ''));
  const spec = r as unknown as RuleSpec;
  let when;
  if (typeof spec.when === 'string' && spec.when.length > 0) {
    const c = compileCel(spec.when, true);
    if (c.ok) when = c.program;
    else problems.push({ path: 'when', message: `does not compile: ${c.error.message}`, ...(c.error.position ? { position: c.error.position } : {}) });
  }
  let by;
  if (spec.window && typeof spec.window === 'object' && typeof spec.window.by === 'string' && spec.window.by.length > 0) {
    const c = compileCel(spec.window.by, false);
    if (c.ok) by = c.program;
    else problems.push({ path: 'window.by', message: `does not compile: ${c.error.message}`, ...(c.error.position ? { position: c.error.position } : {}) });
  }
  const actions = Array.isArray(spec.actions) ? compileActions(spec.actions, problems) : [];
  if (problems.length > 0) return { name, label, problems };
  const rule: CompiledRule = {
    name: spec.name,
    description: spec.description ?? '',
    enabled: spec.enabled !== false,
    priority: spec.priority ?? 100,
    order: index,
    on: asList(spec.on)!,
    match: {
      ...(spec.match?.labels !== undefined ? { labels: asList(spec.match.labels)! } : {}),
      ...(spec.match?.relationshipType !== undefined ? { relationshipType: asList(spec.match.relationshipType)! } : {}),
      ...(spec.match?.database !== undefined ? { database: asList(spec.match.database)! } : {}),
      ...(spec.match?.source !== undefined ? { source: asList(spec.match.source)! } : {}),
    },
    ...(when ? { when } : {}),
    ...(spec.window ? { window: { count: spec.window.count, withinMs: parseDuration(spec.window.within)!, ...(by ? { by } : {}) } } : {}),
    debounceMs: spec.debounce ? parseDuration(spec.debounce)! : 0,
    cooldownMs: spec.cooldown ? parseDuration(spec.cooldown)! : 0,
    maxConcurrent: spec.maxConcurrent ?? Infinity,
    actions,
    definition: structuredClone(spec),
  };
  return { rule, name, label, problems };
}

/**
 * Compiles a list of rules. Returns the good ones sorted by priority (lower first, then by
 * position) and one RuleError per problem; a rule with any problem is left out whole.
 */
export function compileRules(rules: readonly unknown[]): CompileResult {
  const out: CompiledRule[] = [];
  const errors: RuleError[] = [];
  const invalid: string[] = [];
  const firstIndex = new Map<string, number>();
  rules.forEach((raw, index) => {
    const { rule, name, label, problems } = compileRule(raw, index);
    const prior = firstIndex.get(name);
    if (!name.startsWith('#')) {
      if (prior !== undefined) problems.push({ path: 'name', message: `repeats the name of rule #${prior}; rule names must be unique` });
      else firstIndex.set(name, index);
    }
    if (problems.length === 0 && rule) {
      out.push(rule);
      return;
    }
    invalid.push(name);
    for (const p of problems) {
      errors.push({
        rule: name,
        index,
        path: p.path,
        message: `The rule ${label} is invalid ${where(p)}: ${p.path ? '' : 'it '}${p.message}.`.replace(/ +/g, ' ').replace(' :', ':'),
        ...(p.position ? { position: p.position } : {}),
      });
    }
  });
  out.sort((a, b) => a.priority - b.priority || a.order - b.order);
  return { rules: out, errors, invalid };
}

/** The action body schemas, re-exported for documentation generators. */
export { ACTION_BODY_SCHEMAS };
