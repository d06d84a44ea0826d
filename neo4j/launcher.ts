/**
 * Starts a real Neo4j Community (embedded, with APOC) as a child process, without Docker: for the
 * daemon's `database: { embedded: true }`, for the tests and for `npm run neo4j`.
 *
 * The JVM side is neo4j/src/main/java/heimdall/Neo4jLauncher.java; its jars come from Maven Central
 * through neo4j/pom.xml and are built on first use (`mvn -q -B -f neo4j/pom.xml package`), then
 * cached in neo4j/target (and ~/.m2). Java 17+ must be installed, and Maven 3.8+ for that first build.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface StartNeo4jOptions {
  /** Bolt port on 127.0.0.1; a free one is picked when omitted. */
  port?: number;
  /** Folder for the database, its config and logs; a fresh temporary folder (removed by stop()) when omitted. */
  home?: string;
  /** Require a user name and password (user neo4j). Default false. */
  auth?: boolean;
  /** Password for user neo4j when auth is on; a random one when omitted. */
  password?: string;
  /** How long to wait for the ready line. Default 180 s: the first JVM start on a cold machine can be slow. */
  timeoutMs?: number;
  /** Receives the launcher's progress lines (full sentences). */
  log?: (line: string) => void;
  /** Receives every line Neo4j prints (they also go to the log file in the home folder). */
  onOutput?: (line: string) => void;
  /** Maximum JVM heap. Default 512m. */
  maxHeap?: string;
  /**
   * Initial JVM heap. Default 64m: small for tests, but the heap then grows towards maxHeap as the
   * database is used, and with the serial collector each step is a full collection that stops
   * Neo4j for about 100 ms. Give maxHeap here for a JVM that does not grow (Neo4j's own advice for
   * servers: server.memory.heap.initial_size equal to max_size).
   */
  initialHeap?: string;
  /**
   * The JVM's garbage collector: `serial` (default: the smallest footprint, for tests) or `g1`
   * (what a Neo4j server runs with), for measurements that should see a server's pauses.
   */
  gc?: 'serial' | 'g1';
  /**
   * Extra neo4j.conf settings, each in place of the launcher's own line of that name where it has one, e.g.
   * `{ 'db.logs.query.enabled': 'OFF' }`. Names are checked: lower case, digits, `_` and `.`.
   */
  settings?: Record<string, string>;
  /**
   * Run the JVM in its own process group, so a Ctrl-C in the terminal reaches only the parent, which
   * then stops Neo4j in its own time. Default false.
   */
  detached?: boolean;
  /**
   * SIGKILL the JVM when this process exits without having stopped it. Default true. The JVM also
   * stops by itself, cleanly, when this process goes away (its stdin closes): a long-lived owner of
   * a persistent database (the daemon) turns the kill off and relies on that.
   */
  killOnExit?: boolean;
}

export interface Neo4jInstance {
  uri: string;
  user: string;
  password: string;
  pid: number;
  home: string;
  logFile: string;
  /** Settles when the JVM has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then wait for a clean exit (SIGKILL after 30 s). Removes the home folder if startNeo4j created it. */
  stop(): Promise<void>;
  /** SIGKILL at once, without waiting. */
  kill(): void;
}

const READY = /^NEO4J READY (bolt:\/\/\S+)$/;
const STOP_DEADLINE_MS = 30_000;
const TAIL_LINES = 40;

/** The repository root: the nearest folder above this file that holds neo4j/pom.xml (works from dist/ and from sources). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'neo4j', 'pom.xml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the repository root (a folder with neo4j/pom.xml) above ${fileURLToPath(import.meta.url)}.`);
    dir = parent;
  }
}

/** The folder of the launcher's Maven project (pom.xml, src/, target/). */
export function launcherDir(): string {
  return join(repoRoot(), 'neo4j');
}

/** The Neo4j and APOC versions pinned in neo4j/pom.xml. */
export function pinnedVersions(): { neo4j: string; apoc: string } {
  const pom = readFileSync(join(launcherDir(), 'pom.xml'), 'utf8');
  const get = (tag: string): string => {
    const m = new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(pom);
    if (!m) throw new Error(`neo4j/pom.xml has no <${tag}> property.`);
    return m[1]!.trim();
  };
  return { neo4j: get('neo4j.version'), apoc: get('apoc.version') };
}

function requireTool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `The Neo4j launcher needs Java 17 (or newer) and Maven 3.8 (or newer), but \`${cmd} ${args.join(' ')}\` failed` +
        ` (${r.error ? r.error.message : `exit code ${r.status}`}). Install them, e.g. \`apt-get install openjdk-17-jdk-headless maven\`,` +
        ' and make sure `java` and `mvn` are on PATH.',
    );
  }
  return `${r.stdout}${r.stderr}`;
}

