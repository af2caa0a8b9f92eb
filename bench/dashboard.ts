/**
 * `npm run bench`: what the field-level cache buys for a realistic dashboard query,
 * as RATIOS measured in one run on this machine. Absolute numbers are printed only
 * to show where the ratios come from; they are not promises.
 *
 * One seeded SQLite file (temp), several apps on it, all on 127.0.0.1:
 *   a. no cache                     createApp(config, { cache: false })
 *   b. warm cache, memory store     default config, warmed with one request
 *   c. warm cache, Redis store      a private redis-server started here
 *   d. sliding 7-day window, Redis  each request one hour later than the one before
 * then single-request latency, cold (after invalidation.manual) vs warm.
 *
 * Load comes from autocannon in a worker thread, so that the client does not share
 * the server's event loop. Everything the bench starts (apps, redis-server, temp
 * files) is stopped and deleted at the end, on error, on SIGINT/SIGTERM, and by a
 * watchdog if a run hangs; what a SIGKILLed run leaves, the next run removes
 * (bench/leftovers.ts).
 *
 * Env: BENCH_DURATION_S (default 5) seconds per autocannon scenario.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';
import { createApp, type App } from '../src/app.js';
import { signToken } from '../src/auth/identity.js';
import { BUCKET_MS, bucketStart } from '../src/cache/buckets.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { openDatabase } from '../src/source/database.js';
import { migrate } from '../src/source/migrations.js';
import { seed, type SeedOptions } from '../src/source/seed.js';
import { createRunDir, sweepLeftovers } from './leftovers.js';
import { commandStats, startRedisServer, type RedisServerHandle } from '../test/helpers/redis.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SEED: Required<Pick<SeedOptions, 'days' | 'scale'>> = { days: 30, scale: 0.5 };
const TENANT = 'acme';
const CONNECTIONS = 10;
const WINDOW_MS = 7 * BUCKET_MS.DAY;
const LATENCY_PAIRS = 20;
const DURATION_S = durationFromEnv(process.env.BENCH_DURATION_S);
/** Longest the whole run may take before the watchdog ends it (and cleans up). */
const WATCHDOG_MS = (4 * (DURATION_S + 5) + 120) * 1_000;

/** Every field of Dashboard except revenueIn (which would add the FX vendor). */
const QUERY = `query Dashboard($from: DateTime!, $to: DateTime!) {
  dashboard(range: { from: $from, to: $to }, granularity: HOUR) {
    range { from to }
    granularity
    revenue { total points { start value } }
    orders { total points { start value } }
    sessions { total points { start value } }
    customers { total points { start value } }
    averageOrderValue
    conversionRate
    topProducts(limit: 5) { productId name orders revenue }
  }
}`;

function durationFromEnv(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 5;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 1 || value > 600) {
    throw new Error(`BENCH_DURATION_S: expected a number of seconds from 1 to 600, got "${raw}"`);
  }
  return value;
}

const iso = (ms: number) => new Date(ms).toISOString();
const bodyFor = (from: number) => JSON.stringify({ query: QUERY, variables: { from: iso(from), to: iso(from + WINDOW_MS) } });

// ---------------------------------------------------------------------------
// Resources, and their cleanup however the run ends
// ---------------------------------------------------------------------------

for (const line of sweepLeftovers()) process.stderr.write(`${line}\n`);
const run = createRunDir();
const tempDir = run.dir;
const apps: App[] = [];
let redis: RedisServerHandle | undefined;

function removeTempDir(): void {
  rmSync(tempDir, { recursive: true, force: true });
}

async function cleanup(): Promise<void> {
  await Promise.allSettled(apps.map((app) => app.close()));
  apps.length = 0;
  await redis?.stop();
  redis = undefined;
  removeTempDir();
}

