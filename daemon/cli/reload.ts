/**
 * `heimdall reload [--json]`: the running daemon re-reads its config file and rule files
 * (POST /v1/reload; SIGHUP does the same). Prints what was applied and what needs a restart and
 * exits 0; an invalid new config is refused with every problem (file:line:col, as `heimdall
 * validate` prints them), the running config stays, and the command exits 2.
 */
import type { Command } from 'commander';
import { formatIssues, type ConfigIssue } from '../../config/errors.js';
import { ErrorCode } from '../../sdk/errors.js';
import type { ReloadReport } from '../http/rules-api.js';
import { ApiError } from './client.js';
import { CliError, EXIT_USAGE } from './exit.js';
import { out, printJson } from './output.js';
import { withClient, withRemoteOptions, type RemoteOptions } from './remote.js';

export function registerReload(program: Command): void {
  withRemoteOptions(program.command('reload').description('Make the running daemon re-read its config and rule files; an invalid config is refused (exit 2) and the running one stays.'))
    .action(async (opts: RemoteOptions) => withClient(opts, async (client) => {
      let report: ReloadReport;
      try {
        report = await client.postJson<ReloadReport>('/v1/reload', {});
      } catch (err) {
        const details = err instanceof ApiError ? (err.body.error.details as { file?: string; errors?: ConfigIssue[] } | undefined) : undefined;
        if (err instanceof ApiError && err.code === ErrorCode.HMD_ERR_CONFIG && details?.errors) {
          const n = details.errors.length;
          throw new CliError(
            `${formatIssues(details.errors, details.file)}\nThe daemon refused the reload: ${details.file ?? 'the config'} has ${n} problem${n === 1 ? '' : 's'}, and the running config stays. Fix ${n === 1 ? 'it' : 'them'} (\`heimdall validate\` checks) and reload again.`,
            EXIT_USAGE,
            opts.json ? JSON.stringify(err.body, null, 2) : undefined,
          );
        }
        throw err;
      }
      if (opts.json) printJson(report);
      else out(report.message);
    }, [ErrorCode.HMD_ERR_CONFIG]));
}
