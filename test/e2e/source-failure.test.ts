/**
 * The source fails (issue 10, point 3): a private PostgreSQL that this file starts is
 * stopped (fast shutdown: every connection cut, new ones refused) and started again.
 *
 * - Buckets the cache holds are still served, also past their stale window for the
 *   grace CACHE_STALE_IF_ERROR_MS (stale-if-error), marked stale in `extensions.cache`
 *   and counted; never kept as a whole response. Shown on the real app in this process
 *   with its clock moved a day ahead: the stale windows are hours long.
 * - A field that needs a bucket nobody holds fails with SERVICE_UNAVAILABLE and a
 *   message without SQL or stack; the rest of the response is served.
 * - /readyz answers 503 while PostgreSQL is down, 200 once it is back, and everything
 *   recovers without a restart: fresh values, writes.
 * - Under steady load on two real server processes (`src/main.ts`) sharing one Redis:
 *   every request is answered (HTTP 200), the only error is SERVICE_UNAVAILABLE on fields
 *   whose buckets nobody holds, and afterwards every request succeeds again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/identity.js';
import { DAY_MS, HOUR_MS, iso, startTestApp, TEST_SECRET, type GraphQLResponse, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { startPostgresServer, type PostgresServer } from '../helpers/postgres-server.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

/** What a caller may be told when the source is down: never the query, the driver's words or a stack. */
const LEAKS = /SELECT|FROM |ECONNREFUSED|terminating connection|\n\s+at |\.ts:\d+/;
const GRACE_MS = 86_400_000;

let pg: PostgresServer;

beforeAll(async () => {
  pg = await startPostgresServer({ days: 4, scale: 0.05 });
}, 120_000);
afterAll(async () => {
  await pg?.close();
});

type Errors = NonNullable<GraphQLResponse['body']['errors']>;
const codes = (errors: Errors | undefined) => (errors ?? []).map((e) => e.extensions?.code as string);

