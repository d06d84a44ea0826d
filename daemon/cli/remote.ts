/**
 * Commands that talk to a running daemon: status, plugins (and plugins restart|pause|resume
 * <name>), actions, invoke, prompt (emit is in emit.ts). Each takes --url, --token, --config and --json; without --json it prints a table or a
 * summary. Without --url the daemon is found as daemon-address.ts says ($HEIMDALL_URL, then the
 * server section of the config).
 */
import { type Command } from 'commander';
import type { ActionResult } from '../../sdk/index.js';
import type { DaemonStatus, PluginControlResult } from '../http/daemon-api.js';
import type { ActionInfo } from '../invoker/action-registry.js';
import type { PluginStatus } from '../workers/plugin-status.js';
import { printBoltProxies } from './bolt-proxy-status.js';
import { ApiError, DEFAULT_URL, DaemonClient } from './client.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, parseJsonObjectOption } from './exit.js';
import { formatDuration, indent, out, printJson, table, truncate } from './output.js';

export interface RemoteOptions {
  url?: string;
  token?: string;
  config?: string;
  json?: boolean;
}

/** --url and --token (and --config, where they are found otherwise) of every command that talks to the daemon. */
export function withAddressOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `base URL of the daemon (default: $HEIMDALL_URL, else server.host/port of the config, else ${DEFAULT_URL})`)
    .option('--token <token>', 'bearer token when the daemon has server.token set (default: $HEIMDALL_TOKEN, else server.token of the config)')
    .option('-c, --config <file>', 'the config whose server section names the daemon (default: $HEIMDALL_CONFIG, else ./heimdall.config.yaml)');
}

/** Adds --url, --token, --config and --json to a command. */
export function withRemoteOptions(cmd: Command): Command {
  return withAddressOptions(cmd).option('--json', 'print the raw JSON answer instead of a table');
}

/**
 * Runs `fn` with a client; with --json an API error is also printed as its JSON body on stdout.
 * An API error exits 1, or 2 when its code is one of `usageCodes` (the request was the caller's
 * mistake, e.g. an invalid config on reload).
 */
export async function withClient(opts: RemoteOptions, fn: (client: DaemonClient) => Promise<void>, usageCodes: readonly string[] = []): Promise<void> {
  const client = new DaemonClient({ url: opts.url, token: opts.token, config: opts.config });
  try {
    await fn(client);
  } catch (err) {
    if (err instanceof ApiError) {
      throw new CliError(err.message, usageCodes.includes(err.code) ? EXIT_USAGE : EXIT_FAILURE, opts.json ? JSON.stringify(err.body, null, 2) : undefined);
    }
    throw err;
  }
}

function counters(p: PluginStatus): (string | number)[] {
  const c = p.counters;
  return [c.received, c.delivered, c.droppedTotal, c.failed, `${c.queued}/${c.capacity}`];
}

function reasons(plugins: readonly PluginStatus[]): string[] {
  return plugins.filter((p) => p.reason).map((p) => `  ${p.name}: ${p.reason}`);
}

