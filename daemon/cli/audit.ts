/**
 * `heimdall audit verify [--file F | --config F] [--json]`: recomputes the hash chain of the audit
 * log and reports the first entry that was edited, removed or reordered. Exit 0 when intact (or
 * absent: nothing audited yet is a valid, empty chain), 1 when broken, 2 on bad usage.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { verifyAuditLog } from '../audit/audit-log.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './exit.js';
import { out, printJson } from './output.js';

interface VerifyOptions {
  file?: string;
  config?: string;
  json?: boolean;
}

async function auditPath(opts: VerifyOptions): Promise<string> {
  if (opts.file) return resolve(opts.file);
  const { ConfigError, defaultConfig, findConfigFile, loadConfig } = await import('../../config/loader.js');
  try {
    const file = findConfigFile(opts.config);
    const cfg = file ? loadConfig(file) : defaultConfig();
    return resolve(cfg.baseDir, cfg.audit.path);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.format(), EXIT_USAGE);
    throw err;
  }
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('Work with the hash-chained audit log of every write the daemon made or refused.');
  audit
    .command('verify')
    .description('Check that no audit entry was edited, removed or reordered.')
    .option('--file <path>', 'the audit log file (default: audit.path from the config)')
    .option('--config <file>', 'config file to read audit.path from')
    .option('--json', 'print the result as JSON')
    .action(async (opts: VerifyOptions) => {
      const path = await auditPath(opts);
      const r = verifyAuditLog(path);
      if (opts.json) printJson({ file: path, ...r });
      if (r.ok) {
        if (!opts.json) {
          out(r.absent
            ? `OK: ${path} does not exist yet, because nothing has been audited; an absent log is a valid, empty hash chain (the first audited write creates it).`
            : `OK: ${path} holds ${r.entries} entries and its hash chain is intact.`);
        }
        return;
      }
      throw new CliError(opts.json ? '' : `The audit log ${path} failed verification after ${r.entries} good entries: ${r.reason}`, EXIT_FAILURE);
    });
}
