/**
 * The field-level cache through the API, against real Redis (a private server and a
 * 3-master cluster): one round trip for a warm dashboard, recomputes of exactly the
 * missing buckets, stale-while-revalidate, versioned keys, and what it reports.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKey } from '../../src/cache/keys.js';
import { DEFAULTS } from '../../src/config/index.js';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import {
  commandStats,
  resetStats,
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '../helpers/redis.js';

const STORED = ['REVENUE', 'ORDERS', 'SESSIONS', 'CUSTOMERS', 'TOP_PRODUCTS'];
const ALL_FIELDS = `query D($from: DateTime!, $to: DateTime!, $g: Granularity) {
  dashboard(range: { from: $from, to: $to }, granularity: $g) {
    range { from to }
    revenue { total points { start value } } orders { total points { start value } }
    sessions { total points { start value } } customers { total points { start value } }
    averageOrderValue conversionRate topProducts(limit: 5) { productId name orders revenue }
    revenueIn(currency: "EUR") { amount rate source stale }
  } }`;

/** Commands that touch data; connection and cluster housekeeping are not the dashboard's. */
function dataCommands(stats: Record<string, number>): Record<string, number> {
  // Also left out: the stream consumer's own polling (XREADGROUP … BLOCK 1000, and its
  // claims), which runs every second whatever the requests do and may land in the window.
  return Object.fromEntries(
    Object.entries(stats).filter(
      ([name]) => !/^(cluster|info|config|command|client|ping|hello|readonly|select|xreadgroup|xautoclaim|xpending)/.test(name),
    ),
  );
}

const now = Date.now();
const weekByHour = { from: iso(Math.floor(now / HOUR_MS) * HOUR_MS - 7 * DAY_MS), to: iso(now), g: 'HOUR' };

describe('a warm dashboard costs one store command', () => {
  let server: RedisServerHandle;
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([server?.stop(), cluster?.stop()]);
  });

  for (const kind of ['redis', 'cluster'] as const) {
    it(`every field, 7 days by hour: one MGET on ${kind === 'redis' ? 'standalone Redis' : 'Redis Cluster'}`, async () => {
      const env: Record<string, string> = kind === 'redis' ? { REDIS_URL: server.url } : { REDIS_CLUSTER_NODES: cluster.nodesEnv };
      const urls = kind === 'redis' ? [server.url] : cluster.servers.map((s) => s.url);
      const t = await startTestApp({ env });
      try {
        const cold = await t.gql(ALL_FIELDS, weekByHour);
        expect(cold.body.errors).toBeUndefined();
        expect(cold.body.extensions?.cache?.ORDERS).toEqual({ hit: 0, miss: 169, stale: 0 });
        await t.app.cache.idle();

        await resetStats(urls);
        const warm = await t.gql(ALL_FIELDS, weekByHour);
        const stats = dataCommands(await commandStats(urls));
        expect(stats).toEqual({ mget: 1 });
        expect(warm.body.data).toEqual(cold.body.data);
        for (const metric of STORED) expect(warm.body.extensions?.cache?.[metric]).toEqual({ hit: 169, miss: 0, stale: 0 });
      } finally {
        await t.close();
      }
    }, 60_000);
  }
});

