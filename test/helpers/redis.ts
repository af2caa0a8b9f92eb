/**
 * Real Redis servers for the tests, all on loopback: the shared server a run uses
 * (found, or started privately), private servers a test may pause, kill and restart,
 * a private three-master cluster, and the small tools around them (command counts,
 * cleanup by key prefix, unique prefixes). No mocks: every helper talks to a real
 * `redis-server`.
 *
 * Every child started here is tracked and killed when the test process exits, so a
 * crashed or interrupted run leaves no server behind.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { eventually } from './eventually.js';
import { freePort } from './services.js';

/** Where the run looks for Redis when no URL is given. */
const STANDARD_REDIS = 'redis://127.0.0.1:6379';

/** What to do when there is no Redis at all; shared by every error that says so. */
const INSTALL_REDIS =
  'Install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) so that ' +
  '`redis-server` and `redis-cli` are on PATH, or set REDIS_URL (or TEST_REDIS_URL) to a Redis that answers.';

/**
 * Timeouts of the harness, in milliseconds.
 */
const TIMEOUTS = {
  /** How long one PING probe may take before the server counts as not answering. @default 1_000 */
  pingMs: 1_000,
  /** How long a fresh server may take to answer PING. @default 10_000 */
  startMs: 10_000,
  /** How long a server may take to exit after SIGTERM before it gets SIGKILL. @default 5_000 */
  stopMs: 5_000,
  /** How long `redis-cli --cluster create` may run. @default 30_000 */
  clusterCreateMs: 30_000,
  /** How long a created cluster may take to report `cluster_state:ok` on every node. @default 15_000 */
  clusterOkMs: 15_000,
} as const;

/** How much of a server's output is kept for error messages, in characters. */
const OUTPUT_KEPT = 8_000;

// ---------------------------------------------------------------------------
// Children left behind: killed when this process goes, however it goes.
// ---------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHooked = false;

function killAllNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone: nothing to kill.
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', killAllNow);
  // A signal ends Node without an 'exit' event. Kill the servers, then, when no one
  // else handles the signal, re-raise it so that the process still dies of it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllNow();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

// ---------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------

/** Options for a short-lived helper connection: no retries, no queueing, no noise. */
function probeOptions(timeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    // The ready check (INFO) and ioredis's CLIENT SETINFO on connect would show up in `commandStats`.
    enableReadyCheck: false,
    disableClientInfo: true,
  };
}

