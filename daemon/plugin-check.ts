/**
 * The plugin half of `heimdall validate` (and of a reload, for the entries it would start): for every enabled plugins[] entry of a valid config,
 * resolve its path or package, load the module in a one-shot worker (workers/inspect-worker.ts),
 * check the definition (name, version, hooks, `events` names, actions) and the entry's config
 * against the plugin's configSchema, and report each problem as a config issue at the line of the
 * entry (or of the config key that is wrong or unknown). Two plugins with the same name are a
 * problem too.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { ConfigIssue } from '../config/errors.js';
import type { HeimdallConfig } from '../config/types.js';
import { formatPath, locate, parseYaml, type ParsedYaml, type PathSegment } from '../config/yaml-doc.js';
import { ErrorCode } from '../sdk/errors.js';
import { locatePlugin } from './workers/resolve-module.js';
import type { InspectAnswer, InspectRequest } from './workers/inspect-worker.js';

const INSPECT_TIMEOUT_MS = 30_000;

function inspectInWorker(req: InspectRequest): Promise<InspectAnswer> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./workers/inspect-worker.js', import.meta.url), { workerData: req, stdout: true, stderr: true });
    const done = (a: InspectAnswer): void => {
      clearTimeout(timer);
      resolve(a);
      void worker.terminate();
    };
    const fail = (message: string): void => done({ ok: false, error: { name: 'Error', code: ErrorCode.HMD_ERR_INVALID_PLUGIN, message } });
    const timer = setTimeout(() => fail(`Loading the plugin module ${req.modulePath} did not finish within ${INSPECT_TIMEOUT_MS / 1000} s; its top-level code may wait for something.`), INSPECT_TIMEOUT_MS);
    worker.once('message', (a: InspectAnswer) => done(a));
    worker.once('error', (err) => fail(`Loading the plugin module ${req.modulePath} crashed its worker: ${err.message}`));
    worker.once('exit', (code) => fail(`The plugin module ${req.modulePath} ended its worker (exit code ${code}) while it was loaded.`));
  });
}

function issueAt(parsed: ParsedYaml | undefined, segments: PathSegment[], message: string, hint?: string): ConfigIssue {
  const pos = parsed ? locate(parsed, segments) : undefined;
  return { path: formatPath(segments), ...(pos ? { line: pos.line, column: pos.column } : {}), message, ...(hint ? { hint } : {}) };
}

export interface ValidatePluginsOptions {
  /** Checks only the entries (by index in plugins[]) for which this is true; default all. */
  only?: (index: number) => boolean;
  /** Names of entries not checked (plugins already running), for the same-name check. */
  knownNames?: ReadonlyMap<number, string>;
}

/** Every problem of the config's plugins; empty when each one loads and its config matches its schema. */
export async function validatePlugins(config: HeimdallConfig, file: string, opts: ValidatePluginsOptions = {}): Promise<ConfigIssue[]> {
  let parsed: ParsedYaml | undefined;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch {
    parsed = undefined;
  }
  const entries = config.plugins.map((pc, i) => ({ pc, i })).filter(({ pc, i }) => pc.enabled && (opts.only?.(i) ?? true));
  const results = await Promise.all(
    entries.map(async ({ pc, i }) => {
      const key: PathSegment[] = ['plugins', i, pc.package !== undefined ? 'package' : 'path'];
      const where = locatePlugin(pc, config.baseDir);
      if (where.error) return { i, issues: [issueAt(parsed, key, where.error.message)] };
      const answer = await inspectInWorker({ modulePath: where.modulePath, config: structuredClone(pc.config) as Record<string, unknown> });
      if (!answer.ok) {
        const problems = answer.error.details?.problems;
        if (problems?.length) {
          return { i, issues: problems.map((p) => issueAt(parsed, key, `The plugin at ${where.modulePath} is invalid: ${p}.`, 'Fix the plugin\'s default export; see README "Writing a plugin".')) };
        }
        return { i, issues: [issueAt(parsed, key, answer.error.message)] };
      }
      const issues = answer.issues.map((ci) => {
        const rest = ci.key.split('.').slice(1);
        const unknown = ci.keyword === 'additionalProperties';
        const segments: PathSegment[] = ['plugins', i, 'config', ...rest];
        const message = unknown
          ? `The plugin ${answer.name} has no config key ${rest.join('.')}: its configSchema does not allow it.`
          : `The config of plugin ${answer.name} does not match its configSchema: ${ci.key} ${ci.message}.`;
        const hint = unknown && answer.configKeys.length ? `Its configSchema knows ${answer.configKeys.join(', ')}.` : undefined;
        return issueAt(parsed, segments, message, hint);
      });
      return { i, name: answer.name, issues };
    }),
  );
  const issues = results.flatMap((r) => r.issues);
  const byName = new Map<string, number>();
  const named: Array<{ i: number; name?: string }> = [...results, ...[...(opts.knownNames ?? [])].map(([i, name]) => ({ i, name }))].sort((a, b) => a.i - b.i);
  for (const r of named) {
    if (!('name' in r) || r.name === undefined) continue;
    const first = byName.get(r.name);
    if (first === undefined) byName.set(r.name, r.i);
    else issues.push(issueAt(parsed, ['plugins', r.i], `plugins[${r.i}] is also named ${r.name}, like plugins[${first}]; the second one's actions would not be registered.`, 'Rename one of the two plugins.'));
  }
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}
