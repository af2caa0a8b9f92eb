/**
 * The bounded-staleness mode (CACHE_STALENESS_BOUND_MS, off by default) across two
 * server processes on one PostgreSQL and a private Redis, both in the mode: a warm
 * request sends no store command at all; another instance shows a write as soon as
 * pub/sub delivers its notice; and when notices are lost (the Redis user may no longer
 * use any channel: subscribers dropped, publishes refused), the instance that wrote
 * still shows it at once,
 * and the other serves what it read before the write until, at the latest, the bound
 * after the write returned.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedHours, HOUR_MS, iso } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { postAsAcme, startSharedCluster, type Instances, type SharedCluster } from '../helpers/instances.js';
import { commandStats, resetStats, type RedisServerHandle } from '../helpers/redis.js';

const BOUND_MS = 3_000;

let cluster: SharedCluster;
let redis: RedisServerHandle;
let client: Redis;
let instances: Instances;

const { end, range: RANGE } = closedHours(48);
const DASHBOARD = `query D($from: DateTime!, $to: DateTime!) {
  dashboard(range: { from: $from, to: $to }) { orders { total } revenue { total } sessions { total } } }`;
const RECORD = `mutation R($at: DateTime!) { recordOrder(input: { productId: "acme-p01", customerId: "bounded-c", amount: 3.5, occurredAt: $at }) { id } }`;
let writes = 0;

const gql = (base: string, query: string, variables: Record<string, unknown> = RANGE) => postAsAcme(base, query, variables);

const orders = async (base: string): Promise<number> => (await gql(base, DASHBOARD)).dashboard.orders.total;

/** Records one order on `base` (in a closed hour of the range); resolves when the write has returned, with that instant. */
async function write(base: string): Promise<number> {
  writes += 1;
  await gql(base, RECORD, { at: iso(end - 5 * HOUR_MS + writes * 1_000) });
  return Date.now();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cluster = await startSharedCluster(2, { days: 3, scale: 0.05 }, { CACHE_STALENESS_BOUND_MS: String(BOUND_MS) });
  ({ redis, client, instances } = cluster);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const a = () => instances.servers[0]!.url;
const b = () => instances.servers[1]!.url;

describe('the bounded-staleness mode', () => {
  it('answers a warm request without a single store command', async () => {
    await gql(b(), DASHBOARD);
    // Until the open hour's background refreshes have landed, a request may still read.
    await eventually(
      async () => {
        await resetStats([redis.url]);
        await gql(b(), DASHBOARD);
        const stats = await commandStats([redis.url]);
        return (stats.mget ?? 0) + (stats.get ?? 0) + (stats.evalsha ?? 0) === 0;
      },
      10_000,
      'a warm request to B that sends no MGET, GET or script',
    );
  });

  it('shows a write on another instance as soon as its notice arrives, well inside the bound', async () => {
    await sleep(BOUND_MS);
    // B reads its validators now (the last read is older than the bound), then trusts them.
    const before = await orders(b());
    const returned = await write(a());
    await eventually(async () => (await orders(b())) === before + 1, BOUND_MS, "A's write on B");
    // The notice ended B's trust, not the bound running out (about BOUND_MS after B's read).
    expect(Date.now() - returned).toBeLessThan(BOUND_MS / 2);
  });

  describe('with every notice lost (Redis refuses pub/sub to the servers: subscribers dropped, publishes refused)', () => {
    beforeAll(async () => {
      await client.call('ACL', 'SETUSER', 'default', 'resetchannels');
    });
    afterAll(async () => {
      await client.call('ACL', 'SETUSER', 'default', 'allchannels');
    });

    it('both servers stay up and answer (a refused subscription is tried again, not left unhandled)', async () => {
      await sleep(1_500);
      for (const server of instances.servers) {
        const exited = await Promise.race([server.child.exited.then(() => true), sleep(0).then(() => false)]);
        expect(exited, server.child.output()).toBe(false);
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      }
      expect(await client.call('PUBSUB', 'NUMSUB', 'dashboard:invalidations')).toEqual(['dashboard:invalidations', 0]);
    });

    it('the instance that wrote shows its own write on its next request', async () => {
      // A read of its validators now, trusted for the bound, that the write then moves.
      await sleep(BOUND_MS);
      const before = await orders(a());
      await write(a());
      expect(await orders(a())).toBe(before + 1);
    });

    it('another instance serves what it read before the write until, at the latest, the bound after the write returned', async () => {
      await sleep(BOUND_MS);
      // B reads its validators now (the last read is older than the bound), then trusts them.
      const before = await orders(b());
      const returned = await write(a());
      const right = await orders(b());
      const askedWithin = Date.now() - returned;
      expect(askedWithin).toBeLessThan(BOUND_MS);
      // Nothing told B: what it read before the write.
      expect(right).toBe(before);
      // A request that starts more than the bound after the write returned shows it.
      await sleep(Math.max(0, returned + BOUND_MS + 1 - Date.now()));
      expect(await orders(b())).toBe(before + 1);
    });
  });

  it('hears notices again once pub/sub is allowed again: a write on A shows on B before the bound', async () => {
    await eventually(
      async () => (await client.call('PUBSUB', 'NUMSUB', 'dashboard:invalidations'))?.toString() === 'dashboard:invalidations,2',
      10_000,
      'both servers subscribed again',
    );
    await sleep(BOUND_MS);
    const before = await orders(b());
    const returned = await write(a());
    await eventually(async () => (await orders(b())) === before + 1, BOUND_MS, "A's write on B");
    expect(Date.now() - returned).toBeLessThan(BOUND_MS / 2);
  });
});
