/**
 * The client of the remediation benchmark (bench/remediation.ts), in its own process like an
 * application calling the daemon, so that the daemon's event loop runs only the daemon: `n` rounds,
 * each a CREATE straight through neo4j-driver (the baseline), the HTTP invoke of the no-op action and
 * the HTTP invoke of the create action, interleaved so the three see the same machine. Prints one
 * JSON line: {driver: [ms], noop: [ms], create: [ms]}, the create calls in order.
 *
 *   node dist/bench/remediation-client.js <daemon url> <bolt uri> <n> <first i>
 * With `first` for n: one create invoke and nothing before it (the first call after the daemon started).
 */
import neo4j from 'neo4j-driver';

const [url, uri, nArg, firstArg] = process.argv.slice(2);
const onlyFirst = nArg === 'first';
const n = onlyFirst ? 0 : Number(nArg);
let i = Number(firstArg);
const driver = neo4j.driver(uri!, neo4j.auth.basic('neo4j', ''));

async function invoke(action: string): Promise<number> {
  const s = performance.now();
  const res = await fetch(`${url}/v1/actions/heimdall.bench-writer.${action}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ params: action === 'create' ? { i: i++ } : {} }) });
  const body = (await res.json()) as { success?: boolean; message?: string };
  const ms = performance.now() - s;
  if (!body.success) throw new Error(`The benchmark action ${action} failed: ${body.message}`);
  return ms;
}

const out = { driver: [] as number[], noop: [] as number[], create: [] as number[] };
try {
  if (onlyFirst) out.create.push(await invoke('create'));
  for (let k = 0; k < n; k++) {
    const s = performance.now();
    await driver.executeQuery('CREATE (n:BenchWrite {i: $i}) RETURN n.i AS i', { i: -k }, { database: 'neo4j' });
    out.driver.push(performance.now() - s);
    out.noop.push(await invoke('noop'));
    out.create.push(await invoke('create'));
  }
} finally {
  await driver.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
