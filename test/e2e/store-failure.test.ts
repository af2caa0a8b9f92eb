/**
 * A failing cache store never fails a request (CONTRACT.md: /readyz, cache_errors_total).
 * Each scenario runs the real HTTP server against a PRIVATE redis-server that the test
 * stops or pauses: the dashboard still answers, from the source, with the same data as
 * when Redis was healthy; every failure is counted; /readyz says `degraded` while the
 * breaker is open; and caching resumes by itself once Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, iso, startTestApp, type GraphQLResponse, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

const SERIES = 'total points { start value }';
const QUERY = `query StoreFailure($from: DateTime!, $to: DateTime!) {
  dashboard(range: { from: $from, to: $to }, granularity: HOUR) {
    orders { ${SERIES} }
    sessions { ${SERIES} }
    revenue { ${SERIES} }
  }
}`;
/** The metrics the query reads, as `extensions.cache` names them. */
const METRICS = ['ORDERS', 'SESSIONS', 'REVENUE'] as const;

// Three whole days that have ended: every bucket is closed, so a cached entry stays
// fresh for the whole run and a repeated query can be all hits.
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const VARIABLES = { from: iso(today - 3 * DAY_MS), to: iso(today) };
const BUCKETS = 3 * 24;

/** A generous sanity bound, not a latency claim: no request may hang on the store. */
const REQUEST_BOUND_MS = 5_000;

type CacheStats = Record<string, { hit: number; miss: number; stale: number }>;

interface Scenario {
  server: RedisServerHandle;
  t: TestApp;
  /** The dashboard's data, read while Redis was healthy. */
  expected: unknown;
}

