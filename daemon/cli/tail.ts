/**
 * `heimdall tail`: follows the daemon's Bifrost stream. One coloured line per message (time,
 * level, origin, title, message; the data with -v), or one JSON object per line with --json.
 * It reconnects with backoff when the connection drops and resumes after the last message it
 * printed (Last-Event-ID); when messages could not be replayed it prints a visible gap line. It
 * exits 1 when the daemon cannot be reached at start, 2 on bad usage, 0 on Ctrl-C. With
 * --no-follow it prints what the replay buffer holds and exits.
 */
import type { Command } from 'commander';
import type { BifrostGap, BifrostMessage } from '../bifrost/bus.js';
import { parseFilter } from '../bifrost/filter.js';
import { formatLine, paint } from '../bifrost/format.js';
import { parseSince } from '../bifrost/since.js';
import { connectSse, SseHttpError, type SseConnection, type SseEvent } from '../bifrost/sse-client.js';
import { DEFAULT_URL, DaemonClient, type ApiErrorBody } from './client.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, usageError } from './exit.js';
import { withClient } from './remote.js';

export interface TailOptions {
  url?: string;
  token?: string;
  config?: string;
  json?: boolean;
  level?: string;
  plugin?: string[];
  kind?: string[];
  since?: string;
  lines?: string;
  follow: boolean;
  verbose?: boolean;
  color: boolean;
}

const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 5000;

const collect = (v: string, prev: string[] = []) => [...prev, v];

function useColour(opts: TailOptions): boolean {
  if (!opts.color || opts.json) return false;
  if (process.env['FORCE_COLOR'] && process.env['FORCE_COLOR'] !== '0') return true;
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  return Boolean(process.stdout.isTTY);
}

/** Checks the options locally so that a mistake exits 2 before anything is fetched. */
function queryOf(opts: TailOptions): { params: URLSearchParams; lines: number } {
  const params = new URLSearchParams();
  const f = parseFilter({ level: opts.level, plugin: opts.plugin, kind: opts.kind });
  if (!f.ok) throw usageError(`Option --${f.message.startsWith('level') ? 'level' : 'kind'}: ${f.message}`);
  if (f.filter.level) params.set('level', f.filter.level);
  if (f.filter.plugins) params.set('plugin', f.filter.plugins.join(','));
  if (f.filter.kinds) params.set('kind', f.filter.kinds.join(','));
  if (opts.since !== undefined) {
    const s = parseSince(opts.since);
    if (!s.ok) throw usageError(`Option --since: ${s.message} For example --since 10m or --since 42.`);
    params.set('since', opts.since.trim());
  }
  let lines = 10;
  if (opts.lines !== undefined) {
    if (!/^\d+$/.test(opts.lines)) throw usageError(`Option --lines must be a whole number (0 shows only new messages), not "${opts.lines}".`);
    lines = Number(opts.lines);
  }
  return { params, lines };
}

function errorMessage(err: SseHttpError): string {
  try {
    const body = JSON.parse(err.body) as ApiErrorBody;
    if (typeof body?.error?.message === 'string') return body.error.message;
  } catch {
    // not JSON
  }
  return `The server answered the stream request with HTTP ${err.status}; check that --url points at a Heimdall daemon.`;
}

function causeOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { errors?: Error[] };
  if (e?.errors?.length) return causeOf(e.errors[0]);
  return e?.code ?? e?.message ?? String(err);
}

class Printer {
  private lastId = 0;
  private epoch = '';
  constructor(private readonly opts: TailOptions, private readonly colour: boolean) {}

  /** Prints a message once: ids at or below the last printed one (same run) are skipped. */
  message(m: BifrostMessage, epoch: string): void {
    if (epoch === this.epoch && m.id <= this.lastId) return;
    this.epoch = epoch;
    this.lastId = m.id;
    process.stdout.write(this.opts.json ? `${JSON.stringify(m)}\n` : `${formatLine(m, { colour: this.colour, verbose: this.opts.verbose })}\n`);
  }

  gap(g: BifrostGap): void {
    if (this.opts.json) process.stdout.write(`${JSON.stringify({ type: 'gap', ...g })}\n`);
    else process.stdout.write(`${paint(this.colour, 'magenta', `-- GAP: ${g.message}`)}\n`);
  }

  /** Connection news goes to stderr, so that stdout stays the messages. */
  status(text: string): void {
    process.stderr.write(`${paint(this.colour, 'dim', text)}\n`);
  }
}

async function tailOnce(opts: TailOptions, client: DaemonClient, printer: Printer): Promise<void> {
  const { params, lines } = queryOf(opts);
  const since = params.get('since');
  params.delete('since');
  const base = params.toString();
  const get = (p: string) => client.get<{ messages: BifrostMessage[]; gap?: BifrostGap; more: boolean; next: string; epoch: string }>(`/v1/bifrost/notifications?${p}`);
  if (since === null) {
    if (lines === 0) return;
    const r = await get(`${base ? `${base}&` : ''}limit=${lines}`);
    for (const m of r.messages) printer.message(m, r.epoch);
    return;
  }
  let cursor = since;
  for (let first = true; ; first = false) {
    const r = await get(`${base ? `${base}&` : ''}since=${encodeURIComponent(cursor)}&limit=1000`);
    if (first && r.gap) printer.gap(r.gap);
    for (const m of r.messages) printer.message(m, r.epoch);
    if (!r.more) return;
    cursor = r.next;
  }
}

