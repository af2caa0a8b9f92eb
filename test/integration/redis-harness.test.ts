/**
 * The Redis harness checked against real servers: a private server through its whole
 * life (pause, resume, stop, kill, restart), no server outliving its test process, a
 * private cluster (hash tags, MGET, keys spread over every master), command counts,
 * and cleanup by prefix on the shared server that touches no one else's keys.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import {
  cleanupClusterPrefix,
  cleanupPrefix,
  commandStats,
  findOrStartRedis,
  findRedisUrl,
  resetStats,
  startRedisCluster,
  startRedisServer,
  uniquePrefix,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '../helpers/redis.js';
import { freePort } from '../helpers/services.js';

/** A client that fails at once instead of retrying, so that a dead server shows. */
const NO_RETRY: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false };

const clients: Array<Redis | Cluster> = [];

function connect(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, options);
  client.on('error', () => {});
  clients.push(client);
  return client;
}

/** PINGs once with a fresh client; resolves with the reply or the error (e.g. `error: connect ECONNREFUSED …`). */
async function ping(url: string): Promise<string> {
  const client = connect(url, { ...NO_RETRY, connectTimeout: 1_000, commandTimeout: 1_000 });
  // connect() rejects with a bare "Connection is closed."; the cause comes as an event.
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause ??= error));
  try {
    await client.connect();
    return await client.ping();
  } catch (error) {
    return `error: ${(cause ?? (error as Error)).message}`;
  } finally {
    client.disconnect();
  }
}

/**
 * True once `pid` is no longer a running process. A killed server whose parent died
 * may linger as a zombie (state Z) when nothing reaps orphans, as in some containers.
 */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

afterAll(() => {
  for (const client of clients) client.disconnect();
});

