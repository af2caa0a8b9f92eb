/**
 * `npm run warm` as an operator runs it: the real CLI in a child process, against
 * PostgreSQL and a private Redis, then a server built on the same store answers from
 * what it stored. A second run computes nothing; a row fixed behind the cache's back
 * stays invisible until `--force` recomputes the range; bad arguments exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { signToken, type Role } from '../../src/auth/identity.js';
import { loadConfig } from '../../src/config/index.js';
import { DASHBOARD_REGISTRY } from '../../src/metrics/registry.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Database } from '../../src/source/database.js';
import { DAY_MS, HOUR_MS, TEST_SECRET, iso } from '../helpers/app.js';
import { createSeededDatabase, type TestDatabase } from '../helpers/databases.js';
import { runScript } from '../helpers/process.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

const STORED = DASHBOARD_REGISTRY.stored.map((m) => m.name);
const SCOPES = 4; // all regions, EU, NA, APAC
const QUERY = `query D($from: DateTime!, $to: DateTime!, $g: Granularity) {
  dashboard(range: { from: $from, to: $to }, granularity: $g) {
    revenue { total points { start value } } orders { total points { start value } }
    sessions { total } customers { total }
    averageOrderValue conversionRate topProducts(limit: 5) { productId orders revenue }
  } }`;

let redis: RedisServerHandle;
let testDatabase: TestDatabase;
let database: Database;
let server: App;

beforeAll(async () => {
  let seeded: Awaited<ReturnType<typeof createSeededDatabase>>;
  [redis, seeded] = await Promise.all([startRedisServer(), createSeededDatabase('postgres', { days: 10, scale: 0.05 })]);
  ({ test: testDatabase, database } = seeded);
  // A server on the same database and store, as the one traffic would reach.
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_SECRET,
    DATABASE_URL: testDatabase.url,
    REDIS_URL: redis.url,
    HOST: '127.0.0.1',
    PORT: '0',
  });
  server = await createApp(config, { logger: createLogger('silent'), seed: false });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await database?.close();
  await Promise.all([testDatabase?.drop(), redis?.stop()]);
});

/** Runs the CLI to its end. */
async function warm(args: string[], env: Record<string, string> = { DATABASE_URL: testDatabase.url, REDIS_URL: redis.url }) {
  const child = runScript('src/cli/warm.ts', args, env);
  const code = await child.exited;
  return { code, output: child.output() };
}

const SUMMARY =
  /^warmed (\S+): (\d+) scopes? × (\d+) granularit(?:y|ies), (\d+) days?; (\d+) buckets computed, (\d+) already cached, in \d+\.\d s$/m;

/** The summary line's numbers; fails the test when there is none. */
function summaryOf(output: string) {
  const match = SUMMARY.exec(output);
  expect(match, `summary line in:\n${output}`).not.toBeNull();
  const [, tenant, scopes, granularities, days, computed, cached] = match!;
  return {
    tenant,
    scopes: Number(scopes),
    granularities: Number(granularities),
    days: Number(days),
    computed: Number(computed),
    cached: Number(cached),
  };
}

/** A dashboard as the server answers it, for a token with these claims. */
async function dashboard(range: { from: number; to: number }, granularity: 'HOUR' | 'DAY', claims: { role?: Role; region?: string } = {}) {
  const token = await signToken({ tenant: 'acme', role: claims.role ?? 'ADMIN', region: claims.region }, server.config.auth.jwtSecret);
  const response = await server.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: QUERY, variables: { from: iso(range.from), to: iso(range.to), g: granularity } }),
  });
  const body = (await response.json()) as {
    data?: any;
    errors?: unknown[];
    extensions?: { cache?: Record<string, { hit: number; miss: number; stale: number }> };
  };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return { dashboard: body.data.dashboard, cache: body.extensions?.cache ?? {} };
}

/**
 * Every stored metric was read from the cache only: hits, nothing else. By DAY, one hit
 * per day. By HOUR, one per hour for a metric with a series; and the merges (every total
 * behind averageOrderValue, conversionRate and customers, and topProducts) read a closed
 * day's DAY entry instead of its 24 hours (the warm run computed both): so each metric
 * also counts those days, and TOP_PRODUCTS, which has no series, counts them instead of
 * their hours.
 */
