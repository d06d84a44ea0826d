/**
 * Reading the outbox trigger's refusal back (daemon/db/own-state.ts): the remediation executor turns it into a
 * heimdall-state refusal whichever trigger refuses first, so the labels must come out of the message as the
 * trigger formats it, also when the driver wraps the error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REFUSAL_TEMPLATE, isRefusal, refusedLabels } from '../../daemon/db/own-state.js';

/** The message as apoc.util.validate formats it (String.format with one %s), inside Neo4j's wrapper text. */
const neo4jError = (labels: string): Error =>
  new Error(`Error occurred in phase before for transaction: Failed to invoke procedure \`apoc.util.validate\`: Caused by: java.lang.RuntimeException: ${REFUSAL_TEMPLATE.replace('%s', labels)}`);

describe('the outbox refusal', () => {
  it('names the labels it refused', () => {
    assert.deepEqual(refusedLabels(neo4jError('HeimdallOutboxSeq')), ['HeimdallOutboxSeq']);
    assert.deepEqual(refusedLabels(neo4jError('HeimdallOutbox, :HeimdallAudit')), ['HeimdallOutbox', 'HeimdallAudit']);
  });

  it('is found in a cause too, and nothing else is taken for it', () => {
    const wrapped = Object.assign(new Error('The database refused the write.'), { cause: neo4jError('HeimdallAudit') });
    assert.equal(isRefusal(wrapped), true);
    assert.deepEqual(refusedLabels(wrapped), ['HeimdallAudit']);
    assert.equal(refusedLabels(new Error('HEIMDALL_POLICY<<{"probe":true}>>HEIMDALL_POLICY')), undefined);
    assert.equal(refusedLabels(undefined), undefined);
    assert.equal(isRefusal(new Error('Connection refused')), false);
  });
});
