/**
 * What this machine's loopback moves at all, as the Bifrost benchmark's ceiling of ceilings: a bare
 * TCP server in a child process writes the same bytes to each of `clients` sockets (one buffer, no
 * HTTP, no frames), and this process only counts what arrives. Expressed as frames of the daemon's
 * size per second and client, it bounds what any SSE server and any client could show here: the
 * kernel copies every byte twice and both ends share this machine's cores.
 *
 *   node dist/bench/loopback-ceiling.js --serve     (the child: prints its port, then serves)
 */
import { spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoopbackCeiling {
  clients: number;
  bytesPerClient: number;
  /** All clients together, MB/s (10^6 bytes). */
  mbPerS: number;
  /** Frames of `frameBytes` per second to each client. */
  framesPerSPerClient: number;
}

/** The child: a connection that sends `<bytes> <clients>` has that many bytes written to every connection, once `clients` are in. */
function serve(): void {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('close', () => sockets.splice(sockets.indexOf(s), 1));
    s.on('data', (b) => {
      const [size, expected] = b.toString('latin1').trim().split(' ').map(Number);
      const bytes = Buffer.alloc(size!, 'x');
      // the clients connected before they asked, but this side may not have accepted them all yet
      const send = () => (sockets.length < expected! ? setTimeout(send, 5) : sockets.forEach((o) => o.write(bytes)));
      send();
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    process.stdout.write(`${typeof a === 'object' && a ? a.port : 0}\n`);
  });
}

/** `clients` sockets each sent `bytesPerClient` at once (after one warm-up round of a tenth). */
export async function loopbackCeiling(clients: number, bytesPerClient: number, frameBytes: number): Promise<LoopbackCeiling> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((res, rej) => {
      proc.stdout.once('data', (b: Buffer) => res(Number(b.toString().trim())));
      proc.once('exit', (code) => rej(new Error(`The loopback ceiling's server exited with code ${code} before it listened.`)));
    });
    let got = 0;
    let want = 0;
    let done: (() => void) | undefined;
    const sockets = await Promise.all(Array.from({ length: clients }, () => new Promise<Socket>((res, rej) => {
      const s = connect(port, '127.0.0.1', () => res(s));
      s.on('error', rej);
      s.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= want) done?.();
      });
    })));
    const round = async (bytes: number): Promise<number> => {
      got = 0;
      want = bytes * clients;
      const t0 = performance.now();
      await new Promise<void>((res) => {
        done = res;
        sockets[0]!.write(`${bytes} ${clients}\n`);
      });
      return (performance.now() - t0) / 1000;
    };
    await round(Math.round(bytesPerClient / 10));
    const s = await round(bytesPerClient);
    for (const x of sockets) x.destroy();
    return { clients, bytesPerClient, mbPerS: (bytesPerClient * clients) / 1e6 / s, framesPerSPerClient: bytesPerClient / frameBytes / s };
  } finally {
    proc.kill();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--serve')) serve();
