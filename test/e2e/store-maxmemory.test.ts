/**
 * Redis at `maxmemory` (issue 10, point 6), against the real server and a private
 * redis-server per policy that the test fills with filler keys of its own:
 *
 * - `noeviction`: writes are refused (`OOM command not allowed …`). Requests answer
 *   from the source, correctly (a write made meanwhile shows at once: its drop deletes
 *   what it cannot tombstone), with 200; the refusals are counted in
 *   `cache_errors_total{operation}`; once memory is freed, caching resumes by itself.
 * - `allkeys-lru`: Redis evicts entries, tombstones and validators alike while writes
 *   and reads run concurrently; every answer afterwards equals the source.
 *   (`test/integration/store-eviction.test.ts` shows the exact race: a value read
 *   before a write, stored after its tombstone and validator were evicted.)
 *
 * The truth is read from the database itself, not from the API.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHits, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { startLoad } from '../helpers/load.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';
import { orderEventFields } from '../helpers/stream-events.js';

const QUERY = `query Memory($from: DateTime!, $to: DateTime!) {
  dashboard(range: { from: $from, to: $to }, granularity: HOUR) { orders { total } revenue { total } }
}`;
const end = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
/** Closed ranges of the last day, so that their buckets stay fresh for the test. */
const range = (hoursBack: number, hours: number) => ({
  from: iso(end - (hoursBack + hours) * HOUR_MS),
  to: iso(end - hoursBack * HOUR_MS),
});

interface Setup {
  server: RedisServerHandle;
  t: TestApp;
  /** The test's own connection, for the filler keys. */
  client: Redis;
}

async function startWithPolicy(policy: 'noeviction' | 'allkeys-lru' | 'volatile-lru'): Promise<Setup> {
  const server = await startRedisServer({ args: ['--maxmemory', '4mb', '--maxmemory-policy', policy] });
  const t = await startTestApp({ seed: { days: 2, scale: 0.05 }, env: { REDIS_URL: server.url } });
  const client = new Redis(server.url);
  client.on('error', () => {});
  return { server, t, client };
}

async function stop(setup: Setup | undefined): Promise<void> {
  setup?.client.disconnect();
  await setup?.t.close();
  await setup?.server.stop();
}

/** Orders and revenue of acme in `r`, from the database. */
async function truth(t: TestApp, r: { from: string; to: string }): Promise<{ orders: number; revenue: number }> {
  const row = await t.app.database.db
    .selectFrom('orders')
    .select((eb) => [eb.fn.countAll<number>().as('orders'), eb.fn.sum<number>('amount_cents').as('cents')])
    .where('tenant_id', '=', 'acme')
    .where('occurred_at', '>=', Date.parse(r.from))
    .where('occurred_at', '<', Date.parse(r.to))
    .executeTakeFirstOrThrow();
  return { orders: Number(row.orders), revenue: Number(row.cents ?? 0) / 100 };
}

/** The API's answer for acme in `r`: 200, no errors. */
async function answer(t: TestApp, r: { from: string; to: string }): Promise<{ orders: number; revenue: number }> {
  const response = await t.gql<{ dashboard: { orders: { total: number }; revenue: { total: number } } }>(QUERY, r);
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
  return { orders: response.body.data!.dashboard.orders.total, revenue: response.body.data!.dashboard.revenue.total };
}

const recordOrder = async (t: TestApp, at: number, customer: string) => {
  const response = await t.gql(
    `mutation { recordOrder(input: { productId: "acme-p01", customerId: "${customer}", amount: 2.5, occurredAt: "${iso(at)}" }) { id } }`,
  );
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
};

describe('maxmemory reached under noeviction: writes refused', () => {
  let s: Setup | undefined;
  beforeAll(async () => {
    s = await startWithPolicy('noeviction');
  }, 60_000);
  afterAll(() => stop(s));

  it('answers from the source, correctly and with 200, counts the refusals, and caches again once memory is freed', async () => {
    const { t, client } = s!;
    const warm = range(2, 6);
    const cold = range(10, 6);
    expect(await answer(t, warm)).toEqual(await truth(t, warm));
    expect(allHits(await t.gql(QUERY, warm))).toBe(true);

    // Fill until Redis refuses writes.
    let n = 0;
    await eventually(
      async () => {
        const pipeline = client.pipeline();
        for (let i = 0; i < 100; i++) pipeline.set(`filler:${n++}`, 'x'.repeat(4_096));
        const results = (await pipeline.exec()) ?? [];
        return results.some(([error]) => /^OOM /.test(error?.message ?? ''));
      },
      20_000,
      'Redis refusing writes (OOM)',
    );
    const errorsBefore = (await t.metrics()).value('cache_errors_total');

    // A range nobody cached: from the source, correct; its write-back refused and counted.
    expect(await answer(t, cold)).toEqual(await truth(t, cold));
    // A write into the cached range: its drop cannot tombstone, and deletes instead.
    await recordOrder(t, end - 4 * HOUR_MS + 60_000, 'oom-1');
    for (const r of [warm, cold]) {
      for (let i = 0; i < 3; i++) expect(await answer(t, r)).toEqual(await truth(t, r));
    }
    const scrape = await t.metrics();
    expect(scrape.value('cache_errors_total')).toBeGreaterThan(errorsBefore);
    expect(scrape.text).toMatch(/^cache_errors_total\{operation="(set|lock|delete)"\} [1-9]/m);

    // Memory freed: caching resumes by itself, and both ranges are served from the cache, correct.
    for (let i = 0; i < n; i += 500) await client.unlink(...Array.from({ length: Math.min(500, n - i) }, (_, j) => `filler:${i + j}`));
    for (const r of [warm, cold]) {
      await eventually(async () => allHits(await t.gql(QUERY, r)), 20_000, `caching resumed for ${r.from}`);
      expect(await answer(t, r)).toEqual(await truth(t, r));
    }
  }, 90_000);
});