async function follow(opts: TailOptions, client: DaemonClient, printer: Printer): Promise<void> {
  const { params, lines } = queryOf(opts);
  if (!params.has('since') && lines > 0) params.set('last', String(lines));
  const auth = client.authHeaders();
  let lastEventId: string | undefined;
  let epoch = '';
  let conn: SseConnection | undefined;
  let stopped = false;
  let wakeSleep: (() => void) | undefined;

  const stop = () => {
    stopped = true;
    conn?.close();
    wakeSleep?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const onEvent = (e: SseEvent) => {
    switch (e.event) {
      case 'hello': {
        const h = JSON.parse(e.data) as { epoch: string; heartbeatMs: number };
        epoch = h.epoch;
        conn?.setIdleTimeout(h.heartbeatMs * 2 + 5000);
        return;
      }
      case 'gap':
        printer.gap(JSON.parse(e.data) as BifrostGap);
        return;
      case 'cutoff':
        printer.status((JSON.parse(e.data) as { message: string }).message);
        return;
      case 'shutdown':
        printer.status((JSON.parse(e.data) as { message: string }).message);
        return;
      default: {
        if (!e.hasId) return;
        const m = JSON.parse(e.data) as BifrostMessage;
        lastEventId = e.lastEventId;
        printer.message(m, epoch);
      }
    }
  };

  const open = (): Promise<SseConnection> => {
    // The first connection asks for ?since= / ?last=; a reconnect resumes after the last message seen.
    const q = new URLSearchParams(params);
    if (lastEventId !== undefined) {
      q.delete('since');
      q.delete('last');
    }
    const qs = q.toString();
    return connectSse(`${client.url}/v1/bifrost/stream${qs ? `?${qs}` : ''}`, {
      headers: { ...auth, ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) },
      onEvent,
      idleTimeoutMs: 60_000,
    });
  };

  try {
    conn = await open();
  } catch (err) {
    if (err instanceof SseHttpError) throw new CliError(errorMessage(err), err.status === 400 ? EXIT_USAGE : EXIT_FAILURE);
    throw new CliError(`Cannot reach the Heimdall daemon at ${client.url}: ${causeOf(err)}. Start it with \`heimdall start\` or pass --url.`);
  }
  if (stopped) conn.close();

  let attempt = 0;
  while (!stopped) {
    const why = await conn!.done;
    if (stopped) break;
    const resume = lastEventId !== undefined ? ` and resume after message ${lastEventId.slice(lastEventId.lastIndexOf('-') + 1)}` : '';
    printer.status(`Lost the connection to ${client.url}${why ? ` (${why.message})` : ''}; reconnecting with backoff${resume}. Press Ctrl-C to stop.`);
    conn = undefined;
    for (;;) {
      if (stopped) return;
      const delay = attempt === 0 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** (attempt - 1));
      attempt++;
      if (delay > 0) await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        wakeSleep = () => {
          clearTimeout(t);
          r();
        };
      });
      if (stopped) return;
      try {
        conn = await open();
        printer.status(`Reconnected to ${client.url} after ${attempt} attempt${attempt > 1 ? 's' : ''}.`);
        attempt = 0;
        break;
      } catch (err) {
        if (err instanceof SseHttpError && (err.status === 401 || err.status === 400 || err.status === 404)) {
          throw new CliError(errorMessage(err));
        }
        if (attempt === 1 || attempt % 10 === 0) {
          printer.status(`Still cannot reach ${client.url} (${err instanceof SseHttpError ? errorMessage(err) : causeOf(err)}); retrying every ${BACKOFF_MAX_MS / 1000} s at most.`);
        }
      }
    }
    if (stopped) conn?.close();
  }
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
}

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('Follow the daemon\'s Bifrost messages: one line each; reconnects and resumes by itself. Ctrl-C stops.')
    .option('--level <level>', 'show this level and above: info, success, warning, error')
    .option('--plugin <name>', "only messages from this plugin ('daemon' for the daemon's own); repeat or comma-separate", collect)
    .option('--kind <kind>', 'only these kinds: message, notification, broadcast, confirmation_request, confirmation_result; repeat or comma-separate', collect)
    .option('--since <point>', 'start after a message id (42), or a duration (10m, 2h) or an ISO time')
    .option('-n, --lines <n>', 'without --since, show this many recent messages first (default 10; 0 for none)')
    .option('--no-follow', 'print what the replay buffer holds and exit')
    .option('-v, --verbose', "print each message's data too")
    .option('--json', 'one JSON object per line (messages; gaps as {"type":"gap",…})')
    .option('--no-color', 'no colours (also when NO_COLOR is set or stdout is not a terminal)')
    .option('--url <url>', `base URL of the daemon (default: $HEIMDALL_URL, else server.host/port of the config, else ${DEFAULT_URL})`)
    .option('--token <token>', 'bearer token when the daemon has server.token set (default: $HEIMDALL_TOKEN, else server.token of the config)')
    .option('--config <file>', 'the config whose server section names the daemon (default: $HEIMDALL_CONFIG, else ./heimdall.config.yaml)')
    .action(async (opts: TailOptions) => {
      queryOf(opts);
      const printer = new Printer(opts, useColour(opts));
      await withClient(opts, async (client) => {
        if (opts.follow) await follow(opts, client, printer);
        else await tailOnce(opts, client, printer);
      });
    });
}
