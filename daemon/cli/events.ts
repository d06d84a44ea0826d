/**
 * `heimdall events [--type T] [--label L] [--plugin P] [--sample N] [-n N] [--follow] [--json]`:
 * the event tap (GET /v1/events/stream) — what the sources emit, before any plugin, one line per
 * event in the order the router sees them. Without --follow it prints the next N events (-n,
 * default 10) and exits; with --follow it streams until Ctrl-C and reconnects when the connection
 * drops (the tap has no replay: events emitted while it was away are not shown).
 */
import type { Command } from 'commander';
import type { DatabaseEvent } from '../../sdk/index.js';
import { connectSse, SseHttpError, type SseConnection, type SseEvent } from '../bifrost/sse-client.js';
import type { ApiErrorBody, DaemonClient } from './client.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, usageError } from './exit.js';
import { withAddressOptions, withClient, type RemoteOptions } from './remote.js';

interface EventsOptions extends RemoteOptions {
  type?: string[];
  label?: string;
  plugin?: string;
  sample?: string;
  count?: string;
  follow?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

/** One line for a person: time, type, source, id, then what the event is about. */
export function formatEvent(e: DatabaseEvent): string {
  const about: string[] = [];
  if (e.nodeLabels?.length) about.push(`:${e.nodeLabels.join(':')}`);
  if (e.relationshipType) about.push(`[:${e.relationshipType}]`);
  if (e.nodeId) about.push(`node ${e.nodeId}`);
  if (e.relationshipId) about.push(`rel ${e.relationshipId}`);
  if (e.properties && Object.keys(e.properties).length) about.push(JSON.stringify(e.properties));
  if (e.query) about.push(`query ${JSON.stringify(e.query.length > 80 ? `${e.query.slice(0, 79)}…` : e.query)}`);
  if (e.error) about.push(`error ${JSON.stringify(e.error)}`);
  return `${e.timestamp} ${e.type.padEnd(20)} ${String(e.source).padEnd(10)} ${e.id}${about.length ? `  ${about.join(' ')}` : ''}`;
}

function refusal(err: SseHttpError): string {
  try {
    const body = JSON.parse(err.body) as ApiErrorBody;
    if (typeof body?.error?.message === 'string') return body.error.message;
  } catch {
    // not JSON
  }
  return `The daemon answered GET /v1/events/stream with HTTP ${err.status}; check that --url points at a Heimdall daemon.`;
}

async function stream(opts: EventsOptions, client: DaemonClient): Promise<void> {
  const q = new URLSearchParams();
  if (opts.type?.length) q.set('type', opts.type.join(','));
  if (opts.label) q.set('label', opts.label);
  if (opts.plugin) q.set('plugin', opts.plugin);
  if (opts.sample) q.set('sample', opts.sample);
  const limit = opts.follow ? Infinity : Number(opts.count ?? 10);
  const url = `${client.url}/v1/events/stream${q.size ? `?${q}` : ''}`;
  let printed = 0;
  let conn: SseConnection | undefined;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    conn?.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const onEvent = (e: SseEvent): void => {
    if (e.event === 'hello') {
      conn?.setIdleTimeout((JSON.parse(e.data) as { heartbeatMs: number }).heartbeatMs * 2 + 5000);
      return;
    }
    if (e.event === 'cutoff' || e.event === 'shutdown') {
      process.stderr.write(`${(JSON.parse(e.data) as { message: string }).message}\n`);
      return;
    }
    if (e.event !== 'event' || printed >= limit) return;
    printed++;
    process.stdout.write(opts.json ? `${e.data}\n` : `${formatEvent(JSON.parse(e.data) as DatabaseEvent)}\n`);
    if (printed >= limit) stop();
  };
  try {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        conn = await connectSse(url, { headers: client.authHeaders(), onEvent, idleTimeoutMs: 60_000 });
        attempt = 0;
      } catch (err) {
        if (err instanceof SseHttpError) throw new CliError(refusal(err), err.status === 400 || err.status === 404 ? EXIT_USAGE : EXIT_FAILURE);
        if (!opts.follow || attempt === 0 && printed === 0) {
          const e = err as NodeJS.ErrnoException;
          throw new CliError(`Cannot reach the Heimdall daemon at ${client.url}: ${e.code ?? e.message}. Start it with \`heimdall start\` or pass --url.`);
        }
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
        continue;
      }
      if (stopped) conn.close();
      await conn.done;
      if (!opts.follow || stopped) return;
      process.stderr.write(`Lost the event tap at ${client.url}; reconnecting (events emitted meanwhile are not shown). Press Ctrl-C to stop.\n`);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function registerEvents(program: Command): void {
  withAddressOptions(program.command('events')
    .description('Watch what the sources emit, before any plugin (the event tap): one line per event, in order.')
    .option('--type <type>', 'only these event types or families (node.created, node.*); repeat or comma-separate', collect)
    .option('--label <label>', 'only events about nodes with this label (or relationships of this type)')
    .option('--plugin <name>', 'only the events this plugin would receive (its subscription and own-write rule)')
    .option('--sample <n>', 'only 1 in N of the events that pass the other filters')
    .option('-n, --count <n>', 'without --follow, exit after this many events (default 10)')
    .option('-f, --follow', 'keep streaming until Ctrl-C, reconnecting when the connection drops')
    .option('--json', 'one event per line as JSON'))
    .action(async (opts: EventsOptions) => {
      if (opts.count !== undefined && (!/^\d+$/.test(opts.count) || Number(opts.count) < 1)) throw usageError(`Option --count must be a whole number of at least 1, not "${opts.count}".`);
      if (opts.sample !== undefined && (!/^\d+$/.test(opts.sample) || Number(opts.sample) < 1)) throw usageError(`Option --sample must be a whole number of at least 1 (1 in N events), not "${opts.sample}".`);
      await withClient(opts, (client) => stream(opts, client));
    });
}
