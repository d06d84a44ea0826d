/**
 * capture: auto's choice (outbox-install.ts chooseCapture) for each thing the server can answer, including those the
 * run's Neo4j cannot show (no extension in its plugins, a user that may not read the triggers, Neo4j gone away): the
 * statements it asks are answered here, the rest of the source is tested against the real Neo4j in
 * test/integration/neo4j-source-capture-auto.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../../sdk/index.js';
import { OutboxError } from '../../daemon/sources/neo4j-apoc/outbox-errors.js';
import { chooseCapture } from '../../daemon/sources/neo4j-apoc/outbox-install.js';
import type { OutboxStatements } from '../../daemon/sources/neo4j-apoc/outbox-statements.js';

type Listener = { running: boolean; installed: boolean } | Error;

function statements(listener: Listener, apoc: boolean | Error): OutboxStatements & { asked: string[] } {
  const asked: string[] = [];
  return {
    database: 'neo4j',
    asked,
    listenerState: async () => {
      asked.push('listener');
      if (listener instanceof Error) throw listener;
      return { ...listener, ordering: listener.installed ? 'relaxed' : undefined, key: undefined };
    },
    apocStoredTrigger: async () => {
      asked.push('apoc');
      if (apoc instanceof Error) throw apoc;
      return apoc ? { query: 'CALL …', paused: false, key: 'k'.repeat(20) } : undefined;
    },
  } as unknown as OutboxStatements & { asked: string[] };
}

/** An error as Database.run gives it: the driver's error as its cause. */
function neo4jError(code: string, message: string): Error {
  return new Error('Neo4j failed the statement.', { cause: Object.assign(new Error(message), { code }) });
}

const NO_PROCEDURE = neo4jError('Neo.ClientError.Procedure.ProcedureNotFound', 'There is no procedure with the name `heimdall.capture.status` registered for this database instance.');

describe('capture: auto chooses', () => {
  it('the listener where it is installed, without asking for the APOC trigger', async () => {
    const st = statements({ running: true, installed: true }, true);
    assert.deepEqual(await chooseCapture(st), { capture: 'listener', why: "the listener of Heimdall's Neo4j extension is installed there" });
    assert.deepEqual(st.asked, ['listener']);
  });

  it('the APOC trigger where it is installed, even when the server has the extension', async () => {
    const r = await chooseCapture(statements({ running: true, installed: false }, true));
    assert.equal(r.capture, 'trigger');
    assert.match(r.why, /^the APOC trigger heimdall_outbox is installed there/);
  });

  it('the listener on a database where nothing captures and the server runs the extension', async () => {
    assert.deepEqual(await chooseCapture(statements({ running: true, installed: false }, false)), { capture: 'listener', why: "nothing captured it yet and the server runs Heimdall's Neo4j extension" });
  });

  it('the trigger where the server has no extension, and says so', async () => {
    assert.deepEqual(await chooseCapture(statements(NO_PROCEDURE, false)), {
      capture: 'trigger',
      why: "nothing captured it yet and Heimdall's Neo4j extension is not available (the server's plugins have no heimdall-capture-plugin.jar)",
    });
  });

  it('the trigger where the extension is loaded but does not run for this database, or cannot be asked', async () => {
    assert.match((await chooseCapture(statements({ running: false, installed: false }, false))).why, /not available \(it does not run for this database\)$/);
    const forbidden = neo4jError('Neo.ClientError.Security.Forbidden', 'Executing admin procedure is not allowed for user reader.');
    const r = await chooseCapture(statements(forbidden, false));
    assert.equal(r.capture, 'trigger');
    assert.match(r.why, /not available \(Executing admin procedure is not allowed for user reader\.\)$/);
  });

  it('nothing while Neo4j cannot be reached: the error says so and is marked unreachable, so the source retries', async () => {
    const err = await chooseCapture(statements(Object.assign(new DatabaseUnavailableError('Neo4j is not reachable.'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7687'), { code: 'ServiceUnavailable' }) }), false)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OutboxError);
    assert.equal(err.unreachable, true);
    assert.match(err.message, /^Neo4j is not reachable \(connect ECONNREFUSED 127\.0\.0\.1:7687\); check database\.uri/);
  });

  it('nothing when the APOC triggers cannot be read: the error names the fix', async () => {
    const forbidden = neo4jError('Neo.ClientError.Security.Forbidden', 'Permission denied.');
    const err = await chooseCapture(statements({ running: true, installed: false }, forbidden)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof OutboxError);
    assert.match(err.message, /^The database user may not read the APOC triggers \(to choose the outbox capture\) \(Permission denied\.\); installing APOC triggers needs an admin user/);
  });
});
