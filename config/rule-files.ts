/**
 * The rule files of `rulesPath`: every `*.yaml` (or `*.yml`) file directly in the folder, in name
 * order, each holding one rule (a mapping) or a list of rules. Files are parsed with positions and
 * `${VAR}` interpolated like the config file, so a problem names the rule file and its line.
 * Problems with a file itself (unreadable, not YAML, neither a rule nor a list) are reported here;
 * problems inside a rule are the rule compiler's (rule-set.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigIssue } from './errors.js';
import { interpolate, parseYaml, type ParsedYaml, type PathSegment } from './yaml-doc.js';

/** One rule read from somewhere, with what is needed to point at it. */
export interface RuleItem {
  spec: unknown;
  /** The rule file, or undefined for a rule of the config file's `rules:`. */
  file: string | undefined;
  parsed: ParsedYaml;
  text: string;
  /** Path of the rule inside its document: ['rules', 2] in the config, [0] or [] in a rule file. */
  base: PathSegment[];
}

export interface RuleFiles {
  items: RuleItem[];
  /** The files read, in order. */
  files: string[];
  issues: ConfigIssue[];
}

const RULE_FILE = /^[^.].*\.ya?ml$/;

/** Reads the rule files of `dir`. A folder that cannot be listed is one issue, with no position (the caller places it). */
export function readRuleFiles(dir: string, env: Record<string, string | undefined>): RuleFiles {
  const out: RuleFiles = { items: [], files: [], issues: [] };
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      out.issues.push({ path: 'rulesPath', message: `rulesPath is ${dir}, which is a file, not a folder.`, hint: 'Point rulesPath at a folder of *.yaml rule files, or list the rules under rules:.' });
      return out;
    }
    names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile() && RULE_FILE.test(d.name)).map((d) => d.name).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    out.issues.push({
      path: 'rulesPath',
      message: code === 'ENOENT' ? `rulesPath is ${dir}, which does not exist.` : `rulesPath ${dir} cannot be read: ${(err as Error).message}.`,
      hint: code === 'ENOENT' ? 'Create the folder (it may be empty), or fix rulesPath; it is relative to the config file.' : 'Make the folder readable by the user that runs heimdall.',
    });
    return out;
  }
  for (const name of names) {
    const file = join(dir, name);
    out.files.push(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      out.issues.push({ file, path: '', message: `The rule file cannot be read: ${(err as Error).message}.`, hint: 'Make it readable by the user that runs heimdall, or remove it.' });
      continue;
    }
    readOne(file, text, env, out);
  }
  return out;
}

function readOne(file: string, text: string, env: Record<string, string | undefined>, out: RuleFiles): void {
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) {
    for (const i of parsed.issues) out.issues.push({ ...i, file });
    return;
  }
  const interp = interpolate(parsed, env);
  if (interp.issues.length > 0) {
    for (const i of interp.issues) out.issues.push({ ...i, file });
    return;
  }
  let data: unknown;
  try {
    data = parsed.doc.toJS();
  } catch (err) {
    out.issues.push({ file, path: '', line: 1, column: 1, message: `The rule file could not be read as YAML: ${(err as Error).message}.`, hint: 'Use fewer aliases (*name) or write the values out.' });
    return;
  }
  if (data === null || data === undefined) return; // an empty file holds no rules
  if (Array.isArray(data)) {
    data.forEach((spec, i) => out.items.push({ spec, file, parsed, text, base: [i] }));
    return;
  }
  if (typeof data === 'object') {
    out.items.push({ spec: data, file, parsed, text, base: [] });
    return;
  }
  out.issues.push({
    file,
    path: '',
    line: 1,
    column: 1,
    message: `A rule file holds one rule (a mapping with name, on and actions) or a list of rules, but this one holds a single value.`,
    hint: 'Write the rule as name:, on: and actions: lines, or a list of such rules, one "- " item each.',
  });
}
