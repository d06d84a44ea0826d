/**
 * `heimdall validate`: checks a config file without starting anything. The CLI prints `text`
 * (one `file:line:col path: message (hint)` line per problem) and exits 2, or prints
 * "OK: <file> is valid." and exits 0.
 */
import { ConfigError, type ConfigIssue } from './errors.js';
import { loadConfig } from './loader.js';
import type { HeimdallConfig } from './types.js';

export type ValidateResult =
  | { ok: true; config: HeimdallConfig }
  | { ok: false; errors: ConfigIssue[]; text: string };

export function validateConfigFile(file: string, env: Record<string, string | undefined> = process.env): ValidateResult {
  try {
    return { ok: true, config: loadConfig(file, env) };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, errors: err.errors, text: err.format() };
    const errors: ConfigIssue[] = [
      { path: '', message: `Config file ${file} could not be checked: ${err instanceof Error ? err.message : String(err)}.` },
    ];
    return { ok: false, errors, text: errors[0]!.message };
  }
}