/** Opens a helper connection, runs `use`, and always closes it. */
async function withConnection<T>(url: string, use: (client: Redis) => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const client = new Redis(url, probeOptions(timeoutMs));
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** True when the server at `url` answers PING within `timeoutMs`. */
async function redisAnswers(url: string, timeoutMs: number = TIMEOUTS.pingMs): Promise<boolean> {
  try {
    return (await withConnection(url, (client) => client.ping(), timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}

/** The process id the server at `url` reports, or undefined when it does not answer within `timeoutMs`. */
async function serverPid(url: string, timeoutMs: number): Promise<number | undefined> {
  try {
    const info = await withConnection(url, (client) => client.info('server'), timeoutMs);
    const match = info.match(/^process_id:(\d+)/m);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

// ---------------------------------------------------------------------------
// The shared server of a run
// ---------------------------------------------------------------------------

/** Where the Redis of a run is, and how to stop it if this run started it. */
export interface RedisHandle {
  url: string;
  /** `env`: REDIS_URL/TEST_REDIS_URL; `local`: 127.0.0.1:6379; `private`: started for this run. */
  origin: 'env' | 'local' | 'private';
  /** Stops the server when this run started it; a no-op otherwise. */
  stop(): Promise<void>;
}

/**
 * Finds the Redis for a run, in this order: TEST_REDIS_URL, then REDIS_URL (it must
 * answer PING, else this throws rather than fall back to another server); then
 * 127.0.0.1:6379 if it answers; else a private `redis-server` started on a free
 * loopback port. Throws with what to install when `redis-server` is not on PATH.
 */
export async function findOrStartRedis(env: NodeJS.ProcessEnv = process.env): Promise<RedisHandle> {
  const given = env.TEST_REDIS_URL || env.REDIS_URL;
  if (given) {
    if (await redisAnswers(given)) return { url: given, origin: 'env', stop: async () => {} };
    throw new Error(
      `Redis at TEST_REDIS_URL/REDIS_URL (${redactUrl(given)}) does not answer PING within ${TIMEOUTS.pingMs} ms. ` +
        'Start that server, or unset the variable to use 127.0.0.1:6379 or a private redis-server.',
    );
  }
  if (await redisAnswers(STANDARD_REDIS)) return { url: STANDARD_REDIS, origin: 'local', stop: async () => {} };
  const server = await startRedisServer();
  return { url: server.url, origin: 'private', stop: () => server.stop() };
}

/**
 * The URL of the Redis for a run (see {@link findOrStartRedis} for the order). A
 * private server started here lives until this process exits; use
 * `findOrStartRedis` to stop it earlier.
 */
export async function findRedisUrl(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return (await findOrStartRedis(env)).url;
}

// ---------------------------------------------------------------------------
// Private servers
// ---------------------------------------------------------------------------

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The loopback port to listen on. @default a free port */
  port?: number;
  /** More `redis-server` arguments, after the defaults (so they win), e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
}

/** A private `redis-server` child process. */
export interface RedisServerHandle {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** The process id while the server runs; undefined once it has exited. */
  readonly pid: number | undefined;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). Safe to call again, or after `kill()`. */
  stop(): Promise<void>;
  /** SIGKILL, and waits for the exit: the server dies at once, like a crash. */
  kill(): Promise<void>;
  /** SIGSTOP: the server hangs; connections stay open but nothing is answered. */
  pause(): void;
  /** SIGCONT: the paused server goes on, answering what it was sent meanwhile. */
  resume(): void;
  /** Stops the server if it runs, then starts it again on the same port and waits until it answers PING. Data is gone. */
  restart(): Promise<void>;
}

/** One run of a server process. */
interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  output(): string;
}

function spawnRedis(args: string[]): Promise<Running> {
  hookExit();
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exited = new Promise<void>((done) =>
      child.once('exit', () => {
        liveChildren.delete(child);
        done();
      }),
    );
    child.once('error', (error: NodeJS.ErrnoException) => {
      liveChildren.delete(child);
      reject(
        error.code === 'ENOENT'
          ? new Error(`redis-server is not on PATH. ${INSTALL_REDIS}`, { cause: error })
          : new Error(`Could not start redis-server: ${error.message}`, { cause: error }),
      );
    });
    child.once('spawn', () => {
      liveChildren.add(child);
      // A server must not keep the test process alive on its own: the exit hook kills it.
      child.unref();
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      (child.stderr as unknown as { unref?: () => void }).unref?.();
      resolve({ child, exited, output: () => output });
    });
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Starts a server and waits until it answers; rejects with its output when it exits instead. */
async function launch(port: number, dir: string, extra: string[]): Promise<Running> {
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra];
  const running = await spawnRedis(args);
  const url = `redis://127.0.0.1:${port}`;
  try {
    await eventually(
      async () => {
        if (hasExited(running.child)) {
          throw new Error(
            `redis-server on port ${port} exited (${running.child.exitCode ?? running.child.signalCode}) before answering:\n${running.output()}`,
          );
        }
        // The pid, not a mere PONG: when the port was taken, another server answers there.
        return (await serverPid(url, 500)) === running.child.pid;
      },
      TIMEOUTS.startMs,
      `redis-server on port ${port} answering PING`,
    );
  } catch (error) {
    running.child.kill('SIGKILL');
    await running.exited;
    throw error;
  }
  return running;
}

/**
 * Starts a private `redis-server` on loopback (`--save "" --appendonly no --bind
 * 127.0.0.1`, a temporary `--dir`), and resolves once it answers PING. Without a
 * port it takes a free one, and tries another when that one is taken meanwhile.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const extra = options.args ?? [];
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-api-redis-'));
  liveDirs.add(dir);

  let port = options.port ?? (await freePort());
  let running: Running | undefined;
  for (let attempt = 1; ; attempt += 1) {
    try {
      running = await launch(port, dir, extra);
      break;
    } catch (error) {
      // freePort closes the port before redis-server binds it: another process may win it.
      const taken = /address already in use/i.test((error as Error).message);
      if (!taken || options.port !== undefined || attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
        throw error;
      }
      port = await freePort();
    }
  }

  let current: Running | undefined = running;
  let paused = false;
  let stopping: Promise<void> | undefined;

  const stop = (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    if (stopping) return stopping;
    const run = current;
    if (!run) return Promise.resolve();
    stopping = (async () => {
      if (!hasExited(run.child)) {
        run.child.kill(signal);
        // A stopped process only acts on SIGTERM once it runs again.
        if (paused) run.child.kill('SIGCONT');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), TIMEOUTS.stopMs);
        });
        if ((await Promise.race([run.exited, late])) === 'late') {
          run.child.kill('SIGKILL');
          await run.exited;
        }
        clearTimeout(timer);
      }
      paused = false;
      current = undefined;
      rmSync(dir, { recursive: true, force: true });
    })().finally(() => {
      stopping = undefined;
    });
    return stopping;
  };

  const signalRunning = (signal: NodeJS.Signals, what: string) => {
    if (!current || hasExited(current.child)) throw new Error(`Cannot ${what} the redis-server on port ${port}: it is not running.`);
    current.child.kill(signal);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return current && !hasExited(current.child) ? current.child.pid : undefined;
    },
    stop: () => stop('SIGTERM'),
    kill: () => stop('SIGKILL'),
    pause() {
      signalRunning('SIGSTOP', 'pause');
      paused = true;
    },
    resume() {
      signalRunning('SIGCONT', 'resume');
      paused = false;
    },
    async restart() {
      await stop('SIGTERM');
      current = await launch(port, dir, extra);
    },
  };
}

// ---------------------------------------------------------------------------
// Private cluster
// ---------------------------------------------------------------------------

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** How many masters, each a private server; `redis-cli --cluster create` wants at least 3. @default 3 */
  masters?: number;
}

/** A private Redis Cluster of masters only, on loopback. */
export interface RedisClusterHandle {
  /** The masters, as `new Redis.Cluster(nodes)` takes them. */
  nodes: Array<{ host: '127.0.0.1'; port: number }>;
  /** The masters as REDIS_CLUSTER_NODES wants them: `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`. */
  nodesEnv: string;
  /** The server processes, in the order of `nodes`. */
  servers: RedisServerHandle[];
  /** Stops every server and removes the cluster's config files. */
  stop(): Promise<void>;
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new Error(
            missing
              ? `${command} is not on PATH. ${INSTALL_REDIS}`
              : `${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`,
            { cause: error },
          ),
        );
      } else {
        resolve(stdout);
      }
    });
  });
}

