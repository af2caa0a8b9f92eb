/**
 * Identity and access through HTTP: tokens, role rules per field and mutation,
 * and isolation between tenants and regions.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, iso, startTestApp, TEST_SECRET, type TestApp } from '../helpers/app.js';

let t: TestApp;
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const RANGE = `range: { from: "${iso(today - 3 * DAY_MS)}", to: "${iso(today)}" }`;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('authentication', () => {
  const query = `{ dashboard(${RANGE}) { orders { total } } }`;

  it('refuses a request without a token with 401 UNAUTHENTICATED', async () => {
    const res = await t.gql(query, undefined, null);
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.body.data).toBeUndefined();
  });

  it('refuses an expired token, a forged one, and one signed with another algorithm', async () => {
    const expired = await t.token({ ttlMs: -60_000 });
    const forged = await new SignJWT({ tenant: 'acme', role: 'ADMIN' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-secret-not-the-secret-not-the-secret'));
    const hs512 = await new SignJWT({ tenant: 'acme', role: 'ADMIN' })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('x')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_SECRET));
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ tenant: 'acme', role: 'ADMIN', sub: 'x', exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString('base64url')}.`;
    for (const token of [expired, forged, hs512, unsigned, 'garbage']) {
      const res = await t.gql(query, undefined, token);
      expect(res.status, token).toBe(401);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    const res = await t.gql(query, undefined, expired);
    expect(res.body.errors?.[0]?.message).toMatch(/expired/i);
  });

  it('never takes the tenant from a header, an argument or a variable', async () => {
    const globexToken = await t.token({ tenant: 'globex', role: 'ADMIN' });
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${globexToken}`, 'x-tenant-id': 'acme', 'x-tenant': 'acme' },
      body: JSON.stringify({ query, variables: { tenant: 'acme' } }),
    });
    const body = await res.json();
    const own = await t.gql(query, undefined, globexToken);
    const acme = await t.gql(query);
    expect(body.data.dashboard.orders.total).toBe(own.body.data.dashboard.orders.total);
    expect(body.data.dashboard.orders.total).not.toBe(acme.body.data.dashboard.orders.total);
  });
});

describe('role rules', () => {
  const everything = `{ dashboard(${RANGE}) {
    revenue { total } orders { total } sessions { total } customers { total }
    averageOrderValue conversionRate topProducts(limit: 2) { productId name orders revenue }
    revenueIn(currency: "EUR") { amount } } }`;

  it('VIEWER gets FORBIDDEN on revenue fields and the rest of the response', async () => {
    const viewer = await t.gql(everything, undefined, await t.token({ role: 'VIEWER' }));
    const admin = await t.gql(everything);
    expect(viewer.status).toBe(200);
    const paths = viewer.body.errors!.map((e) => e.path!.join('.')).sort();
    expect(paths).toEqual([
      'dashboard.averageOrderValue',
      'dashboard.revenue',
      'dashboard.revenueIn',
      'dashboard.topProducts.0.revenue',
      'dashboard.topProducts.1.revenue',
    ]);
    expect(viewer.body.errors!.every((e) => e.extensions?.code === 'FORBIDDEN')).toBe(true);
    const v = viewer.body.data.dashboard;
    const a = admin.body.data.dashboard;
    expect(v.revenue).toBeNull();
    expect(v.averageOrderValue).toBeNull();
    expect(v.revenueIn).toBeNull();
    expect(v.orders).toEqual(a.orders);
    expect(v.sessions).toEqual(a.sessions);
    expect(v.customers).toEqual(a.customers);
    expect(v.conversionRate).toBe(a.conversionRate);
    expect(v.topProducts.map((p: any) => ({ ...p, revenue: null }))).toEqual(a.topProducts.map((p: any) => ({ ...p, revenue: null })));
    expect(a.revenue.total).toBeGreaterThan(0);
    expect(admin.body.errors).toBeUndefined();
  });

  it('ANALYST reads everything', async () => {
    const res = await t.gql(everything, undefined, await t.token({ role: 'ANALYST' }));
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.dashboard.revenue.total).toBeGreaterThan(0);
  });

  it('VIEWER may not write; ANALYST may record but not invalidate; ADMIN may do all', async () => {
    const order = `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c9", amount: 1 }) { id } }`;
    const session = `mutation { recordSession(input: { visitorId: "v9" }) { id } }`;
    const invalidate = `mutation { invalidateMetrics }`;
    const viewer = await t.token({ role: 'VIEWER' });
    const analyst = await t.token({ role: 'ANALYST' });
    const before = (
      await t.gql(`{ dashboard(range: { from: "${iso(today)}", to: "${iso(today + DAY_MS)}" }) { orders { total } sessions { total } } }`)
    ).body.data.dashboard;

    for (const mutation of [order, session, invalidate]) {
      const res = await t.gql(mutation, undefined, viewer);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(res.body.data).toBeNull();
    }
    expect((await t.gql(invalidate, undefined, analyst)).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const after = (
      await t.gql(`{ dashboard(range: { from: "${iso(today)}", to: "${iso(today + DAY_MS)}" }) { orders { total } sessions { total } } }`)
    ).body.data.dashboard;
    expect(after).toEqual(before);

    expect((await t.gql(order, undefined, analyst)).body.data.recordOrder.id).toBeTruthy();
    expect((await t.gql(session, undefined, analyst)).body.data.recordSession.id).toBeTruthy();
    expect((await t.gql(invalidate)).body.data.invalidateMetrics).toBeGreaterThanOrEqual(0);
  });
});

describe('isolation', () => {
  it('tenants see only their own data', async () => {
    const q = `{ dashboard(${RANGE}) { orders { total } topProducts(limit: 50) { productId } } }`;
    for (const tenant of ['acme', 'globex', 'initech']) {
      const res = await t.gql(q, undefined, await t.token({ tenant }));
      const products: string[] = res.body.data.dashboard.topProducts.map((p: any) => p.productId);
      expect(products.length).toBeGreaterThan(0);
      expect(products.every((id) => id.startsWith(`${tenant}-`))).toBe(true);
    }
    // A tenant the database does not have, one invisible character away from acme. (A NUL, which PostgreSQL
    // text cannot hold, is refused before any query: such a tenant cannot be signed.)
    await expect(t.token({ tenant: 'acme\u0000x' })).rejects.toThrow(/control characters/);
    const unknown = await t.gql(q, undefined, await t.token({ tenant: 'acme\u200Bx' }));
    expect(unknown.body.data.dashboard).toEqual({ orders: { total: 0 }, topProducts: [] });
  });

  it('an order of one tenant changes no other tenant', async () => {
    const q = `{ dashboard(range: { from: "${iso(today - DAY_MS)}", to: "${iso(today)}" }, granularity: DAY) { orders { total } revenue { total } } }`;
    const globex = await t.token({ tenant: 'globex' });
    const before = await t.gql(q, undefined, globex);
    await t.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 10, occurredAt: "${iso(today - HOUR_MS)}" }) { id } }`,
    );
    expect((await t.gql(q, undefined, globex)).body.data).toEqual(before.body.data);
    // Another tenant's product id is refused, not recorded against the caller's tenant.
    const cross = await t.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 10 }) { id } }`,
      undefined,
      globex,
    );
    expect(cross.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('a region-scoped token sees only its region, and the regions add up to the whole', async () => {
    const q = `{ dashboard(${RANGE}, granularity: DAY) { orders { total points { value } } sessions { total } revenue { total } } }`;
    const whole = (await t.gql(q)).body.data.dashboard;
    const parts = await Promise.all(
      ['EU', 'NA', 'APAC'].map(async (region) => (await t.gql(q, undefined, await t.token({ region }))).body.data.dashboard),
    );
    for (const part of parts) expect(part.orders.total).toBeLessThan(whole.orders.total);
    expect(parts.reduce((a, p) => a + p.orders.total, 0)).toBe(whole.orders.total);
    expect(parts.reduce((a, p) => a + p.sessions.total, 0)).toBe(whole.sessions.total);
    expect(parts.reduce((a, p) => a + p.revenue.total, 0)).toBeCloseTo(whole.revenue.total, 6);
  });

  it('a region-scoped token writes only its region', async () => {
    const eu = await t.token({ region: 'EU', role: 'ANALYST' });
    const ok = await t.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 1 }) { region } }`,
      undefined,
      eu,
    );
    expect(ok.body.data.recordOrder.region).toBe('EU');
    const refused = await t.gql(
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 1, region: "NA" }) { region } }`,
      undefined,
      eu,
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.body.errors?.[0]?.message).toMatch(/region EU/);
  });
});
