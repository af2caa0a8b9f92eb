/**
 * What a new metric costs: a declaration (with its SQL), its field and its enum
 * value in the SDL — nothing else. A metric declared only in this file is served,
 * cached, invalidated (with notices) and warmed by the unchanged service.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { warm, type WarmTarget } from '../../src/cli/warmer.js';
import { openCacheRuntime } from '../../src/compose/cache-runtime.js';
import { openAll, type Lifecycle } from '../../src/compose/lifecycle.js';
import { openSource } from '../../src/compose/source.js';
import { loadConfig } from '../../src/config/index.js';
import type { MetricsInvalidatedPayload } from '../../src/events/hub.js';
import { loadTypeDefs } from '../../src/graphql/yoga.js';
import { defineSum } from '../../src/metrics/define.js';
import { DASHBOARD_METRICS } from '../../src/metrics/definitions.js';
import { createMetricRegistry } from '../../src/metrics/registry.js';
import { createLogger } from '../../src/observability/logger.js';
import { DAY_MS, HOUR_MS, TEST_SECRET, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { cleanupPrefix, uniquePrefix } from '../helpers/redis.js';

/** Orders of $100 or more: a metric the product does not have. */
const BIG_ORDERS = defineSum({
  name: 'BIG_ORDERS',
  field: 'Dashboard.bigOrders',
  version: 1,
  events: ['order.recorded'],
  query: { from: 'orders', value: sql`SUM(CASE WHEN amount_cents >= 10000 THEN 1 ELSE 0 END)` },
  unit: 1,
});
const registry = createMetricRegistry([...DASHBOARD_METRICS, BIG_ORDERS]);
const typeDefs = `${loadTypeDefs()}
extend type Dashboard { "Orders of 100 or more." bigOrders: Series! }
extend enum MetricName { BIG_ORDERS }
`;

const QUERY = `query B($from: DateTime!, $to: DateTime!, $g: Granularity) {
  dashboard(range: { from: $from, to: $to }, granularity: $g) { bigOrders { total points { start value } } orders { total } } }`;
const RECORD = `mutation R($at: DateTime!) { recordOrder(input: { productId: "acme-p01", customerId: "c-big", amount: 250, occurredAt: $at }) { id } }`;

const prefix = uniquePrefix('newmetric');
const end = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
const week = { from: iso(end - 7 * DAY_MS), to: iso(end), g: 'HOUR' };
let t: TestApp;

/** The metric's value straight from the rows, to compare the API with. */
async function recount(from: number, to: number): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`
    SELECT COUNT(*) AS n FROM orders WHERE tenant_id = 'acme' AND amount_cents >= 10000 AND occurred_at >= ${from} AND occurred_at < ${to}`.execute(
    t.app.database.db,
  );
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  t = await startTestApp({ metrics: registry, typeDefs, env: { REDIS_URL: inject('redisUrl'), CACHE_KEY_PREFIX: prefix } });
}, 60_000);

afterAll(async () => {
  await t?.close();
  await cleanupPrefix(inject('redisUrl'), prefix);
});

describe('a metric declared in a test', () => {
  it('is served, equal to a recount of the rows, then cached', async () => {
    const cold = await t.gql(QUERY, week);
    expect(cold.body.errors).toBeUndefined();
    expect(cold.body.data.dashboard.bigOrders.total).toBe(await recount(end - 7 * DAY_MS, end));
    expect(cold.body.data.dashboard.bigOrders.total).toBeGreaterThan(0);
    expect(cold.body.data.dashboard.bigOrders.points).toHaveLength(7 * 24);
    expect(cold.body.extensions?.cache?.BIG_ORDERS).toEqual({ hit: 0, miss: 168, stale: 0 });
    await t.app.cache.idle();

    const warm = await t.gql(QUERY, week);
    expect(warm.body.data).toEqual(cold.body.data);
    expect(warm.body.extensions?.cache?.BIG_ORDERS).toEqual({ hit: 168, miss: 0, stale: 0 });
  });

  it('is invalidated by the events it names, exactly its bucket, and subscribers hear of it', async () => {
    await t.gql(QUERY, week);
    const heard: MetricsInvalidatedPayload[] = [];
    const stop = t.app.hub.subscribe({ tenant: 'acme' }, (payload) => heard.push(payload));
    try {
      const before = (await t.metrics()).value('cache_invalidations_total', { metric: 'BIG_ORDERS', reason: 'order.recorded' }) ?? 0;
      const at = end - 3 * DAY_MS + 5 * 60_000;
      const written = await t.gql(RECORD, { at: iso(at) });
      expect(written.body.errors).toBeUndefined();

      const after = await t.gql(QUERY, week);
      // Read your write: the very next request shows it, one hour bucket recomputed.
      expect(after.body.data.dashboard.bigOrders.total).toBe(await recount(end - 7 * DAY_MS, end));
      expect(after.body.extensions?.cache?.BIG_ORDERS).toEqual({ hit: 167, miss: 1, stale: 0 });
      // Dropped entries are counted where they existed: of its hour and day, in the
      // all-regions scope and the order's region, only the all-regions hour was cached.
      expect((await t.metrics()).value('cache_invalidations_total', { metric: 'BIG_ORDERS', reason: 'order.recorded' })).toBe(before + 1);
      await eventually(() => heard.some((p) => p.metrics.includes('BIG_ORDERS')), 5_000, 'a notice naming BIG_ORDERS');
    } finally {
      stop();
    }
  });

  it('is warmed by the warm command, and a server then answers from what it stored', async () => {
    // A range nobody has read yet: the day before the week above.
    const from = end - 9 * DAY_MS;
    const until = end - 8 * DAY_MS;
    const config = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: TEST_SECRET,
      DATABASE_URL: t.database.url,
      REDIS_URL: inject('redisUrl'),
      CACHE_KEY_PREFIX: prefix,
    });
    const logger = createLogger('silent');
    let lifecycle: Lifecycle | undefined;
    try {
      const opened = await openAll(logger, async (lc): Promise<WarmTarget> => {
        const source = await openSource(config, { logger, seed: false }, lc);
        return {
          config,
          source,
          cache: await openCacheRuntime(config, { logger, clock: Date.now, aggregates: source.aggregates, metrics: registry }, lc),
        };
      });
      lifecycle = opened.lifecycle;
      const out: string[] = [];
      const sink = { write: (s: string) => void out.push(s) } as unknown as NodeJS.WriteStream;
      const code = await warm(opened.value, { tenant: 'acme', days: 1, force: false, regions: [undefined], from, until }, sink, sink);
      expect(code, out.join('')).toBe(0);
      const recomputed = await opened.value.cache.cacheMetrics.instruments.recomputes.get();
      expect(recomputed.values.find((v) => v.labels.metric === 'BIG_ORDERS')?.value).toBe(24 + 2);
    } finally {
      await lifecycle?.close();
    }

    const served = await t.gql(QUERY, { from: iso(from), to: iso(until), g: 'HOUR' });
    expect(served.body.extensions?.cache?.BIG_ORDERS).toEqual({ hit: 24, miss: 0, stale: 0 });
    expect(served.body.data.dashboard.bigOrders.total).toBe(await recount(from, until));
  });
});