/**
 * Starts `masters` private servers in cluster mode (node timeout 2 s), joins them with
 * `redis-cli --cluster create … --cluster-replicas 0`, and resolves once every node
 * reports `cluster_state:ok` and knows every other node.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`startRedisCluster: masters must be an integer of at least 3 (redis-cli --cluster create needs 3), got ${masters}.`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-api-redis-cluster-'));
  liveDirs.add(dir);
  const started = await Promise.allSettled(
    Array.from({ length: masters }, async () => {
      const port = await freePort();
      return startRedisServer({
        port,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'],
      });
    }),
  );
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };

  try {
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], TIMEOUTS.clusterCreateMs);
    await eventually(
      async () => {
        const infos = await Promise.all(servers.map((server) => withConnection(server.url, (client) => client.cluster('INFO'))));
        return infos.every(
          (info) => /^cluster_state:ok\r?$/m.test(info) && new RegExp(`^cluster_known_nodes:${masters}\\r?$`, 'm').test(info),
        );
      },
      TIMEOUTS.clusterOkMs,
      `cluster_state:ok on all of ${addresses.join(', ')}`,
    );
    const nodes = servers.map((server) => ({ host: '127.0.0.1' as const, port: server.port }));
    return { nodes, nodesEnv: addresses.join(','), servers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Command counts
// ---------------------------------------------------------------------------

/**
 * Calls per command, summed over the servers, from `INFO commandstats`; keys are
 * lower-case command names as Redis names them (`get`, `mget`, `cluster|info`).
 * The helper's own connection sends nothing but that INFO. Use on private servers
 * only: the counts include every client's commands.
 */