describe('startRedisServer', () => {
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('listens on loopback only, without persistence, on the port it reports', async () => {
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const client = connect(server.url);
    expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(await client.config('GET', 'port')).toEqual(['port', String(server.port)]);
  });

  it('stores and reads through ioredis, and counts a GET after resetStats', async () => {
    const client = connect(server.url);
    await client.set('harness:key', 'value');
    await resetStats([server.url]);
    expect(await client.get('harness:key')).toBe('value');
    const stats = await commandStats([server.url]);
    expect(stats.get).toBe(1);
    // The SET came before the reset, so it must not be counted.
    expect(stats.set).toBeUndefined();
  });

  it('pauses (commands time out), resumes, stops (connections fail), restarts (empty)', async () => {
    const client = connect(server.url, { commandTimeout: 200, maxRetriesPerRequest: 0 });
    await client.set('harness:life', 'before');

    server.pause();
    await expect(client.get('harness:life')).rejects.toThrow(/timed out/i);
    server.resume();
    expect(await client.get('harness:life')).toBe('before');
    client.disconnect();

    const pid = server.pid;
    expect(pid).toBeTypeOf('number');
    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(processGone(pid!)).toBe(true);
    expect(await ping(server.url)).toMatch(/^error: .*ECONNREFUSED/);
    await server.stop(); // idempotent

    await server.restart();
    expect(server.pid).toBeTypeOf('number');
    expect(server.pid).not.toBe(pid);
    expect(await ping(server.url)).toBe('PONG');
    // Nothing was saved, so nothing comes back.
    expect(await connect(server.url).get('harness:life')).toBeNull();
  });

  it('stops a paused server', async () => {
    const paused = await startRedisServer();
    const pid = paused.pid!;
    paused.pause();
    await paused.stop();
    expect(processGone(pid)).toBe(true);
    expect(await ping(paused.url)).toMatch(/ECONNREFUSED/);
  });

  it('kills on a given port with extra arguments, and restarts after a kill', async () => {
    const port = await freePort();
    const other = await startRedisServer({ port, args: ['--maxmemory', '10mb'] });
    try {
      expect(other.port).toBe(port);
      expect(await connect(other.url).config('GET', 'maxmemory')).toEqual(['maxmemory', String(10 * 1024 * 1024)]);
      const pid = other.pid!;
      await other.kill();
      expect(processGone(pid)).toBe(true);
      expect(await ping(other.url)).toMatch(/ECONNREFUSED/);
      await other.restart();
      expect(await ping(other.url)).toBe('PONG');
    } finally {
      await other.stop();
    }
  });

  it('fails with the server output when the port is taken', async () => {
    await expect(startRedisServer({ port: server.port })).rejects.toThrow(/Address already in use/i);
  });

  it('says what to install when redis-server is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const error = await startRedisServer().then(
        () => undefined,
        (reason: unknown) => reason as Error,
      );
      expect(error?.message).toContain('apt-get install redis-server');
      expect(error?.message).toContain('brew install redis');
      expect(error?.message).toContain('REDIS_URL');
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('servers do not outlive the test process', () => {
  const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');
  const HARNESS = pathToFileURL(join(process.cwd(), 'test', 'helpers', 'redis.ts')).href;

  /** Runs `code` after starting a server in a child process; resolves with the server's pid and port and the child. */
  async function childWithServer(code: string) {
    const script = `import { startRedisServer } from ${JSON.stringify(HARNESS)};
      const s = await startRedisServer();
      console.log('server', s.pid, s.port);
      ${code}`;
    const child = spawn(TSX, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await eventually(() => /server \d+ \d+/.test(output) || child.exitCode !== null, 15_000, 'the child to start a server');
    const match = output.match(/server (\d+) (\d+)/);
    if (!match) throw new Error(`the child started no server:\n${output}`);
    return { pid: Number(match[1]), url: `redis://127.0.0.1:${match[2]}`, child, exited };
  }

  it('kills the server when the process exits', async () => {
    const { pid, url, exited } = await childWithServer('process.exit(0);');
    await exited;
    await eventually(() => processGone(pid), 5_000, `redis-server ${pid} to be gone`);
    expect(await ping(url)).toMatch(/ECONNREFUSED/);
  });

  it('kills the server when the process gets SIGTERM', async () => {
    const { pid, url, child, exited } = await childWithServer('setInterval(() => {}, 1000);');
    expect(await ping(url)).toBe('PONG');
    child.kill('SIGTERM');
    await exited;
    await eventually(() => processGone(pid), 5_000, `redis-server ${pid} to be gone`);
    expect(await ping(url)).toMatch(/ECONNREFUSED/);
  });
});

describe('startRedisCluster', () => {
  let cluster: RedisClusterHandle;
  let client: Cluster;
  const prefix = uniquePrefix('cluster');
  const tagged = [`${prefix}:{t}:a`, `${prefix}:{t}:b`, `${prefix}:{t}:c`];
  const urls = () => cluster.servers.map((server) => server.url);

  /** Keys with `start` on one node, asked of that node alone. */
  const keysOn = (url: string, start: string) => connect(url).keys(`${start}*`);

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.nodes);
    client.on('error', () => {});
    clients.push(client);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('describes three loopback masters', async () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.servers.map((server) => server.port)).toEqual(cluster.nodes.map((node) => node.port));
    expect(cluster.nodesEnv).toBe(cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(','));
    for (const server of cluster.servers) {
      const info = await connect(server.url).cluster('INFO');
      expect(info).toMatch(/^cluster_state:ok\r?$/m);
      expect(info).toMatch(/^cluster_size:3\r?$/m);
      expect(await connect(server.url).role()).toContain('master');
    }
  });

  it('puts keys with the same hash tag in one slot, and MGETs them', async () => {
    const slots = await Promise.all(tagged.map((key) => client.cluster('KEYSLOT', key)));
    expect(new Set(slots).size).toBe(1);
    expect(slots[0]).toBe(await client.cluster('KEYSLOT', 't'));

    await Promise.all(tagged.map((key, i) => client.set(key, String(i))));
    await resetStats(urls());
    expect(await client.mget(...tagged)).toEqual(['0', '1', '2']);
    const stats = await commandStats(urls());
    expect(stats.mget).toBe(1);
    expect(stats.get).toBeUndefined();
  });

  it('spreads keys with different tags over every master', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:spread:{${i}}`);
    await Promise.all(keys.map((key) => client.set(key, 'x')));
    const perNode = await Promise.all(urls().map((url) => keysOn(url, `${prefix}:spread:`)));
    for (const found of perNode) expect(found.length).toBeGreaterThan(0);
    expect(perNode.flat().sort()).toEqual([...keys].sort());
    await expect(client.mget(keys[0]!, keys[1]!, keys[2]!)).rejects.toThrow(/CROSSSLOT|same slot/i);
  });

  it('cleans up a prefix on every master and nothing else', async () => {
    const other = uniquePrefix('cluster-other');
    await client.set(`${other}:{t}:keep`, 'kept');
    await client.set(`${prefix}:{z}:extra`, 'x');
    const before = (await Promise.all(urls().map((url) => keysOn(url, prefix)))).flat().length;
    expect(before).toBeGreaterThan(3);

    expect(await cleanupClusterPrefix(cluster.nodes, prefix)).toBe(before);
    for (const url of urls()) expect(await keysOn(url, prefix)).toEqual([]);
    expect(await client.get(`${other}:{t}:keep`)).toBe('kept');
    await cleanupClusterPrefix(cluster.nodes, other);
  });
});

describe('the shared server', () => {
  const url = inject('redisUrl');
  const prefix = uniquePrefix('cleanup');

  afterAll(async () => {
    await cleanupPrefix(url, prefix);
  });

  it('gives each test its own prefix, without braces or glob characters', () => {
    expect(prefix).toMatch(/^t-cleanup-[0-9a-f]{12}$/);
    expect(uniquePrefix('cleanup')).not.toBe(prefix);
    expect(uniquePrefix('a{b}*c?[d]')).toMatch(/^t-a-b--c--d--[0-9a-f]{12}$/);
  });

  it('finds the Redis of the run', async () => {
    expect(await ping(url)).toBe('PONG');
    const dead = `redis://127.0.0.1:${await freePort()}`;
    await expect(findRedisUrl({ TEST_REDIS_URL: dead })).rejects.toThrow(/does not answer PING/);
    await expect(findRedisUrl({ REDIS_URL: dead })).rejects.toThrow(dead);
    expect(await findRedisUrl({ REDIS_URL: url })).toBe(url);

    const standardAnswers = (await ping('redis://127.0.0.1:6379')) === 'PONG';
    const found = await findOrStartRedis({});
    try {
      expect(found.origin).toBe(standardAnswers ? 'local' : 'private');
      expect(await ping(found.url)).toBe('PONG');
    } finally {
      await found.stop();
    }
  });

  it('removes the keys with the prefix, and only those', async () => {
    const client = connect(url);
    const ours = Array.from({ length: 1_500 }, (_, i) => `${prefix}:${i}`);
    const pipeline = client.pipeline();
    for (const key of ours) pipeline.set(key, '1');
    // Neighbours that a careless match would also take: a longer prefix without the
    // colon, and a key that a glob `*` in the prefix would match.
    pipeline.set(`${prefix}x:keep`, 'kept');
    pipeline.set(`${prefix}*glob`, 'star');
    await pipeline.exec();

    expect(await cleanupPrefix(url, `${prefix}:`)).toBe(ours.length);
    expect(await client.exists(...ours)).toBe(0);
    expect(await client.get(`${prefix}x:keep`)).toBe('kept');

    // `*` in the prefix is matched literally: `${prefix}x:keep` stays.
    expect(await cleanupPrefix(url, `${prefix}*`)).toBe(1);
    expect(await client.get(`${prefix}*glob`)).toBeNull();
    expect(await client.get(`${prefix}x:keep`)).toBe('kept');

    await expect(cleanupPrefix(url, '')).rejects.toThrow(/empty prefix/);
  });
});
