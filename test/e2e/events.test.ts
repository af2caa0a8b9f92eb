/**
 * Events across instances: two server processes sharing PostgreSQL and Redis. Read
 * your writes on the other instance, subscribers of one instance hearing writes on
 * the other, and events other services publish on the `dashboard:events` stream:
 * written once, invalidated, acknowledged; malformed ones dropped; a crashed
 * consumer's pending entries reclaimed.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/identity.js';
import type { Database } from '../../src/source/database.js';
import { HOUR_MS, iso, TEST_SECRET } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { parsePrometheus, sumOver } from '../helpers/prometheus.js';
import { startSharedCluster, type Instance, type SharedCluster } from '../helpers/instances.js';
import { subscribeSse } from '../helpers/sse.js';

let cluster: SharedCluster | undefined;
let db: Database;
let client: Redis;
const servers: Instance[] = [];
const secret = new TextEncoder().encode(TEST_SECRET);
const token = (tenant = 'acme') => signToken({ tenant, role: 'ADMIN' }, secret);

beforeAll(async () => {
  cluster = await startSharedCluster(2, { days: 3, scale: 0.05 }, { EVENTS_CLAIM_IDLE_MS: '500' });
  ({ db, client } = cluster);
  servers.push(...cluster.instances.servers);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

async function gql(base: string, query: string, tenant = 'acme') {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(tenant)}` },
    body: JSON.stringify({ query }),
  });
  return await res.json();
}

const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 5 * HOUR_MS;
const DASHBOARD = `{ dashboard(range: { from: "${iso(hour)}", to: "${iso(hour + HOUR_MS)}" }) { orders { total } sessions { total } revenue { total } } }`;
const [a, b] = [0, 1];

async function scrapes() {
  return Promise.all(servers.map(async (s) => parsePrometheus(await (await fetch(`${s.url}/metrics`)).text())));
}

describe('two instances', () => {
  it('read your writes: when recordOrder returns on one, the other already answers with the order', async () => {
    const before = await gql(servers[b]!.url, DASHBOARD);
    // B has the answer cached now, in both layers (the second answer comes whole from
    // the response cache, with the first one's extensions).
    const cached = await gql(servers[b]!.url, DASHBOARD);
    expect(cached.data).toEqual(before.data);
    const write = await gql(
      servers[a]!.url,
      `mutation { recordOrder(input: { productId: "acme-p01", customerId: "ryw", amount: 12.5, occurredAt: "${iso(hour + 60_000)}" }) { id } }`,
    );
    expect(write.errors).toBeUndefined();
    const after = await gql(servers[b]!.url, DASHBOARD);
    expect(after.data.dashboard.orders.total).toBe(before.data.dashboard.orders.total + 1);
    expect(after.data.dashboard.revenue.total).toBeCloseTo(before.data.dashboard.revenue.total + 12.5, 6);
    expect(after.data.dashboard.sessions).toEqual(before.data.dashboard.sessions);
  });

  it('a subscriber on one instance hears a write on the other within a second', async () => {
    const subscriber = await subscribeSse(servers[b]!.url, await token(), ['ORDERS']);
    const stranger = await subscribeSse(servers[b]!.url, await token('globex'));
    try {
      const sent = Date.now();
      await gql(
        servers[a]!.url,
        `mutation { recordOrder(input: { productId: "acme-p02", customerId: "x", amount: 1, occurredAt: "${iso(hour + 120_000)}" }) { id } }`,
      );
      await subscriber.until(1, 5_000);
      expect(Date.now() - sent).toBeLessThan(1_000);
      expect(subscriber.events[0]).toMatchObject({
        metrics: ['ORDERS'],
        from: iso(hour),
        to: iso(hour + HOUR_MS),
        reason: 'order.recorded',
      });
      expect(stranger.events).toEqual([]);
    } finally {
      subscriber.close();
      stranger.close();
    }
  });
});

describe('the dashboard:events stream', () => {
  const orderFields = (id: string, at: number) => [
    'type',
    'order.recorded',
    'id',
    id,
    'tenant',
    'acme',
    'region',
    'EU',
    'occurredAt',
    iso(at),
    'productId',
    'acme-p03',
    'customerId',
    'stream-customer',
    'amount',
    '40.10',
  ];
  /**
   * Adds an order entry that `consumer`, no live instance, takes and never acknowledges:
   * in one transaction, so that the live consumers, blocked on the stream, cannot get it first.
   */
  const takenBy = async (consumer: string, id: string, at: number) => {
    const replies = await client
      .multi()
      .xadd('dashboard:events', '*', ...orderFields(id, at))
      .xreadgroup('GROUP', 'dashboard-api', consumer, 'COUNT', 1, 'STREAMS', 'dashboard:events', '>')
      .exec();
    return { entryId: replies![0]![1] as string, taken: replies![1]![1] as Array<[string, Array<[string, string[]]>]> };
  };
  const rows = async (id: string) =>
    (await db.db.selectFrom('orders').select(['id', 'amount_cents']).where('id', '=', id).execute()).length;

  it('writes an event once however often it comes, invalidates, tells subscribers, and acknowledges', async () => {
    const at = hour + 10 * 60_000;
    await gql(servers[a]!.url, DASHBOARD);
    const before = await gql(servers[b]!.url, DASHBOARD);
    const subscriber = await subscribeSse(servers[a]!.url, await token());
    const counted = sumOver(await scrapes(), 'events_consumed_total');
    try {
      await client.xadd('dashboard:events', '*', ...orderFields('ext-1', at));
      await client.xadd('dashboard:events', '*', ...orderFields('ext-1', at));
      await subscriber.until(1, 5_000);
      await eventually(async () => sumOver(await scrapes(), 'events_consumed_total') === counted + 2, 10_000, 'both entries consumed');
      const s = await scrapes();
      expect(sumOver(s, 'events_consumed_total', { type: 'order.recorded', result: 'ingested' })).toBe(1);
      expect(sumOver(s, 'events_consumed_total', { type: 'order.recorded', result: 'duplicate' })).toBe(1);
      expect(await rows('ext-1')).toBe(1);
      expect(subscriber.events[0]).toMatchObject({ reason: 'order.recorded', from: iso(hour), to: iso(hour + HOUR_MS) });
      const after = await gql(servers[b]!.url, DASHBOARD);
      expect(after.data.dashboard.orders.total).toBe(before.data.dashboard.orders.total + 1);
      expect(after.data.dashboard.revenue.total).toBeCloseTo(before.data.dashboard.revenue.total + 40.1, 6);
      await eventually(
        async () => Number(((await client.xpending('dashboard:events', 'dashboard-api')) as [number])[0]) === 0,
        5_000,
        'all acknowledged',
      );
    } finally {
      subscriber.close();
    }
  });

  it('acknowledges and counts a malformed entry, and keeps consuming', async () => {
    const counted = sumOver(await scrapes(), 'events_consumed_total', { result: 'malformed' });
    await client.xadd(
      'dashboard:events',
      '*',
      'type',
      'order.recorded',
      'id',
      'bad-1',
      'tenant',
      'acme',
      'region',
      'MARS',
      'occurredAt',
      'yesterday',
    );
    await client.xadd('dashboard:events', '*', 'type', 'order.exploded', 'id', 'bad-2');
    await client.xadd('dashboard:events', '*', ...orderFields('bad-3', hour).map((v) => (v === '40.10' ? '1e999' : v)));
    await client.xadd('dashboard:events', '*', ...orderFields('after-bad', hour + 60_000));
    await eventually(async () => (await rows('after-bad')) === 1, 10_000, 'the valid event after the bad ones');
    await eventually(
      async () => sumOver(await scrapes(), 'events_consumed_total', { result: 'malformed' }) === counted + 3,
      5_000,
      'malformed counted',
    );
    expect(await rows('bad-1')).toBe(0);
    expect(await rows('bad-3')).toBe(0);
    await eventually(
      async () => Number(((await client.xpending('dashboard:events', 'dashboard-api')) as [number])[0]) === 0,
      5_000,
      'all acknowledged',
    );
  });

  it('event_stream_pending counts the entries not acknowledged, while the consumers wait on their blocking reads', async () => {
    // Taken by a consumer that never acknowledges, as in the test below (an instance may
    // reclaim it once it has been idle 500 ms).
    const { entryId } = await takenBy('counting-instance', 'counted-1', hour + 80_000);
    const pending = async () => Number(((await client.xpending('dashboard:events', 'dashboard-api')) as [number])[0]);
    const truth = await pending();
    expect(truth).toBeGreaterThanOrEqual(1);
    // Each scrape of each instance reads the group's count; on the consumer's own
    // connection the count waited behind XREADGROUP BLOCK and came back -1 about half the time.
    for (let i = 0; i < 6; i++) {
      for (const scrape of await scrapes()) {
        const value = sumOver([scrape], 'event_stream_pending');
        // Reclaiming may take the entry meanwhile: never more than there were, never -1.
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(truth);
      }
    }
    await client.xack('dashboard:events', 'dashboard-api', entryId);
  });

  it('reclaims the pending entries of a consumer that crashed', async () => {
    // A "crashed" instance takes the entry (reads it, never acknowledges), as one that
    // died mid-entry would.
    const { entryId, taken } = await takenBy('crashed-instance', 'orphan-1', hour + 90_000);
    expect(taken[0]![1][0]![0]).toBe(entryId);
    expect((await client.xpending('dashboard:events', 'dashboard-api', '-', '+', 10, 'crashed-instance')).length).toBe(1);
    await eventually(async () => (await rows('orphan-1')) === 1, 10_000, 'orphan ingested');
    await eventually(
      async () => (await client.xpending('dashboard:events', 'dashboard-api', '-', '+', 10, 'crashed-instance')).length === 0,
      10_000,
      'orphan reclaimed and acknowledged',
    );
  });
});
