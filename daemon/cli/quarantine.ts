/**
 * `heimdall quarantine list [--plugin P]` shows the events that took a plugin's worker down and are
 * kept out of its queue; `heimdall quarantine retry <id>` puts one back at the head of its plugin's
 * queue (GET /v1/quarantine, POST /v1/quarantine/{id}/retry). An unknown id, or a plugin that cannot
 * take the event now, exits 1 with the daemon's sentence.
 */
import type { Command } from 'commander';
import type { QuarantineListing, QuarantineStats } from '../workers/quarantine.js';
import { usageError } from './exit.js';
import { out, printJson, table, truncate } from './output.js';
import { withClient, withRemoteOptions, type RemoteOptions } from './remote.js';

export function printQuarantine(list: readonly QuarantineListing[], stats: QuarantineStats): void {
  if (list.length === 0) {
    out(`No event is in quarantine (${stats.added} quarantined since the daemon started, ${stats.retried} retried, ${stats.evicted} evicted).`);
    return;
  }
  out(table(['id', 'plugin', 'event', 'type', 'attempts', 'quarantined at', 'error'],
    list.map((q) => [q.id, q.plugin, truncate(q.eventId, 40), q.eventType, q.attempts, q.quarantinedAt, truncate(q.error, 70)])));
  out();
  out(`${list.length} of at most ${stats.capacity} kept (${stats.bytes} of ${stats.maxBytes} bytes); ${stats.evicted} evicted since start.`);
  out('Put one back at the head of its plugin\'s queue with `heimdall quarantine retry <id>`; `--json` shows the events.');
}

function checkId(id: string): string {
  const v = id.trim();
  if (!/^q\d{1,15}$/.test(v)) throw usageError(`"${id}" is not a quarantine id (they look like q12); \`heimdall quarantine list\` shows them.`);
  return v;
}

export function registerQuarantine(program: Command): void {
  const q = program.command('quarantine').description('Events that took a plugin\'s worker down: list them, deliver one again.');
  withRemoteOptions(q.command('list').description('List the quarantined events, oldest first.').option('--plugin <name>', 'only the events of this plugin'))
    .action(async (opts: RemoteOptions & { plugin?: string }) => withClient(opts, async (client) => {
      const body = await client.get<{ quarantine: QuarantineListing[]; stats: QuarantineStats }>(`/v1/quarantine${opts.plugin ? `?plugin=${encodeURIComponent(opts.plugin)}` : ''}`);
      if (opts.json) printJson(body);
      else printQuarantine(body.quarantine, body.stats);
    }));
  withRemoteOptions(q.command('retry').description('Put a quarantined event back at the head of its plugin\'s queue.').argument('<id>', 'the quarantine id (see `heimdall quarantine list`)'))
    .action(async (id: string, opts: RemoteOptions) => {
      const qid = checkId(id);
      await withClient(opts, async (client) => {
        const r = await client.postJson<{ retried: boolean; id: string; plugin: string; eventId: string }>(`/v1/quarantine/${encodeURIComponent(qid)}/retry`, {});
        if (opts.json) printJson(r);
        else out(`Put event ${r.eventId} (${r.id}) back at the head of the queue of the plugin ${r.plugin}; if it takes the worker down again it returns to quarantine.`);
      });
    });
}
