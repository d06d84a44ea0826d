/**
 * `heimdall db install | uninstall | status [--config F] [--json]`: manage the neo4j-apoc source's
 * transactional outbox (APOC trigger, counter, index) in the database of the config's `database:`
 * section, through the same OutboxStore and Database the daemon uses. Exit codes: 0 success
 * (status: the outbox is installed and loaded), 1 failure (Neo4j unreachable, APOC missing or
 * triggers disabled, not allowed, status: not installed), 2 bad usage or an invalid config / no
 * `database:` section.
 */
import { Option, type Command } from 'commander';
import { redactUrl } from '../../config/redact.js';
import type { DatabaseConfig, HeimdallConfig } from '../../config/types.js';
import type { OutboxStore } from '../sources/neo4j-apoc/outbox-store.js';
import type { CaptureChoice } from '../sources/neo4j-apoc/outbox-trigger.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './exit.js';
import { out, printJson } from './output.js';
import { loadConfigOrDefaults } from './start.js';

interface DbOptions {
  config?: string;
  database?: string;
  json?: boolean;
}
interface InstallOptions extends DbOptions {
  ordering?: 'strict' | 'relaxed';
  capture?: CaptureChoice;
  waitMs?: string;
}
interface UninstallOptions extends DbOptions {
  purge?: boolean;
  waitMs?: string;
}

async function target(opts: DbOptions): Promise<{ config: HeimdallConfig; db: DatabaseConfig; database: string }> {
  const { config, file } = await loadConfigOrDefaults(opts.config);
  if (!config.database) {
    throw new CliError(`${file ? `The config ${file}` : 'The built-in default config (no config file was found)'} has no database: section, so there is no database to manage; add one (uri, user, password) or pass --config FILE.`, EXIT_USAGE);
  }
  return { config, db: config.database, database: opts.database ?? config.database.database };
}

function parseWait(text: string | undefined, def: number): number {
  if (text === undefined) return def;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--wait-ms must be a whole number of milliseconds (0 or more), not "${text}".`, EXIT_USAGE);
  return n;
}

/** Runs `fn` with the outbox store of `database`, connected through a Database of its own (no watch), and closes it. */
async function withStore<T>(db: DatabaseConfig, database: string, fn: (store: OutboxStore) => Promise<T>, capture: CaptureChoice = 'auto'): Promise<T> {
  // Loaded on demand, so the other commands do not pay for the driver.
  const [{ pino }, { Database }, { OutboxStore: Store }, { OutboxError, explainOutboxError }] = await Promise.all([
    import('pino'),
    import('../db/database.js'),
    import('../sources/neo4j-apoc/outbox-store.js'),
    import('../sources/neo4j-apoc/outbox-errors.js'),
  ]);
  const router = new Database({ ...db, database }, pino({ level: 'silent' }), { userAgent: 'heimdall-cli' });
  try {
    try {
      await router.connect();
    } catch (err) {
      throw explainOutboxError(err, database, 'connect');
    }
    return await fn(new Store(router, { database, capture }));
  } catch (err) {
    if (err instanceof OutboxError) throw new CliError(`${redactUrl(db.uri)}: ${err.message}`, EXIT_FAILURE);
    throw err;
  } finally {
    await router.close();
  }
}

const progress = (json: boolean | undefined) => (line: string) => {
  if (!json) process.stderr.write(`${line}\n`);
};

export async function runDbInstall(opts: InstallOptions): Promise<void> {
  const { config, db, database } = await target(opts);
  const source = config.sources.find((s) => s.type === 'neo4j-apoc');
  const ordering = opts.ordering ?? (source?.type === 'neo4j-apoc' ? source.ordering : undefined) ?? 'relaxed';
  const choice = opts.capture ?? (source?.type === 'neo4j-apoc' ? source.capture : undefined) ?? 'auto';
  const waitMs = parseWait(opts.waitMs, 90_000);
  const { res, capture } = await withStore(db, database, async (store) => ({ res: await store.install({ ordering, waitMs, log: progress(opts.json) }), capture: store.capture }), choice);
  if (opts.json) printJson(res);
  if (!res.loaded) {
    throw new CliError(
      `The outbox trigger is stored for the database ${database} but the database did not load it within ${Math.round(waitMs / 1000)} s; APOC loads triggers every apoc.trigger.refresh ms (60000 by default). Run \`heimdall db status\` in a minute, or lower apoc.trigger.refresh in apoc.conf.`,
      EXIT_FAILURE,
    );
  }
  if (!opts.json) {
    const what = res.trigger === 'unchanged' ? 'was already installed and current' : res.trigger === 'created' ? 'is installed' : 'is updated';
    const by = capture === 'listener' ? ", captured by the listener of Heimdall's Neo4j extension" : '';
    out(`The Heimdall outbox ${what} in the database ${database} (${res.ordering} ordering${by}, counter at ${res.counter}); committed changes are captured from now on.`);
  }
}

