/**
 * The whole API on PostgreSQL answers exactly as on the embedded SQLite default,
 * and /readyz follows the source database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRandom } from '../../src/source/prng.js';
import { DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';

const END = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
const SEED = { days: 8, scale: 0.05, endMs: END };
const QUERY = `query D($from: DateTime!, $to: DateTime!, $g: Granularity) {
  dashboard(range: { from: $from, to: $to }, granularity: $g) {
    range { from to } granularity
    revenue { total points { start value } } orders { total points { start value } }
    sessions { total points { start value } } customers { total points { start value } }
    averageOrderValue conversionRate topProducts(limit: 10) { productId name orders revenue }
    revenueIn(currency: "GBP") { amount rate source stale }
  } }`;

let sqlite: TestApp;
let postgres: TestApp;

beforeAll(async () => {
  [sqlite, postgres] = await Promise.all([
    startTestApp({ database: 'sqlite', seed: SEED }),
    startTestApp({ database: 'postgres', seed: SEED }),
  ]);
});
afterAll(async () => {
  await Promise.all([sqlite?.close(), postgres?.close()]);
});

describe('PostgreSQL and SQLite through the API', () => {
  it('answer identically over random ranges, granularities, tenants, roles and regions', async () => {
    const random = createRandom(42);
    const tenants = ['acme', 'globex', 'initech'];
    const regions = [undefined, 'EU', 'NA', 'APAC'];
    const roles = ['ADMIN', 'ANALYST', 'VIEWER'] as const;
    for (let i = 0; i < 24; i++) {
      const from = END - 9 * DAY_MS + random.int(9 * 24) * HOUR_MS + random.int(HOUR_MS);
      const to = from + 1 + random.int(5 * DAY_MS);
      const claims = { tenant: tenants[random.int(3)], region: regions[random.int(4)], role: roles[random.int(3)] };
      const variables = { from: iso(from), to: iso(to), g: random.next() < 0.5 ? 'HOUR' : 'DAY' };
      const [a, b] = await Promise.all([
        sqlite.gql(QUERY, variables, await sqlite.token(claims)),
        postgres.gql(QUERY, variables, await postgres.token(claims)),
      ]);
      expect(b.body.data, JSON.stringify({ claims, variables })).toEqual(a.body.data);
      expect(b.body.errors).toEqual(a.body.errors);
      if (claims.role !== 'VIEWER') expect(a.body.errors).toBeUndefined();
    }
  });

  it('record an order on PostgreSQL into exactly its bucket', async () => {
    const at = END - 5 * HOUR_MS + 1;
    const variables = { from: iso(END - DAY_MS), to: iso(END), g: 'HOUR' };
    const before = (await postgres.gql(QUERY, variables)).body.data.dashboard;
    const res = await postgres.gql(
      `mutation { recordOrder(input: { productId: "acme-p02", customerId: "pg-c", amount: 19.99, occurredAt: "${iso(at)}" }) { amount } }`,
    );
    expect(res.body.data.recordOrder.amount).toBe(19.99);
    const after = (await postgres.gql(QUERY, variables)).body.data.dashboard;
    after.revenue.points.forEach((p: { value: number }, i: number) => {
      expect(p.value - before.revenue.points[i].value).toBeCloseTo(i === 19 ? 19.99 : 0, 6);
    });
  });
});

describe('/readyz', () => {
  it('is 200 with each dependency while the database answers, 503 once it does not; /healthz stays 200', async () => {
    const app = await startTestApp({ seed: false });
    try {
      const ok = await fetch(`${app.url}/readyz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({
        status: 'ok',
        dependencies: {
          database: { status: 'up', kind: 'sqlite', required: true },
          cache: { status: 'up', kind: 'memory', required: false },
        },
      });
      await app.app.database.close();
      const down = await fetch(`${app.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ status: 'down', dependencies: { database: { status: 'down' } } });
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    } finally {
      await app.close().catch(() => {});
    }
  });
});
