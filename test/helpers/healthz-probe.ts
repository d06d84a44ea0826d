/**
 * Measures GET /healthz latency from a worker thread, so that what the test process itself does
 * meanwhile (reading hundreds of streams) does not count against the daemon. Requests go one after
 * another, `gapMs` apart, until stop() is called, which resolves with every latency in ms.
 */
import { Worker } from 'node:worker_threads';

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { request } = require('node:http');
let stop = false;
parentPort.on('message', () => { stop = true; });
const latencies = [];
const counter = new Int32Array(workerData.counter);
const once = () => new Promise((resolve) => {
  const t0 = performance.now();
  const req = request(workerData.url + '/healthz', { agent: false }, (res) => {
    res.resume();
    res.on('end', () => resolve(performance.now() - t0));
  });
  req.on('error', () => resolve(performance.now() - t0));
  req.end();
});
(async () => {
  while (!stop) {
    latencies.push(await once());
    Atomics.store(counter, 0, latencies.length);
    await new Promise((r) => setTimeout(r, workerData.gapMs));
  }
  parentPort.postMessage(latencies);
})();
`;

export interface HealthzProbe {
  /** Probes answered so far. */
  count(): number;
  /** Stops probing; resolves with the latencies measured, ms. */
  stop(): Promise<number[]>;
}

export function probeHealthz(url: string, gapMs = 5): HealthzProbe {
  const counter = new SharedArrayBuffer(4);
  const view = new Int32Array(counter);
  const worker = new Worker(SOURCE, { eval: true, workerData: { url, gapMs, counter } });
  const result = new Promise<number[]>((resolve, reject) => {
    worker.once('message', (m: number[]) => resolve(m));
    worker.once('error', reject);
  });
  return {
    count: () => Atomics.load(view, 0),
    stop: async () => {
      worker.postMessage('stop');
      const r = await result;
      await worker.terminate();
      return r;
    },
  };
}

/** The p-th percentile (0..100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
