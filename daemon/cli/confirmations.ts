/**
 * `heimdall confirmations` lists the confirmation requests waiting for an operator;
 * `heimdall approve <id> [--reason]` and `heimdall deny <id> [--reason]` answer one. Answering an
 * unknown id, or one that was already answered or expired, exits 1 with the daemon's sentence.
 */
import type { Command } from 'commander';
import type { ConfirmationInfo } from '../bifrost/confirmations.js';
import { formatDuration, out, printJson, table, truncate } from './output.js';
import { withClient, withRemoteOptions, type RemoteOptions } from './remote.js';
import { usageError } from './exit.js';

function expiresIn(c: ConfirmationInfo): string {
  const s = (Date.parse(c.deadline) - Date.now()) / 1000;
  return s <= 0 ? 'now' : formatDuration(Math.ceil(s));
}

export function printConfirmations(list: readonly ConfirmationInfo[]): void {
  if (list.length === 0) {
    out('No confirmation requests are waiting for an answer.');
    return;
  }
  out(table(['id', 'requested by', 'action', 'expires in', 'details'],
    list.map((c) => [c.id, c.requestedBy, truncate(c.action, 40), expiresIn(c), truncate(JSON.stringify(c.details), 60)])));
  out();
  out('Answer with `heimdall approve <id>` or `heimdall deny <id> --reason "…"`.');
}

function checkId(id: string): string {
  const v = id.trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw usageError(`"${id}" is not a confirmation id; \`heimdall confirmations\` lists the pending ones with their ids.`);
  return v;
}

function answerCommand(program: Command, name: 'approve' | 'deny'): void {
  const approve = name === 'approve';
  withRemoteOptions(program.command(name)
    .description(approve ? 'Approve a pending confirmation request.' : 'Deny a pending confirmation request.')
    .argument('<id>', 'the request id (see `heimdall confirmations` or `heimdall tail`)')
    .option('--reason <text>', 'why; recorded on Bifrost with the answer'))
    .action(async (id: string, opts: RemoteOptions & { reason?: string }) => {
      const cid = checkId(id);
      await withClient(opts, async (client) => {
        const c = await client.postJson<ConfirmationInfo>(`/v1/confirmations/${encodeURIComponent(cid)}`, {
          approve,
          ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        });
        if (opts.json) printJson(c);
        else out(`${approve ? 'Approved' : 'Denied'} ${c.id}: "${c.action}" requested by ${c.requestedBy}${c.reason ? ` (reason: ${c.reason})` : ''}.`);
      });
    });
}

export function registerConfirmations(program: Command): void {
  withRemoteOptions(program.command('confirmations').description('List the confirmation requests waiting for an operator.'))
    .action(async (opts: RemoteOptions) => withClient(opts, async (client) => {
      const body = await client.get<{ confirmations: ConfirmationInfo[] }>('/v1/confirmations');
      if (opts.json) printJson(body);
      else printConfirmations(body.confirmations);
    }));
  answerCommand(program, 'approve');
  answerCommand(program, 'deny');
}
