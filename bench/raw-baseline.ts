/**
 * The naive design the daemon must beat (issue 12, item 4): raw worker_threads, no daemon in
 * between. The main thread posts the same parsed batches the HTTP path delivers to each worker
 * with postMessage (one structured clone per worker), keeping 16 batches in flight per worker like
 * a bounded queue would; each worker calls a no-op per event. Also the same at a paced rate, with
 * the latency from posting to the worker's loop, as the baseline of the latency benchmark.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { DatabaseEvent } from '../sdk/index.js';
import { cpuSpan, type CpuSpan } from './main-thread-cpu.js';
import { percentile, sleep } from './stats.js';

/** The NDJSON lines the HTTP benchmark posts, item `i`. */
export const ndjsonLine = (i: number) => JSON.stringify({ type: 'node.updated', nodeId: `4:x:${i}`, properties: { n: i } });

/** What the http source makes of `ndjsonLine(i)`: parsed, with id, timestamp, database and source filled in. */
export function parsedEvents(n: number, perRequest: number): DatabaseEvent[] {
  const ts = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({ ...(JSON.parse(ndjsonLine(i % perRequest)) as DatabaseEvent), id: randomUUID(), timestamp: ts, database: 'neo4j', source: 'http' }));
}

const NOOP_WORKER = `const { parentPort } = require('node:worker_threads'); let k = 0; const noop = (e) => { k++; };
  parentPort.postMessage({ tid: Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()) });
  const now = () => performance.timeOrigin + performance.now(); const lat = [];
  parentPort.on('message', (m) => {
    if (m === 'take') { parentPort.postMessage(lat.splice(0)); return; }
    for (const e of m) { noop(e); const t0 = e.metadata && e.metadata.t0; if (typeof t0 === 'number') lat.push(now() - t0); }
    parentPort.postMessage(m.length);
  });`;

/** `count` no-op workers, each with its OS thread id (the first message it sends). */
async function startWorkers(count: number): Promise<{ workers: Worker[]; tids: number[] }> {
  const workers = Array.from({ length: count }, () => new Worker(NOOP_WORKER, { eval: true }));
  const tids = await Promise.all(workers.map((w) => new Promise<number>((res) => w.once('message', (m: { tid: number }) => res(m.tid)))));
  return { workers, tids };
}

/**
 * Events sent before a measured run of the HTTP path and of this baseline, and not counted: the
 * daemon's and the workers' code is compiled and optimised first, as in a daemon that has been
 * running (V8's compiler threads otherwise take a share of a short run's CPU that this baseline's
 * few lines of code do not pay).
 */
export const WARM_UP_EVENTS = 20_000;

/** Sends `batches` to `w`, at most 16 unanswered; resolves when the worker has counted them all. */
function pump(w: Worker, batches: readonly DatabaseEvent[][]): Promise<void> {
  const total = batches.reduce((a, b) => a + b.length, 0);
  return new Promise<void>((res) => {
    let got = 0;
    let next = 0;
    let answered = 0;
    const send = () => {
      while (next < batches.length && next - answered < 16) w.postMessage(batches[next++]);
    };
    const onAnswer = (c: number) => {
      got += c;
      answered++;
      if (got >= total) {
        w.off('message', onAnswer);
        res();
      } else send();
    };
    w.on('message', onAnswer);
    send();
  });
}

/** `count` workers, each sent all `n` events in batches of `batch`, as fast as they answer, after WARM_UP_EVENTS. */
export async function rawPostMessage(count: number, n: number, batch: number, perRequest: number): Promise<{ workers: number; perWorkerEventsPerS: number; cpu: CpuSpan; mainCpuMsPer100k: number; workersCpuMsPer100k: number; otherCpuMsPer100k: number }> {
  const { workers, tids } = await startWorkers(count);
  const events = parsedEvents(n, perRequest);
  const batches: DatabaseEvent[][] = [];
  for (let i = 0; i < n; i += batch) batches.push(events.slice(i, i + batch));
  const warmUp = batches.slice(0, Math.ceil(WARM_UP_EVENTS / batch));
  await Promise.all(workers.map((w) => pump(w, warmUp)));
  await sleep(200);
  const took = cpuSpan(tids);
  const t0 = performance.now();
  await Promise.all(workers.map((w) => pump(w, batches)));
  const s = (performance.now() - t0) / 1000;
  const cpu = took();
  await Promise.all(workers.map((w) => w.terminate()));
  const per100k = (ms: number) => (ms * 100_000) / (n * count);
  return { workers: count, perWorkerEventsPerS: n / s, cpu, mainCpuMsPer100k: per100k(cpu.mainMs), workersCpuMsPer100k: per100k(cpu.workersMs), otherCpuMsPer100k: per100k(cpu.otherMs) };
}

/** Seconds of paced load before the latency benchmark's measured seconds, reported apart (the first second after start). */
export const LATENCY_WARM_UP_S = 1;

/** Latency percentiles: of the measured seconds, and of the warm-up before them. */
export interface LatencyAtRate {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
  /** p99 of the LATENCY_WARM_UP_S seconds before (code compiled and optimised meanwhile, heap growing). */
  warmUpP99Ms: number;
}

/**
 * Sends `rate` events/s for `seconds`, a batch every millisecond, each event stamped with
 * metadata.t0 when it is made; `first` is the sequence number of the first. Resolves with the number sent.
 */
export async function paceEvents(rate: number, seconds: number, first: number, send: (batch: DatabaseEvent[]) => void): Promise<number> {
  const now = () => performance.timeOrigin + performance.now();
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    const batch: DatabaseEvent[] = [];
    const ts = new Date().toISOString();
    for (; sent < due; sent++) batch.push({ id: `l-${first + sent}`, type: 'node.updated', timestamp: ts, database: 'neo4j', source: 'bench', metadata: { t0: now() } });
    if (batch.length) send(batch);
    await sleep(1);
  }
  return sent;
}

/** Sorted latencies as percentiles. */
export function latencyFigures(rate: number, lat: number[], warmUp: number[]): LatencyAtRate {
  lat.sort((a, b) => a - b);
  warmUp.sort((a, b) => a - b);
  return { rate, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), samples: lat.length, warmUpP99Ms: percentile(warmUp, 99) };
}

/**
 * 4 workers fed `rate` events/s each, a batch every millisecond: LATENCY_WARM_UP_S seconds, then
 * `seconds` measured; latency from making the event to the worker's loop.
 */
export async function rawLatencyAtRate(rate: number, seconds: number): Promise<LatencyAtRate> {
  const { workers } = await startWorkers(4);
  const w0 = workers[0]!;
  let got = 0;
  let sent = 0;
  let allIn: (() => void) | undefined;
  w0.on('message', (m: unknown) => {
    if (typeof m === 'number') got += m;
    if (allIn && got >= sent) allIn();
  });
  await sleep(200);
  const phase = async (s: number): Promise<number[]> => {
    sent += await paceEvents(rate, s, sent, (batch) => {
      for (const w of workers) w.postMessage(batch);
    });
    if (got < sent) await new Promise<void>((res) => (allIn = res));
    allIn = undefined;
    return new Promise<number[]>((res) => {
      w0.once('message', (m: number[]) => res(m));
      w0.postMessage('take');
    });
  };
  const warmUp = await phase(LATENCY_WARM_UP_S);
  const lat = await phase(seconds);
  await Promise.all(workers.map((w) => w.terminate()));
  return latencyFigures(rate, lat, warmUp);
}
