/**
 * The test runner behind `npm test` (after tsc): starts ONE real Neo4j for the whole run, then runs
 * `node --test --test-concurrency=1` on every *.test.js under dist/test/unit and dist/test/integration.
 *
 *   node dist/test/run-tests.js [node --test flags...] [file filters...]
 *
 * - Arguments starting with "-" go to `node --test` (e.g. --test-name-pattern=outbox).
 * - Other arguments keep only test files whose path contains one of them (e.g. `outbox` or
 *   `test/integration/neo4j-launcher.test.ts`; .ts source paths are mapped to their dist/ .js files).
 * - HEIMDALL_TEST_NO_NEO4J=1 starts no Neo4j (quick unit runs); tests that need Neo4j then fail, with that reason.
 * - HEIMDALL_TEST_NEO4J_URI (with _USER and _PASSWORD) already set: that Neo4j is used and none is started.
 *   It must be one you can wipe, such as the one from `npm run neo4j`.
 *
 * Tests find Neo4j through HEIMDALL_TEST_NEO4J_URI, _USER, _PASSWORD, or learn why there is none from
 * HEIMDALL_TEST_NEO4J_ERROR (see test/helpers/neo4j.ts). Exits with the exit code of the test process.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { repoRoot, startNeo4j, type Neo4jInstance } from '../neo4j/launcher.js';

const log = (line: string): void => console.error(`[run-tests] ${line}`);

function findTestFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTestFiles(p));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** `test/unit/x.test.ts` → `dist/test/unit/x.test.js`; other filters are used as they are. */
function normaliseFilter(filter: string): string {
  const f = filter.split(sep).join('/').replace(/^\.\//, '');
  if (/\.ts$/.test(f)) return (f.startsWith('dist/') ? f : `dist/${f}`).replace(/\.ts$/, '.js');
  return f;
}

async function main(): Promise<number> {
  const root = repoRoot();
  const args = process.argv.slice(2);
  const nodeTestFlags = args.filter((a) => a.startsWith('-'));
  const filters = args.filter((a) => !a.startsWith('-')).map(normaliseFilter);

  const all = [join(root, 'dist', 'test', 'unit'), join(root, 'dist', 'test', 'integration')]
    .flatMap(findTestFiles)
    .map((p) => relative(root, p).split(sep).join('/'))
    .sort();
  if (all.length === 0) {
    log('Found no *.test.js files under dist/test/unit or dist/test/integration; compile first with `npx tsc -p tsconfig.json` (npm test does this).');
    return 1;
  }
  const files = filters.length ? all.filter((f) => filters.some((flt) => f.includes(flt))) : all;
  if (files.length === 0) {
    log(`No test file matches ${filters.map((f) => `"${f}"`).join(', ')}; the test files are:\n  ${all.join('\n  ')}`);
    return 1;
  }

  const env: NodeJS.ProcessEnv = { ...process.env };
  let neo4j: Neo4jInstance | undefined;
  if (env.HEIMDALL_TEST_NO_NEO4J === '1') {
    for (const k of ['HEIMDALL_TEST_NEO4J_URI', 'HEIMDALL_TEST_NEO4J_USER', 'HEIMDALL_TEST_NEO4J_PASSWORD']) delete env[k];
    env.HEIMDALL_TEST_NEO4J_ERROR = 'HEIMDALL_TEST_NO_NEO4J=1 is set, so this run started no Neo4j; unset it to run the tests that need Neo4j.';
    log('HEIMDALL_TEST_NO_NEO4J=1: not starting Neo4j; tests that need it will fail.');
  } else if (env.HEIMDALL_TEST_NEO4J_URI) {
    env.HEIMDALL_TEST_NEO4J_USER ??= 'neo4j';
    env.HEIMDALL_TEST_NEO4J_PASSWORD ??= '';
    delete env.HEIMDALL_TEST_NEO4J_ERROR;
    log(`Using the Neo4j at ${env.HEIMDALL_TEST_NEO4J_URI} from HEIMDALL_TEST_NEO4J_URI; tests will wipe its neo4j database.`);
  } else {
    try {
      neo4j = await startNeo4j({ auth: true, log });
      env.HEIMDALL_TEST_NEO4J_URI = neo4j.uri;
      env.HEIMDALL_TEST_NEO4J_USER = neo4j.user;
      env.HEIMDALL_TEST_NEO4J_PASSWORD = neo4j.password;
      delete env.HEIMDALL_TEST_NEO4J_ERROR;
    } catch (err) {
      const reason = (err as Error).message;
      for (const k of ['HEIMDALL_TEST_NEO4J_URI', 'HEIMDALL_TEST_NEO4J_USER', 'HEIMDALL_TEST_NEO4J_PASSWORD']) delete env[k];
      env.HEIMDALL_TEST_NEO4J_ERROR = reason.includes('\n') ? `${reason.split('\n')[0]} (the test runner printed the rest above the test output)` : reason;
      log(`Neo4j could not be started, so the tests that need it will fail. ${reason}`);
    }
  }

  log(`Running ${files.length} test file(s) with node --test --test-concurrency=1.`);
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...nodeTestFlags, ...files], { cwd: root, env, stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals): void => {
    log(`Received ${sig}; stopping the tests and Neo4j.`);
    child.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('exit', (c, s) => res({ code: c, signal: s }));
    child.on('error', (err) => {
      log(`Could not run node --test: ${err.message}`);
      res({ code: 1, signal: null });
    });
  });
  if (neo4j) await neo4j.stop();
  if (signal) {
    log(`The test process was ended by ${signal}.`);
    return 1;
  }
  return code ?? 1;
}

process.exitCode = await main().catch((err: unknown) => {
  log(`The test runner failed: ${(err as Error).stack ?? String(err)}`);
  return 1;
});