export async function commandStats(urls: string[]): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  const infos = await Promise.all(urls.map((url) => withConnection(url, (client) => client.info('commandstats'))));
  for (const info of infos) {
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const [, command, calls] = match;
      if (command === undefined || calls === undefined) continue;
      totals[command] = (totals[command] ?? 0) + Number(calls);
    }
  }
  return totals;
}

/** Zeroes the command counts (and the rest of INFO's statistics) with `CONFIG RESETSTAT` on each server. Private servers only. */
export async function resetStats(urls: string[]): Promise<void> {
  await Promise.all(urls.map((url) => withConnection(url, (client) => client.config('RESETSTAT'))));
}

// ---------------------------------------------------------------------------
// Cleanup by prefix
// ---------------------------------------------------------------------------

/** The SCAN MATCH pattern for keys starting with `prefix`, its glob characters escaped. */
function prefixPattern(prefix: string): string {
  if (prefix === '') throw new Error('Refusing to clean up with an empty prefix: it would delete every key. Pass the prefix of one test.');
  return `${prefix.replace(/[\\*?[\]]/g, '\\$&')}*`;
}

/** SCANs one server for `prefix*` and hands each batch of keys to `remove`; returns how many keys it found. */
async function scanPrefix(client: Redis, prefix: string, remove: (keys: string[]) => Promise<void>): Promise<number> {
  const match = prefixPattern(prefix);
  let cursor = '0';
  let found = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) {
      found += keys.length;
      await remove(keys);
    }
  } while (cursor !== '0');
  return found;
}

/**
 * Deletes every key that starts with `prefix` on one server, with SCAN + UNLINK (never
 * FLUSHALL, so it is safe on the shared server); glob characters in the prefix are
 * matched literally. Resolves with how many keys it deleted.
 */
export async function cleanupPrefix(url: string, prefix: string): Promise<number> {
  return withConnection(url, (client) =>
    scanPrefix(client, prefix, async (keys) => {
      await client.unlink(...keys);
    }),
  );
}

/**
 * {@link cleanupPrefix} for a cluster: scans every master among `nodes` (replicas are
 * skipped) and UNLINKs key by key, since one UNLINK may not span slots. Resolves with
 * how many keys it deleted.
 */
export async function cleanupClusterPrefix(nodes: ReadonlyArray<{ host: string; port: number }>, prefix: string): Promise<number> {
  prefixPattern(prefix); // fails on an empty prefix before any connection is made
  let deleted = 0;
  for (const node of nodes) {
    deleted += await withConnection(`redis://${node.host}:${node.port}`, async (client) => {
      const [role] = (await client.role()) as [string, ...unknown[]];
      if (role !== 'master') return 0;
      return scanPrefix(client, prefix, async (keys) => {
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.unlink(key);
        const results = (await pipeline.exec()) ?? [];
        const failed = results.find(([error]) => error)?.[0];
        if (failed) throw failed;
      });
    });
  }
  return deleted;
}

/**
 * A key prefix for one test: `t-${name}-${12 hex digits}`. Characters of `name` other
 * than letters, digits, `_`, `.` and `-` become `-`, so the prefix holds no hash tag
 * braces and no glob characters.
 */
export function uniquePrefix(name: string): string {
  return `t-${name.replace(/[^A-Za-z0-9_.-]/g, '-')}-${randomBytes(6).toString('hex')}`;
}