// A signal or the watchdog exits at once; the redis helper's own 'exit' hook kills
// the server it started, and this one deletes the SQLite file. A SIGKILL (see
// leftovers.ts) is cleared by the next run.
process.once('exit', removeTempDir);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the benchmark`);
    process.exit(code);
  });
}
const watchdog = setTimeout(() => {
  console.error(`Benchmark still running after ${WATCHDOG_MS / 1000} s: giving up.`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

// ---------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------

interface Target {
  url: string;
  headers: Record<string, string>;
}

async function post(target: Target, body: string): Promise<{ data: unknown; ms: number }> {
  const started = performance.now();
  const response = await fetch(target.url, { method: 'POST', headers: target.headers, body });
  const text = await response.text();
  const ms = performance.now() - started;
  const parsed = JSON.parse(text) as { data?: unknown; errors?: Array<{ message: string }> };
  if (response.status !== 200 || parsed.errors || !parsed.data) {
    throw new Error(`Unexpected answer from ${target.url} (HTTP ${response.status}): ${text.slice(0, 500)}`);
  }
  return { data: parsed.data, ms };
}

// ---------------------------------------------------------------------------
// Cache counters (the app's own Prometheus instruments), for the sanity columns
// ---------------------------------------------------------------------------

interface Counters {
  hit: number;
  stale: number;
  miss: number;
  sourceQueries: number;
  lockWaits: number;
}

async function counters(app: App): Promise<Counters> {
  const { requests, sourceQueries, lockWaits } = app.cacheMetrics.instruments;
  const out: Counters = { hit: 0, stale: 0, miss: 0, sourceQueries: 0, lockWaits: 0 };
  for (const { labels, value } of (await requests.get()).values) {
    const result = labels.result as keyof Counters | undefined;
    if (result === 'hit' || result === 'stale' || result === 'miss') out[result] += value;
  }
  for (const { value } of (await sourceQueries.get()).values) out.sourceQueries += value;
  for (const { value } of (await lockWaits.get()).values) out.lockWaits += value;
  return out;
}

function minus(after: Counters, before: Counters): Counters {
  return {
    hit: after.hit - before.hit,
    stale: after.stale - before.stale,
    miss: after.miss - before.miss,
    sourceQueries: after.sourceQueries - before.sourceQueries,
    lockWaits: after.lockWaits - before.lockWaits,
  };
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

interface ScenarioResult {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Cache counters over the scenario; undefined without a cache. */
  cache: Counters | undefined;
  /** Redis MGETs over the scenario; undefined for an app without Redis. */
  mgets: number | undefined;
  problems: string[];
}

interface Scenario {
  name: string;
  app: App;
  target: Target;
  /** Fixed body; when absent, `slideFromMs` drives bench/slide-request.cjs. */
  body?: string;
  slideFromMs?: number;
  /** False for the app started with cache: false, whose counters stay at zero. */
  cached?: boolean;
  /** The app's Redis, to count its MGETs (the server is private to the run). */
  redisUrl?: string;
}

async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const { app, target } = scenario;
  const before = await counters(app);
  const mgetsBefore = scenario.redisUrl ? (await commandStats([scenario.redisUrl])).mget ?? 0 : 0;
  const sliding = scenario.slideFromMs !== undefined;
  if (sliding) {
    // Read by slide-request.cjs in autocannon's worker, which copies process.env when created.
    process.env.BENCH_QUERY = QUERY;
    process.env.BENCH_SLIDE_FROM_MS = String(scenario.slideFromMs);
    process.env.BENCH_SLIDE_SPAN_MS = String(WINDOW_MS);
  }
  process.stderr.write(`  ${scenario.name}: ${DURATION_S} s … `);
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    headers: target.headers,
    connections: CONNECTIONS,
    duration: DURATION_S,
    // One worker thread: the load generator gets its own event loop (and core, when
    // there is one to spare) instead of competing with the server in this one.
    workers: 1,
    // In worker mode autocannon require()s these by path; the types only know functions.
    verifyBody: join(HERE, 'verify-body.cjs') as unknown as autocannon.Options['verifyBody'],
    ...(sliding
      ? { requests: [{ method: 'POST' as const, path: '/graphql', setupRequest: join(HERE, 'slide-request.cjs') }] }
      : { body: scenario.body }),
  });
  const after = await counters(app);
  const mgets = scenario.redisUrl ? ((await commandStats([scenario.redisUrl])).mget ?? 0) - mgetsBefore : undefined;
  const problems: string[] = [];
  if (result.errors) problems.push(`${result.errors} connection errors (${result.timeouts} timeouts)`);
  if (result.non2xx) problems.push(`${result.non2xx} non-2xx answers`);
  if (result.mismatches) problems.push(`${result.mismatches} answers with GraphQL errors or no data`);
  const good = result['2xx'] - result.mismatches;
  const out: ScenarioResult = {
    name: scenario.name,
    rps: good / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: good,
    cache: scenario.cached === false ? undefined : minus(after, before),
    mgets,
    problems,
  };
  process.stderr.write(`${Math.round(out.rps)} req/s${problems.length ? ` (${problems.join('; ')})` : ''}\n`);
  return out;
}

/** Median of the cold/warm ratios of `pairs` sequential requests, each after dropping all of the tenant's cache. */
async function coldWarm(app: App, target: Target, body: string, pairs: number): Promise<{ ratio: number; coldMs: number; warmMs: number; coldMisses: number }> {
  const ratios: number[] = [];
  const colds: number[] = [];
  const warms: number[] = [];
  const before = await counters(app);
  for (let i = 0; i < pairs; i++) {
    await app.invalidation.manual(TENANT, undefined);
    await app.cache.idle();
    const cold = await post(target, body);
    const warm = await post(target, body);
    colds.push(cold.ms);
    warms.push(warm.ms);
    ratios.push(cold.ms / warm.ms);
  }
  const delta = minus(await counters(app), before);
  return { ratio: median(ratios), coldMs: median(colds), warmMs: median(warms), coldMisses: delta.miss / pairs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(results: ScenarioResult[]): string {
  const base = results[0]!.rps;
  const lines = [
    '| scenario | requests/s | p50 ms | p99 ms | × no-cache req/s | bucket lookups hit | source queries / request | Redis MGETs / request |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    const c = r.cache;
    const lookups = c ? c.hit + c.stale + c.miss : 0;
    const hit = c && lookups > 0 ? `${fmt((100 * (c.hit + c.stale)) / lookups, 2)} %` : '–';
    const queries = c && r.requests > 0 ? fmt(c.sourceQueries / r.requests, 2) : '–';
    const mgets = r.mgets !== undefined && r.requests > 0 ? fmt(r.mgets / r.requests, 2) : '–';
    const name = r.problems.length ? `${r.name} ⚠ ${r.problems.join('; ')}` : r.name;
    lines.push(`| ${name} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${fmt(r.rps / base, 1)}× | ${hit} | ${queries} | ${mgets} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const logger = createLogger('silent');
  const sqlitePath = join(tempDir, 'bench.sqlite');

  process.stderr.write(`Seeding ${sqlitePath} (days ${SEED.days}, scale ${SEED.scale}) … `);
  const seedEndMs = bucketStart(Date.now(), 'HOUR');
  {
    const database = openDatabase({ kind: 'sqlite', path: sqlitePath });
    try {
      await migrate(database.db);
      const written = await seed(database, { ...SEED, endMs: seedEndMs });
      process.stderr.write(`${fmt(written.orders)} orders, ${fmt(written.sessions)} sessions\n`);
    } finally {
      await database.close();
    }
  }

  process.stderr.write('Starting redis-server on 127.0.0.1 … ');
  redis = await startRedisServer();
  if (redis.pid !== undefined) run.own({ kind: 'redis', pid: redis.pid, port: redis.port });
  process.stderr.write(`${redis.url}\n`);

  const baseEnv = {
    NODE_ENV: 'production', // no cache extension in responses, as in production
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATABASE_URL: `sqlite:${sqlitePath}`,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    // Scenarios a–d measure the field cache alone; e adds the whole-response layer.
    RESPONSE_CACHE_TTL_MS: '0',
  };
  const start = async (env: Record<string, string>, cache: boolean): Promise<{ app: App; target: Target }> => {
    const config = loadConfig({ ...baseEnv, ...env });
    const app = await createApp(config, { logger, seed: false, cache });
    apps.push(app);
    const port = await app.listen(0);
    const token = await signToken({ tenant: TENANT, role: 'ADMIN' }, config.auth.jwtSecret);
    return {
      app,
      target: {
        url: `http://127.0.0.1:${port}/graphql`,
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      },
    };
  };
  const noCache = await start({}, false);
  const memory = await start({}, true);
  const redisWarm = await start({ REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'bench-warm' }, true);
  const redisSliding = await start({ REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'bench-slide' }, true);
  // The whole-response layer in front of c (off by default in the service).
  const responseCached = await start({ REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'bench-resp', RESPONSE_CACHE_TTL_MS: '30000' }, true);

  // The last 7 days at HOUR, up to the end of the current (open) hour: 168 buckets.
  const lastWeekFrom = seedEndMs + BUCKET_MS.HOUR - WINDOW_MS;
  const body = bodyFor(lastWeekFrom);
  // The sliding scenario starts at the oldest seeded week and moves one hour per request.
  const slideFrom = seedEndMs - SEED.days * BUCKET_MS.DAY;
  const slideWindowsWithData = (SEED.days * BUCKET_MS.DAY - WINDOW_MS) / BUCKET_MS.HOUR;

  // Same answer with and without the cache, or the comparison is meaningless. The
  // first request of each cached app is also its warm-up (scenarios b and c).
  const reference = (await post(noCache.target, body)).data;
  for (const [name, app] of [['memory', memory], ['redis', redisWarm], ['response-cached', responseCached]] as const) {
    const { data } = await post(app.target, body);
    if (!isDeepStrictEqual(data, reference)) throw new Error(`The ${name}-cached answer differs from the uncached one.`);
  }
  await post(redisSliding.target, bodyFor(slideFrom)); // warm window 0 of scenario d
  // A few requests each so that JIT warm-up is not charged to whichever scenario runs first.
  for (let i = 0; i < 5; i++) {
    for (const { target } of [noCache, memory, redisWarm, responseCached]) await post(target, body);
    await post(redisSliding.target, bodyFor(slideFrom));
  }
  await Promise.all(apps.map((app) => app.cache.idle()));

  process.stderr.write(`Load: autocannon, ${CONNECTIONS} connections, ${DURATION_S} s per scenario\n`);
  const results: ScenarioResult[] = [];
  results.push(await runScenario({ name: 'a. no cache (SQLite every request)', ...noCache, body, cached: false }));
  results.push(await runScenario({ name: 'b. warm cache, memory store', ...memory, body }));
  results.push(await runScenario({ name: 'c. warm cache, Redis store', ...redisWarm, body, redisUrl: redis.url }));
  results.push(await runScenario({ name: 'd. sliding 7-day window, Redis (1 new bucket per metric per request)', ...redisSliding, slideFromMs: slideFrom, redisUrl: redis.url }));
  results.push(await runScenario({ name: 'e. warm, Redis, with the whole-response layer (identical repeated query)', ...responseCached, body, redisUrl: redis.url }));

  process.stderr.write(`Cold vs warm single requests (${LATENCY_PAIRS} pairs per store) …\n`);
  const uncached: number[] = [];
  for (let i = 0; i < LATENCY_PAIRS; i++) uncached.push((await post(noCache.target, body)).ms);
  const uncachedMs = median(uncached);
  const coldWarmMemory = await coldWarm(memory.app, memory.target, body, LATENCY_PAIRS);
  const coldWarmRedis = await coldWarm(redisWarm.app, redisWarm.target, body, LATENCY_PAIRS);

  const slid = results[3]!.requests;
  const slideNote =
    slid <= slideWindowsWithData
      ? `Scenario d moved the window ${fmt(slid)} hours forward in all, every window inside the seeded data.`
      : `Scenario d moved the window ${fmt(slid)} hours forward in all; only the first ${fmt(slideWindowsWithData)} windows end inside the seeded data, later ones add an empty (future) bucket, which still costs one source query per metric.`;
  const d = results[3]!.cache;
  const dMisses = d && slid > 0 ? ` Per request: ${fmt(d.miss / slid, 1)} bucket misses (in-flight neighbours' new buckets are not stored yet) and ${fmt(d.lockWaits / slid, 2)} waits on another request's recompute lock.` : '';
  const notes = [
    `Cold/warm single-request latency, median of ${LATENCY_PAIRS} ratios (each pair: invalidation.manual('${TENANT}') drops all of the tenant's cached time, then the same request twice):`,
    `- memory store: cold/warm = ${fmt(coldWarmMemory.ratio, 1)}× (medians ${fmt(coldWarmMemory.coldMs, 1)} ms / ${fmt(coldWarmMemory.warmMs, 1)} ms; ${fmt(coldWarmMemory.coldMisses)} bucket misses per cold request)`,
    `- Redis store: cold/warm = ${fmt(coldWarmRedis.ratio, 1)}× (medians ${fmt(coldWarmRedis.coldMs, 1)} ms / ${fmt(coldWarmRedis.warmMs, 1)} ms; ${fmt(coldWarmRedis.coldMisses)} bucket misses per cold request)`,
    `- cold request (cache on, all missing) / uncached request (cache: false), medians of ${LATENCY_PAIRS} sequential requests each: memory ${fmt(coldWarmMemory.coldMs / uncachedMs, 2)}×, Redis ${fmt(coldWarmRedis.coldMs / uncachedMs, 2)}× (uncached median ${fmt(uncachedMs, 1)} ms)`,
    '',
    slideNote + dMisses,
  ];
  // From process start (module loading included) to the report; cleanup comes after.
  const elapsedS = process.uptime();

  const report = [table(results), '', ...notes].join('\n');
  console.log(`\n${report}\n`);

  const cpu = cpus();
  const header = [
    '# Benchmark: dashboard query, cache vs no cache',
    '',
    'Written by `npm run bench` (bench/dashboard.ts); overwritten on every run. Ratios measured in one run on one machine; the absolute numbers only show where the ratios come from.',
    '',
    `- date: ${new Date(startedAt).toISOString()}`,
    `- node: ${process.version}`,
    `- cpu: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length} cores`,
    `- 1-minute load average at start: ${fmt(loadAtStart, 2)} (other work on the machine skews the ratios)`,
    `- seed: seed(database, { days: ${SEED.days}, scale: ${SEED.scale} }) into one temp SQLite file shared by every app`,
    `- query: every Dashboard field except revenueIn, last 7 days at HOUR (168 buckets), tenant ${TENANT}, ADMIN`,
    `- load: autocannon in one worker thread, ${CONNECTIONS} connections, ${DURATION_S} s per scenario, all on 127.0.0.1; apps in the bench process (NODE_ENV=production), redis-server private to the run`,
    `- run took ${fmt(elapsedS, 1)} s (process start to report)`,
    '',
  ];
  writeFileSync(join(HERE, 'results.md'), `${header.join('\n')}\n${report}\n`);
  process.stderr.write(`Wrote bench/results.md; run took ${fmt(elapsedS, 1)} s\n`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(watchdog);
  process.stderr.write(`Cleaned up; ${fmt(process.uptime(), 1)} s in all\n`);
}
process.exitCode = exitCode;
