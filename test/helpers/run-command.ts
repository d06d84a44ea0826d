/** Runs a command to completion for tests that drive npm and tsc in folders outside the repository. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** This checkout's TypeScript compiler. */
export const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs `cmd args` in `cwd`; resolves with its exit code and its stdout and stderr together. */
export function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    // node --test marks its children; a `node --test` run by a test would otherwise skip its files
    delete env['NODE_TEST_CONTEXT'];
    const p = spawn(cmd, args, { cwd, env });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      rej(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    p.on('error', rej);
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

/** `npm install` without the network: the only dependencies are file: links (to this checkout). */
export const npmInstallOffline = (cwd: string, extra: string[] = []) => run('npm', ['install', ...extra, '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], cwd);