function checkJava(): void {
  const out = requireTool('java', ['-version']);
  const m = /version "(\d+)/.exec(out);
  const major = m ? Number(m[1]) : 0;
  if (major < 17) {
    throw new Error(`The Neo4j launcher needs Java 17 or newer, but \`java -version\` reports: ${out.split('\n')[0]}. Install OpenJDK 17 and put it first on PATH.`);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Whether neo4j/target holds an up-to-date build (the class file and the jars, newer than the pom and the Java sources). */
export function neo4jBuildState(): { built: boolean; stale: boolean; classpath: string } {
  const base = launcherDir();
  const classFile = join(base, 'target', 'classes', 'heimdall', 'Neo4jLauncher.class');
  const lib = join(base, 'target', 'lib');
  // Maven may leave an up-to-date class file untouched, so a successful build here also writes a stamp file.
  const stamp = join(base, 'target', '.built-by-launcher');
  const built = existsSync(classFile) && existsSync(join(base, 'target', 'heimdall-capture-plugin.jar')) && existsSync(lib) && readdirSync(lib).some((f) => f.startsWith('apoc-core-'));
  const builtAt = built ? Math.max(statSync(classFile).mtimeMs, existsSync(stamp) ? statSync(stamp).mtimeMs : 0) : 0;
  const stale = built && Math.max(statSync(join(base, 'pom.xml')).mtimeMs, newestMtime(join(base, 'src'))) > builtAt;
  return { built, stale, classpath: `${join(base, 'target', 'classes')}:${join(lib, '*')}` };
}

/**
 * What is missing to run the launcher here, as one sentence with how to get it, or undefined when
 * nothing is: Java 17+ always, Maven 3.8+ while neo4j/target holds no up-to-date build.
 */
export function missingTools(): string | undefined {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) return 'Java 17 (or newer) is not installed or not on PATH; install it (e.g. `apt-get install openjdk-17-jdk-headless`, or from adoptium.net)';
  const m = /version "(\d+)/.exec(`${java.stdout}${java.stderr}`);
  if (!m || Number(m[1]) < 17) return `Java 17 or newer is needed, but \`java -version\` reports ${`${java.stderr}${java.stdout}`.split('\n')[0]}; install OpenJDK 17 and put it first on PATH`;
  const { built, stale } = neo4jBuildState();
  if (built && !stale) return undefined;
  const mvn = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0) return 'Maven 3.8 (or newer) is not installed or not on PATH, and the first start needs it to fetch the Neo4j jars once; install it (e.g. `apt-get install maven`, or from maven.apache.org)';
  return undefined;
}

