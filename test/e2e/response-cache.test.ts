/**
 * The whole-response layer: identical repeated queries answered whole, per verified
 * tenant, region and role; invalidated by the same events before a write returns,
 * on every instance; never for answers with errors; ETags that stop matching once the
 * data changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { commandStats, resetStats, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

let redis: RedisServerHandle;
let a: TestApp;
let b: TestApp;
const day = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS;
const Q = `{ dashboard(range: { from: "${iso(day)}", to: "${iso(day + DAY_MS)}" }) { orders { total } sessions { total } customers { total } } }`;

beforeAll(async () => {
  redis = await startRedisServer();
  const env = {
    REDIS_URL: redis.url,
    RESPONSE_CACHE_TTL_MS: '30000',
    NODE_ENV: 'production',
    JWT_SECRET: 'response-cache-secret-0123456789abcdef',
  };
  a = await startTestApp({ env, seed: { days: 4, scale: 0.05 } });
  // A second instance on the same source database and the same Redis.
  b = await startTestApp({ env: { ...env, DATABASE_URL: a.database.url }, seed: false });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await redis?.stop();
});

const lookups = async (t: TestApp) => (await t.metrics()).value('cache_requests_total');

describe('identical repeated queries', () => {
  it('are answered whole: no bucket lookup, no MGET', async () => {
    const first = await a.gql(Q);
    expect(first.body.errors).toBeUndefined();
    const before = await lookups(a);
    await resetStats([redis.url]);
    const again = await a.gql(Q);
    expect(again.body.data).toEqual(first.body.data);
    expect(await lookups(a)).toBe(before);
    // The tenant's generation and the response itself: two single-key reads, where the
    // field cache would send 5 metrics' buckets.
    expect((await commandStats([redis.url])).mget ?? 0).toBeLessThanOrEqual(2);
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
});

describe('invalidation', () => {
  it('a write on one instance: the other answers with it as soon as the write returns', async () => {
    const before = (await b.gql(Q)).body.data;
    expect((await b.gql(Q)).body.data).toEqual(before);
    await a.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "rc", amount: 2, occurredAt: "${iso(day + 3 * HOUR_MS)}" }) { id } }`,
    );
    const after = (await b.gql(Q)).body.data;
    expect(after.dashboard.orders.total).toBe(before.dashboard.orders.total + 1);
  });

  it('GET: the ETag answers 304 while nothing changed, and stops matching after a write', async () => {
    const token = await a.token({});
    const get = (etag?: string) =>
      fetch(`${a.url}/graphql?query=${encodeURIComponent(Q)}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(etag ? { 'if-none-match': etag } : {}) },
      });
    await get();
    const cached = await get();
    const etag = cached.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(cached.headers.get('cache-control')).toMatch(/^private, max-age=\d+/);
    expect((await get(etag!)).status).toBe(304);
    await a.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "rc2", amount: 2, occurredAt: "${iso(day + 4 * HOUR_MS)}" }) { id } }`,
    );
    const changed = await get(etag!);
    expect(changed.status).toBe(200);
    // Someone else's key, or a bucket key, in If-None-Match is never taken for ours.
    expect((await get('dash:1:{globex}:ORDERS:1:r=*:H:0')).status).toBe(200);
  });
});
