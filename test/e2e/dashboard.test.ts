/**
 * The dashboard through the real HTTP interface, on the embedded default (SQLite):
 * arithmetic of series, the effective range, recorded orders landing in exactly
 * their bucket, and derived metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';

const SERIES = 'total points { start value }';
const ALL_FIELDS = `
  range { from to } granularity
  revenue { ${SERIES} } orders { ${SERIES} } sessions { ${SERIES} } customers { ${SERIES} }
  averageOrderValue conversionRate
  topProducts(limit: 50) { productId name orders revenue }`;
const DASHBOARD = `query D($from: DateTime!, $to: DateTime!, $g: Granularity) {
  dashboard(range: { from: $from, to: $to }, granularity: $g) { ${ALL_FIELDS} }
}`;

type Series = { total: number; points: Array<{ start: string; value: number }> };

let t: TestApp;
const now = Date.now();
const today = Math.floor(now / DAY_MS) * DAY_MS;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function dashboard(from: number, to: number, g: 'HOUR' | 'DAY', token?: string) {
  const res = await t.gql(DASHBOARD, { from: iso(from), to: iso(to), g }, token);
  expect(res.body.errors).toBeUndefined();
  expect(res.status).toBe(200);
  return res.body.data.dashboard;
}

const sum = (s: Series) => s.points.reduce((a, p) => a + p.value, 0);

describe('series arithmetic', () => {
  it('has seeded data to work with', async () => {
    const d = await dashboard(today - 7 * DAY_MS, today, 'DAY');
    expect(d.orders.total).toBeGreaterThan(100);
    expect(d.sessions.total).toBeGreaterThan(d.orders.total);
  });

  it('totals equal the sum of points (revenue, orders, sessions)', async () => {
    const d = await dashboard(today - 3 * DAY_MS, today, 'HOUR');
    for (const name of ['revenue', 'orders', 'sessions'] as const) {
      expect(d[name].points).toHaveLength(72);
      expect(d[name].total).toBeCloseTo(sum(d[name]), 6);
    }
  });

  it('customers.total is distinct over the range: at most the sum of points, at least the largest point', async () => {
    const d = await dashboard(today - 5 * DAY_MS, today, 'DAY');
    const points = d.customers.points.map((p: { value: number }) => p.value);
    expect(d.customers.total).toBeLessThanOrEqual(sum(d.customers));
    expect(d.customers.total).toBeGreaterThanOrEqual(Math.max(...points));
    // Seeded customers return: over five days some customers appear in two buckets.
    expect(d.customers.total).toBeLessThan(sum(d.customers));
  });

  it('DAY equals HOUR over the same range, bucket by bucket', async () => {
    const from = today - 4 * DAY_MS;
    const [byDay, byHour] = await Promise.all([dashboard(from, today, 'DAY'), dashboard(from, today, 'HOUR')]);
    for (const name of ['revenue', 'orders', 'sessions'] as const) {
      expect(byDay[name].total).toBeCloseTo(byHour[name].total, 6);
      byDay[name].points.forEach((day: { start: string; value: number }, i: number) => {
        const hours = byHour[name].points.slice(i * 24, i * 24 + 24);
        expect(hours[0].start).toBe(day.start);
        expect(hours.reduce((a: number, p: { value: number }) => a + p.value, 0)).toBeCloseTo(day.value, 6);
      });
    }
    expect(byDay.customers.total).toBe(byHour.customers.total);
    expect(byDay.topProducts).toEqual(byHour.topProducts);
    expect(byDay.averageOrderValue).toBeCloseTo(byHour.averageOrderValue, 9);
  });

  it('a range split in two adds up', async () => {
    const from = today - 6 * DAY_MS + 5 * HOUR_MS;
    const mid = today - 2 * DAY_MS + 11 * HOUR_MS;
    const to = today;
    const [whole, left, right] = await Promise.all([dashboard(from, to, 'HOUR'), dashboard(from, mid, 'HOUR'), dashboard(mid, to, 'HOUR')]);
    for (const name of ['revenue', 'orders', 'sessions'] as const) {
      expect(left[name].total + right[name].total).toBeCloseTo(whole[name].total, 6);
      expect([...left[name].points, ...right[name].points]).toEqual(whole[name].points);
    }
    const merged = new Map<string, number>();
    for (const p of [...left.topProducts, ...right.topProducts]) merged.set(p.productId, (merged.get(p.productId) ?? 0) + p.orders);
    for (const p of whole.topProducts) expect(merged.get(p.productId)).toBe(p.orders);
  });
});

describe('effective range', () => {
  it('snaps outward to whole buckets and lists every bucket, zeros included', async () => {
    const from = today - 2 * DAY_MS + 90 * 60_000; // 01:30
    const to = today - 2 * DAY_MS + 5 * HOUR_MS + 1; // just past 05:00
    const d = await dashboard(from, to, 'HOUR');
    expect(d.range).toEqual({ from: iso(today - 2 * DAY_MS + HOUR_MS), to: iso(today - 2 * DAY_MS + 6 * HOUR_MS) });
    expect(d.granularity).toBe('HOUR');
    expect(d.orders.points.map((p: { start: string }) => p.start)).toEqual(
      [1, 2, 3, 4, 5].map((h) => iso(today - 2 * DAY_MS + h * HOUR_MS)),
    );
  });

  it('a future range has zero points and null ratios', async () => {
    const d = await dashboard(today + 30 * DAY_MS, today + 32 * DAY_MS, 'DAY');
    expect(d.orders).toEqual({
      total: 0,
      points: [
        { start: iso(today + 30 * DAY_MS), value: 0 },
        { start: iso(today + 31 * DAY_MS), value: 0 },
      ],
    });
    expect(d.averageOrderValue).toBeNull();
    expect(d.conversionRate).toBeNull();
    expect(d.topProducts).toEqual([]);
  });
});

describe('derived metrics', () => {
  it('averageOrderValue = revenue.total / orders.total and conversionRate = orders.total / sessions.total', async () => {
    const d = await dashboard(today - 3 * DAY_MS, today, 'DAY');
    expect(d.averageOrderValue).toBeCloseTo(d.revenue.total / d.orders.total, 9);
    expect(d.conversionRate).toBeCloseTo(d.orders.total / d.sessions.total, 9);
  });

  it('topProducts are ranked by orders and add up to orders.total', async () => {
    const d = await dashboard(today - 3 * DAY_MS, today, 'DAY');
    const orders = d.topProducts.map((p: { orders: number }) => p.orders);
    expect(orders).toEqual([...orders].sort((a, b) => b - a));
    expect(orders.reduce((a: number, b: number) => a + b, 0)).toBe(d.orders.total);
    expect(d.topProducts.reduce((a: number, p: { revenue: number }) => a + p.revenue, 0)).toBeCloseTo(d.revenue.total, 6);
    expect(d.topProducts[0].name).toMatch(/\w+ \w+/);
    const top3 = await t.gql(
      `{ dashboard(range: { from: "${iso(today - 3 * DAY_MS)}", to: "${iso(today)}" }) { topProducts(limit: 3) { productId } } }`,
    );
    expect(top3.body.data.dashboard.topProducts.map((p: { productId: string }) => p.productId)).toEqual(
      d.topProducts.slice(0, 3).map((p: { productId: string }) => p.productId),
    );
  });
});

describe('a recorded order', () => {
  it('shows up in exactly its bucket, in every series it belongs to', async () => {
    const at = today - DAY_MS + 13 * HOUR_MS + 17 * 60_000; // yesterday 13:17
    const from = today - DAY_MS;
    const before = await dashboard(from, today, 'HOUR');
    const beforeDay = await dashboard(from, today, 'DAY');
    const res = await t.gql(
      `mutation($input: RecordOrderInput!) { recordOrder(input: $input) { id productId customerId amount region occurredAt } }`,
      { input: { productId: 'acme-p03', customerId: 'brand-new-customer', amount: 123.45, region: 'EU', occurredAt: iso(at) } },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.recordOrder).toMatchObject({
      productId: 'acme-p03',
      customerId: 'brand-new-customer',
      amount: 123.45,
      region: 'EU',
      occurredAt: iso(at),
    });
    expect(res.body.data.recordOrder.id).toMatch(/^[0-9a-f-]{36}$/);

    const after = await dashboard(from, today, 'HOUR');
    const afterDay = await dashboard(from, today, 'DAY');
    after.orders.points.forEach((p: { start: string; value: number }, i: number) => {
      expect(p.value - before.orders.points[i].value).toBe(p.start === iso(today - DAY_MS + 13 * HOUR_MS) ? 1 : 0);
    });
    after.revenue.points.forEach((p: { start: string; value: number }, i: number) => {
      expect(p.value - before.revenue.points[i].value).toBeCloseTo(p.start === iso(today - DAY_MS + 13 * HOUR_MS) ? 123.45 : 0, 6);
    });
    after.customers.points.forEach((p: { start: string; value: number }, i: number) => {
      expect(p.value - before.customers.points[i].value).toBe(p.start === iso(today - DAY_MS + 13 * HOUR_MS) ? 1 : 0);
    });
    expect(after.customers.total).toBe(before.customers.total + 1);
    expect(after.sessions).toEqual(before.sessions);
    expect(afterDay.orders.total).toBe(beforeDay.orders.total + 1);
    const p03 = (d: { topProducts: Array<{ productId: string; orders: number }> }) =>
      d.topProducts.find((p) => p.productId === 'acme-p03')?.orders ?? 0;
    expect(p03(after)).toBe(p03(before) + 1);
  });

  it('a recorded session shows up in exactly its bucket', async () => {
    const at = today - 2 * DAY_MS + 4 * HOUR_MS + 59 * 60_000;
    const from = today - 2 * DAY_MS;
    const to = today - DAY_MS;
    const before = await dashboard(from, to, 'HOUR');
    const res = await t.gql(
      `mutation { recordSession(input: { visitorId: "v-test", occurredAt: "${iso(at)}" }) { id visitorId region occurredAt } }`,
    );
    expect(res.body.errors).toBeUndefined();
    // No region in the input or the token: the tenant's home region (acme: NA).
    expect(res.body.data.recordSession).toMatchObject({ visitorId: 'v-test', region: 'NA', occurredAt: iso(at) });
    const after = await dashboard(from, to, 'HOUR');
    after.sessions.points.forEach((p: { start: string; value: number }, i: number) => {
      expect(p.value - before.sessions.points[i].value).toBe(i === 4 ? 1 : 0);
    });
    expect(after.orders).toEqual(before.orders);
  });

  it('occurredAt defaults to now', async () => {
    const before = Date.now();
    const res = await t.gql(`mutation { recordOrder(input: { productId: "acme-p01", customerId: "c1", amount: 5 }) { occurredAt } }`);
    const at = Date.parse(res.body.data.recordOrder.occurredAt);
    expect(at).toBeGreaterThanOrEqual(before - 1);
    expect(at).toBeLessThanOrEqual(Date.now() + 1);
  });
});

describe('revenueIn', () => {
  it('converts revenue.total with the static rate table and says where the rate came from', async () => {
    const res = await t.gql(`{ dashboard(range: { from: "${iso(today - 2 * DAY_MS)}", to: "${iso(today)}" }) {
      revenue { total } revenueIn(currency: "eur") { currency amount rate source fetchedAt stale } } }`);
    expect(res.body.errors).toBeUndefined();
    const { revenue, revenueIn } = res.body.data.dashboard;
    expect(revenueIn).toMatchObject({ currency: 'EUR', rate: 0.92, source: 'static', stale: false });
    expect(revenueIn.amount).toBeCloseTo(revenue.total * 0.92, 2);
    expect(Number.isNaN(Date.parse(revenueIn.fetchedAt))).toBe(false);
  });
});
