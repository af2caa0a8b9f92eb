/**
 * Instances die (issue 10, point 4): two real server processes on one private Redis and
 * one PostgreSQL schema, and one of them killed with SIGKILL at a moment the test makes
 * certain. The test holds `LOCK TABLE orders IN ACCESS EXCLUSIVE MODE` on a connection
 * of its own, so that the victim's query (a recompute, or an event's INSERT) blocks in
 * the source while the victim holds what the test is about: a span lock in Redis, or
 * stream entries delivered to it and not acknowledged.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/identity.js';
import { EVENT_STREAM } from '../../src/events/stream.js';
import { HOUR_MS, iso, TEST_SECRET } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { startInstances, startSharedCluster, type Instance, type SharedCluster } from '../helpers/instances.js';
import { parsePrometheus, sumOver } from '../helpers/prometheus.js';

/** A dead holder's lock lives this long; long enough that its expiry cannot explain an answer. */
const LOCK_TTL_MS = 20_000;
/** How long a waiter waits for the holder before computing itself: the bound the other instance answers in. */
const LOCK_WAIT_MS = 2_000;
/** The recomputes here wait on the test's table lock as long as it holds it, not the default 5 s. */
const QUERY_TIMEOUT_MS = 120_000;
/** Pending stream entries idle this long are claimed by a live instance. */
const CLAIM_IDLE_MS = 1_000;
const GROUP = 'dashboard-api';

let cluster: SharedCluster | undefined;
const secret = new TextEncoder().encode(TEST_SECRET);

beforeAll(async () => {
  cluster = await startSharedCluster(
    2,
    { days: 3, scale: 0.05 },
    {
      CACHE_LOCK_TTL_MS: String(LOCK_TTL_MS),
      CACHE_LOCK_WAIT_MS: String(LOCK_WAIT_MS),
      DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
      EVENTS_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
    },
  );
}, 120_000);

afterAll(async () => {
  // The killed processes are gone already; stop() waits only for the others.
  await cluster?.close();
});

