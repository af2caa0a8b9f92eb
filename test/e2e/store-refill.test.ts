/**
 * Refilling after an outage (issue 10): under 20 concurrent dashboard requests, the
 * private redis-server is stopped for 5 s and started again, empty. Every request
 * answers, none takes 2 s or more once Redis is back, and caching resumes as soon as
 * Redis does — not when the circuit breaker's cooldown happens to end: until then
 * every request goes to the source, which is what made requests queue right after
 * Redis came back.
 *
 * The cooldown is set long here (30 s), so that only Redis coming back can close the
 * circuit within the test: with the cooldown alone, caching would not resume for tens
 * of seconds. PostgreSQL is the source (a pool in another process, like production),
 * and the data is small, so that the source's own time stays far from the bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHits, DAY_MS, HOUR_MS, iso, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { startLoad } from '../helpers/load.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

const CONCURRENCY = 20;
const OUTAGE_MS = 5_000;
const BOUND_MS = 2_000;
const QUERY = `query Refill($from: DateTime!, $to: DateTime!) {
  dashboard(range: { from: $from, to: $to }, granularity: HOUR) { orders { total } sessions { total } revenue { total } }
}`;
const now = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
/** Several ranges, so that the refill computes several spans per metric at once. */
const RANGES = [1, 2, 3].flatMap((days) =>
  [0, 5].map((back) => ({ from: iso(now - back * HOUR_MS - days * DAY_MS), to: iso(now - back * HOUR_MS) })),
);

let server: RedisServerHandle;
let t: TestApp;

beforeAll(async () => {
  server = await startRedisServer();
  t = await startTestApp({
    database: 'postgres',
    seed: { days: 4, scale: 0.05 },
    env: { REDIS_URL: server.url, CACHE_BREAKER_COOLDOWN_MS: '30000' },
  });
}, 120_000);
afterAll(async () => {
  await t?.close();
  await server?.stop();
});

/** True when every bucket of every metric of `range` came from the cache. */
const rangeHits = async (range: (typeof RANGES)[number]) => allHits(await t.gql(QUERY, range));

describe('Redis stopped for 5 s under load, then started empty', () => {
  it('answers every request, none in 2 s or more once Redis is back, and resumes caching at once', async () => {
    const load = startLoad(CONCURRENCY, async (n) => {
      const response = await t.gql(QUERY, RANGES[n % RANGES.length]);
      return { ok: response.status === 200 && !response.body.errors, label: `range ${n % RANGES.length}` };
    });
    const { outcomes } = load;
    try {
      await eventually(async () => rangeHits(RANGES[0]!), 20_000, 'the cache warm under load');
      await server.stop();
      await eventually(() => t.app.store.breakerState() === 'open', 10_000, 'the breaker open');
      // The outage itself: its length is the scenario, not a wait for a condition.
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      await server.restart();
      const back = performance.now();

      // With the cooldown alone this would take 30 s; Redis coming back is what closes the circuit.
      await eventually(async () => rangeHits(RANGES[1]!), 10_000, 'caching resumed after Redis came back');
      const resumedMs = performance.now() - back;
      // Load goes on over the refill, so that it is measured under load.
      await eventually(() => outcomes.filter((o) => o.sent > back + resumedMs).length >= 5 * CONCURRENCY, 20_000, 'load after the refill');
      await load.stop();

      expect(outcomes.filter((o) => !o.ok)).toEqual([]);
      const afterReturn = outcomes.filter((o) => o.answered > back);
      expect(afterReturn.length).toBeGreaterThan(5 * CONCURRENCY);
      // Every request answered after Redis came back (sent before or after), measured from
      // the later of its sending and Redis's return.
      const slow = afterReturn
        .map((o) => ({ ms: Math.round(o.answered - Math.max(o.sent, back)), sentAfterReturnMs: Math.round(o.sent - back) }))
        .filter((o) => o.ms >= BOUND_MS);
      expect(slow).toEqual([]);
    } finally {
      await load.stop();
    }
  }, 120_000);
});
