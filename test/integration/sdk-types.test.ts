/**
 * The SDK's types for plugin authors outside the repository: `npm install -D <this checkout>` in an
 * empty folder, then `heimdall/sdk` and `heimdall/sdk/testing` type-check under strict, and so
 * does the README's own plugin example, taken from the README as it is.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT } from '../helpers/paths.js';
import { TSC, npmInstallOffline, run } from '../helpers/run-command.js';

const dir = mkdtempSync(join(tmpdir(), 'heimdall-types-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TSCONFIG = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true }, include: ['*.ts'] };

/** The README's plugin example: the first ```ts block of the section "Writing a plugin (SDK)". */
export function readmePluginExample(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing a plugin'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'the README has a ```ts block under "Writing a plugin"');
  return m[1]!;
}

async function typecheck(files: Record<string, string>): Promise<{ code: number | null; out: string }> {
  for (const f of ['example.ts', 'kit.ts', 'broken.ts']) rmSync(join(dir, f), { force: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return run(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
}

before(async () => {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'outside', version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  const r = await npmInstallOffline(dir, ['-D', REPO_ROOT]);
  assert.equal(r.code, 0, r.out);
});

test("the README's plugin example type-checks under strict in a folder outside the repository", async () => {
  const example = readmePluginExample();
  assert.match(example, /definePlugin<\w+>\(/, 'the example shows definePlugin<Config>');
  const r = await typecheck({ 'example.ts': example });
  assert.equal(r.code, 0, r.out);
});

test('heimdall/sdk and heimdall/sdk/testing resolve with their types after npm install -D <checkout>, and the check is real', async () => {
  const kit = [
    "import { definePlugin, ReadOnlyError, type DatabaseEvent } from 'heimdall/sdk';",
    "import { createTestKit, type TestKit } from 'heimdall/sdk/testing';",
    "const p = definePlugin<{ n: number }>({ name: 'p', version: '1', onDatabaseEvent(e: DatabaseEvent, ctx) { const x: number = ctx.config.n; void x; void e; } });",
    "const k: TestKit<{ n: number }> = createTestKit(p, { config: { n: 1 }, write: true, database: [{ match: 'RETURN', rows: [{ x: 1 }] }], model: 'hi', confirm: true });",
    "const k2: Promise<TestKit<{ n: number }>> = createTestKit<{ n: number }>(new URL('./p.ts', import.meta.url));",
    'void k; void k2; void ReadOnlyError;',
    '',
  ].join('\n');
  const ok = await typecheck({ 'kit.ts': kit });
  assert.equal(ok.code, 0, ok.out);
  const broken = await typecheck({ 'broken.ts': "import { definePlugin } from 'heimdall/sdk';\ndefinePlugin<{ n: number }>({ name: 'p', version: '1', init(ctx) { const s: string = ctx.config.n; void s; } });\n" });
  assert.notEqual(broken.code, 0);
  assert.match(broken.out, /Type 'number' is not assignable to type 'string'/);
});