export function printStatus(s: DaemonStatus): void {
  out(`Heimdall ${s.version} is ${s.state}, up ${formatDuration(s.uptimeS)} (since ${s.startedAt}).`);
  const db = s.database;
  out(`Database: ${!db.configured ? 'not configured' : db.connected ? `connected to ${db.uri}` : `configured (${db.uri ?? '?'}) but not connected${db.reason ? `: ${db.reason}` : ''}`}`);
  out(`Model:    ${s.llm.configured ? `${s.llm.model ?? '?'} at ${s.llm.baseURL ?? '?'}` : 'not configured'}`);
  out();
  if (s.plugins.length === 0) out('No plugins are configured.');
  else {
    out(table(['plugin', 'state', 'received', 'delivered', 'dropped', 'failed', 'queued', 'restarts'],
      s.plugins.map((p) => [p.name, p.lowPriority ? `${p.state} (low CPU priority)` : p.state, ...counters(p), p.restarts])));
    const why = reasons(s.plugins);
    if (why.length > 0) out(['', 'Reasons:', ...why].join('\n'));
  }
  out();
  out(table(['source', 'state', 'emitted', 'reason'], s.sources.map((src) => [src.name, src.state, src.emitted, src.reason ?? ''])));
  printBoltProxies(s.sources);
  if (s.rules?.configured) {
    const bad = s.rules.invalid;
    out();
    out(`Rules:    ${s.rules.rules} configured${bad.length ? `, ${bad.length} invalid and left out: ${bad.map((b) => `${b.name}${b.at ? ` (${b.at})` : ''}`).join(', ')}; \`heimdall rules list\` says why` : ''}.`);
  }
}

export function printPlugins(plugins: readonly PluginStatus[]): void {
  if (plugins.length === 0) {
    out('No plugins are configured; add them under plugins: in the config file.');
    return;
  }
  out(table(['name', 'version', 'state', 'events', 'actions', 'path'],
    plugins.map((p) => [p.name, p.version, p.state, p.events.length ? p.events.join(',') : '(none)', p.actions.length, p.path])));
  const why = reasons(plugins);
  if (why.length > 0) out(['', 'Reasons:', ...why].join('\n'));
}

function requiredParams(a: ActionInfo): string {
  const schema = a.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  const names = Object.keys(schema?.properties ?? {});
  if (names.length === 0) return '';
  const req = new Set(schema?.required ?? []);
  return names.map((n) => (req.has(n) ? n : `${n}?`)).join(', ');
}

export function printActions(actions: readonly ActionInfo[]): void {
  if (actions.length === 0) {
    out('No actions are registered; plugins register theirs when they start.');
    return;
  }
  out(table(['action', 'plugin', 'destructive', 'params', 'description'],
    actions.map((a) => [a.name, a.plugin ?? '(built-in)', a.destructive ? 'yes' : 'no', requiredParams(a), truncate(a.description ?? '', 70)])));
}

/** Prints an ActionResult; throws (exit 1) when success is false. */
export function reportResult(result: ActionResult, json: boolean | undefined): void {
  if (json) printJson(result);
  else {
    out(`${result.success ? 'OK' : 'FAILED'}: ${result.message}`);
    if (result.data !== undefined && Object.keys(result.data).length > 0) out(indent(JSON.stringify(result.data, null, 2)));
  }
  // The FAILED line (or the JSON) already says why: exit 1 without repeating it.
  if (!result.success) throw new CliError('', EXIT_FAILURE);
}

export function registerRemoteCommands(program: Command): void {
  withRemoteOptions(program.command('status').description('Show the daemon\'s state: plugins with their counters, sources, database and model.'))
    .action(async (opts: RemoteOptions) => withClient(opts, async (client) => {
      const s = await client.get<DaemonStatus>('/v1/status');
      if (opts.json) printJson(s);
      else printStatus(s);
    }));

  const plugins = withRemoteOptions(program.command('plugins').description('List the configured plugins and their state; `plugins restart|pause|resume <name>` acts on one.'))
    .action(async (opts: RemoteOptions) => withClient(opts, async (client) => {
      const body = await client.get<{ plugins: PluginStatus[] }>('/v1/plugins');
      if (opts.json) printJson(body);
      else printPlugins(body.plugins);
    }));
  const verbs = {
    restart: 'Restart a plugin with fresh state (a new worker, its module imported again); its queue and counters stay. Exits 1 when it cannot start again.',
    pause: 'Pause a plugin: its events wait in its queue (up to capacity; beyond that they are dropped with reason paused) until resumed; its actions still run.',
    resume: 'Resume a paused plugin: what waited in its queue is delivered, in order.',
  } as const;
  for (const verb of ['restart', 'pause', 'resume'] as const) {
    withRemoteOptions(plugins.command(verb).description(verbs[verb]).argument('<name>', 'the plugin name (see `heimdall plugins`)'))
      // `plugins` has the same options: commander gives them to it wherever they stand, so both are read
      .action(async (name: string, _opts: RemoteOptions, cmd: Command) => {
        const opts = cmd.optsWithGlobals<RemoteOptions>();
        await withClient(opts, async (client) => {
          const body = await client.postJson<PluginControlResult>(`/v1/plugins/${encodeURIComponent(name)}/${verb}`, {});
          if (opts.json) printJson(body);
          else out(body.message);
        });
      });
  }

  withRemoteOptions(program.command('actions').description('List the actions that can be invoked.'))
    .action(async (opts: RemoteOptions) => withClient(opts, async (client) => {
      const body = await client.get<{ actions: ActionInfo[] }>('/v1/actions');
      if (opts.json) printJson(body);
      else printActions(body.actions);
    }));

  withRemoteOptions(program.command('invoke')
    .description('Run an action as an operator and print its result; exits 1 when the action reports failure.')
    .argument('<action>', 'full action name, e.g. heimdall.audit.remediate (see `heimdall actions`)')
    .option('--params <json>', 'parameters as a JSON object, e.g. --params \'{"summary":"x"}\''))
    .action(async (action: string, opts: RemoteOptions & { params?: string }) => {
      const params = opts.params === undefined ? undefined : parseJsonObjectOption('--params', opts.params, '{"summary":"checked"}');
      await withClient(opts, async (client) => {
        const result = await client.postJson<ActionResult>(`/v1/actions/${encodeURIComponent(action)}/invoke`, params ? { params } : {});
        reportResult(result, opts.json);
      });
    });
}
