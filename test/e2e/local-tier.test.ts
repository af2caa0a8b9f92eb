/**
 * The in-process tier across instances: two server processes on one PostgreSQL and a
 * private Redis. With B's tier warm (a request costs B one MGET: the validators), a
 * write that returned on A — by mutation, or by a stream event an instance has
 * acknowledged — shows on the very next request to B, which goes to the store for
 * the moved metrics only. Pub/sub plays no part: the validator in the store does it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatorKey } from '../../src/cache/keys.js';
import type { Database } from '../../src/source/database.js';
import { closedHours, HOUR_MS, iso } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { postAsAcme, startSharedCluster, type Instances, type SharedCluster } from '../helpers/instances.js';
import { commandStats, resetStats, type RedisServerHandle } from '../helpers/redis.js';

let cluster: SharedCluster;
let db: Database;
let redis: RedisServerHandle;
let client: Redis;
let instances: Instances;

const { end, range: RANGE } = closedHours(48);
const DASHBOARD = `query D($from: DateTime!, $to: DateTime!) {
  dashboard(range: { from: $from, to: $to }) { orders { total } revenue { total } sessions { total } customers { total } } }`;
const RECORD = `mutation R($at: DateTime!) { recordOrder(input: { productId: "acme-p01", customerId: "tier-c", amount: 12.5, occurredAt: $at }) { id } }`;

const gql = (base: string, query: string, variables: Record<string, unknown> = RANGE) => postAsAcme(base, query, variables);

/** The MGETs one request to `base` sends (nothing else reads buckets meanwhile). */
async function mgetsOf(base: string): Promise<{ mgets: number; data: any }> {
  await resetStats([redis.url]);
  const data = await gql(base, DASHBOARD);
  return { mgets: (await commandStats([redis.url])).mget ?? 0, data };
}

beforeAll(async () => {
  cluster = await startSharedCluster(2, { days: 3, scale: 0.05 });
  ({ db, redis, client, instances } = cluster);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

describe('the tier on instance B', () => {
  const a = () => instances.servers[0]!.url;
  const b = () => instances.servers[1]!.url;

  /** Fills B's tier and shows it warm: a request then costs B the validators' MGET alone (served whole). */
  async function warmB() {
    await gql(b(), DASHBOARD);
    // Background refreshes of the open hour may still be landing: until one request is
    // answered with one MGET, the tier is not warm yet.
    let warm = await mgetsOf(b());
    await eventually(async () => (warm = await mgetsOf(b())).mgets === 1, 10_000, "B's tier warm");
    return warm.data;
  }

  it('reflects a write that returned on A on the very next request', async () => {
    const before = await warmB();
    await gql(a(), RECORD, { at: iso(end - 3 * HOUR_MS + 60_000) });

    const { mgets, data } = await mgetsOf(b());
    expect(data.dashboard.orders.total).toBe(before.dashboard.orders.total + 1);
    expect(data.dashboard.revenue.total).toBeCloseTo(before.dashboard.revenue.total + 12.5, 6);
    expect(data.dashboard.sessions.total).toBe(before.dashboard.sessions.total);
    // The whole response's validators (moved: not served whole; the execution takes what
    // that read said instead of reading them again); the three moved metrics' buckets
    // (ORDERS, REVENUE, CUSTOMERS), in one batch; and for each, the double check under its
    // recompute's lock of the one dropped hour. SESSIONS did not move: the tier serves it.
    expect(mgets).toBe(1 + 1 + 3);
    // And warm again for the next one.
    expect((await mgetsOf(b())).mgets).toBe(1);
  });

  it('reflects a stream event once an instance has acknowledged it, and the event moved the validator', async () => {
    const before = await warmB();
    const validator = validatorKey({ prefix: 'dash', cacheVersion: '1', tenant: 'acme', metric: 'ORDERS', metricVersion: 1 });
    const was = await client.get(validator);
    const at = end - 2 * HOUR_MS + 120_000;
    const id = `tier-stream-${Date.now()}`;
    await client.xadd(
      'dashboard:events',
      '*',
      ...['type', 'order.recorded', 'id', id, 'tenant', 'acme', 'region', 'NA', 'occurredAt', iso(at)],
      ...['productId', 'acme-p02', 'customerId', 'stream-c', 'amount', '7.25'],
    );
    // Acknowledged: its row is written and nothing is pending (an entry is acked only
    // after its buckets were dropped).
    await eventually(
      async () => {
        const [pending] = (await client.xpending('dashboard:events', 'dashboard-api')) as [number];
        const rows = await db.db.selectFrom('orders').select('id').where('id', '=', id).execute();
        return rows.length === 1 && Number(pending) === 0;
      },
      10_000,
      'the event ingested and acknowledged',
    );
    expect(await client.get(validator)).not.toBe(was);
    const { data } = await mgetsOf(b());
    expect(data.dashboard.orders.total).toBe(before.dashboard.orders.total + 1);
    expect(data.dashboard.revenue.total).toBeCloseTo(before.dashboard.revenue.total + 7.25, 6);
  });
});