function expectOnlyHits(cache: Record<string, unknown>, range: { from: number; to: number }, granularity: 'HOUR' | 'DAY') {
  const size = granularity === 'HOUR' ? HOUR_MS : DAY_MS;
  const buckets = (ceilTo(range.to, size) - Math.floor(range.from / size) * size) / size;
  let closedDays = 0;
  if (granularity === 'HOUR') {
    const end = Math.min(ceilTo(range.to, HOUR_MS), Date.now());
    for (let day = ceilTo(floorHour(range.from), DAY_MS); day + DAY_MS <= end; day += DAY_MS) closedDays++;
  }
  // A week that starts on the hour holds 6 closed days, or 7 when that hour is midnight.
  if (granularity === 'HOUR') expect([6, 7]).toContain(closedDays);
  else expect(closedDays).toBe(0);
  expect(Object.keys(cache).sort()).toEqual([...STORED].sort());
  for (const metric of STORED) {
    const hit = metric === 'TOP_PRODUCTS' ? buckets - 23 * closedDays : buckets + closedDays;
    expect(cache[metric], metric).toEqual({ hit, miss: 0, stale: 0 });
  }
}

const floorHour = (t: number) => Math.floor(t / HOUR_MS) * HOUR_MS;
const ceilTo = (t: number, size: number) => Math.ceil(t / size) * size;

