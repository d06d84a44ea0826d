/**
 * Why an outbox operation failed, in one sentence that names the fix: APOC missing, triggers disabled,
 * a user that may not install triggers, refused credentials, Neo4j unreachable, an unknown database.
 *
 * The outbox runs through Database.run, whose errors are the SDK's (DatabaseUnavailableError,
 * QueryFailedError, …) with the driver's error as `cause`; the Neo4j code and message are read from
 * that cause, so the explanation is the same whether the driver or the router noticed the problem.
 */
import { DatabaseUnavailableError } from '../../../sdk/index.js';

/** An outbox operation failed for a reason an operator can fix; `message` says what to do. */
export class OutboxError extends Error {
  constructor(
    message: string,
    readonly neo4jCode?: string,
    /** Neo4j could not be reached at all (as opposed to refusing the operation): retry, do not give up. */
    readonly unreachable = false,
  ) {
    super(message);
    this.name = 'OutboxError';
  }
}

const CONNECTIVITY_CODES = new Set(['ServiceUnavailable', 'SessionExpired']);
const CONNECTIVITY_TEXT = /ECONNREFUSED|Could not perform discovery|Failed to connect|Connection was closed/i;

/** Turns the error of an outbox operation (`what`, e.g. 'install the outbox') into an OutboxError. */
export function explainOutboxError(err: unknown, database: string, what: string): OutboxError {
  if (err instanceof OutboxError) return err;
  const outer = err as Error & { code?: string; details?: { neo4jCode?: string; reason?: string } };
  const driverError = (outer?.cause instanceof Error ? outer.cause : outer) as Error & { code?: string };
  const code = driverError?.code ?? outer?.details?.neo4jCode ?? '';
  const msg = (driverError?.message ?? String(err)).replace(/\s*\n\s*/g, ' ').trim();
  if (/Unknown function 'apoc\.|There is no procedure with the name `apoc\./i.test(msg)) {
    return new OutboxError(`APOC Core is not available in the database ${database} (${msg}); the outbox needs APOC Core of the same version as Neo4j in its plugins folder.`, code);
  }
  if (/There is no procedure with the name `heimdall\.capture\./i.test(msg)) {
    return new OutboxError(
      `Heimdall's Neo4j extension is not available in the database ${database} (${msg}); capture: listener needs neo4j/target/heimdall-capture-plugin.jar ` +
        "(built by `mvn -q -B -f neo4j/pom.xml package`) in Neo4j's plugins folder and a restart of Neo4j, or use capture: trigger.",
      code,
    );
  }
  if (/Triggers have not been enabled|apoc\.trigger\.enabled/i.test(msg)) {
    return new OutboxError(`APOC triggers are disabled; set apoc.trigger.enabled=true in Neo4j's apoc.conf and restart Neo4j, then ${what} again.`, code);
  }
  if (code === 'Neo.ClientError.Security.Forbidden' || /permission|not allowed|access denied/i.test(msg)) {
    return new OutboxError(`The database user may not ${what} (${msg}); installing APOC triggers needs an admin user (they are stored in the system database).`, code);
  }
  if (code === 'Neo.ClientError.Security.Unauthorized') {
    return new OutboxError(`Neo4j refused the credentials (${msg}); check database.user and database.password.`, code);
  }
  if (err instanceof DatabaseUnavailableError || CONNECTIVITY_CODES.has(code) || CONNECTIVITY_TEXT.test(msg)) {
    // The router's fast failure (it already knows Neo4j is down) carries the reason it learnt then.
    const text = (outer.cause === undefined && outer.details?.reason) || msg;
    const cause = /Caused by: (.*)$/.exec(text)?.[1] ?? text;
    return new OutboxError(`Neo4j is not reachable (${cause}); check database.uri and that Neo4j is running.`, code, true);
  }
  if (code === 'Neo.ClientError.Database.DatabaseNotFound') {
    return new OutboxError(`The database ${database} does not exist (${msg}); check database.database.`, code);
  }
  return new OutboxError(`Could not ${what} in the database ${database}: ${code ? `${code}: ` : ''}${msg}`, code);
}
