/** Several real server processes (`src/main.ts`) sharing one database and one Redis. */
import { Redis } from 'ioredis';
import { signToken } from '../../src/auth/identity.js';
import type { Database } from '../../src/source/database.js';
import type { SeedOptions } from '../../src/source/seed.js';
import { TEST_SECRET } from './app.js';
import { createSeededDatabase, type TestDatabase } from './databases.js';
import { startRedisServer, type RedisServerHandle } from './redis.js';
import { runScript, type Child } from './process.js';
import { freePort } from './services.js';

/** One server process and its base URL. */
export interface Instance {
  child: Child;
  url: string;
}

/** The servers `startInstances` started, in start order. */
export interface Instances {
  servers: Instance[];
  /** SIGTERM to each, waiting for it to exit. */
  stop(): Promise<void>;
}

/** Starts `count` servers and resolves once every one is listening. */
export async function startInstances(
  count: number,
  env: { DATABASE_URL: string; REDIS_URL: string } & Record<string, string>,
): Promise<Instances> {
  const servers: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const child = runScript('src/main.ts', [], {
      PORT: String(port),
      JWT_SECRET: TEST_SECRET,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      ...env,
    });
    servers.push({ child, url: `http://127.0.0.1:${port}` });
  }
  const stop = async () => {
    for (const s of servers) {
      s.child.kill('SIGTERM');
      await s.child.exited;
    }
  };
  try {
    await Promise.all(servers.map((s) => s.child.waitFor(/GraphiQL: http/, 60_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers, stop };
}

/** Server processes on a private Redis and a seeded PostgreSQL schema, with a Redis client to look on. */
export interface SharedCluster {
  database: TestDatabase;
  /** An open handle on the seeded database. */
  db: Database;
  redis: RedisServerHandle;
  /** A connection of the test's own to the private Redis. */
  client: Redis;
  instances: Instances;
  /** Stops the servers, then closes and removes everything else. */
  close(): Promise<void>;
}

/**
 * `count` servers sharing one freshly seeded PostgreSQL schema and one private Redis:
 * the setup of the multi-instance tests. `env` adds to what every server gets.
 */
export async function startSharedCluster(count: number, seed: SeedOptions, env: Record<string, string> = {}): Promise<SharedCluster> {
  const [seeded, redis] = await Promise.all([createSeededDatabase('postgres', seed), startRedisServer()]);
  const client = new Redis(redis.url);
  const close = async () => {
    client.disconnect();
    await seeded.database.close();
    await redis.stop();
    await seeded.test.drop();
  };
  let instances: Instances;
  try {
    instances = await startInstances(count, { DATABASE_URL: seeded.test.url, REDIS_URL: redis.url, ...env });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    database: seeded.test,
    db: seeded.database,
    redis,
    client,
    instances,
    async close() {
      await instances.stop();
      await close();
    },
  };
}

/**
 * Posts `query` with `variables` to `base`/graphql as acme's ADMIN, and gives back its
 * data; an answer with errors (or none) throws with what it said.
 */
export async function postAsAcme(base: string, query: string, variables: Record<string, unknown>): Promise<any> {
  const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, new TextEncoder().encode(TEST_SECRET));
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`${base} answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
  return body.data;
}