async function gql(base: string, query: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await signToken({ tenant: 'acme', role: 'ADMIN' }, secret)}` },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: await res.json() };
}

async function scrape(server: Instance) {
  return parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
}

/** A connection of the test's own to the cluster's schema, holding the orders table until `release`. */
async function lockOrders(): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: cluster!.database.url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** The number of acme's orders in [from, to), straight from the source. */
async function ordersBetween(from: number, to: number): Promise<number> {
  const row = await cluster!.db.db
    .selectFrom('orders')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', 'acme')
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<', to)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** SIGKILL of the server process, then waits for it to be gone. */
async function kill9(server: Instance): Promise<void> {
  server.child.kill('SIGKILL');
  await server.child.exited;
}

/** Replaces a killed server with a fresh process on the same Redis and database, so that two run again. */
async function replace(index: number): Promise<void> {
  const fresh = await startInstances(1, {
    DATABASE_URL: cluster!.database.url,
    REDIS_URL: cluster!.redis.url,
    CACHE_LOCK_TTL_MS: String(LOCK_TTL_MS),
    CACHE_LOCK_WAIT_MS: String(LOCK_WAIT_MS),
    DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
    EVENTS_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
  });
  cluster!.instances.servers[index] = fresh.servers[0]!;
}

const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;

describe('kill -9 of an instance in the middle of a recompute (it holds the span lock)', () => {
  it('the other instance answers with the source data within the lock wait, and the lock dies with its TTL', async () => {
    const [victim, survivor] = cluster!.instances.servers as [Instance, Instance];
    const from = hour - 30 * HOUR_MS;
    const to = hour - 24 * HOUR_MS;
    const query = `{ dashboard(range: { from: "${iso(from)}", to: "${iso(to)}" }, granularity: HOUR) { orders { total } } }`;
    const expected = await ordersBetween(from, to);
    expect(expected).toBeGreaterThan(0);

    const table = await lockOrders();
    try {
      // The victim takes the span lock, then blocks in the source on the locked table.
      void gql(victim.url, query).catch(() => {}); // its connection dies with it
      let lockKey = '';
      await eventually(
        async () => {
          const keys = await cluster!.client.keys('*:ORDERS:*:lock:*');
          lockKey = keys[0] ?? '';
          return keys.length === 1;
        },
        15_000,
        'the span lock taken by the victim',
      );
      const lockedAt = Date.now();
      const pttl = await cluster!.client.pttl(lockKey);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(LOCK_TTL_MS);

      // The survivor asks for the same span and waits on the victim's lock.
      const waitsBefore = sumOver([await scrape(survivor)], 'cache_lock_waits_total');
      const asked = Date.now();
      const answer = gql(survivor.url, query).then((r) => ({ ...r, ms: Date.now() - asked }));
      await eventually(
        async () => sumOver([await scrape(survivor)], 'cache_lock_waits_total') > waitsBefore,
        10_000,
        'the survivor waiting on the lock',
      );

      await kill9(victim);
      // The lock outlives its holder: nobody released it.
      expect(await cluster!.client.exists(lockKey)).toBe(1);
      // The source answers again (the dead holder's query, still queued in PostgreSQL, runs and goes nowhere).
      await table.release();

      const { status, body, ms } = await answer;
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data.dashboard.orders.total).toBe(expected);
      // Within the wait bound plus its own source query, not after the dead holder's TTL.
      expect(ms).toBeLessThan(LOCK_WAIT_MS + 5_000);
      expect(await cluster!.client.exists(lockKey), 'answered while the dead holder’s lock still stood').toBe(1);

      // The lock does not outlive its TTL.
      await eventually(async () => (await cluster!.client.exists(lockKey)) === 0, LOCK_TTL_MS + 5_000, 'the dead lock expired');
      expect(Date.now() - lockedAt).toBeLessThan(LOCK_TTL_MS + 5_000);

      // What the survivor computed was stored: it answers the same again.
      const again = await gql(survivor.url, query);
      expect(again.body.data.dashboard.orders.total).toBe(expected);
    } finally {
      await table.release();
    }
    await replace(0);
  }, 90_000);
});

describe('kill -9 of an instance with stream entries delivered and not acknowledged', () => {
  const orderFields = (id: string, at: number) =>
    [
      ['type', 'order.recorded'],
      ['id', id],
      ['tenant', 'acme'],
      ['region', 'EU'],
      ['occurredAt', iso(at)],
      ['productId', 'acme-p01'],
      ['customerId', 'death'],
      ['amount', '10.00'],
    ].flat();

  it('another instance reclaims them: each event written once, counted once, seen once on the dashboard', async () => {
    const servers = cluster!.instances.servers as [Instance, Instance];
    const at = hour - 10 * HOUR_MS + 5 * 60_000;
    const query = `{ dashboard(range: { from: "${iso(hour - 10 * HOUR_MS)}", to: "${iso(hour - 9 * HOUR_MS)}" }, granularity: HOUR) { orders { total } } }`;
    const ids = ['death-1', 'death-2', 'death-3'];
    // Both instances hold the hour in their caches, so that a lost invalidation would show.
    const before = (await gql(servers[0].url, query)).body.data.dashboard.orders.total as number;
    expect((await gql(servers[1].url, query)).body.data.dashboard.orders.total).toBe(before);
    const countedBefore = await Promise.all(servers.map(async (s) => sumOver([await scrape(s)], 'events_consumed_total')));

    const table = await lockOrders();
    let survivorIndex = -1;
    try {
      // One XADD of three entries: the first blocked reader takes them all and blocks on the INSERT.
      const multi = cluster!.client.multi();
      for (const id of ids) multi.xadd(EVENT_STREAM, '*', ...orderFields(id, at));
      await multi.exec();
      let holder = '';
      await eventually(
        async () => {
          const pending = (await cluster!.client.xpending(EVENT_STREAM, GROUP, '-', '+', 10)) as Array<[string, string, number, number]>;
          holder = pending[0]?.[1] ?? '';
          return pending.length === ids.length && pending.every((p) => p[1] === holder);
        },
        10_000,
        'three entries delivered to one consumer',
      );
      // The consumer's name carries the pid of the process that reads (stream-consumer.ts).
      const holderPid = Number(/-(\d+)-[0-9a-f]+$/.exec(holder)?.[1]);
      const index = servers.findIndex((s) => s.child.process.pid === holderPid);
      expect(index, `consumer ${holder} is one of the servers`).toBeGreaterThanOrEqual(0);
      survivorIndex = 1 - index;
      await kill9(servers[index]!);
      // Delivered, never acknowledged: pending on the dead consumer.
      expect(((await cluster!.client.xpending(EVENT_STREAM, GROUP)) as [number])[0]).toBe(ids.length);
    } finally {
      await table.release();
    }

    // The survivor claims them once they idle CLAIM_IDLE_MS, writes each row once, acknowledges.
    await eventually(
      async () => ((await cluster!.client.xpending(EVENT_STREAM, GROUP)) as [number])[0] === 0,
      20_000,
      'the dead consumer’s entries reclaimed and acknowledged',
    );
    for (const id of ids) {
      const rows = await cluster!.db.db.selectFrom('orders').select('id').where('tenant_id', '=', 'acme').where('id', '=', id).execute();
      expect(rows.length, `rows of ${id}`).toBe(1);
    }
    // Counted once each by the survivor: `ingested`, or `duplicate` where the dead process's
    // INSERT, queued in PostgreSQL, committed after it died (its row is there, its
    // acknowledgement never came).
    const survivor = servers[survivorIndex]!;
    const s = await scrape(survivor);
    expect(sumOver([s], 'events_consumed_total') - countedBefore[survivorIndex]!).toBe(ids.length);
    expect(
      sumOver([s], 'events_consumed_total', { result: 'failed' }) + sumOver([s], 'events_consumed_total', { result: 'malformed' }),
    ).toBe(0);
    // The dashboard shows each event exactly once, on the survivor, which had the hour cached.
    expect((await gql(survivor.url, query)).body.data.dashboard.orders.total).toBe(before + ids.length);
    expect(await ordersBetween(hour - 10 * HOUR_MS, hour - 9 * HOUR_MS)).toBe(before + ids.length);
  }, 90_000);
});
