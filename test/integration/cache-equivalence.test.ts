/**
 * The results with the cache are the results without it, for every field, on SQLite
 * and PostgreSQL, cold and warm, on the in-process store and on Redis; and distinct
 * customers merged from per-bucket sketches stay within 2% where buckets are large
 * enough to be HyperLogLogs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bucketCount, snapWindow, BUCKET_MS, type Granularity } from '../../src/cache/buckets.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createLocalTier } from '../../src/cache/local-tier.js';
import { createCacheCore } from '../../src/cache/read-through.js';
import { createRedisStore } from '../../src/cache/redis-store.js';
import { createResilientStore } from '../../src/cache/resilient-store.js';
import { SET_MAX } from '../../src/cache/sketch.js';
import type { CacheStore } from '../../src/cache/store.js';
import { AVERAGE_ORDER_VALUE, CONVERSION_RATE, CUSTOMERS, ORDERS, REVENUE, SESSIONS, TOP_PRODUCTS } from '../../src/metrics/definitions.js';
import { createMetricsService, type MetricsService } from '../../src/metrics/service.js';
import { createAggregateSource } from '../../src/source/aggregates.js';
import type { Database } from '../../src/source/database.js';
import { createRandom } from '../../src/source/prng.js';
import type { DataScope } from '../../src/source/types.js';
import { createSeededDatabase, type DatabaseKind, type TestDatabase } from '../helpers/databases.js';
import { cleanupPrefix, uniquePrefix } from '../helpers/redis.js';

const END = Math.floor(Date.now() / BUCKET_MS.HOUR) * BUCKET_MS.HOUR;
const BIG_DAY = Math.floor(END / BUCKET_MS.DAY) * BUCKET_MS.DAY - 5 * BUCKET_MS.DAY;

interface Fixture {
  test: TestDatabase;
  database: Database;
  uncached: MetricsService;
  cached: Array<{ name: string; service: MetricsService; store: CacheStore }>;
}

const fixtures = new Map<DatabaseKind, Fixture>();
const prefix = uniquePrefix('equivalence');

async function open(kind: DatabaseKind): Promise<Fixture> {
  const { test, database } = await createSeededDatabase(kind, { days: 12, scale: 0.05, endMs: END });
  // A tenant whose daily buckets hold more customers than an exact set keeps: HLL territory.
  const rows = [];
  for (let day = 0; day < 3; day++) {
    for (let i = 0; i < 12_000; i++) {
      // Days overlap by half their customers, so the range total is not a sum.
      const customer = day * 6_000 + i;
      rows.push({
        tenant_id: 'bigco',
        id: `b${day}-${i}`,
        product_id: 'p',
        customer_id: `cust-${customer}`,
        amount_cents: 100,
        region: 'EU',
        occurred_at: BIG_DAY + day * BUCKET_MS.DAY + (i % 86_400) * 1000,
      });
    }
  }
  for (let i = 0; i < rows.length; i += 2_000)
    await database.db
      .insertInto('orders')
      .values(rows.slice(i, i + 2_000))
      .execute();

  const source = createAggregateSource(database);
  const cached = [];
  for (const [name, raw, tier] of [
    ['memory', createMemoryStore(), false],
    ['redis', createRedisStore(inject('redisUrl')), false],
    // As the server runs by default: the in-process tier in front of Redis.
    ['redis with the tier', createRedisStore(inject('redisUrl')), true],
  ] as const) {
    const store = createResilientStore(raw);
    await store.ping();
    const core = createCacheCore({ store, local: tier ? createLocalTier() : undefined });
    cached.push({
      name,
      store,
      service: createMetricsService(source, { core, prefix: `${prefix}-${kind}-${cached.length}`, cacheVersion: '1' }),
    });
  }
  return { test, database, uncached: createMetricsService(source), cached };
}

beforeAll(async () => {
  for (const kind of ['sqlite', 'postgres'] as const) fixtures.set(kind, await open(kind));
}, 120_000);

afterAll(async () => {
  for (const f of fixtures.values()) {
    for (const c of f.cached) await c.store.close();
    await f.database.close();
    await f.test.drop();
  }
  await cleanupPrefix(inject('redisUrl'), prefix);
});

/** Every field of the dashboard for one scope and window, as the resolvers would ask. */
async function everything(service: MetricsService, scope: DataScope, from: number, to: number, g: Granularity) {
  const window = snapWindow(from, to, g);
  const reader = service.reader('ADMIN');
  const [revenue, orders, sessions, customers, averageOrderValue, conversionRate, topProducts] = await Promise.all([
    reader.read(REVENUE, scope, window),
    reader.read(ORDERS, scope, window),
    reader.read(SESSIONS, scope, window),
    reader.read(CUSTOMERS, scope, window),
    reader.read(AVERAGE_ORDER_VALUE, scope, window),
    reader.read(CONVERSION_RATE, scope, window),
    reader.read(TOP_PRODUCTS, scope, window, { limit: 50 }),
  ]);
  return { revenue, orders, sessions, customers, averageOrderValue, conversionRate, topProducts };
}

