/**
 * Whole responses that are never stale (graphql/plugins/response-cache.ts), on by
 * default: identical requests answered whole, per verified tenant, region and role,
 * with one MGET (the validators); never kept with errors or a vendor's rate; not served
 * once a validator moved (a write on any instance, a stream event) or a bucket it holds
 * turned stale; a request with If-None-Match answered by the HTTP server after
 * authorization.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { commandStats, resetStats, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

let redis: RedisServerHandle;
let a: TestApp;
let b: TestApp;
const day = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS;
const Q = `{ dashboard(range: { from: "${iso(day)}", to: "${iso(day + DAY_MS)}" }) { orders { total } sessions { total } customers { total } } }`;

beforeAll(async () => {
  redis = await startRedisServer();
  // Nothing about whole responses is set: they are on by default.
  const env = { REDIS_URL: redis.url, NODE_ENV: 'production', JWT_SECRET: 'response-cache-secret-0123456789abcdef' };
  a = await startTestApp({ env, seed: { days: 4, scale: 0.05 } });
  // A second instance on the same source database and the same Redis.
  b = await startTestApp({ env: { ...env, DATABASE_URL: a.database.url }, seed: false });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await redis?.stop();
});

const lookups = async (t: TestApp) => (await t.metrics()).value('cache_requests_total');
const whole = async (t: TestApp, result: 'hit' | 'stale' | 'joined' | 'changed' | 'miss') =>
  (await t.metrics()).value('cache_response_lookups_total', { result });

describe('identical repeated queries', () => {
  it('are answered whole by default: no bucket lookup, one MGET (the validators)', async () => {
    const first = await a.gql(Q);
    expect(first.body.errors).toBeUndefined();
    const before = await lookups(a);
    const hits = await whole(a, 'hit');
    await resetStats([redis.url]);
    const again = await a.gql(Q);
    expect(again.body.data).toEqual(first.body.data);
    expect(await lookups(a)).toBe(before);
    expect(await whole(a, 'hit')).toBe(hits + 1);
    const stats = await commandStats([redis.url]);
    expect(stats.mget).toBe(1);
    expect(stats.get ?? 0).toBe(0);
  });

  it('are kept per verified tenant, region and role', async () => {
    const admin = (await a.gql(Q)).body.data;
    const eu = (await a.gql(Q, undefined, await a.token({ region: 'EU' }))).body.data;
    const globex = (await a.gql(Q, undefined, await a.token({ tenant: 'globex' }))).body.data;
    expect(eu.dashboard.orders.total).toBeLessThan(admin.dashboard.orders.total);
    expect(globex.dashboard.orders.total).not.toBe(admin.dashboard.orders.total);
    // Same tenant and scope, another role: its own entry, computed for it.
    const before = await lookups(a);
    const viewer = (await a.gql(Q, undefined, await a.token({ role: 'VIEWER' }))).body.data;
    expect(viewer).toEqual(admin);
    expect(await lookups(a)).toBeGreaterThan(before);
  });

  it('never keeps an answer with errors: a VIEWER asking for revenue is refused every time', async () => {
    const q = Q.replace('orders { total }', 'orders { total } revenue { total }');
    const viewer = await a.token({ role: 'VIEWER' });
    for (let i = 0; i < 2; i++) {
      const res = await a.gql(q, undefined, viewer);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(res.body.data.dashboard.revenue).toBeNull();
    }
    // An ADMIN's answer to the same query is not served to the VIEWER either.
    const admin = await a.gql(q);
    expect(admin.body.data.dashboard.revenue.total).toBeGreaterThan(0);
    expect((await a.gql(q, undefined, viewer)).body.data.dashboard.revenue).toBeNull();
  });

  it("never keeps an answer that holds a vendor's rate: no validator says when it changes", async () => {
    const q = Q.replace('orders { total }', 'orders { total } revenueIn(currency: "EUR") { amount rate }');
    expect((await a.gql(q)).body.errors).toBeUndefined();
    const hits = await whole(a, 'hit');
    const before = await lookups(a);
    expect((await a.gql(q)).body.errors).toBeUndefined();
    expect(await whole(a, 'hit')).toBe(hits);
    expect(await lookups(a)).toBeGreaterThan(before);
  });

  it('are shared by a sliding "last 7 days" within the hour: the range as the answer depends on it', async () => {
    const doc = 'query D($from: DateTime!, $to: DateTime!) { dashboard(range: { from: $from, to: $to }) { orders { total } } }';
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const at = (ms: number) => ({ from: iso(ms - 7 * DAY_MS), to: iso(ms) });
    const first = await a.gql(doc, at(hour + 60_000));
    const hits = await whole(a, 'hit');
    const again = await a.gql(doc, at(hour + 30 * 60_000));
    expect(again.body.data).toEqual(first.body.data);
    expect(await whole(a, 'hit')).toBe(hits + 1);
    // A range the resolver refuses is not served the answer of one it accepts.
    const refused = await a.gql(doc, { from: iso(hour - 91 * DAY_MS), to: iso(hour) });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('are not kept with RESPONSE_CACHE_TTL_MS=0', async () => {
    const off = await startTestApp({ env: { RESPONSE_CACHE_TTL_MS: '0' }, seed: { days: 2, scale: 0.05 } });
    try {
      await off.gql(Q);
      const before = await lookups(off);
      await off.gql(Q);
      expect(await lookups(off)).toBeGreaterThan(before);
      expect(await whole(off, 'hit')).toBe(0);
    } finally {
      await off.close();
    }
  });
});

describe('validation', () => {
  it('a write on one instance: the other, serving it whole, answers with it as soon as the write returns', async () => {
    const before = (await b.gql(Q)).body.data;
    const hits = await whole(b, 'hit');
    expect((await b.gql(Q)).body.data).toEqual(before);
    expect(await whole(b, 'hit')).toBe(hits + 1);
    const changed = await whole(b, 'changed');
    await a.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "rc", amount: 2, occurredAt: "${iso(day + 3 * HOUR_MS)}" }) { id } }`,
    );
    const after = (await b.gql(Q)).body.data;
    expect(after.dashboard.orders.total).toBe(before.dashboard.orders.total + 1);
    expect(await whole(b, 'changed')).toBe(changed + 1);
    // Kept again, under the new validators.
    expect((await b.gql(Q)).body.data).toEqual(after);
    expect(await whole(b, 'hit')).toBe(hits + 2);
  });

  it('after a write, concurrent identical requests wait for one execution and share its answer', async () => {
    await a.gql(Q);
    await a.gql(Q);
    const one = async () => {
      const before = await lookups(a);
      await a.gql(Q.replace('orders { total }', 'orders { total } '));
      return (await lookups(a)) - before;
    };
    const perExecution = await one(); // a new document: executed once, its bucket lookups
    const before = (await a.gql(Q)).body.data;
    await b.gql(
      `mutation { recordOrder(input: { productId: "acme-p02", customerId: "rc3", amount: 3, occurredAt: "${iso(day + 5 * HOUR_MS)}" }) { id } }`,
    );
    const joined = await whole(a, 'joined');
    const lookupsBefore = await lookups(a);
    const answers = await Promise.all(Array.from({ length: 20 }, () => a.gql(Q)));
    for (const res of answers) expect(res.body.data.dashboard.orders.total).toBe(before.dashboard.orders.total + 1);
    expect(await whole(a, 'joined')).toBeGreaterThan(joined);
    // Far fewer executions than requests (one, unless a request arrived after the answer was kept).
    expect((await lookups(a)) - lookupsBefore).toBeLessThan(5 * perExecution);
  });

  it('a manual invalidation on one instance is not served whole on the other', async () => {
    await b.gql(Q);
    await b.gql(Q);
    const changed = await whole(b, 'changed');
    expect((await a.gql('mutation { invalidateMetrics(metrics: [SESSIONS]) }')).body.errors).toBeUndefined();
    await b.gql(Q);
    expect(await whole(b, 'changed')).toBe(changed + 1);
  });

  it('a response whose bucket turned stale is refreshed by one request, and not served past the stale window', async () => {
    let now = Date.now();
    const app = await startTestApp({ clock: () => now, seed: { days: 2, scale: 0.05 } });
    try {
      const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
      // The open hour is in it: fresh 30 s (policy.ts DEFAULT_TTL), then stale 5 min more.
      const open = `{ dashboard(range: { from: "${iso(hour - 3 * HOUR_MS)}", to: "${iso(hour + HOUR_MS)}" }) { orders { total } } }`;
      const staleServed = async () => (await app.metrics()).value('cache_stale_served_total', { metric: 'ORDERS' });
      await app.gql(open);
      const hits = await whole(app, 'hit');
      await app.gql(open);
      expect(await whole(app, 'hit')).toBe(hits + 1);

      now += 31_000;
      const staleBefore = await staleServed();
      // Stale: this request executes on the field path, which serves the stale bucket and refreshes it.
      expect((await app.gql(open)).body.errors).toBeUndefined();
      expect(await whole(app, 'stale')).toBe(1);
      expect(await whole(app, 'hit')).toBe(hits + 1);
      expect(await staleServed()).toBe(staleBefore + 1);
      // Once the refresh landed, one more execution keeps it anew, served fresh from then on.
      await eventually(
        async () => {
          await app.gql(open);
          return (await whole(app, 'hit')) > hits + 1;
        },
        10_000,
        'the refreshed response served whole',
      );

      now += 10 * 60_000; // past every stale window of the open hour
      const misses = await whole(app, 'miss');
      expect((await app.gql(open)).body.errors).toBeUndefined();
      expect(await whole(app, 'miss')).toBe(misses + 1);
    } finally {
      await app.close();
    }
  });

  it('GET: the ETag answers 304 while nothing changed, stops matching after a write, and never without a token', async () => {
    const token = await a.token({});
    const get = (etag?: string, auth: string | null = token) =>
      fetch(`${a.url}/graphql?query=${encodeURIComponent(Q)}`, {
        headers: {
          accept: 'application/json',
          ...(auth ? { authorization: `Bearer ${auth}` } : {}),
          ...(etag ? { 'if-none-match': etag } : {}),
        },
      });
    await get();
    const cached = await get();
    const etag = cached.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(cached.headers.get('cache-control')).toMatch(/^private, max-age=\d+/);
    expect((await get(etag!)).status).toBe(304);
    expect((await get(etag!, null)).status).toBe(401);
    expect((await get(etag!, await a.token({ ttlMs: -60_000 }))).status).toBe(401);
    await a.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "rc2", amount: 2, occurredAt: "${iso(day + 4 * HOUR_MS)}" }) { id } }`,
    );
    const changed = await get(etag!);
    expect(changed.status).toBe(200);
    // Someone else's key, or a bucket key, in If-None-Match is never taken for ours.
    expect((await get('dash:1:{globex}:ORDERS:1:r=*:H:0')).status).toBe(200);
  });
});
