/**
 * Store stalls and outages under load (issue 10, point 2). Twenty concurrent dashboard
 * requests run for the whole test, over HOUR and DAY ranges of three tenants, against
 * the real server on PostgreSQL and a private redis-server that the test breaks, in
 * sequence:
 *
 * 1. paused (SIGSTOP: connections open, nothing answered) for 2 s, then resumed;
 * 2. stopped for 3 s, then started again empty (no data, no consumer group).
 *
 * Throughout: no request fails, and none takes longer than REDIS_COMMAND_TIMEOUT_MS
 * plus its own source time — a request waits on a failing store once, not once per
 * command. "Its own source time" S is measured in the test, under the same load, as
 * the longest of: a request sent and answered while the store's circuit stayed open
 * (it sent the store nothing; every bucket came from the source), during the stall or
 * the outage; a request answered while Redis was stopped, counted from the later of
 * its sending and the stop (after it, a command fails at once: the burst of all twenty
 * going to the source together, as after a stall's timeout); a request of the test's
 * own cold start (the same ranges under the same load, computed under the store's
 * span locks, as after Redis returns empty). The bound is
 * `REDIS_COMMAND_TIMEOUT_MS + S`.
 *
 * After Redis is back, with nothing poking the app: caching resumes (answers all hits,
 * the hit counter rises, store errors stop), pub/sub resumes (a subscriber hears the
 * notice of a write made afterwards), and the stream consumer makes its group again
 * (an event published afterwards is ingested and shows in the answer).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHits, DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { startLoad } from '../helpers/load.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';
import { subscribeSse } from '../helpers/sse.js';
import { orderEventFields } from '../helpers/stream-events.js';

const CONCURRENCY = 20;
/** REDIS_COMMAND_TIMEOUT_MS of the server under test (the default). */
const COMMAND_TIMEOUT_MS = 500;
const PAUSE_MS = 2_000;
const OUTAGE_MS = 3_000;

const QUERY = `query OutageLoad($from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
  dashboard(range: { from: $from, to: $to }, granularity: $granularity) { orders { total } sessions { total } revenue { total } }
}`;
const ORDERS = `query Orders($from: DateTime!, $to: DateTime!) { dashboard(range: { from: $from, to: $to }) { orders { total } } }`;

// Ranges that have ended, so that their buckets stay fresh for the whole test.
const hourEnd = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
const dayEnd = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const RANGES = [
  { from: iso(hourEnd - DAY_MS), to: iso(hourEnd), granularity: 'HOUR' },
  { from: iso(hourEnd - 3 * DAY_MS), to: iso(hourEnd), granularity: 'HOUR' },
  { from: iso(dayEnd - 7 * DAY_MS), to: iso(dayEnd), granularity: 'DAY' },
  { from: iso(dayEnd - 14 * DAY_MS), to: iso(dayEnd), granularity: 'DAY' },
];
const TENANTS = ['acme', 'globex', 'initech'] as const;
/** An hour inside the HOUR ranges, where the writes of the test land. */
const WRITE_HOUR = hourEnd - 3 * HOUR_MS;

let server: RedisServerHandle;
let t: TestApp;
let client: Redis;
const tokens = new Map<string, string>();

beforeAll(async () => {
  server = await startRedisServer();
  t = await startTestApp({
    database: 'postgres',
    seed: { days: 15, scale: 0.05 },
    env: { REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) },
  });
  for (const tenant of TENANTS) tokens.set(tenant, await t.token({ tenant }));
  // The test's own connection: it reconnects by itself when the server comes back.
  client = new Redis(server.url, { retryStrategy: () => 50 });
  client.on('error', () => {});
}, 120_000);
afterAll(async () => {
  client?.disconnect();
  if (server?.pid !== undefined) server.resume();
  await t?.close();
  await server?.stop();
});

