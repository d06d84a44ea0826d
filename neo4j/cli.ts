/**
 * Runs a real Neo4j (with APOC triggers on) in the foreground for development, until Ctrl-C:
 *
 *   node dist/neo4j/cli.js [--port 7687] [--data ./.heimdall/neo4j] [--auth --password PW]
 *
 * The data folder is kept between runs. Without --auth anyone on this machine can connect.
 */
import { parseArgs } from 'node:util';
import { pinnedVersions, startNeo4j } from './launcher.js';

const usage = 'Usage: node dist/neo4j/cli.js [--port 7687] [--data ./.heimdall/neo4j] [--auth --password PW] [--quiet]';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '7687' },
        data: { type: 'string', default: './.heimdall/neo4j' },
        auth: { type: 'boolean', default: false },
        password: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`--port must be a TCP port number (1-65535), not "${values.port}".\n${usage}`);
    return 2;
  }
  if (values.password !== undefined && !values.auth) {
    console.error(`--password only makes sense with --auth; add --auth to require it.\n${usage}`);
    return 2;
  }
  const log = (line: string): void => console.error(`[neo4j] ${line}`);
  const { neo4j, apoc } = pinnedVersions();
  let instance;
  try {
    instance = await startNeo4j({
      port,
      home: values.data,
      auth: values.auth,
      password: values.password,
      log,
      onOutput: values.quiet ? undefined : (line) => console.error(line),
    });
  } catch (err) {
    console.error(`[neo4j] Neo4j could not start: ${(err as Error).message}`);
    return 1;
  }
  const credentials = values.auth ? `user neo4j, password ${instance.password}` : 'no authentication';
  console.log(`Neo4j ${neo4j} with APOC ${apoc} is running on ${instance.uri} (${credentials}); data in ${instance.home}. Press Ctrl-C to stop it.`);

  const stop = async (why: string): Promise<void> => {
    log(`Stopping Neo4j because ${why}.`);
    await instance.stop();
  };
  return new Promise<number>((res) => {
    let stopping = false;
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        if (stopping) return;
        stopping = true;
        void stop(`this process received ${sig}`).then(() => res(0));
      });
    }
    void instance.exited.then(({ code, signal }) => {
      if (stopping) return;
      log(`Neo4j exited on its own (${signal ? `signal ${signal}` : `exit code ${code}`}); see ${instance.logFile}.`);
      res(1);
    });
  });
}

process.exitCode = await main();
