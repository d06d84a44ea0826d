/**
 * `database: { embedded: true }`: the daemon starts a development Neo4j (Community with APOC, the
 * launcher in neo4j/) as its child process before anything else, on the port of database.uri, with
 * its files in database.dataDir, and stops it last. The JVM runs in its own process group (a Ctrl-C
 * in the terminal reaches only the daemon, which stops it in order) and stops by itself when the
 * daemon goes away without stopping it (its stdin closes), so no JVM is left behind.
 *
 * Without Java 17 (or, for the first start, Maven), or when Neo4j cannot start (its port is taken),
 * the daemon runs as without a database section — HTTP ingest only — after one line saying what is
 * missing and how to get it. A database section without `embedded: true` never starts one.
 */
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { HeimdallConfig } from '../config/types.js';
import { missingTools, neo4jBuildState, startNeo4j, type Neo4jInstance, type StartNeo4jOptions } from '../neo4j/launcher.js';
import type { Lifecycle } from './lifecycle.js';

/** Where the embedded Neo4j keeps its files when database.dataDir is not set, relative to the config file. */
export const DEFAULT_DATA_DIR = '.heimdall/neo4j';

/** How to write a first node without cypher-shell, through the daemon's own remediation action. */
export const FIRST_NODE_HINT =
  `npx heimdall invoke heimdall.remediate.cypher --params '{"statement":"CREATE (:Person {name: $name})","params":{"name":"Ada"},"reason":"a first node"}'`;

export interface EmbeddedDatabase {
  /** The config the daemon runs with: the one given, or without its database (and neo4j-apoc sources) when no Neo4j could start. */
  config: HeimdallConfig;
  /** Stops the Neo4j that was started; undefined when none was. */
  part?: Lifecycle;
  /** The running Neo4j, for tests. */
  instance?: Neo4jInstance;
}

export interface EmbeddedSeams {
  /** What is missing to run the launcher (default: neo4j/launcher.ts's check of java and mvn). */
  missingTools?: () => string | undefined;
  start?: (opts: StartNeo4jOptions) => Promise<Neo4jInstance>;
}

/** The config as if it had no database section: no database, no neo4j-apoc source. */
export function withoutDatabase(config: HeimdallConfig): HeimdallConfig {
  const { database: _dropped, ...rest } = config;
  return Object.freeze({ ...rest, sources: config.sources.filter((s) => s.type !== 'neo4j-apoc') }) as HeimdallConfig;
}

/** Whether something already accepts connections on 127.0.0.1:port. */
function portTaken(port: number): Promise<boolean> {
  return new Promise((res) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (taken: boolean): void => {
      socket.destroy();
      res(taken);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Starts the embedded Neo4j when the config asks for one; see the file comment. */
export async function startEmbeddedDatabase(config: HeimdallConfig, logger: Logger, seams: EmbeddedSeams = {}): Promise<EmbeddedDatabase> {
  const db = config.database;
  if (!db?.embedded) return { config };
  const log = logger.child({ component: 'embedded-neo4j' });
  const without = withoutDatabase(config);
  const missing = (seams.missingTools ?? missingTools)();
  if (missing) {
    log.warn(`The embedded Neo4j (database.embedded) was not started: ${missing}. Heimdall runs without a database (HTTP ingest only) until then.`);
    return { config: without };
  }
  const port = Number(new URL(db.uri).port || 7687);
  if (await portTaken(port)) {
    log.error(`The embedded Neo4j was not started: something already listens on 127.0.0.1:${port} (another Neo4j?). Heimdall runs without a database (HTTP ingest only); stop that process, or set database.uri to bolt://127.0.0.1:<a free port>.`);
    return { config: without };
  }
  const home = resolve(config.baseDir, db.dataDir ?? DEFAULT_DATA_DIR);
  const auth = db.password !== '';
  const build = neo4jBuildState();
  const first = !build.built || build.stale ? '; this first start fetches its jars with Maven, which may take a minute or more (later starts reuse them)' : '';
  log.info(`Starting the embedded Neo4j on bolt://127.0.0.1:${port} with its files in ${home}${first}.`);
  let instance: Neo4jInstance;
  try {
    instance = await (seams.start ?? startNeo4j)({
      port,
      home,
      auth,
      ...(auth ? { password: db.password } : {}),
      log: (line) => log.info(line),
      onOutput: (line) => log.debug(line),
      detached: true,
      killOnExit: false,
    });
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    log.error({ err }, `The embedded Neo4j could not start: ${first} Heimdall runs without a database (HTTP ingest only); its log is ${resolve(home, 'neo4j.log')}.`);
    return { config: without };
  }
  let stopping = false;
  void instance.exited.then(({ code, signal }) => {
    if (!stopping) log.error(`The embedded Neo4j (pid ${instance.pid}) exited on its own (${signal ? `signal ${signal}` : `exit code ${code}`}); the database is gone until Heimdall is restarted. Its log is ${instance.logFile}.`);
  });
  log.info(
    { bolt: instance.uri, dataDir: home },
    `The embedded Neo4j is ready on ${instance.uri} (${auth ? 'user neo4j, password database.password' : 'no authentication: it listens on 127.0.0.1 only'}); its files are in ${home}. ` +
      `Write a first node: ${FIRST_NODE_HINT}, then watch the events with \`npx heimdall events --follow\`.`,
  );
  return {
    config,
    instance,
    part: {
      name: 'the embedded Neo4j',
      stop: async () => {
        stopping = true;
        log.info(`Stopping the embedded Neo4j (pid ${instance.pid}).`);
        await instance.stop();
      },
    },
  };
}