/** What a daemon running with this config does when the trigger goes away (printed before an uninstall). */
function uninstallWarning(config: HeimdallConfig, database: string): string {
  const source = config.sources.find((s) => s.type === 'neo4j-apoc');
  const every = source?.type === 'neo4j-apoc' ? `${source.checkIntervalMs} ms` : 'checkIntervalMs (5000 ms by default)';
  const putsBack = source?.type === 'neo4j-apoc' ? source.install && source.reinstall : true;
  return putsBack
    ? `Warning: a Heimdall daemon that captures the database ${database} notices within ${every} that capture is off, raises an error on Bifrost and reinstalls the trigger, unless its neo4j-apoc source has reinstall: false. To keep capture off, stop the daemon first (or set reinstall: false and restart it).`
    : `Warning: a Heimdall daemon that captures the database ${database} with this config (reinstall: false or install: false) notices within ${every} that capture is off, raises an error on Bifrost and reports not ready until \`heimdall db install\` runs; it does not reinstall the trigger.`;
}

export async function runDbUninstall(opts: UninstallOptions): Promise<void> {
  const { config, db, database } = await target(opts);
  const waitMs = parseWait(opts.waitMs, 90_000);
  process.stderr.write(`${uninstallWarning(config, database)}\n`);
  const res = await withStore(db, database, (store) => store.uninstall({ purge: opts.purge ?? false, waitMs, log: progress(opts.json) }));
  if (opts.json) printJson(res);
  if (res.reinstalled) {
    throw new CliError(
      `The trigger of the database ${database} was stored again while uninstall waited for the database to unload it: a running Heimdall daemon reinstalled it, so capture is on and the counter, index and undelivered entries were kept. Stop that daemon (or set reinstall: false on its neo4j-apoc source), then run \`heimdall db uninstall\` again.`,
      EXIT_FAILURE,
    );
  }
  if (!opts.json) {
    const parts = [res.triggerDropped ? `Removed the Heimdall outbox capture from the database ${database}` : `The database ${database} had no Heimdall outbox capture`];
    if (res.entriesDeleted) parts.push(`deleted ${res.entriesDeleted} undelivered entries`);
    if (res.entriesKept) parts.push(`kept ${res.entriesKept} undelivered entries with the counter and index (a later \`heimdall db install\` delivers them; --purge deletes them)`);
    else if (res.schemaDropped) parts.push('dropped the counter, its constraint and the index');
    out(`${parts.join('; ')}.`);
  }
  if (!res.unloaded) {
    throw new CliError(`The trigger is dropped from the system database but the database ${database} still ran it after ${Math.round(waitMs / 1000)} s; APOC unloads it on its next refresh (apoc.trigger.refresh).`, EXIT_FAILURE);
  }
}