describe.each(['sqlite', 'postgres'] as const)('on %s', (kind) => {
  it('cached results equal uncached ones over random ranges, granularities, tenants and scopes, cold and warm', async () => {
    const f = fixtures.get(kind)!;
    const random = createRandom(kind === 'sqlite' ? 7 : 8);
    const tenants = ['acme', 'globex', 'initech', 'nobody'];
    const regions = [undefined, 'EU', 'NA', 'APAC'] as const;
    for (let i = 0; i < 30; i++) {
      const g: Granularity = random.next() < 0.5 ? 'HOUR' : 'DAY';
      const from = END - 13 * BUCKET_MS.DAY + random.int(13 * 24) * BUCKET_MS.HOUR + random.int(BUCKET_MS.HOUR);
      const to = Math.min(from + 1 + random.int(6 * BUCKET_MS.DAY), END + 2 * BUCKET_MS.DAY);
      const region = regions[random.int(4)];
      const scope: DataScope = region ? { tenant: tenants[random.int(4)]!, region } : { tenant: tenants[random.int(4)]! };
      const truth = await everything(f.uncached, scope, from, to, g);
      for (const { name, service } of f.cached) {
        for (const pass of ['cold', 'warm']) {
          const got = await everything(service, scope, from, to, g);
          const label = `${name} ${pass} ${JSON.stringify({ scope, from, to, g })}`;
          // Members are hashed to 32 bits: a collision could make a total one short, so the
          // contract's 2% is the bound; with these sizes it is exact.
          expect(Math.abs(got.customers.total - truth.customers.total), label).toBeLessThanOrEqual(truth.customers.total * 0.02);
          expect({ ...got, customers: { ...got.customers, total: 0 } }, label).toEqual({
            ...truth,
            customers: { ...truth.customers, total: 0 },
          });
        }
      }
    }
  }, 120_000);

  it('merges over closed days held by DAY equal the source: every total and top product by hour, after the same days were read by day', async () => {
    const f = fixtures.get(kind)!;
    const random = createRandom(kind === 'sqlite' ? 17 : 18);
    for (let i = 0; i < 6; i++) {
      // Ranges of 2 to 8 days that start and end inside a day, so that whole closed days
      // (by DAY) sit between partial ones (by HOUR); some end in the open day.
      const from = END - 11 * BUCKET_MS.DAY + random.int(4 * 24) * BUCKET_MS.HOUR + random.int(BUCKET_MS.HOUR);
      const to = Math.min(from + 2 * BUCKET_MS.DAY + random.int(6 * BUCKET_MS.DAY), END + BUCKET_MS.HOUR);
      const scope: DataScope = i % 2 ? { tenant: 'acme', region: 'EU' } : { tenant: i % 3 ? 'globex' : 'acme' };
      const truth = await everything(f.uncached, scope, from, to, 'HOUR');
      for (const { name, service } of f.cached) {
        await everything(service, scope, from, to, 'DAY');
        const reader = service.reader('ADMIN');
        const got = await Promise.all([
          reader.read(AVERAGE_ORDER_VALUE, scope, snapWindow(from, to, 'HOUR')),
          reader.read(CONVERSION_RATE, scope, snapWindow(from, to, 'HOUR')),
          reader.read(TOP_PRODUCTS, scope, snapWindow(from, to, 'HOUR'), { limit: 50 }),
          reader.read(CUSTOMERS, scope, snapWindow(from, to, 'HOUR')),
        ]);
        const label = `${name} ${JSON.stringify({ scope, from, to })}`;
        expect(got.slice(0, 3), label).toEqual([truth.averageOrderValue, truth.conversionRate, truth.topProducts]);
        expect(got[3].total, label).toBe(truth.customers.total);
        // The merges read the closed days' DAY entries: at least one day looked up once, not 24 times.
        const { hit, miss, stale } = reader.cacheStats().TOP_PRODUCTS!;
        expect(hit + miss + stale, label).toBeLessThanOrEqual(bucketCount(snapWindow(from, to, 'HOUR')) - 23);
      }
    }
  }, 120_000);

  it('an estimate never stands in for exact hours: DAY sketches past the exact set are not merged into an HOUR total', async () => {
    const f = fixtures.get(kind)!;
    const scope = { tenant: 'bigco' };
    const from = BIG_DAY - 5 * BUCKET_MS.HOUR;
    const to = BIG_DAY + 3 * BUCKET_MS.DAY + 5 * BUCKET_MS.HOUR;
    for (const { name, service } of f.cached) {
      await service.reader().read(CUSTOMERS, scope, snapWindow(from, to, 'DAY'));
      // Each hour holds 500 customers, an exact set: their union is exact, a DAY's HLL would not be.
      const byHour = await service.reader().read(CUSTOMERS, scope, snapWindow(from, to, 'HOUR'));
      expect(byHour.total, name).toBe(24_000);
    }
  });

  it('distinct customers from HyperLogLog buckets are within 2% of the exact count, on every store', async () => {
    const f = fixtures.get(kind)!;
    const scope = { tenant: 'bigco' };
    const from = BIG_DAY;
    const to = BIG_DAY + 3 * BUCKET_MS.DAY;
    const exact = await f.uncached.reader().read(CUSTOMERS, scope, snapWindow(from, to, 'DAY'));
    expect(exact.total).toBe(24_000);
    expect(exact.points.map((p) => p.value)).toEqual([12_000, 12_000, 12_000]);
    expect(12_000).toBeGreaterThan(SET_MAX);
    for (const { name, service } of f.cached) {
      for (const pass of ['cold', 'warm']) {
        const got = await service.reader().read(CUSTOMERS, scope, snapWindow(from, to, 'DAY'));
        expect(got.points, `${name} ${pass}`).toEqual(exact.points);
        expect(Math.abs(got.total - exact.total) / exact.total, `${name} ${pass}: ${got.total}`).toBeLessThanOrEqual(0.02);
      }
    }
  });
});