async function startScenario(): Promise<Scenario> {
  const server = await startRedisServer();
  try {
    const t = await startTestApp({
      env: {
        REDIS_URL: server.url,
        REDIS_COMMAND_TIMEOUT_MS: '200',
        CACHE_BREAKER_THRESHOLD: '3',
        CACHE_BREAKER_COOLDOWN_MS: '300',
      },
    });
    return { server, t, expected: undefined };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function stopScenario(scenario: Scenario | undefined): Promise<void> {
  if (!scenario) return;
  try {
    await scenario.t.close();
  } finally {
    await scenario.server.stop();
  }
}

/** Sends the dashboard query; it must answer 200, without errors, within the sanity bound. */
async function ask(t: TestApp): Promise<GraphQLResponse> {
  const started = performance.now();
  const response = await t.gql(QUERY, VARIABLES);
  const elapsedMs = performance.now() - started;
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
  expect(elapsedMs).toBeLessThan(REQUEST_BOUND_MS);
  return response;
}

/** `extensions.cache` of a response: per metric, how its buckets were got. */
function cacheStats(response: GraphQLResponse): CacheStats {
  const stats = response.body.extensions?.cache as CacheStats | undefined;
  expect(stats, 'extensions.cache').toBeDefined();
  return stats!;
}

/** True when every bucket of every metric of the query was a hit. */
function allHits(response: GraphQLResponse): boolean {
  const stats = cacheStats(response);
  return METRICS.every((metric) => stats[metric]?.hit === BUCKETS && stats[metric]?.miss === 0 && stats[metric]?.stale === 0);
}

/** True when every bucket of every metric of the query came from the source. */
function allMisses(response: GraphQLResponse): boolean {
  const stats = cacheStats(response);
  return METRICS.every((metric) => stats[metric]?.miss === BUCKETS && stats[metric]?.hit === 0 && stats[metric]?.stale === 0);
}

/** `cache_errors_total` from GET /metrics (Prometheus text), summed over its `operation` labels. */
async function cacheErrorsTotal(t: TestApp): Promise<number> {
  const response = await fetch(`${t.url}/metrics`);
  expect(response.status).toBe(200);
  let total = 0;
  for (const line of (await response.text()).split('\n')) {
    const sample = /^cache_errors_total(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!sample) continue;
    expect(sample[1] ?? '', 'cache_errors_total labels').toMatch(/^operation="(get|set|delete|lock|unlock|scan)"$/);
    total += Number(sample[2]);
  }
  return total;
}

async function readyz(t: TestApp): Promise<{ status: number; body: any }> {
  const response = await fetch(`${t.url}/readyz`);
  return { status: response.status, body: await response.json() };
}

/** Reads the dashboard while Redis is healthy and checks that a repeat is served from the cache. */
async function primeAndCheckCaching(scenario: Scenario): Promise<void> {
  const first = await ask(scenario.t);
  scenario.expected = first.body.data;
  const orders = (first.body.data as { dashboard: { orders: { total: number; points: unknown[] } } }).dashboard.orders;
  expect(orders.points).toHaveLength(BUCKETS);
  expect(orders.total).toBeGreaterThan(0);

  const second = await ask(scenario.t);
  expect(second.body.data).toEqual(scenario.expected);
  expect(allHits(second), JSON.stringify(cacheStats(second))).toBe(true);
  expect(await cacheErrorsTotal(scenario.t)).toBe(0);
  expect(await readyz(scenario.t)).toMatchObject({
    status: 200,
    body: { status: 'ok', dependencies: { cache: { status: 'up', kind: 'redis' } } },
  });
}

/** Queries until the breaker has opened; every query meanwhile answers with the expected data. */
async function driveBreakerOpen(scenario: Scenario): Promise<void> {
  await eventually(
    async () => {
      const response = await ask(scenario.t);
      expect(response.body.data).toEqual(scenario.expected);
      return scenario.t.app.store.breakerState() !== 'closed';
    },
    10_000,
    'the cache breaker opening',
  );
}

/** Queries until caching is back: a repeated query is all hits and /readyz says the cache is up. */
async function expectCachingResumes(scenario: Scenario): Promise<void> {
  await eventually(
    async () => {
      const response = await ask(scenario.t);
      expect(response.body.data).toEqual(scenario.expected);
      return allHits(response);
    },
    15_000,
    'a repeated query answered from the cache only',
  );
  await eventually(
    async () => {
      const ready = await readyz(scenario.t);
      expect(ready.status).toBe(200);
      return ready.body.status === 'ok' && ready.body.dependencies?.cache?.status === 'up';
    },
    5_000,
    '/readyz reporting the cache up',
  );
}

describe('cache store stopped, then restarted', () => {
  let scenario: Scenario | undefined;

  beforeAll(async () => {
    scenario = await startScenario();
  });
  afterAll(async () => {
    await stopScenario(scenario);
  });

  it('answers from the source while Redis is down, says degraded, and caches again once Redis is back', async () => {
    const s = scenario!;
    await primeAndCheckCaching(s);
    const errorsBefore = await cacheErrorsTotal(s.t);

    await s.server.stop();
    try {
      const during = await ask(s.t);
      expect(during.body.data).toEqual(s.expected);
      expect(allMisses(during), JSON.stringify(cacheStats(during))).toBe(true);
      expect(await cacheErrorsTotal(s.t)).toBeGreaterThan(errorsBefore);

      await driveBreakerOpen(s);
      await eventually(
        async () => {
          const ready = await readyz(s.t);
          expect(ready.status).toBe(200);
          return ready.body.status === 'degraded' && ready.body.dependencies?.cache?.status === 'down';
        },
        5_000,
        '/readyz degraded with the cache down',
      );
      // The source database is what readiness requires, and it is up.
      expect((await readyz(s.t)).body.dependencies.database.status).toBe('up');
    } finally {
      await s.server.restart();
    }

    // Nothing pokes the app: it reconnects and closes its breaker by itself.
    await expectCachingResumes(s);
  });
});

describe('cache store paused (connections open, commands hang), then resumed', () => {
  let scenario: Scenario | undefined;

  beforeAll(async () => {
    scenario = await startScenario();
  });
  afterAll(async () => {
    await stopScenario(scenario);
  });

  it('answers from the source while Redis hangs, stops waiting on it once the breaker opens, and hits again after resume', async () => {
    const s = scenario!;
    await primeAndCheckCaching(s);
    const errorsBefore = await cacheErrorsTotal(s.t);

    s.server.pause();
    try {
      const during = await ask(s.t);
      expect(during.body.data).toEqual(s.expected);
      // The entries are in Redis, but a store that does not answer reads as absent.
      expect(allMisses(during), JSON.stringify(cacheStats(during))).toBe(true);
      expect(await cacheErrorsTotal(s.t)).toBeGreaterThan(errorsBefore);

      await driveBreakerOpen(s);
      const errorsAtOpen = await cacheErrorsTotal(s.t);
      for (let i = 0; i < 3; i++) {
        const response = await ask(s.t);
        expect(response.body.data).toEqual(s.expected);
      }
      // Calls the open breaker refuses are counted too.
      expect(await cacheErrorsTotal(s.t)).toBeGreaterThan(errorsAtOpen);

      const ready = await readyz(s.t);
      expect(ready).toMatchObject({ status: 200, body: { status: 'degraded', dependencies: { cache: { status: 'down' } } } });
    } finally {
      s.server.resume();
    }

    // The entries written before the pause are still there: hits, once the breaker closes.
    await expectCachingResumes(s);
  });
});
