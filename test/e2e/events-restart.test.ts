/**
 * Events keep flowing after Redis restarts empty (issue 10): a Redis without
 * persistence that restarts, a FLUSHALL, or a failover to a replica that never had
 * the consumer group loses the group with the stream. The consumer must make the
 * group again and go on reading, without the instance restarting: an event published
 * afterwards is ingested, counted, invalidates, and reaches subscribers.
 *
 * The test owns the redis-server it restarts (stop, then start on the same port, no
 * data) and talks to it with a connection of its own.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';
import { subscribeSse } from '../helpers/sse.js';
import { orderEventFields } from '../helpers/stream-events.js';

let server: RedisServerHandle;
let t: TestApp;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  t = await startTestApp({ seed: { days: 2, scale: 0.02 }, env: { REDIS_URL: server.url } });
  // The test's own connection: it reconnects by itself when the server comes back.
  client = new Redis(server.url, { retryStrategy: () => 50 });
  client.on('error', () => {});
});
afterAll(async () => {
  client?.disconnect();
  await t?.close();
  await server?.stop();
});

const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
const DASHBOARD = `{ dashboard(range: { from: "${iso(hour)}", to: "${iso(hour + HOUR_MS)}" }) { orders { total } } }`;

const orderFields = (id: string) => orderEventFields({ id, occurredAt: iso(hour + 15 * 60_000) });

const clientCount = async () => ((await client.client('LIST').catch(() => '')) as string).split('\n').filter(Boolean).length;
const ingested = async () => (await t.metrics()).value('events_consumed_total', { type: 'order.recorded', result: 'ingested' });
const rows = async (id: string) => (await t.app.database.db.selectFrom('orders').select('id').where('id', '=', id).execute()).length;
const orders = async (): Promise<number> => {
  const response = await t.gql<{ dashboard: { orders: { total: number } } }>(DASHBOARD);
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.dashboard.orders.total;
};

describe('the dashboard:events consumer when Redis restarts empty', () => {
  it('makes its consumer group again and ingests events published afterwards, without the instance restarting', async () => {
    // Before: an event flows, and the group exists.
    await client.xadd('dashboard:events', '*', ...orderFields('restart-before'));
    await eventually(async () => (await ingested()) === 1, 10_000, 'the event before the restart ingested');
    expect(await rows('restart-before')).toBe(1);
    const before = await orders();
    const connections = await clientCount();

    await server.restart();
    await eventually(async () => (await client.ping().catch(() => '')) === 'PONG', 10_000, 'the test client back');
    // The server came back empty: the event of before is gone with the stream.
    expect(await client.xlen('dashboard:events')).toBe(0);
    // Every connection of the app back (store, stream, pub/sub), so that the notice below
    // is not published on a connection still reconnecting (a lost notice is allowed).
    await eventually(async () => (await clientCount()) >= connections, 15_000, 'the app reconnected');

    const subscriber = await subscribeSse(t.url, await t.token({}), ['ORDERS']);
    try {
      await client.xadd('dashboard:events', '*', ...orderFields('restart-after'));
      await eventually(async () => (await ingested()) === 2, 15_000, 'the event after the restart ingested');
      expect(await rows('restart-after')).toBe(1);
      // The group is there again, and the entry was acknowledged through it.
      const groups = (await client.xinfo('GROUPS', 'dashboard:events')) as unknown[][];
      expect(groups.map((g) => g[1])).toEqual(['dashboard-api']);
      await eventually(
        async () => Number(((await client.xpending('dashboard:events', 'dashboard-api')) as [number])[0]) === 0,
        5_000,
        'the entry acknowledged',
      );
      // It invalidated as any event does, and pub/sub came back too: the subscriber hears it.
      expect(await orders()).toBe(before + 1);
      await subscriber.until(1, 10_000);
      expect(subscriber.events[0]).toMatchObject({ reason: 'order.recorded', from: iso(hour), to: iso(hour + HOUR_MS) });
    } finally {
      subscriber.close();
    }
  });

  it('does the same after a FLUSHALL on a Redis that stays up', async () => {
    const counted = await ingested();
    await client.flushall();
    await client.xadd('dashboard:events', '*', ...orderFields('after-flush'));
    await eventually(async () => (await ingested()) === counted + 1, 15_000, 'the event after FLUSHALL ingested');
    expect(await rows('after-flush')).toBe(1);
  });
});