/** Builds neo4j/ with Maven when target/ is missing or older than the pom or the Java sources. */
export async function ensureNeo4jBuilt(log: (line: string) => void = () => {}): Promise<{ classpath: string }> {
  const root = repoRoot();
  const base = launcherDir();
  const { built, stale, classpath } = neo4jBuildState();
  checkJava();
  if (built && !stale) return { classpath };

  requireTool('mvn', ['-v']);
  log(`Building the Neo4j launcher with Maven (mvn -q -B -f neo4j/pom.xml package); the first build on a machine downloads about 165 MB of jars from Maven Central into ~/.m2 and may take a minute or more, later starts reuse them.`);
  const started = Date.now();
  const output: string[] = [];
  const code = await new Promise<number | null>((res, rej) => {
    const mvn = spawn('mvn', ['-q', '-B', '-f', join(base, 'pom.xml'), 'package'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => void output.push(chunk.toString('utf8'));
    mvn.stdout.on('data', collect);
    mvn.stderr.on('data', collect);
    mvn.on('error', rej);
    mvn.on('close', res);
  });
  if (code !== 0) {
    const tail = output.join('').split('\n').filter(Boolean).slice(-TAIL_LINES).join('\n');
    throw new Error(`Building the Neo4j launcher with Maven failed (exit code ${code}). Run \`mvn -B -f neo4j/pom.xml package\` to see why. Last lines:\n${tail}`);
  }
  writeFileSync(join(base, 'target', '.built-by-launcher'), `${new Date().toISOString()}\n`);
  log(`Built the Neo4j launcher in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return { classpath };
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Throws, naming the option, when a heap size, the collector or a setting could not be passed to the JVM or neo4j.conf as given. */
function checkJvmAndSettings(opts: StartNeo4jOptions): void {
  for (const [name, size] of [['maxHeap', opts.maxHeap], ['initialHeap', opts.initialHeap]] as const) {
    if (size !== undefined && !/^[1-9][0-9]*[kmg]?$/i.test(size)) throw new Error(`The Neo4j ${name} "${size}" is not a JVM heap size: give a whole number with k, m or g (such as 512m or 1g).`);
  }
  if (opts.gc !== undefined && opts.gc !== 'serial' && opts.gc !== 'g1') throw new Error(`The Neo4j gc "${String(opts.gc)}" is not one the launcher knows: use serial or g1.`);
  for (const [key, value] of Object.entries(opts.settings ?? {})) {
    if (!/^[a-z][a-z0-9_.]*$/.test(key) || /[\r\n]/.test(value)) {
      throw new Error(`The Neo4j setting "${key}" cannot be passed: a name is lower case letters, digits, "_" and "." (such as db.logs.query.enabled), and a value is one line.`);
    }
  }
}

export async function startNeo4j(opts: StartNeo4jOptions = {}): Promise<Neo4jInstance> {
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 180_000;
  checkJvmAndSettings(opts);
  const { classpath } = await ensureNeo4jBuilt(log);
  const ownsHome = opts.home === undefined;
  const home = ownsHome ? mkdtempSync(join(tmpdir(), 'heimdall-neo4j-')) : resolve(opts.home!);
  mkdirSync(home, { recursive: true });
  const port = opts.port ?? (await freePort());
  const auth = opts.auth ?? false;
  const password = auth ? (opts.password ?? randomBytes(12).toString('hex')) : '';
  const logFile = join(home, 'neo4j.log');
  const logStream = createWriteStream(logFile, { flags: 'a' });
  logStream.on('error', () => {}); // The log file is a convenience; losing it must not crash the caller.
  const tail: string[] = [];

  const args = [
    `-Xmx${opts.maxHeap ?? '512m'}`,
    `-Xms${opts.initialHeap ?? '64m'}`,
    opts.gc === 'g1' ? '-XX:+UseG1GC' : '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Dfile.encoding=UTF-8',
    '-Dio.netty.tryReflectionSetAccessible=true',
    '--add-opens=java.base/java.nio=ALL-UNNAMED',
    '--add-opens=java.base/java.io=ALL-UNNAMED',
    '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
    '-cp',
    classpath,
    'heimdall.Neo4jLauncher',
    '--port',
    String(port),
    '--home',
    home,
    '--stop-on-stdin-close',
    ...(auth ? ['--auth'] : []),
    ...Object.entries(opts.settings ?? {}).flatMap(([key, value]) => ['--setting', `${key}=${value}`]),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, NEO4J_LAUNCHER_PASSWORD: password };
  delete env.NEO4J_CONF; // APOC would read apoc.conf from $NEO4J_CONF instead of HOME/conf.
  log(`Starting Neo4j on bolt://127.0.0.1:${port} (auth ${auth ? 'on' : 'off'}) with its files in ${home}; its log is ${logFile}.`);
  const started = Date.now();
  const child: ChildProcess = spawn('java', args, { cwd: home, env, stdio: ['pipe', 'pipe', 'pipe'], detached: opts.detached === true });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('exit', (code, signal) => res({ code, signal }));
    child.on('error', () => res({ code: null, signal: null }));
  });
  const killOnParentExit = (): void => void child.kill('SIGKILL');
  if (opts.killOnExit !== false) process.on('exit', killOnParentExit);
  void exited.then(() => {
    process.removeListener('exit', killOnParentExit);
    logStream.end();
  });
  const remember = (line: string): void => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    logStream.write(`${line}\n`);
    opts.onOutput?.(line);
  };
  createInterface({ input: child.stderr! }).on('line', remember);
  const stdoutLines = createInterface({ input: child.stdout! });

  const describeTail = (): string => {
    // The Java launcher sums a failed start up in one "Neo4j launcher cannot start: ..." line; put it first.
    const summary = [...tail].reverse().find((l) => l.startsWith('Neo4j launcher cannot start: '));
    const lines = tail.length ? `Last lines of ${logFile}:\n${tail.join('\n')}` : `Neo4j printed nothing; see ${join(home, 'logs', 'debug.log')}.`;
    return summary ? `${summary}\n${lines}` : lines;
  };

  const uri = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`Neo4j did not report ready within ${timeoutMs / 1000} s, so it was killed. ${describeTail()}`));
    }, timeoutMs);
    stdoutLines.on('line', (line) => {
      const m = READY.exec(line);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      } else {
        remember(line);
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      rej(new Error(`Could not run \`java\` to start Neo4j (${err.message}); Java 17 or newer must be installed and on PATH.`));
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`Neo4j exited before it was ready (${signal ? `signal ${signal}` : `exit code ${code}`}). ${describeTail()}`));
    });
  });
  log(`Neo4j is ready on ${uri} after ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${child.pid}).`);

  let stopping: Promise<void> | undefined;
  return {
    uri,
    user: 'neo4j',
    password,
    pid: child.pid!,
    home,
    logFile,
    exited,
    kill: () => void child.kill('SIGKILL'),
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const deadline = setTimeout(() => {
            log(`Neo4j (pid ${child.pid}) did not stop within ${STOP_DEADLINE_MS / 1000} s of SIGTERM, so it is killed.`);
            child.kill('SIGKILL');
          }, STOP_DEADLINE_MS);
          await exited;
          clearTimeout(deadline);
        }
        const { code, signal } = await exited;
        log(`Neo4j (pid ${child.pid}) stopped (${signal ? `signal ${signal}` : `exit code ${code}`}).`);
        if (ownsHome) {
          if (code === 0) rmSync(home, { recursive: true, force: true });
          else log(`Kept ${home} because Neo4j did not exit cleanly; its log is ${logFile}.`);
        }
      })()),
  };
}
