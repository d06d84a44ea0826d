#!/usr/bin/env node
/**
 * Replaces every raw 'HMD_ERR_*' string literal in the given folders with the catalogue constant
 * (`ErrorCode.HMD_ERR_X` from sdk/errors.ts) and adds the import, so the type checker catches a
 * misspelt code. Safe to run again: a file without raw codes is left as it is.
 *
 *   node tools/codemod-error-codes.mjs [--check] [folder ...]     (default folders: daemon config)
 *
 * --check changes nothing: it lists the raw codes and exits 1 when there are any
 * (test/unit/error-catalogue.test.ts runs it so). A code that is not in the catalogue is never
 * replaced: it is reported, and the exit code is 1.
 *
 * Where a literal stands decides what it becomes:
 *   value            'HMD_ERR_X'            → ErrorCode.HMD_ERR_X
 *   `as const`       'HMD_ERR_X' as const   → ErrorCode.HMD_ERR_X
 *   type             code: 'HMD_ERR_X'      → code: typeof ErrorCode.HMD_ERR_X
 *   property name    { 'HMD_ERR_X': 1 }     → { [ErrorCode.HMD_ERR_X]: 1 }
 * The import goes into an existing import from sdk/errors.js or sdk/index.js when there is one
 * (a type-only `ErrorCode` import becomes a value import), else a new line after the imports.
 * Only the literals and the import lines change; nothing is reformatted.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CATALOGUE = join(ROOT, 'sdk', 'errors.ts');
const SDK_MODULES = [join(ROOT, 'sdk', 'errors.ts'), join(ROOT, 'sdk', 'index.ts')];
const NAME = 'ErrorCode';
const RAW = /^HMD_ERR_[A-Z0-9_]+$/;

/** The codes of ERROR_CODES in the catalogue. */
function catalogueCodes() {
  const sf = parse(CATALOGUE, readFileSync(CATALOGUE, 'utf8'));
  const codes = new Set();
  const visit = (n) => {
    if (ts.isVariableDeclaration(n) && n.name.getText(sf) === 'ERROR_CODES') {
      let init = n.initializer;
      while (init && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init))) init = init.expression;
      if (init && ts.isObjectLiteralExpression(init)) for (const p of init.properties) if (p.name) codes.add(p.name.getText(sf).replace(/^['"]|['"]$/g, ''));
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  if (codes.size === 0) throw new Error(`Found no ERROR_CODES in ${CATALOGUE}.`);
  return codes;
}

function parse(file, text) {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

function tsFiles(dir) {
  return readdirSync(dir).sort().flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'node_modules' ? [] : tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Raw code literals of a file, each with the edit that replaces it. */
function findLiterals(sf) {
  const found = [];
  const visit = (n) => {
    if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) && RAW.test(n.text)) found.push(editFor(sf, n));
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

function editFor(sf, lit) {
  const code = lit.text;
  const p = lit.parent;
  const at = sf.getLineAndCharacterOfPosition(lit.getStart(sf));
  const base = { code, line: at.line + 1, column: at.character + 1 };
  if (ts.isImportDeclaration(p) || ts.isExportDeclaration(p) || ts.isExternalModuleReference(p) || ts.isEnumMember(p) || (ts.isLiteralTypeNode(p) && ts.isImportTypeNode(p.parent))) {
    return { ...base, unsupported: `a literal in ${ts.SyntaxKind[ts.isLiteralTypeNode(p) ? p.parent.kind : p.kind]} cannot become a constant` };
  }
  if (ts.isLiteralTypeNode(p)) return { ...base, start: p.getStart(sf), end: p.getEnd(), text: `typeof ${NAME}.${code}` };
  if (ts.isAsExpression(p) && p.expression === lit && ts.isTypeReferenceNode(p.type) && p.type.typeName.getText(sf) === 'const') {
    return { ...base, start: p.getStart(sf), end: p.getEnd(), text: `${NAME}.${code}` };
  }
  if ((ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p)) && p.name === lit) {
    return { ...base, start: lit.getStart(sf), end: lit.getEnd(), text: `[${NAME}.${code}]` };
  }
  return { ...base, start: lit.getStart(sf), end: lit.getEnd(), text: `${NAME}.${code}` };
}

function resolveSpecifier(file, spec) {
  if (!spec.startsWith('.')) return undefined;
  return resolve(dirname(file), spec).replace(/\.js$/, '.ts');
}

/** The edits that make `ErrorCode` a value in scope, or an error when a local name is in the way. */
function importEdits(sf, file) {
  const imports = sf.statements.filter(ts.isImportDeclaration);
  let fromSdk;
  for (const d of imports) {
    const clause = d.importClause;
    const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings : undefined;
    const target = resolveSpecifier(file, d.moduleSpecifier.text);
    const spec = named?.elements.find((e) => e.name.text === NAME);
    if (spec) {
      const imported = (spec.propertyName ?? spec.name).text;
      if (imported !== NAME || !SDK_MODULES.includes(target)) return { error: `it imports another ${NAME} (from ${d.moduleSpecifier.text})` };
      if (clause.isTypeOnly) {
        // `import type { A, ErrorCode }`: take ErrorCode out into a value import of its own.
        const rest = named.elements.filter((e) => e !== spec);
        const edits = [];
        if (rest.length === 0) edits.push({ start: clause.getStart(sf), end: clause.getStart(sf) + 'type '.length, text: '' });
        else {
          edits.push(removeSpecifier(sf, named, spec));
          edits.push({ start: d.getEnd(), end: d.getEnd(), text: `\nimport { ${NAME} } from '${d.moduleSpecifier.text}';` });
        }
        return { edits };
      }
      if (spec.isTypeOnly) return { edits: [{ start: spec.getStart(sf), end: spec.name.getStart(sf), text: '' }] };
      return { edits: [] };
    }
    if (!fromSdk && !clause?.isTypeOnly && named && SDK_MODULES.includes(target)) fromSdk = named;
  }
  if (declaresLocally(sf)) return { error: `it declares its own ${NAME}` };
  if (fromSdk) return { edits: [addSpecifier(sf, fromSdk)] };
  const rel = relative(dirname(file), SDK_MODULES[0]).split(sep).join('/').replace(/\.ts$/, '.js');
  const spec = rel.startsWith('.') ? rel : `./${rel}`;
  const line = `import { ${NAME} } from '${spec}';`;
  if (imports.length === 0) {
    // Before the first statement, after the file's leading comment.
    const at = sf.statements.length ? sf.statements[0].getStart(sf) : text(sf).length;
    return { edits: [{ start: at, end: at, text: `${line}\n\n` }] };
  }
  const last = imports[imports.length - 1];
  return { edits: [{ start: last.getEnd(), end: last.getEnd(), text: `\n${line}` }] };
}

function text(sf) {
  return sf.getFullText();
}

function declaresLocally(sf) {
  let found = false;
  const visit = (n) => {
    if (found) return;
    if ((ts.isVariableDeclaration(n) || ts.isTypeAliasDeclaration(n) || ts.isInterfaceDeclaration(n) || ts.isClassDeclaration(n) || ts.isEnumDeclaration(n) || ts.isFunctionDeclaration(n)) && n.name && ts.isIdentifier(n.name) && n.name.text === NAME) found = true;
    else ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

/** Adds `ErrorCode` to `{ … }`: in name order when the list is sorted, else at its end; one per line when the list is. */
function addSpecifier(sf, named) {
  const els = named.elements;
  if (els.length === 0) return { start: named.getStart(sf) + 1, end: named.getEnd() - 1, text: ` ${NAME} ` };
  const key = (e) => e.name.text.toLowerCase();
  const sorted = els.every((e, i) => i === 0 || key(els[i - 1]) <= key(e));
  const before = sorted ? els.find((e) => key(e) > NAME.toLowerCase()) : undefined;
  const full = sf.getFullText();
  const multiline = named.getText(sf).includes('\n');
  const indentOf = (e) => {
    const start = e.getStart(sf);
    const lineStart = full.lastIndexOf('\n', start - 1) + 1;
    return full.slice(lineStart, start);
  };
  if (before) {
    const sep = multiline ? `,\n${indentOf(before)}` : ', ';
    return { start: before.getStart(sf), end: before.getStart(sf), text: `${NAME}${sep}` };
  }
  const last = els[els.length - 1];
  if (!multiline) return { start: last.getEnd(), end: last.getEnd(), text: `, ${NAME}` };
  if (els.hasTrailingComma) {
    const comma = full.indexOf(',', last.getEnd()) + 1;
    return { start: comma, end: comma, text: `\n${indentOf(last)}${NAME},` };
  }
  return { start: last.getEnd(), end: last.getEnd(), text: `,\n${indentOf(last)}${NAME}` };
}

function removeSpecifier(sf, named, spec) {
  const els = named.elements;
  const i = els.indexOf(spec);
  if (i < els.length - 1) return { start: spec.getStart(sf), end: els[i + 1].getStart(sf), text: '' };
  return { start: els[i - 1].getEnd(), end: spec.getEnd(), text: '' };
}

function apply(text, edits) {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start || b.end - a.end)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

function main(argv) {
  const check = argv.includes('--check');
  const unknownFlags = argv.filter((a) => a.startsWith('-') && a !== '--check');
  if (unknownFlags.length) {
    console.error(`Unknown option ${unknownFlags.join(', ')}; usage: node tools/codemod-error-codes.mjs [--check] [folder ...]`);
    return 2;
  }
  const dirs = argv.filter((a) => !a.startsWith('-'));
  const roots = (dirs.length ? dirs : ['daemon', 'config']).map((d) => resolve(ROOT, d));
  const codes = catalogueCodes();
  const problems = [];
  let replaced = 0;
  let changedFiles = 0;
  for (const file of roots.flatMap(tsFiles)) {
    if (file === CATALOGUE) continue;
    const text = readFileSync(file, 'utf8');
    if (!/HMD_ERR_/.test(text)) continue;
    const sf = parse(file, text);
    const found = findLiterals(sf);
    if (found.length === 0) continue;
    const name = relative(ROOT, file).split(sep).join('/');
    const where = (f) => `${name}:${f.line}:${f.column}`;
    if (check) {
      for (const f of found) {
        problems.push(codes.has(f.code)
          ? `${where(f)} '${f.code}' is a raw code; run node tools/codemod-error-codes.mjs to use ${NAME}.${f.code}.`
          : `${where(f)} '${f.code}' is not in the catalogue (sdk/errors.ts ERROR_CODES); correct it or add the code there and to docs/errors.md.`);
      }
      continue;
    }
    const edits = [];
    for (const f of found) {
      if (!codes.has(f.code)) problems.push(`${where(f)} '${f.code}' is not in the catalogue (sdk/errors.ts ERROR_CODES); correct it or add the code there and to docs/errors.md.`);
      else if (f.unsupported) problems.push(`${where(f)} '${f.code}' was left as it is: ${f.unsupported}.`);
      else edits.push(f);
    }
    if (edits.length === 0) continue;
    const imp = importEdits(sf, file);
    if (imp.error) {
      problems.push(`${name} was left as it is: ${imp.error}; rename it, then run the codemod again.`);
      continue;
    }
    writeFileSync(file, apply(text, [...edits, ...imp.edits]));
    replaced += edits.length;
    changedFiles++;
  }
  for (const p of problems) console.error(p);
  if (check) {
    console.log(problems.length ? `${problems.length} raw error codes found.` : 'No raw error codes.');
  } else {
    console.log(`Replaced ${replaced} raw error codes in ${changedFiles} files.`);
  }
  return problems.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
