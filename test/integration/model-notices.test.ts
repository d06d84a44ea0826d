/** The daemon tells operators once when the model server stops answering and once when it is back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon } from '../helpers/in-process-daemon.js';
import { bifrostMessages } from '../helpers/public-api.js';
import { llmYaml, startTestLlm } from '../llm/server.js';

test('model unreachable and back: one Bifrost notice each, not one per failed prompt', async () => {
  const llm = await startTestLlm();
  const d = await startTestDaemon([], llmYaml(llm));
  try {
    llm.script({ status: 503 }, { status: 503 }, { content: 'fine again' });
    const a = await d.api.prompt('one');
    const b = await d.api.prompt('two');
    assert.equal(a.success, false);
    assert.equal(b.success, false);
    const c = await d.api.prompt('three');
    assert.equal(c.success, true, c.message);
    const notes = (await bifrostMessages(d)).filter((m) => m.data?.service === 'model');
    assert.deepEqual(notes.map((m) => [m.level, m.title]), [
      ['error', 'The language model is unreachable'],
      ['success', 'The language model is back'],
    ]);
    assert.match(notes[0]!.message, /HTTP 503/);
  } finally {
    await d.stop();
    await llm.close();
  }
});