describe('stale-if-error on the real app, its clock moved past the stale window', () => {
  const FULL = `query Full($from: DateTime!, $to: DateTime!) {
    dashboard(range: { from: $from, to: $to }, granularity: HOUR) {
      orders { total points { start value } } sessions { total } revenue { total } customers { total }
      averageOrderValue conversionRate topProducts(limit: 3) { productId name orders revenue }
    }
  }`;
  const CONVERT = `query Convert($from: DateTime!, $to: DateTime!) {
    dashboard(range: { from: $from, to: $to }, granularity: HOUR) { revenueIn(currency: "EUR") { currency amount rate } }
  }`;
  const PART = `query Part($from: DateTime!, $to: DateTime!) {
    dashboard(range: { from: $from, to: $to }, granularity: HOUR) { orders { total } sessions { total } conversionRate }
  }`;
  const WITH_REVENUE = `query WithRevenue($from: DateTime!, $to: DateTime!) {
    dashboard(range: { from: $from, to: $to }, granularity: HOUR) {
      orders { total } sessions { total } conversionRate revenue { total } averageOrderValue
    }
  }`;
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  /** Closed buckets: fresh a day, stale an hour more (DEFAULT_TTL), then the grace. */
  const held = { from: iso(today - 2 * DAY_MS), to: iso(today - DAY_MS) };
  /** Orders and sessions cached, revenue never asked for. */
  const partly = { from: iso(today - 3 * DAY_MS), to: iso(today - 2 * DAY_MS) };

  let redis: RedisServerHandle;
  let t: TestApp;
  let offsetMs = 0;

  beforeAll(async () => {
    redis = await startRedisServer();
    t = await startTestApp({
      databaseUrl: pg.url,
      seed: false,
      clock: () => Date.now() + offsetMs,
      env: { REDIS_URL: redis.url, CACHE_STALE_IF_ERROR_MS: String(GRACE_MS) },
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    await pg?.start().catch(() => {});
  });

  it('serves held buckets stale within the grace, fails only what nobody holds, and recovers without a restart', async () => {
    const full = await t.gql(FULL, held);
    expect(full.body.errors).toBeUndefined();
    expect(full.body.data.dashboard.orders.total).toBeGreaterThan(0);
    // The whole-response layer is on: the same request again is answered whole.
    expect((await t.gql(FULL, held)).body.extensions?.responseCache).toMatchObject({ hit: true });
    const convert = await t.gql(CONVERT, held);
    expect(convert.body.errors).toBeUndefined();
    const part = await t.gql(PART, partly);
    expect(part.body.errors).toBeUndefined();

    await pg.stop();
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'down', dependencies: { database: { status: 'down', required: true } } });

    // Past the stale window of every bucket (a day fresh, an hour stale), inside the grace.
    offsetMs = DAY_MS + 2 * HOUR_MS;
    for (let i = 0; i < 2; i++) {
      const stale = await t.gql(FULL, held);
      expect(stale.status).toBe(200);
      expect(stale.body.errors).toBeUndefined();
      expect(stale.body.data).toEqual(full.body.data);
      // Every bucket marked stale, each time: an answer built from them is not kept whole.
      const stats = stale.body.extensions?.cache as Record<string, { hit: number; miss: number; stale: number }>;
      expect(Object.keys(stats).sort()).toEqual(['CUSTOMERS', 'ORDERS', 'REVENUE', 'SESSIONS', 'TOP_PRODUCTS']);
      for (const s of Object.values(stats)) expect(s).toEqual({ hit: 0, miss: 0, stale: 24 });
      expect(stale.body.extensions?.responseCache).toMatchObject({ hit: false });
    }
    const converted = await t.gql(CONVERT, held);
    expect(converted.body.errors).toBeUndefined();
    expect(converted.body.data).toEqual(convert.body.data);

    const metrics = await t.metrics();
    expect(metrics.value('cache_stale_if_error_total', { metric: 'ORDERS' })).toBeGreaterThanOrEqual(48);
    expect(metrics.value('cache_stale_served_total', { metric: 'ORDERS' })).toBeGreaterThanOrEqual(48);
    expect(metrics.value('cache_source_errors_total', { metric: 'ORDERS' })).toBeGreaterThan(0);

    // Revenue of that range was never cached: it fails, and so does what needs it; the rest is served.
    const mixed = await t.gql(WITH_REVENUE, partly);
    expect(mixed.status).toBe(200);
    expect(mixed.body.data.dashboard).toEqual({ ...part.body.data.dashboard, revenue: null, averageOrderValue: null });
    const errors = mixed.body.errors!;
    expect(errors.map((e) => e.path).sort()).toEqual([
      ['dashboard', 'averageOrderValue'],
      ['dashboard', 'revenue'],
    ]);
    for (const error of errors) {
      expect(error.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', metric: 'REVENUE' });
      expect(error.message).toMatch(/^REVENUE is not cached for this range and the source database is not answering/);
      expect(error.message).not.toMatch(LEAKS);
    }

    // Past the grace: nothing is served from the cache any more.
    offsetMs = 2 * DAY_MS + 2 * HOUR_MS;
    const gone = await t.gql(FULL, held);
    expect(gone.status).toBe(200);
    expect(gone.body.data).toBeNull();
    expect(new Set(codes(gone.body.errors))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    for (const error of gone.body.errors!) expect(error.message).not.toMatch(LEAKS);

    // Back: ready again, values computed afresh, writes land and show.
    await pg.start();
    await eventually(async () => (await fetch(`${t.url}/readyz`)).status === 200, 20_000, '/readyz 200 once PostgreSQL is back');
    const back = await t.gql(FULL, held);
    expect(back.body.errors).toBeUndefined();
    expect(back.body.data).toEqual(full.body.data);
    expect((back.body.extensions?.cache as Record<string, { miss: number }>).ORDERS!.miss).toBe(24);
    const written = await t.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c-back", amount: 10, occurredAt: "${iso(today - 2 * DAY_MS + HOUR_MS)}" }) { id } }`,
    );
    expect(written.body.errors).toBeUndefined();
    const after = await t.gql(FULL, held);
    expect(after.body.errors).toBeUndefined();
    expect(after.body.data.dashboard.orders.total).toBe(full.body.data.dashboard.orders.total + 1);
  }, 120_000);
});

describe('PostgreSQL stopped and started again under load, two server processes', () => {
  const CONCURRENCY = 16;
  const LOAD = `query Load($from: DateTime!, $to: DateTime!, $g: Granularity!) {
    dashboard(range: { from: $from, to: $to }, granularity: $g) { orders { total } sessions { total } revenue { total } conversionRate }
  }`;
  const ORDERS_SESSIONS = `query OrdersSessions($from: DateTime!, $to: DateTime!) {
    dashboard(range: { from: $from, to: $to }, granularity: HOUR) { orders { total } sessions { total } conversionRate }
  }`;
  const now = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  type Range = { from: string; to: string; g: 'HOUR' | 'DAY'; kind: 'held' | 'partly' | 'cold' };
  /** Every metric cached, up to the hour that is still open. */
  const HELD: Range[] = [
    { from: iso(now + HOUR_MS - DAY_MS), to: iso(now + HOUR_MS), g: 'HOUR', kind: 'held' },
    { from: iso(now + HOUR_MS - 2 * DAY_MS + HOUR_MS), to: iso(now + HOUR_MS), g: 'HOUR', kind: 'held' },
    { from: iso(now - 30 * HOUR_MS), to: iso(now - 6 * HOUR_MS), g: 'HOUR', kind: 'held' },
  ];
  /** Orders and sessions cached, revenue not: hours that no HELD range covers. */
  const PARTLY: Range[] = [
    { from: iso(now - 3 * DAY_MS), to: iso(now - 2 * DAY_MS), g: 'HOUR', kind: 'partly' },
    { from: iso(now - 3 * DAY_MS - 6 * HOUR_MS), to: iso(now - 2 * DAY_MS - 6 * HOUR_MS), g: 'HOUR', kind: 'partly' },
  ];
  /** Never asked for before the outage: day buckets, which nothing else reads. */
  const day = Math.floor(now / DAY_MS) * DAY_MS;
  const COLD: Range[] = [{ from: iso(day - 2 * DAY_MS), to: iso(day), g: 'DAY', kind: 'cold' }];

  interface Outcome {
    range: Range;
    sent: number;
    answered: number;
    status: number;
    body: GraphQLResponse['body'] | undefined;
  }

  let redis: RedisServerHandle;
  let instances: Instances;
  let token: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    instances = await startInstances(2, { DATABASE_URL: pg.url, REDIS_URL: redis.url });
    token = await signToken({ tenant: 'acme', role: 'ADMIN' }, new TextEncoder().encode(TEST_SECRET));
  }, 120_000);
  afterAll(async () => {
    await instances?.stop();
    await redis?.stop();
    await pg?.start().catch(() => {});
  });

  async function post(
    base: string,
    query: string,
    variables: Record<string, unknown>,
  ): Promise<{ status: number; body?: GraphQLResponse['body'] }> {
    try {
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(20_000),
      });
      return { status: response.status, body: (await response.json()) as GraphQLResponse['body'] };
    } catch {
      return { status: 0 };
    }
  }
  const readyz = async (base: string) => (await fetch(`${base}/readyz`).catch(() => undefined))?.status;
  const bases = () => instances.servers.map((s) => s.url);

  it('answers every request; only fields whose buckets nobody holds fail, with SERVICE_UNAVAILABLE; recovers on its own', async () => {
    const baseline = new Map<Range, unknown>();
    for (const range of HELD) {
      const warm = await post(bases()[0]!, LOAD, range);
      expect(warm.body?.errors).toBeUndefined();
      baseline.set(range, warm.body!.data);
    }
    for (const range of PARTLY) {
      const warm = await post(bases()[1]!, ORDERS_SESSIONS, range);
      expect(warm.body?.errors).toBeUndefined();
      baseline.set(range, warm.body!.data);
    }

    const outcomes: Outcome[] = [];
    let ranges: Range[] = HELD;
    let running = true;
    const loops = Array.from({ length: CONCURRENCY }, async (_, i) => {
      for (let n = i; running; n++) {
        const range = ranges[n % ranges.length]!;
        const sent = performance.now();
        const { status, body } = await post(bases()[n % 2]!, LOAD, { from: range.from, to: range.to, g: range.g });
        outcomes.push({ range, sent, answered: performance.now(), status, body });
      }
    });
    let stopped = 0;
    let restarting = 0;
    let recovered = 0;
    try {
      await eventually(() => outcomes.length >= 5 * CONCURRENCY, 30_000, 'load before the outage');
      await pg.stop();
      stopped = performance.now();
      ranges = [...HELD, ...PARTLY, ...COLD];
      await eventually(async () => (await Promise.all(bases().map(readyz))).every((s) => s === 503), 10_000, '/readyz 503 on both');
      // The outage lasts until every kind of range has been asked for many times on both instances.
      await eventually(
        () => outcomes.filter((o) => o.sent > stopped && o.range.kind === 'cold').length >= 2 * CONCURRENCY,
        30_000,
        'load during the outage',
      );
      restarting = performance.now();
      await pg.start();
      await eventually(async () => (await Promise.all(bases().map(readyz))).every((s) => s === 200), 20_000, '/readyz 200 on both');
      await eventually(
        async () => {
          const answers = await Promise.all(bases().map((base) => post(base, LOAD, { ...COLD[0]!, g: 'DAY' })));
          return answers.every((a) => a.status === 200 && !a.body?.errors && a.body?.data);
        },
        20_000,
        'cold ranges computed again',
      );
      recovered = performance.now();
      await eventually(() => outcomes.filter((o) => o.sent > recovered).length >= 5 * CONCURRENCY, 30_000, 'load after recovery');
    } finally {
      running = false;
      await Promise.all(loops);
    }

    // Every request answered, as HTTP 200; the only error anywhere is SERVICE_UNAVAILABLE, and it says nothing of SQL.
    expect(outcomes.filter((o) => o.status !== 200).map((o) => ({ status: o.status, kind: o.range.kind }))).toEqual([]);
    const allErrors = outcomes.flatMap((o) => o.body?.errors ?? []);
    expect(new Set(allErrors.map((e) => e.extensions?.code))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    expect(allErrors.filter((e) => LEAKS.test(e.message))).toEqual([]);

    const before = outcomes.filter((o) => o.answered < stopped);
    const during = outcomes.filter((o) => o.sent > stopped && o.answered < restarting);
    const after = outcomes.filter((o) => o.sent > recovered);
    expect(before.filter((o) => o.body?.errors)).toEqual([]);
    expect(after.filter((o) => o.body?.errors || !o.body?.data)).toEqual([]);

    // While PostgreSQL is down: held ranges whole and unchanged; partly held ones without revenue; cold ones fail.
    const heldDuring = during.filter((o) => o.range.kind === 'held');
    expect(heldDuring.length).toBeGreaterThan(CONCURRENCY);
    for (const o of heldDuring) {
      expect(o.body?.errors).toBeUndefined();
      expect(o.body?.data).toEqual(baseline.get(o.range));
    }
    const partlyDuring = during.filter((o) => o.range.kind === 'partly');
    expect(partlyDuring.length).toBeGreaterThan(CONCURRENCY);
    for (const o of partlyDuring) {
      expect(o.body?.data).toEqual({ dashboard: { ...(baseline.get(o.range) as { dashboard: object }).dashboard, revenue: null } });
      expect(o.body?.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['dashboard', 'revenue'], 'SERVICE_UNAVAILABLE']]);
    }
    const coldDuring = during.filter((o) => o.range.kind === 'cold');
    expect(coldDuring.length).toBeGreaterThan(CONCURRENCY);
    for (const o of coldDuring) {
      expect(o.body?.data).toBeNull();
      expect(codes(o.body?.errors).length).toBeGreaterThan(0);
    }
  }, 180_000);
});