describe('maxmemory reached under allkeys-lru: entries, tombstones and validators evicted', () => {
  let s: Setup | undefined;
  beforeAll(async () => {
    s = await startWithPolicy('allkeys-lru');
  }, 60_000);
  afterAll(() => stop(s));

  it('answers equal the source after concurrent writes and reads under eviction', async () => {
    const { t, client } = s!;
    const evicted = async () => Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))![1]);
    const ranges = [range(0, 24), range(0, 6), range(6, 6), range(12, 12)];
    const evictedBefore = await evicted();

    let filling = true;
    let n = 0;
    const filler = (async () => {
      while (filling) {
        const pipeline = client.pipeline();
        for (let i = 0; i < 100; i++) pipeline.set(`filler:${n++}`, 'x'.repeat(4_096));
        await pipeline.exec();
      }
    })();
    const readers = startLoad(8, async (i) => {
      const response = await t.gql(QUERY, ranges[i % ranges.length]);
      return { ok: response.status === 200 && !response.body.errors, label: `range ${i % ranges.length}` };
    });
    const writers = startLoad(2, async (i) => {
      await recordOrder(t, end - (1 + (i % 23)) * HOUR_MS + 60_000 + i, `lru-${i}`);
      return { ok: true, label: `write ${i}` };
    });
    try {
      await eventually(
        async () => writers.outcomes.length >= 60 && (await evicted()) - evictedBefore > 2_000,
        30_000,
        'writes under eviction',
      );
    } finally {
      await writers.stop();
      await readers.stop();
      filling = false;
      await filler;
    }
    expect([...readers.outcomes, ...writers.outcomes].filter((o) => !o.ok)).toEqual([]);
    // Refreshes still behind their responses have written back by then.
    await t.app.cache.idle();
    for (const r of ranges) expect(await answer(t, r), r.from).toEqual(await truth(t, r));
  }, 90_000);
});

describe('maxmemory reached under volatile-lru (the policy the README recommends)', () => {
  let s: Setup | undefined;
  beforeAll(async () => {
    s = await startWithPolicy('volatile-lru');
  }, 60_000);
  afterAll(() => stop(s));

  it('evicts cache keys (they all have a TTL) and never the events stream with its group', async () => {
    const { t, client } = s!;
    const r = range(2, 6);
    expect(await answer(t, r)).toEqual(await truth(t, r));
    await client.xadd('dashboard:events', '*', ...orderEventFields({ id: 'lru-before', occurredAt: iso(end - 4 * HOUR_MS + 5_000) }));
    await eventually(async () => (await t.metrics()).value('events_consumed_total', { result: 'ingested' }) === 1, 10_000, 'first event');
    const cacheKeys = async () => (await client.keys('dash:*')).length;
    const before = await cacheKeys();
    expect(before).toBeGreaterThan(0);

    // Filler with a TTL, as every cache key has: evictable, as the stream is not.
    const evicted = async () => Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))![1]);
    let n = 0;
    await eventually(
      async () => {
        const pipeline = client.pipeline();
        for (let i = 0; i < 100; i++) pipeline.set(`filler:${n++}`, 'x'.repeat(4_096), 'PX', 600_000);
        await pipeline.exec();
        return (await evicted()) > 1_000 && (await cacheKeys()) < before;
      },
      20_000,
      'cache keys evicted',
    );
    // The stream and its group are still there, and events go on being ingested.
    expect(await client.xlen('dashboard:events')).toBe(1);
    expect(((await client.xinfo('GROUPS', 'dashboard:events')) as unknown[][]).map((g) => g[1])).toEqual(['dashboard-api']);
    await client.xadd('dashboard:events', '*', ...orderEventFields({ id: 'lru-after', occurredAt: iso(end - 4 * HOUR_MS + 6_000) }));
    await eventually(async () => (await t.metrics()).value('events_consumed_total', { result: 'ingested' }) === 2, 10_000, 'second event');
    expect(await answer(t, r)).toEqual(await truth(t, r));
  }, 90_000);
});
