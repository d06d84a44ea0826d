/**
 * `heimdall rules list | show <name> | pause <name> | resume <name> | test <name> | history <name>`,
 * `heimdall dead-letters list | retry <id>`: the rules of a running daemon through its
 * /v1/rules and /v1/dead-letters routes. Each takes --url, --token, --config and --json.
 * Exit codes: 0 done; 1 the daemon refused or failed (unknown rule or dead letter, the rules
 * plugin is not running, a retry that failed again); 2 bad usage (bad JSON, a test event that is
 * not an event).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ErrorCode } from '../../sdk/errors.js';
import { CliError, EXIT_FAILURE, parseJsonObjectOption, usageError } from './exit.js';
import { out, printJson } from './output.js';
import { withClient, withRemoteOptions, type RemoteOptions } from './remote.js';
import { printDeadLetters, printDryRun, printHistory, printRule, printRuleList } from './rules-output.js';

type Body = Record<string, unknown> & { message: string };

const rulePath = (name: string, tail = ''): string => `/v1/rules/${encodeURIComponent(name)}${tail}`;

function readLimit(limit: string | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 10_000) throw usageError(`--limit ${limit} must be a whole number from 1 to 10000.`);
  return Number(limit);
}

/** The event of `rules test`: --event JSON or --file F (JSON; - for standard input), an event or { "event": … }. */
function readTestEvent(opts: { event?: string; file?: string }): Record<string, unknown> {
  const example = '{"type":"node.updated","nodeLabels":["Order"],"properties":{"status":"cancelled"},"oldProperties":{"status":"paid"}}';
  if ((opts.event === undefined) === (opts.file === undefined)) throw usageError(`Give the test event with --event JSON or --file FILE (one of them), e.g. --event '${example}'.`);
  let value: Record<string, unknown>;
  if (opts.event !== undefined) value = parseJsonObjectOption('--event', opts.event, example);
  else {
    let text: string;
    try {
      text = readFileSync(opts.file === '-' ? 0 : opts.file!, 'utf8');
    } catch (err) {
      throw usageError(`--file ${opts.file} cannot be read: ${(err as Error).message}.`);
    }
    try {
      value = parseJsonObjectOption('--file', text, example);
    } catch (err) {
      throw usageError(`--file ${opts.file} does not hold a JSON object: ${(err as Error).message}`);
    }
  }
  return value.type === undefined && value.event !== null && typeof value.event === 'object' ? (value.event as Record<string, unknown>) : value;
}

export function registerRules(program: Command): void {
  const rules = program.command('rules').description('The declarative rules of a running daemon: list, show, pause, resume, test (dry run) and history.');

  withRemoteOptions(rules.command('list').description('List the rules with their state and counts, and the invalid ones with their problems.'))
    .action(async (opts: RemoteOptions) => withClient(opts, async (client) => {
      const body = await client.get<Body>('/v1/rules');
      if (opts.json) printJson(body);
      else printRuleList(body);
    }));

  withRemoteOptions(rules.command('show').description('Show one rule: definition, state, live windows and cooldowns, statistics.').argument('<name>', 'the rule name (see `heimdall rules list`)'))
    .action(async (name: string, opts: RemoteOptions) => withClient(opts, async (client) => {
      const body = await client.get<Body>(rulePath(name));
      if (opts.json) printJson(body);
      else printRule(body);
    }));

  for (const verb of ['pause', 'resume'] as const) {
    withRemoteOptions(rules.command(verb)
      .description(verb === 'pause' ? 'Pause a rule: it ignores events until resumed (kept across restarts).' : 'Resume a paused rule.')
      .argument('<name>', 'the rule name'))
      .action(async (name: string, opts: RemoteOptions) => withClient(opts, async (client) => {
        const body = await client.postJson<Body>(rulePath(name, `/${verb}`), {});
        if (opts.json) printJson(body);
        else out(body.message);
      }));
  }

  withRemoteOptions(rules.command('test')
    .description('Dry run: does this event match the rule, and why not; what its window, debounce, cooldown and concurrency would do; the actions it would run with their rendered inputs. Runs and changes nothing; exits 0 whether or not it would fire.')
    .argument('<name>', 'the rule name')
    .option('--event <json>', 'the event as a JSON object; id, timestamp, database and source may be left out')
    .option('--file <file>', 'a file with the event as JSON (or { "event": … }); - for standard input'))
    .action(async (name: string, opts: RemoteOptions & { event?: string; file?: string }) => {
      const event = readTestEvent(opts);
      // an event that is not an event is the caller's mistake: exit 2
      await withClient(opts, async (client) => {
        const body = await client.postJson<Body>(rulePath(name, '/test'), { event });
        if (opts.json) printJson(body);
        else printDryRun(body);
      }, [ErrorCode.HMD_ERR_INVALID_EVENT]);
    });

  withRemoteOptions(rules.command('history').description('Recent firings of a rule, newest first, with each action\'s status, attempts and errors.').argument('<name>', 'the rule name').option('--limit <n>', 'how many (1-10000, default 50)'))
    .action(async (name: string, opts: RemoteOptions & { limit?: string }) => {
      const limit = readLimit(opts.limit);
      await withClient(opts, async (client) => {
        const body = await client.get<Body>(rulePath(name, `/history${limit ? `?limit=${limit}` : ''}`));
        if (opts.json) printJson(body);
        else printHistory(body);
      });
    });

  const dl = program.command('dead-letters').description('Actions of rules that failed after their retries: list them, retry one.');
  withRemoteOptions(dl.command('list').description('List the dead letters, newest first.').option('--rule <name>', 'only those of this rule').option('--limit <n>', 'how many (1-10000, default 100)'))
    .action(async (opts: RemoteOptions & { rule?: string; limit?: string }) => {
      const limit = readLimit(opts.limit);
      const q = new URLSearchParams();
      if (opts.rule) q.set('rule', opts.rule);
      if (limit) q.set('limit', String(limit));
      await withClient(opts, async (client) => {
        const body = await client.get<Body>(`/v1/dead-letters${q.size ? `?${q}` : ''}`);
        if (opts.json) printJson(body);
        else printDeadLetters(body);
      });
    });
  withRemoteOptions(dl.command('retry').description('Run a dead-lettered action again with its stored input and retry policy; on success it leaves the list. Exits 1 when it fails again.').argument('<id>', 'the dead letter id (see `heimdall dead-letters list`)'))
    .action(async (id: string, opts: RemoteOptions) => withClient(opts, async (client) => {
      const body = await client.postJson<Body & { success: boolean }>(`/v1/dead-letters/${encodeURIComponent(id)}/retry`, {});
      if (opts.json) printJson(body);
      else out(body.message);
      if (!body.success) throw new CliError(opts.json ? '' : 'Fix what the action needs (the error above says what failed), then retry it.', EXIT_FAILURE);
    }));
}