export async function runDbStatus(opts: DbOptions & { capture?: CaptureChoice }): Promise<void> {
  const { config, db, database } = await target(opts);
  const source = config.sources.find((s) => s.type === 'neo4j-apoc');
  const choice = opts.capture ?? (source?.type === 'neo4j-apoc' ? source.capture : undefined) ?? 'auto';
  const { st, capture } = await withStore(db, database, async (store) => ({ st: await store.status(), capture: store.capture }), choice);
  if (opts.json) printJson(st);
  else {
    const yes = (b: boolean) => (b ? 'yes' : 'no');
    out(`database        ${st.database} (${redactUrl(db.uri)})`);
    out(`APOC            ${st.apocVersion ?? 'not installed'}`);
    out(`${capture === 'listener' ? 'listener' : 'trigger '}        stored: ${yes(st.trigger.stored)}, loaded: ${yes(st.trigger.loaded)}, paused: ${yes(st.trigger.paused)}, ordering: ${st.trigger.ordering ?? '-'}`);
    out(`index, counter  index: ${yes(st.seqIndex)}, constraint: ${yes(st.counterConstraint)}, counter: ${st.counter ?? '-'}, epoch: ${st.epoch ?? '-'}`);
    out(`backlog         ${st.backlog} undelivered transactions${st.oldestCommittedAt ? `, oldest committed at ${st.oldestCommittedAt}` : ''}`);
    out(`installed       ${yes(st.installed)}`);
  }
  if (!st.installed) {
    const why =
      st.apocVersion === null ? 'APOC Core is not installed in Neo4j'
      : !st.trigger.stored ? (capture === 'listener' ? "the listener of Heimdall's Neo4j extension is not installed" : 'the trigger is not installed')
      : st.trigger.ordering === 'unknown' ? 'the stored trigger is not the one this Heimdall version writes'
      : st.trigger.paused ? 'the trigger is paused'
      : !st.trigger.loaded ? 'the trigger is stored but the database has not loaded it yet (apoc.trigger.refresh)'
      : 'the index, constraint or counter is missing';
    throw new CliError(`The Heimdall outbox is not ready in the database ${database}: ${why}. Run \`heimdall db install${choice === 'auto' ? '' : ` --capture ${choice}`}\`.`, EXIT_FAILURE);
  }
}

export function registerDb(program: Command): void {
  const db = program.command('db').description("Manage the neo4j-apoc source's outbox (APOC trigger, counter, index) in the configured database.");
  const common = (c: Command): Command =>
    c
      .option('-c, --config <file>', 'config file with a database: section (default: $HEIMDALL_CONFIG, else ./heimdall.config.yaml)')
      .option('--database <name>', 'logical database (default: database.database of the config)')
      .option('--json', 'print the result as JSON on stdout');
  common(db.command('install'))
    .description('Install or update the outbox trigger, counter and index (idempotent) and wait until the database has loaded the trigger.')
    .addOption(new Option('--ordering <mode>', 'strict (commit order) or relaxed (no write lock); default: the neo4j-apoc source in the config, else relaxed').choices(['strict', 'relaxed']))
    .addOption(new Option('--capture <what>', "trigger (APOC), listener (Heimdall's Neo4j extension) or auto (the one installed, else the listener where the server has the extension); default: the neo4j-apoc source in the config, else auto").choices(['auto', 'trigger', 'listener']))
    .option('--wait-ms <ms>', 'how long to wait for the database to load the trigger (default 90000)')
    .action(async (opts: InstallOptions) => runDbInstall(opts));
  common(db.command('uninstall'))
    .description('Drop the outbox trigger; remove the counter, constraint and index when no undelivered entry is left. A running daemon reinstalls the trigger unless its config says reinstall: false.')
    .option('--purge', 'also delete undelivered outbox entries (their events are lost)')
    .option('--wait-ms <ms>', 'how long to wait for the database to unload the trigger (default 90000)')
    .action(async (opts: UninstallOptions) => runDbUninstall(opts));
  common(db.command('status'))
    .description('Show the outbox trigger, counter, index and backlog; exits 1 when the outbox is not installed and loaded.')
    .addOption(new Option('--capture <what>', 'trigger, listener or auto: which capture to look for; default: the neo4j-apoc source in the config, else auto').choices(['auto', 'trigger', 'listener']))
    .action(async (opts: DbOptions & { capture?: CaptureChoice }) => runDbStatus(opts));
}