describe('cold and partly cold ranges', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('compute only the missing buckets, one source query per contiguous missing span', async () => {
    const start = Math.floor(now / DAY_MS) * DAY_MS - 6 * DAY_MS;
    const q = (from: number, to: number) => t.gql(ALL_FIELDS, { from: iso(from), to: iso(to), g: 'HOUR' });
    const before = await t.metrics();
    // Warm two islands inside the range: hours 24..48 and 96..100.
    await q(start + 24 * HOUR_MS, start + 48 * HOUR_MS);
    await q(start + 96 * HOUR_MS, start + 100 * HOUR_MS);
    const warmed = await t.metrics();
    for (const metric of STORED) {
      expect(warmed.value('cache_recomputes_total', { metric }) - before.value('cache_recomputes_total', { metric })).toBe(28);
      expect(warmed.value('cache_source_queries_total', { metric }) - before.value('cache_source_queries_total', { metric })).toBe(2);
    }
    // The whole 5 days: 120 buckets, 28 cached, 92 missing in three spans.
    const res = await q(start, start + 120 * HOUR_MS);
    expect(res.body.errors).toBeUndefined();
    const after = await t.metrics();
    for (const metric of STORED) {
      expect(after.value('cache_recomputes_total', { metric }) - warmed.value('cache_recomputes_total', { metric })).toBe(92);
      expect(after.value('cache_source_queries_total', { metric }) - warmed.value('cache_source_queries_total', { metric })).toBe(3);
      expect(
        after.value('cache_requests_total', { metric, result: 'hit' }) - warmed.value('cache_requests_total', { metric, result: 'hit' }),
      ).toBe(28);
      expect(
        after.value('cache_requests_total', { metric, result: 'miss' }) - warmed.value('cache_requests_total', { metric, result: 'miss' }),
      ).toBe(92);
      expect(res.body.extensions?.cache?.[metric]).toEqual({ hit: 28, miss: 92, stale: 0 });
    }
    // Derived metrics are composed from the cached intents, never stored themselves.
    expect(Object.keys(res.body.extensions?.cache ?? {}).sort()).toEqual([...STORED].sort());
    expect(after.value('cache_recompute_duration_seconds_count', { metric: 'ORDERS' })).toBeGreaterThan(0);
  });

  it('ADMIN and ANALYST share one entry; a region scope has its own', async () => {
    const range = { from: iso(now - 9 * DAY_MS), to: iso(now - 8 * DAY_MS), g: 'HOUR' };
    const admin = await t.gql(ALL_FIELDS, range, await t.token({ role: 'ADMIN' }));
    expect(admin.body.extensions?.cache?.ORDERS.miss).toBeGreaterThan(0);
    const analyst = await t.gql(ALL_FIELDS, range, await t.token({ role: 'ANALYST' }));
    expect(analyst.body.extensions?.cache?.ORDERS).toEqual({ hit: 25, miss: 0, stale: 0 });
    const viewer = await t.gql(ALL_FIELDS, range, await t.token({ role: 'VIEWER' }));
    expect(viewer.body.extensions?.cache?.ORDERS).toEqual({ hit: 25, miss: 0, stale: 0 });
    // The authorization decision is never cached: VIEWER still gets FORBIDDEN on revenue.
    expect(viewer.body.errors?.some((e) => e.extensions?.code === 'FORBIDDEN' && e.path?.join('.') === 'dashboard.revenue')).toBe(true);
    const eu = await t.gql(ALL_FIELDS, range, await t.token({ role: 'ADMIN', region: 'EU' }));
    expect(eu.body.extensions?.cache?.ORDERS).toEqual({ hit: 0, miss: 25, stale: 0 });
  });

  it('serves /metrics with every contract metric', async () => {
    const text = (await t.metrics()).text;
    for (const name of [
      'cache_requests_total',
      'cache_recomputes_total',
      'cache_source_queries_total',
      'cache_recompute_duration_seconds',
      'cache_stale_served_total',
      'cache_lock_waits_total',
      'cache_invalidations_total',
      'cache_errors_total',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (counter|histogram)$`, 'm'));
    }
  });
});

describe('stale-while-revalidate', () => {
  it('serves a stale open bucket at once and refreshes it once in the background', async () => {
    let clock = Date.now();
    const server = await startRedisServer();
    const t = await startTestApp({ env: { REDIS_URL: server.url }, clock: () => clock });
    try {
      const today = { from: iso(Math.floor(clock / HOUR_MS) * HOUR_MS - 2 * HOUR_MS), to: iso(clock), g: 'HOUR' };
      await t.gql(ALL_FIELDS, today);
      await t.app.cache.idle();
      const before = await t.metrics();
      // 40 s later the open bucket (the current hour) is past its 30 s fresh life; the
      // two closed ones are not.
      clock += 40_000;
      const res = await t.gql(ALL_FIELDS, today);
      expect(res.body.errors).toBeUndefined();
      for (const metric of STORED) expect(res.body.extensions?.cache?.[metric]).toEqual({ hit: 2, miss: 0, stale: 1 });
      await t.app.cache.idle();
      const after = await t.metrics();
      for (const metric of STORED) {
        expect(after.value('cache_stale_served_total', { metric }) - before.value('cache_stale_served_total', { metric })).toBe(1);
        expect(after.value('cache_recomputes_total', { metric }) - before.value('cache_recomputes_total', { metric })).toBe(1);
      }
      // Refreshed: fresh again, and nothing recomputed on the next read.
      const again = await t.gql(ALL_FIELDS, today);
      for (const metric of STORED) expect(again.body.extensions?.cache?.[metric]).toEqual({ hit: 3, miss: 0, stale: 0 });
      await t.app.cache.idle();
      expect((await t.metrics()).value('cache_recomputes_total')).toBe(after.value('cache_recomputes_total'));
    } finally {
      await t.close();
      await server.stop();
    }
  });
});

describe('versioned keys', () => {
  it('a new CACHE_VERSION leaves old entries unread, expiring on their own', async () => {
    const server = await startRedisServer();
    const v1 = await startTestApp({ env: { REDIS_URL: server.url, CACHE_VERSION: 'v1' } });
    const v2 = await startTestApp({ env: { REDIS_URL: server.url, CACHE_VERSION: 'v2' } });
    const redis = new Redis(server.url);
    try {
      const range = { from: iso(now - 2 * DAY_MS), to: iso(now - DAY_MS), g: 'HOUR' };
      await v1.gql(ALL_FIELDS, range);
      expect((await v1.gql(ALL_FIELDS, range)).body.extensions?.cache?.ORDERS).toEqual({ hit: 25, miss: 0, stale: 0 });
      const keysBefore = (await redis.keys('dash:*')).length;
      const first = await v2.gql(ALL_FIELDS, range);
      expect(first.body.extensions?.cache?.ORDERS).toEqual({ hit: 0, miss: 25, stale: 0 });
      // The old entries are all still there, each with a finite TTL: nothing deleted them.
      const bucket = Math.floor((now - 2 * DAY_MS) / HOUR_MS) * HOUR_MS + HOUR_MS;
      const oldKey = buildKey({
        prefix: 'dash',
        cacheVersion: 'v1',
        tenant: 'acme',
        metric: 'ORDERS',
        metricVersion: 1,
        granularity: 'HOUR',
        bucketStart: bucket,
      });
      expect(await redis.exists(oldKey)).toBe(1);
      const ttl = await redis.pttl(oldKey);
      expect(ttl).toBeGreaterThan(0);
      // A closed bucket's fresh day, its stale hour, and the stale-if-error grace (CACHE_STALE_IF_ERROR_MS).
      expect(ttl).toBeLessThanOrEqual(86_400_000 + 3_600_000 + DEFAULTS.cache.staleIfErrorMs);
      expect((await redis.keys('dash:*')).length).toBe(keysBefore * 2);
      expect((await v1.gql(ALL_FIELDS, range)).body.extensions?.cache?.ORDERS).toEqual({ hit: 25, miss: 0, stale: 0 });
      // Every key the cache wrote expires.
      const keys = await redis.keys('dash:*');
      const ttls = await Promise.all(keys.map((k) => redis.pttl(k)));
      expect(ttls.every((ms) => ms > 0)).toBe(true);
    } finally {
      redis.disconnect();
      await Promise.all([v1.close(), v2.close()]);
      await server.stop();
    }
  });
});
