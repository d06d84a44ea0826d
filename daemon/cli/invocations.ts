/**
 * `heimdall invocations [id]`: recent invocations (async calls, prompts, operator calls) and their
 * results; and `--async` for `heimdall prompt`, which queues the prompt and prints its
 * invocation id instead of waiting for the answer.
 */
import type { Command } from 'commander';
import type { ActionResult } from '../../sdk/index.js';
import type { InvocationRecord } from '../invoker/invocation-store.js';
import { CliError, EXIT_FAILURE, parseJsonObjectOption, usageError } from './exit.js';
import { indent, out, printJson, table, truncate } from './output.js';
import { reportResult, withClient, withRemoteOptions, type RemoteOptions } from './remote.js';

const KINDS = ['action', 'prompt', 'raw_prompt'];
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'rejected'];

function who(r: InvocationRecord): string {
  return r.trigger.plugin ? `${r.trigger.kind}:${r.trigger.plugin}` : r.trigger.kind;
}

function duration(r: InvocationRecord): string {
  if (r.durationMs !== undefined) return r.durationMs < 1000 ? `${r.durationMs} ms` : `${(r.durationMs / 1000).toFixed(1)} s`;
  return r.status === 'queued' || r.status === 'running' ? '…' : '-';
}

export function printInvocations(list: readonly InvocationRecord[]): void {
  if (list.length === 0) {
    out('No invocations are recorded yet (async calls, prompts and operator calls appear here).');
    return;
  }
  out(table(['id', 'kind', 'name', 'by', 'status', 'submitted', 'took', 'message'],
    list.map((r) => [r.id, r.kind, r.name, who(r), r.rejectedBecause ? `rejected (${r.rejectedBecause})` : r.status, r.submittedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), duration(r), truncate((r.result?.message ?? '').replace(/\s+/g, ' '), 60)])));
}

export function printInvocation(r: InvocationRecord): void {
  out(`Invocation ${r.id}: ${r.kind} ${r.name} (${r.mode}) by ${who(r)} is ${r.status}${r.rejectedBecause ? ` (${r.rejectedBecause})` : ''}.`);
  out(`Submitted ${r.submittedAt}${r.startedAt ? `, started ${r.startedAt}` : ''}${r.finishedAt ? `, finished ${r.finishedAt}` : ''}${r.durationMs !== undefined ? ` (${duration(r)})` : ''}.`);
  if (r.prompt !== undefined) out(`Prompt: ${r.prompt}`);
  if (r.params !== undefined && Object.keys(r.params).length > 0) out(`Params: ${JSON.stringify(r.params)}`);
  if (r.result) {
    out(`${r.result.success ? 'OK' : 'FAILED'}: ${r.result.message}`);
    if (r.result.data && Object.keys(r.result.data).length > 0) out(indent(JSON.stringify(r.result.data, null, 2)));
  }
}

type InvocationsOptions = RemoteOptions & { plugin?: string; kind?: string; status?: string; limit?: string };

export function registerInvocationCommands(program: Command): void {
  withRemoteOptions(program.command('invocations')
    .description('Show recent invocations (async actions and prompts, operator calls) and their results; with an id, show that one.')
    .argument('[id]', 'an invocation id, as printed by `heimdall prompt --async` or found in Bifrost notifications')
    .option('--plugin <name>', 'only invocations made by this plugin')
    .option('--kind <kind>', `only this kind: ${KINDS.join(', ')}`)
    .option('--status <status>', `only this status: ${STATUSES.join(', ')}`)
    .option('--limit <n>', 'how many to show (1-1000, default 50)'))
    .action(async (id: string | undefined, opts: InvocationsOptions) => {
      if (opts.kind !== undefined && !KINDS.includes(opts.kind)) throw usageError(`--kind ${opts.kind} is not a kind; use one of ${KINDS.join(', ')}.`);
      if (opts.status !== undefined && !STATUSES.includes(opts.status)) throw usageError(`--status ${opts.status} is not a status; use one of ${STATUSES.join(', ')}.`);
      if (opts.limit !== undefined && (!/^\d+$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 1000)) {
        throw usageError(`--limit ${opts.limit} must be a whole number from 1 to 1000.`);
      }
      await withClient(opts, async (client) => {
        if (id !== undefined) {
          const r = await client.get<InvocationRecord>(`/v1/invocations/${encodeURIComponent(id)}`);
          if (opts.json) printJson(r);
          else printInvocation(r);
          return;
        }
        const q = new URLSearchParams();
        for (const k of ['plugin', 'kind', 'status', 'limit'] as const) if (opts[k] !== undefined) q.set(k, opts[k]!);
        const body = await client.get<{ invocations: InvocationRecord[] }>(`/v1/invocations${q.size ? `?${q}` : ''}`);
        if (opts.json) printJson(body);
        else printInvocations(body.invocations);
      });
    });

  extendPrompt(program);
}

/** `heimdall prompt <text> [--context JSON] [--async]`: ask and wait, or queue and print the invocation id. */
function extendPrompt(program: Command): void {
  const cmd = withRemoteOptions(program.command('prompt')
    .description('Ask the language model (with the action catalogue as tools) and print its answer.')
    .argument('<text>', 'the prompt')
    .option('--context <json>', 'extra facts for the model as a JSON object'));
  cmd.option('--async', 'queue the prompt and print its invocation id at once; the answer goes to Bifrost and `heimdall invocations <id>`');
  cmd.action(async (text: string, opts: RemoteOptions & { context?: string; async?: boolean }) => {
    const context = opts.context === undefined ? undefined : parseJsonObjectOption('--context', opts.context, '{"recentFailures":5}');
    await withClient(opts, async (client) => {
      if (!opts.async) {
        const result = await client.postJson<ActionResult>('/v1/prompt', context ? { prompt: text, context } : { prompt: text });
        reportResult(result, opts.json);
        return;
      }
      const body = await client.postJson<{ invocationId: string; status: string; url: string }>('/v1/invocations', { kind: 'prompt', prompt: text, ...(context ? { context } : {}) });
      if (opts.json) printJson(body);
      else out(`Queued the prompt as invocation ${body.invocationId}. The answer is published on Bifrost (\`heimdall tail\`) and shown by \`heimdall invocations ${body.invocationId}\`.`);
      if (body.status === 'rejected') throw new CliError(`The prompt was refused; see \`heimdall invocations ${body.invocationId}\`.`, EXIT_FAILURE);
    });
  });
}
