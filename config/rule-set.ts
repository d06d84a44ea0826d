/**
 * The rules of a config: `rules:` first, then the `rulesPath` files in name order, each rule
 * checked by the rules plugin's compiler (its JSON Schema, CEL conditions, templates) on the main
 * thread, so `heimdall validate` and a reload find what the plugin would refuse. A problem is a
 * ConfigIssue with the file and line of the rule (and of the place inside an expression or
 * template), naming the rule. Names are unique across the config and the files: a second rule with
 * a name already used is a problem and is left out.
 */
import { resolve } from 'node:path';
import { compileRule } from '../plugins/rules/compile.js';
import type { ConfigIssue } from './errors.js';
import { readRuleFiles, type RuleItem } from './rule-files.js';
import { positionIn, rulePathSegments } from './rule-positions.js';
import { formatPath, locate, type ParsedYaml } from './yaml-doc.js';

/** A rule that has a problem, for status and `heimdall rules list`. */
export interface InvalidRule {
  /** Its name, or where it is (`rules[3]`, `orders.yaml[1]`) when it has no usable name. */
  name: string;
  /** `file:line:col` of the rule. */
  at: string;
  problems: string[];
}

export interface RuleSet {
  /** The rules to run: every rule but a second one with a name already used, in order. */
  rules: unknown[];
  /** `file:line:col` of each rule in `rules`. */
  origins: string[];
  /** One issue per problem inside a rule. */
  problems: ConfigIssue[];
  invalid: InvalidRule[];
  /** The rule files that were read. */
  files: string[];
  /** The rules folder (absolute), when rulesPath is set. */
  dir?: string;
}

/** What to do, by the kind of problem: [path, message] patterns and the hint. */
const HINTS: Array<[RegExp, RegExp, string]> = [
  [/^(when|window\.by)$/, /compile/, 'Write a CEL expression over event, e.g. event.properties.total > 1000, or changedTo("status", "cancelled"); the README section "Rules" lists the helpers.'],
  [/^actions\[/, /template/, 'Templates are {{ path }} over event, window, rule and now, e.g. {{ event.properties.id }}; Liquid filters such as | round work.'],
];

export interface CollectInput {
  data: Record<string, unknown>;
  parsed: ParsedYaml;
  text: string;
  /** The config file, when there is one. */
  file: string | undefined;
  baseDir: string;
  env: Record<string, string | undefined>;
}

/** Reads and checks every rule. `fatal` are problems with the rule files themselves, never left out quietly. */
export function collectRules(input: CollectInput): { set: RuleSet; fatal: ConfigIssue[] } {
  const { data, parsed, text, file, baseDir, env } = input;
  const fatal: ConfigIssue[] = [];
  const items: RuleItem[] = Array.isArray(data['rules']) ? data['rules'].map((spec, i) => ({ spec, file: undefined, parsed, text, base: ['rules', i] })) : [];
  const set: RuleSet = { rules: [], origins: [], problems: [], invalid: [], files: [] };
  if (typeof data['rulesPath'] === 'string' && data['rulesPath'] !== '') {
    const dir = resolve(baseDir, data['rulesPath']);
    const read = readRuleFiles(dir, env);
    set.dir = dir;
    set.files = read.files;
    items.push(...read.items);
    const pos = locate(parsed, ['rulesPath']);
    for (const i of read.issues) fatal.push(i.file ? i : { ...i, line: pos.line, column: pos.column });
  }
  const seen = new Map<string, string>();
  items.forEach((item, index) => {
    const label = formatPath(item.base) || '(the rule file)';
    const shown = item.file ?? file ?? '<config>';
    const pos = locate(item.parsed, item.base);
    const at = `${shown}:${pos.line}:${pos.column}`;
    const { name, problems } = compileRule(item.spec, index);
    const named = !name.startsWith('#');
    const who = named ? `"${name}"` : `at ${item.file ? `${label} of the rule file` : label}`;
    const issues: ConfigIssue[] = problems.map((p) => {
      const where = positionIn(item.parsed, item.text, [...item.base, ...rulePathSegments(p.path)], p.position);
      const hint = HINTS.find(([path, message]) => path.test(p.path) && message.test(p.message))?.[2];
      return {
        ...(item.file ? { file: item.file } : {}),
        path: formatPath([...item.base, ...rulePathSegments(p.path)]),
        line: where.line,
        column: where.column,
        message: `The rule ${who} is invalid${p.path ? ` at ${p.path}` : ''}: ${p.path ? '' : 'it '}${p.message}.`,
        ...(hint ? { hint } : {}),
      };
    });
    if (named && seen.has(name)) {
      const loc = locate(item.parsed, [...item.base, 'name']);
      issues.push({
        ...(item.file ? { file: item.file } : {}),
        path: formatPath([...item.base, 'name']),
        line: loc.line,
        column: loc.column,
        message: `The rule name "${name}" is already used by the rule at ${seen.get(name)}; rule names must be unique across rules: and the rulesPath files, so this one is left out.`,
        hint: 'Rename one of the two rules.',
      });
    }
    if (issues.length > 0) {
      set.problems.push(...issues);
      set.invalid.push({ name: named ? name : label, at, problems: issues.map((i) => i.message) });
    }
    if (named && seen.has(name)) return;
    if (named) seen.set(name, at);
    set.rules.push(item.spec);
    set.origins.push(at);
  });
  return { set, fatal };
}