describe('npm run warm', () => {
  // The range of the first runs ends at a fixed instant (--until), so that both runs and
  // the dashboards below see the same buckets even when an hour turns meanwhile.
  let until: number;
  let week: { from: number; to: number };

  it('computes every bucket of the range, and a server then answers a week from the cache only, in every scope', async () => {
    until = Date.now();
    week = { from: floorHour(until - 7 * DAY_MS), to: until };
    const hours = (ceilTo(week.to, HOUR_MS) - week.from) / HOUR_MS;
    const days = (ceilTo(week.to, DAY_MS) - Math.floor(week.from / DAY_MS) * DAY_MS) / DAY_MS;

    const run = await warm(['--tenant', 'acme', '--days', '7', '--until', iso(until)]);
    expect(run.code, run.output).toBe(0);
    expect(summaryOf(run.output)).toEqual({
      tenant: 'acme',
      scopes: SCOPES,
      granularities: 2,
      days: 7,
      computed: (hours + days) * SCOPES * STORED.length,
      cached: 0,
    });
    // Not a TTY: progress lines, no bar.
    expect(run.output).toMatch(/^warming acme: 100% \(\d+ of \d+ bucket reads\)$/m);
    expect(run.output).not.toContain('\r');

    const byHour = await dashboard(week, 'HOUR');
    expect(byHour.dashboard.orders.points).toHaveLength(hours);
    expect(byHour.dashboard.orders.total).toBeGreaterThan(0);
    expectOnlyHits(byHour.cache, week, 'HOUR');
    expectOnlyHits((await dashboard(week, 'DAY')).cache, week, 'DAY');
    for (const region of ['EU', 'APAC']) {
      const regional = await dashboard(week, 'HOUR', { role: 'ANALYST', region });
      expectOnlyHits(regional.cache, week, 'HOUR');
      expect(regional.dashboard.orders.total).toBeLessThan(byHour.dashboard.orders.total);
    }
  }, 30_000);

  it('computes nothing on a second run over the same range', async () => {
    const run = await warm(['--tenant', 'acme', '--days', '7', '--until', iso(until)]);
    expect(run.code, run.output).toBe(0);
    const summary = summaryOf(run.output);
    expect(summary.computed).toBe(0);
    expect(summary.cached).toBeGreaterThan(0);
  }, 20_000);

  it('keeps serving cached buckets after a data fix until --force recomputes the range', async () => {
    // A past hour inside the range, long closed, cached by the first run.
    const fixedHour = floorHour(until) - 30 * HOUR_MS;
    const pointOf = (series: { points: Array<{ start: string; value: number }> }) =>
      series.points.find((p) => p.start === iso(fixedHour))!.value;
    const before = await dashboard(week, 'HOUR');
    const beforeEu = await dashboard(week, 'HOUR', { region: 'EU' });
    const beforeNa = await dashboard(week, 'HOUR', { region: 'NA' });

    // The fix goes straight into the database: no event, so no invalidation.
    await database.db
      .insertInto('orders')
      .values({
        tenant_id: 'acme',
        id: 'warm-test-fix-1',
        product_id: 'acme-p01',
        customer_id: 'warm-test-c1',
        amount_cents: 123_456,
        region: 'EU',
        occurred_at: fixedHour + 17 * 60_000,
      })
      .execute();

    const stale = await dashboard(week, 'HOUR');
    expectOnlyHits(stale.cache, week, 'HOUR');
    expect(pointOf(stale.dashboard.orders)).toBe(pointOf(before.dashboard.orders));
    expect(stale.dashboard.revenue.total).toBe(before.dashboard.revenue.total);

    const run = await warm(['--tenant', 'acme', '--days', '7', '--force']);
    expect(run.code, run.output).toBe(0);
    const [, dropped] = /^dropped (\d+) cached entries of acme from \S+ to \S+$/m.exec(run.output) ?? [];
    expect(Number(dropped), run.output).toBeGreaterThan(0);
    const summary = summaryOf(run.output);
    expect(summary.cached).toBe(0);
    expect(summary.computed).toBeGreaterThanOrEqual(Number(dropped));

    const fixed = await dashboard(week, 'HOUR');
    expectOnlyHits(fixed.cache, week, 'HOUR');
    expect(pointOf(fixed.dashboard.orders)).toBe(pointOf(before.dashboard.orders) + 1);
    expect(pointOf(fixed.dashboard.revenue)).toBeCloseTo(pointOf(before.dashboard.revenue) + 1234.56, 6);
    expect(fixed.dashboard.orders.total).toBe(before.dashboard.orders.total + 1);
    expect(fixed.dashboard.revenue.total).toBeCloseTo(before.dashboard.revenue.total + 1234.56, 6);
    // The EU scope was recomputed too; NA never had the order.
    const fixedEu = await dashboard(week, 'HOUR', { region: 'EU' });
    expect(pointOf(fixedEu.dashboard.orders)).toBe(pointOf(beforeEu.dashboard.orders) + 1);
    expect((await dashboard(week, 'HOUR', { region: 'NA' })).dashboard.orders.total).toBe(beforeNa.dashboard.orders.total);
  }, 30_000);

  it('refuses bad arguments with exit code 2 and a message naming the flag, and warms nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--days', '7'], /--tenant is required/],
      [['--tenant', 'acme', '--days', '0'], /--days must be a whole number from 1 to 400, got "0"/],
      [['--tenant', 'acme', '--days', '401'], /--days must be a whole number from 1 to 400, got "401"/],
      [['--tenant', 'acme', '--region', 'MARS'], /--region must be one of EU, NA, APAC, got "MARS"/],
      [['--tenant', 'acme', '--until', 'yesterday'], /--until must be an ISO 8601 time not after now/],
      [['--tenant', 'nobody'], /--tenant: no tenant "nobody" in the database/],
    ];
    const runs = await Promise.all(cases.map(([args]) => warm(args)));
    runs.forEach((run, i) => {
      expect(run.code, run.output).toBe(2);
      expect(run.output).toMatch(cases[i]![1]);
      expect(run.output).not.toMatch(/warmed|dropped/);
    });
  }, 30_000);

  it('warns that the in-process memory store dies with the command, and still exits 0', async () => {
    const run = await warm(['--tenant', 'globex', '--days', '1', '--region', 'eu'], { DATABASE_URL: testDatabase.url });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/warning: no REDIS_URL or REDIS_CLUSTER_NODES: the cache is this process's memory and dies with it/);
    expect(summaryOf(run.output)).toMatchObject({ tenant: 'globex', scopes: 1, granularities: 2, days: 1, cached: 0 });
  }, 20_000);
});
