/**
 * A start that fails half-way closes what it had opened. The schema check runs last
 * (in the server part), after the database pool, the cache store, both pub/sub
 * connections and the stream consumer are open: a declaration the schema lacks must
 * leave no Redis client and no PostgreSQL connection behind.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { defineSum } from '../../src/metrics/define.js';
import { DASHBOARD_METRICS } from '../../src/metrics/definitions.js';
import { DeclarationError, createMetricRegistry } from '../../src/metrics/registry.js';
import { createLogger } from '../../src/observability/logger.js';
import { sql } from 'kysely';
import { TEST_SECRET } from '../helpers/app.js';
import { createSeededDatabase, type TestDatabase } from '../helpers/databases.js';
import { eventually } from '../helpers/eventually.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

let redis: RedisServerHandle;
let database: TestDatabase;

beforeAll(async () => {
  let seeded: Awaited<ReturnType<typeof createSeededDatabase>>;
  [redis, seeded] = await Promise.all([startRedisServer(), createSeededDatabase('postgres', { days: 1, scale: 0.01 })]);
  database = seeded.test;
  await seeded.database.close();
}, 60_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), database?.drop()]);
});

it('closes the store, pub/sub, the stream consumer and the database when the schema check fails', async () => {
  const name = `startup-failure-${process.pid}`;
  const url = new URL(database.url);
  url.searchParams.set('application_name', name);
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_SECRET,
    DATABASE_URL: url.href,
    REDIS_URL: redis.url,
    HOST: '127.0.0.1',
    PORT: '0',
  });
  // Declared, but the schema has no such field: the server part refuses to build.
  const orphan = defineSum({
    name: 'ORPHAN',
    field: 'Dashboard.orphan',
    version: 1,
    events: ['order.recorded'],
    query: { from: 'orders', value: sql`COUNT(*)` },
    unit: 1,
  });

  const observer = new Redis(redis.url);
  const postgres = new pg.Client({ connectionString: inject('postgresUrl') });
  await postgres.connect();
  try {
    // Every client of the private server but the observer.
    const clients = async () =>
      String(await observer.client('LIST'))
        .trim()
        .split('\n').length - 1;
    const sessions = async () =>
      Number((await postgres.query('SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0].n);

    let failure: unknown;
    await createApp(config, {
      logger: createLogger('silent'),
      seed: false,
      metrics: createMetricRegistry([...DASHBOARD_METRICS, orphan]),
    }).catch((error: unknown) => void (failure = error));
    expect(failure).toBeInstanceOf(DeclarationError);
    expect((failure as Error).message).toContain('metric ORPHAN declares field Dashboard.orphan, which the schema does not have');
    // It got as far as the stream consumer, the last part before the server: its group exists.
    const groups = (await observer.xinfo('GROUPS', 'dashboard:events')) as unknown[][];
    expect(groups.map((g) => g[1])).toContain('dashboard-api');
    await eventually(async () => (await clients()) === 0, 5_000, 'every Redis connection of the failed start closed');
    await eventually(async () => (await sessions()) === 0, 5_000, 'every PostgreSQL connection of the failed start closed');
  } finally {
    observer.disconnect();
    await postgres.end();
  }
});