/** The n-th request of the load: ranges and tenants in turn. */
const combination = (n: number) => ({
  range: RANGES[n % RANGES.length]!,
  tenant: TENANTS[Math.floor(n / RANGES.length) % TENANTS.length]!,
});
const ask = (n: number) => {
  const { range, tenant } = combination(n);
  return t.gql(QUERY, range, tokens.get(tenant));
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const counter = async (name: string, labels?: Record<string, string>) => (await t.metrics()).value(name, labels);
/** Answers served from the cache: bucket hits, and whole responses served as kept (which read no bucket). */
const cacheHits = async () => {
  const scrape = await t.metrics();
  return scrape.value('cache_requests_total', { result: 'hit' }) + scrape.value('cache_response_lookups_total', { result: 'hit' });
};
const clientCount = async () => ((await client.client('LIST').catch(() => '')) as string).split('\n').filter(Boolean).length;
const ordersIn = async (tenant: string, from: number, to: number): Promise<number> => {
  const response = await t.gql<{ dashboard: { orders: { total: number } } }>(ORDERS, { from: iso(from), to: iso(to) }, tokens.get(tenant));
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.dashboard.orders.total;
};

describe('Redis paused, then stopped and started empty, under 20 concurrent requests', () => {
  it('fails nothing, waits on the store once per request at most, and resumes caching, pub/sub and the stream', async () => {
    const load = startLoad(CONCURRENCY, async (n) => {
      const { range, tenant } = combination(n);
      const response = await ask(n);
      const ok = response.status === 200 && !response.body.errors && response.body.data?.dashboard?.orders;
      return {
        ok: !!ok,
        label: `${tenant} ${range.granularity} ${range.from}`,
        detail: ok ? undefined : `${response.status} ${JSON.stringify(response.body.errors)}`,
      };
    });
    const { outcomes } = load;
    const combinations = RANGES.length * TENANTS.length;
    // When the store's circuit was open, sampled every 10 ms: a request sent and answered
    // within one such span sent the store nothing, so its time is the source's alone.
    const openSpans: Array<{ from: number; to: number }> = [];
    let wasOpen = false;
    const sampler = setInterval(() => {
      const now = performance.now();
      const open = t.app.store.breakerState() === 'open';
      if (open && wasOpen) openSpans[openSpans.length - 1]!.to = now;
      else if (open) openSpans.push({ from: now, to: now });
      wasOpen = open;
    }, 10);
    try {
      // Warm: every range of every tenant answered from the cache.
      await eventually(
        async () => (await Promise.all(Array.from({ length: combinations }, async (_, n) => allHits(await ask(n))))).every(Boolean),
        30_000,
        'every range of every tenant cached under load',
      );
      const warmAt = performance.now();
      const connections = await clientCount();

      // 1. A stall: its length is the scenario, not a wait for a condition.
      server.pause();
      await sleep(PAUSE_MS);
      server.resume();
      const resumedAt = performance.now();
      await eventually(async () => allHits(await ask(0)), 20_000, 'caching back after the stall');

      // 2. An outage, then Redis back empty.
      const stoppedAt = performance.now();
      await server.stop();
      await eventually(() => t.app.store.breakerState() === 'open', 10_000, 'the circuit open');
      await sleep(OUTAGE_MS);
      const restarting = performance.now();
      await server.restart();
      const back = performance.now();

      // Caching resumes on its own: answers all hits again, for every tenant and range.
      await eventually(
        async () => (await Promise.all(Array.from({ length: combinations }, async (_, n) => allHits(await ask(n))))).every(Boolean),
        20_000,
        'every range of every tenant cached again after Redis came back empty',
      );
      await eventually(async () => (await client.ping().catch(() => '')) === 'PONG', 10_000, 'the test client back');
      // Every connection of the app back (store, stream, pub/sub).
      await eventually(async () => (await clientCount()) >= connections, 15_000, 'the app reconnected');

      // Store errors stop (a stretch of load with none), and hits rise meanwhile.
      const hitsResumed = await cacheHits();
      await eventually(
        async () => {
          const errors = await counter('cache_errors_total');
          const from = performance.now();
          await eventually(() => outcomes.filter((o) => o.sent > from).length >= 5 * CONCURRENCY, 20_000, 'a stretch of load');
          return (await counter('cache_errors_total')) === errors;
        },
        30_000,
        'a stretch of load without store errors',
      );
      expect(await cacheHits()).toBeGreaterThan(hitsResumed);

      // Pub/sub resumes: a subscriber hears the notice of a write made after the return.
      const subscriber = await subscribeSse(t.url, tokens.get('globex')!, ['ORDERS']);
      try {
        const write = await t.gql(
          `mutation { recordOrder(input: { productId: "globex-p01", customerId: "outage", amount: 3.5, occurredAt: "${iso(WRITE_HOUR + 60_000)}" }) { id } }`,
          {},
          tokens.get('globex'),
        );
        expect(write.body.errors).toBeUndefined();
        await subscriber.until(1, 10_000);
        expect(subscriber.events[0]).toMatchObject({ reason: 'order.recorded', from: iso(WRITE_HOUR), to: iso(WRITE_HOUR + HOUR_MS) });
      } finally {
        subscriber.close();
      }

      // The stream: the group is made again, and an event published now is ingested and answered.
      const before = await ordersIn('acme', WRITE_HOUR, WRITE_HOUR + HOUR_MS);
      const ingested = await counter('events_consumed_total', { result: 'ingested' });
      await client.xadd('dashboard:events', '*', ...orderEventFields({ id: 'outage-load-1', occurredAt: iso(WRITE_HOUR + 15 * 60_000) }));
      await eventually(
        async () => (await counter('events_consumed_total', { result: 'ingested' })) === ingested + 1,
        15_000,
        'the event ingested',
      );
      expect(await ordersIn('acme', WRITE_HOUR, WRITE_HOUR + HOUR_MS)).toBe(before + 1);
      const groups = (await client.xinfo('GROUPS', 'dashboard:events')) as unknown[][];
      expect(groups.map((g) => g[1])).toEqual(['dashboard-api']);

      await load.stop();
      clearInterval(sampler);

      // Nothing failed, from the first request to the last.
      expect(outcomes.filter((o) => !o.ok)).toEqual([]);
      expect(outcomes.filter((o) => o.sent > back).length).toBeGreaterThan(5 * CONCURRENCY);

      // The bound: one store timeout plus the source's own time under this load (see the
      // top of the file), the longest of three measures of it.
      const sourceOnly = outcomes.filter((o) => openSpans.some((span) => span.from <= o.sent && o.answered <= span.to));
      expect(sourceOnly.length, 'requests answered by the source alone').toBeGreaterThan(CONCURRENCY);
      const whileStopped = outcomes.filter((o) => o.answered > stoppedAt && o.answered <= restarting);
      const coldStart = outcomes.filter((o) => o.answered <= warmAt);
      const sourceMs = Math.max(
        ...sourceOnly.map((o) => o.answered - o.sent),
        ...whileStopped.map((o) => o.answered - Math.max(o.sent, stoppedAt)),
        ...coldStart.map((o) => o.answered - o.sent),
      );
      const boundMs = COMMAND_TIMEOUT_MS + sourceMs;
      const slow = outcomes
        .filter((o) => o.sent >= warmAt && o.answered - o.sent > boundMs)
        .map((o) => ({
          label: o.label,
          ms: Math.round(o.answered - o.sent),
          // When it was sent, against each step: negative before it.
          sentAfter: Object.fromEntries(
            Object.entries({ pause: warmAt, resume: resumedAt, stop: stoppedAt, back }).map(([step, at]) => [
              step,
              Math.round(o.sent - at),
            ]),
          ),
        }));
      expect(slow, `answers slower than ${COMMAND_TIMEOUT_MS} + ${Math.round(sourceMs)} ms`).toEqual([]);
    } finally {
      clearInterval(sampler);
      await load.stop();
    }
  }, 180_000);
});
