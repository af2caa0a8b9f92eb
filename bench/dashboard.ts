/**
 * `npm run bench`: the benchmark users quote. "As fast as a whole-response cache
 * and never stale", measured in one run against baselines, side by side, each
 * server its own process (bench/servers/), on the same seeded data; load from
 * autocannon in a worker thread of this driver. The tables (data, queries,
 * servers, scenarios) are in bench/plan.ts, the targets in bench/targets.ts; the
 * report goes to BENCHMARKS.md at the repo root.
 *
 * Environment:
 *   BENCH_DURATION_S  seconds per measured window ("run") of autocannon (default 1.5; 0.5 to 600)
 *   BENCH_RUNS        windows per cell, of which the median is reported (default 3)
 *   BENCH_SCENARIOS   comma list of a,b,c,d,e,f (default all)
 *   BENCH_SERVERS     comma list of server ids (default all; see bench/plan.ts)
 *   BENCH_STRICT=1    exit 1 when a target fails (default: exit 0 and report it)
 *
 * Everything the bench starts (servers, redis-servers, temp files) is stopped and
 * removed at the end, on error, on SIGINT/SIGTERM, and by a watchdog if a run
 * hangs; the servers also exit by themselves when this process dies; what a
 * SIGKILLed run leaves, the next run removes (bench/leftovers.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Redis } from 'ioredis';
import { createApp, type App } from '../src/app.js';
import { signToken } from '../src/auth/identity.js';
import { BUCKET_MS } from '../src/cache/buckets.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { openDatabase } from '../src/source/database.js';
import { migrate } from '../src/source/migrations.js';
import { seed } from '../src/source/seed.js';
import { startRedisCluster, startRedisServer, type RedisClusterHandle, type RedisServerHandle } from '../test/helpers/redis.js';
import { startServer, type ServerProcess } from './children.js';
import { quiet } from './quiet.js';
import { createRunDir, sweepLeftovers } from './leftovers.js';
import { median, medianOfMeasured, post, runWindows, sequential, startChurn, type Headers, type LoadRequests } from './load.js';
import {
  CHURN_EVERY_MS,
  CONNECTIONS,
  E_CAP_MS,
  E_REQUESTS,
  F_REQUESTS,
  LOADS,
  SCENARIO_IDS,
  SEED,
  SEQUENTIAL,
  SEQUENTIAL_SERVERS,
  SERVER_IDS,
  LOAD_WARM_S,
  SLOW_WARM_CAP_S,
  SLOW_WINDOW_CAP_S,
  SERVERS,
  STAGES,
  STAMPEDE_SPEC,
  WARM_UPS,
  bodyOf,
  rangeOf,
  roundOrder,
  type LoadSpec,
  type RequestSpec,
  type ScenarioId,
  type ServerId,
} from './plan.js';
import { difference } from './answers.js';
import { minus, peakRssMiB, resetPeakRss, scrapeMetrics, storeCommands, sumBy, sumOf, type Scrape } from './probes.js';
import { renderReport, type RunMeta } from './report.js';
import type { LoadCell, Results, SequentialCell, StampedeResult } from './results.js';
import { evaluate, FIELD_PATH } from './targets.js';

const REPO = process.cwd();

// ---------------------------------------------------------------------------
// Knobs
// ---------------------------------------------------------------------------

function numberKnob(name: string, fallback: number, min: number, max: number, integer: boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}: expected ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function listKnob<T extends string>(name: string, allowed: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...allowed];
  const picked = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = picked.filter((p) => !(allowed as readonly string[]).includes(p));
  if (unknown.length || picked.length === 0) throw new Error(`${name}: expected a comma list of ${allowed.join(', ')}; got "${raw}"`);
  return allowed.filter((a) => picked.includes(a));
}

function readKnobs() {
  try {
    return {
      durationS: numberKnob('BENCH_DURATION_S', 1.5, 0.5, 600, false),
      runs: numberKnob('BENCH_RUNS', 3, 1, 15, true),
      scenarios: listKnob<ScenarioId>('BENCH_SCENARIOS', SCENARIO_IDS),
      servers: listKnob<ServerId>('BENCH_SERVERS', SERVER_IDS),
      strict: process.env.BENCH_STRICT === '1',
    };
  } catch (error) {
    process.stderr.write(`Cannot run the benchmark: ${(error as Error).message}\n`);
    process.exit(2);
  }
}
const KNOBS = readKnobs();
const KNOB_NAMES = ['BENCH_DURATION_S', 'BENCH_RUNS', 'BENCH_SCENARIOS', 'BENCH_SERVERS', 'BENCH_STRICT'];

/** The loads of the selected scenarios, on the selected servers. */
const PLAN: LoadSpec[] = LOADS.filter((l) => KNOBS.scenarios.includes(l.scenario))
  .map((l) => ({ ...l, servers: l.servers.filter((s) => KNOBS.servers.includes(s)) }))
  .filter((l) => l.servers.length > 0);
const SEQUENTIAL_ON: ServerId[] = KNOBS.scenarios.includes('e') ? SEQUENTIAL_SERVERS.filter((s) => KNOBS.servers.includes(s)) : [];
const NEEDED: ServerId[] = SERVER_IDS.filter((id) => PLAN.some((l) => l.servers.includes(id)) || SEQUENTIAL_ON.includes(id));

/** Longest the whole run may take before the watchdog ends it (and cleans up). */
const WATCHDOG_MS =
  (PLAN.reduce((n, l) => n + l.servers.length, 0) *
    (SLOW_WARM_CAP_S + (KNOBS.runs + 1) * Math.max(KNOBS.durationS, SLOW_WINDOW_CAP_S) + 30) +
    SEQUENTIAL_ON.length * SEQUENTIAL.length * (E_CAP_MS / 1000 + 30) +
    300) *
  1_000;

// ---------------------------------------------------------------------------
// Resources, and their cleanup however the run ends
// ---------------------------------------------------------------------------

for (const line of sweepLeftovers()) process.stderr.write(`${line}\n`);
const run = createRunDir();
const servers = new Map<ServerId, ServerProcess>();
const extraServers: ServerProcess[] = [];
const redisServers: RedisServerHandle[] = [];
const clusters: RedisClusterHandle[] = [];
let reference: App | undefined;

const removeRunDir = () => rmSync(run.dir, { recursive: true, force: true });

async function cleanup(): Promise<void> {
  await Promise.allSettled([...servers.values(), ...extraServers].map((s) => s.stop()));
  servers.clear();
  await reference?.close().catch(() => {});
  reference = undefined;
  await Promise.allSettled([...redisServers.map((r) => r.stop()), ...clusters.map((c) => c.stop())]);
  redisServers.length = 0;
  clusters.length = 0;
  removeRunDir();
}

// A signal or the watchdog exits at once: children.ts kills the servers and the redis
// helper its redis-servers from their own 'exit' hooks; this one deletes the temp folder.
// A SIGKILL (see leftovers.ts) is cleared by the next run.
process.once('exit', removeRunDir);
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the benchmark`);
    process.exit(code);
  });
}
const watchdog = setTimeout(() => {
  console.error(`Benchmark still running after ${Math.round(WATCHDOG_MS / 1000)} s: giving up.`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

const log = (text: string) => process.stderr.write(text);
/** Seconds since the run started, for the progress lines. */
const stamp = () => `[${process.uptime().toFixed(0).padStart(3)} s]`;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

// ---------------------------------------------------------------------------
// Starting what the plan needs
// ---------------------------------------------------------------------------

interface Started {
  process: ServerProcess;
  /** Its copy of the seeded database. */
  databasePath: string;
  /** The Redis servers to count commands on. */
  storeUrls: string[] | undefined;
}
const started = new Map<ServerId, Started>();

async function startRedis(): Promise<RedisServerHandle> {
  const redis = await startRedisServer();
  redisServers.push(redis);
  if (redis.pid !== undefined) run.own({ kind: 'redis', pid: redis.pid, port: redis.port });
  return redis;
}

async function startCluster(): Promise<RedisClusterHandle> {
  const cluster = await startRedisCluster({ masters: 3 });
  clusters.push(cluster);
  for (const s of cluster.servers) if (s.pid !== undefined) run.own({ kind: 'redis', pid: s.pid, port: s.port });
  // The helper keeps the nodes' config files in a folder of its own: a SIGKILLed run leaves it behind.
  const client = new Redis(cluster.servers[0]!.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    const [, file] = (await client.config('GET', 'cluster-config-file')) as [string, string];
    if (file) run.own({ kind: 'redis-dir', path: dirname(file) });
  } finally {
    client.disconnect();
  }
  return cluster;
}

async function startBenchServer(id: ServerId, seedPath: string, baseEnv: Record<string, string>): Promise<Started> {
  const spec = SERVERS[id];
  const databasePath = join(run.dir, `${id}.sqlite`);
  copyFileSync(seedPath, databasePath);
  const env: Record<string, string> = { ...baseEnv, ...spec.env, DATABASE_URL: `sqlite:${databasePath}` };
  const args = [...spec.args];
  let storeUrls: string[] | undefined;
  if (spec.store === 'redis') {
    const redis = await startRedis();
    storeUrls = [redis.url];
    // The whole-response server keeps responses in it; the app underneath keeps nothing (cache: false).
    if (id === 'whole-response') args.push('--redis', redis.url);
    else env.REDIS_URL = redis.url;
  } else if (spec.store === 'cluster') {
    const cluster = await startCluster();
    storeUrls = cluster.servers.map((s) => s.url);
    env.REDIS_CLUSTER_NODES = cluster.nodesEnv;
  }
  const process = await startServer(run, spec.label, spec.entry, args, env);
  servers.set(id, process);
  return { process, databasePath, storeUrls };
}

// ---------------------------------------------------------------------------
// Answers: the reference, and what a server answers compared with it
// ---------------------------------------------------------------------------

interface Prepared {
  spec: RequestSpec;
  headers: Headers;
  body: string;
  range: { from: number; to: number };
  /** The reference app's answer (createApp with cache: false on the untouched seed). */
  expected: { text: string; data: unknown };
}

// ---------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------

interface Counters {
  sourceQueries?: number | undefined;
  /** This API's bucket lookups by result, its lock waits, and its store failures. */
  cache?: { hit: number; miss: number; stale: number; lockWaits: number; storeErrors: number } | undefined;
  /** nodejs_eventloop_lag_max_seconds in ms: the longest event-loop delay since the previous scrape (prom-client resets it on every scrape). */
  loopLagMaxMs?: number | undefined;
  /** This API's in-process tier (`cache_local_bytes`): the most it held since the server started, and its bound. */
  tier?: { peakBytes: number; boundBytes: number } | undefined;
}

/** The server's own counters from its /metrics: source queries, this API's cache counters, event-loop delay. */
async function countersOf(server: Started, id: ServerId): Promise<Counters> {
  if (!SERVERS[id].metricsEndpoint) return {};
  const scrape = await scrapeMetrics(server.process.origin);
  const counter = SERVERS[id].sourceCounter;
  const lag = scrape.get('nodejs_eventloop_lag_max_seconds')?.[0]?.value;
  const lookups = sumBy(scrape, 'cache_requests_total', 'result');
  return {
    sourceQueries: counter ? sumOf(scrape, counter) : undefined,
    cache:
      counter === 'cache_source_queries_total'
        ? {
            hit: lookups.hit ?? 0,
            miss: lookups.miss ?? 0,
            stale: lookups.stale ?? 0,
            lockWaits: sumOf(scrape, 'cache_lock_waits_total'),
            storeErrors: sumOf(scrape, 'cache_errors_total'),
          }
        : undefined,
    loopLagMaxMs: lag === undefined ? undefined : lag * 1000,
    tier: tierOf(scrape),
  };
}

function tierOf(scrape: Scrape): Counters['tier'] {
  const kinds = sumBy(scrape, 'cache_local_bytes', 'kind');
  return kinds.peak === undefined || kinds.bound === undefined ? undefined : { peakBytes: kinds.peak, boundBytes: kinds.bound };
}

function countOrders(databasePath: string, tenant: string, range: { from: number; to: number }): number {
  const db = new BetterSqlite3(databasePath, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT COUNT(*) AS n FROM orders WHERE tenant_id = ? AND occurred_at >= ? AND occurred_at < ?')
      .get(tenant, range.from, range.to) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

/**
 * How long to load a server whose warm single request takes `warmMs` before the
 * first measured window, and how long each window lasts. The session opens
 * CONNECTIONS connections at once, and a server that works on all of them at a time
 * answers them in bursts about CONNECTIONS × warmMs apart: the warm-up waits 1.5
 * bursts (at least LOAD_WARM_S, at most SLOW_WARM_CAP_S), and a window holds at least one
 * burst (at least BENCH_DURATION_S, at most SLOW_WINDOW_CAP_S), or a window could
 * fall between two bursts and count nothing.
 */
function sessionShape(warmMs: number): { warmS: number; windowS: number; tailS: number } {
  const burstS = (CONNECTIONS * warmMs) / 1000;
  return {
    warmS: Math.max(LOAD_WARM_S, Math.min(SLOW_WARM_CAP_S, Math.ceil(1.5 * burstS))),
    windowS: Math.max(KNOBS.durationS, Math.min(SLOW_WINDOW_CAP_S, Math.ceil(burstS * 2) / 2)),
    // The reading at the end of the last window waits its turn behind the load: keep loading until it is answered.
    tailS: Math.max(0.5, Math.min(SLOW_WINDOW_CAP_S, Math.ceil(burstS * 2) / 2)),
  };
}

/**
 * Runs `measure` with every bench server but `ids` paused (SIGSTOP), and thaws them
 * after, however it ends. An idle server is not idle on the CPU: its timers and its
 * store's polling run, and V8 collects its heap in idle time seconds after its own
 * load ended, that is, inside a later server's window. On two cores that work landed
 * in the measured windows: in two runs of the same seven servers (BENCH_SCENARIOS=a,b)
 * this API read 2,393 and 3,252 req/s warm with none paused, 4,206 and 5,227 with the
 * others paused, and its p99 ÷ p50 up to 3.1× against at most 2.6×.
 *
 * The machine is let go quiet first (`settle`): a server frozen while it still answers
 * what its last load sent would do that work when thawed, in a later cell, and could
 * find its store commands of then timed out (a timer due during the pause may fire
 * before the reply waiting in its socket is read). Store failures are reported per cell
 * (`cache_errors_total`), so that a cell served from the source instead shows as such.
 */
async function alone<T>(ids: readonly ServerId[], what: string, measure: () => Promise<T>): Promise<T> {
  await settle(what);
  const others = [...started].filter(([id]) => !ids.includes(id)).map(([, s]) => s.process);
  for (const server of others) server.pause();
  try {
    return await measure();
  } finally {
    for (const server of others) server.resume();
  }
}

/**
 * Waits for the machine to be quiet before a cell: the server measured before may still
 * be answering what its connections sent, on the CPU this cell's server runs on.
 */
async function settle(what: string): Promise<void> {
  const calm = await quiet();
  if (calm && calm.waitedMs > settled.longestMs) Object.assign(settled, { longestMs: calm.waitedMs, before: what });
  if (calm && calm.waitedMs >= 1_000) settled.over1s += 1;
  if (calm) settled.totalMs += calm.waitedMs;
  if (calm?.capped) log(`  (${what}: the machine was still busy after ${fmt(calm.waitedMs / 1000, 1)} s; measured anyway)\n`);
}
/** How long the cells waited for a quiet machine, for the report. */
const settled = { totalMs: 0, longestMs: 0, over1s: 0, before: '' };

async function measureLoad(
  load: LoadSpec,
  id: ServerId,
  prepared: Prepared[],
  churnTarget: { headers: Headers; productId: string },
  windows: number,
  /** Compare the first answer of each body with the reference's (only before any order is written). */
  checkAnswers: boolean,
): Promise<LoadCell> {
  const server = started.get(id)!;
  const { origin, pid } = server.process;
  const problems: string[] = [];

  // Warm-up: every distinct request a few times; the first answer is checked against the reference.
  const warmMs: number[] = [];
  for (const p of prepared) {
    const times: number[] = [];
    for (let i = 0; i < WARM_UPS; i++) {
      const body =
        load.requests.kind === 'sliding' ? bodyOf(p.spec, { from: Date.now() - p.spec.days * BUCKET_MS.DAY, to: Date.now() }) : p.body;
      try {
        const answer = await post(origin, p.headers, body);
        if (i > 0) times.push(answer.ms);
        const d = i === 0 && checkAnswers ? difference(p.expected.data, answer.data) : undefined;
        if (d)
          problems.push(
            `answer differs from the reference (${p.spec.tenant}${p.spec.region ? `/${p.spec.region}` : ''} ${p.spec.days}d ${p.spec.granularity} ${p.spec.fields}): ${d}`,
          );
      } catch (error) {
        problems.push(`warm-up request failed: ${(error as Error).message.slice(0, 200)}`);
        break;
      }
    }
    // The fastest, not the median: on a shared machine a slow outlier is someone else's work.
    if (times.length) warmMs.push(Math.min(...times));
  }
  const { warmS, windowS, tailS } = sessionShape(warmMs.length ? warmMs.reduce((a, b) => a + b, 0) / warmMs.length : 0);

  const requests: LoadRequests =
    load.requests.kind === 'fixed'
      ? { kind: 'fixed', headers: prepared[0]!.headers, body: prepared[0]!.body }
      : load.requests.kind === 'sliding'
        ? { kind: 'sliding', headers: prepared[0]!.headers, spec: load.requests.spec }
        : { kind: 'cycle', requests: prepared.map((p) => ({ headers: p.headers, body: p.body })) };

  // Counters and the RSS peak cover the measured windows, not the load's warm-up. Redis
  // answers INFO at once; a busy server answers /metrics in its turn, so each count is
  // divided by the answers that arrived between its own two readings.
  let storeBefore: Record<string, number> | undefined;
  let storeAfter: Record<string, number> | undefined;
  let countersBefore: Counters = {};
  let countersAfter: Counters = {};
  const readAt = { store: [0, 0], counters: [0, 0] };
  let peak: number | undefined;
  const read = async (i: 0 | 1) => {
    const [store, counters] = await Promise.all([
      server.storeUrls ? storeCommands(server.storeUrls).finally(() => (readAt.store[i] = performance.now())) : undefined,
      countersOf(server, id).finally(() => (readAt.counters[i] = performance.now())),
    ]);
    return { store, counters };
  };
  const at = {
    async start() {
      resetPeakRss(pid);
      ({ store: storeBefore, counters: countersBefore } = await read(0));
    },
    async end() {
      peak = peakRssMiB(pid);
      ({ store: storeAfter, counters: countersAfter } = await read(1));
    },
  };
  const churn = load.churn ? startChurn(origin, churnTarget.headers, churnTarget.productId, CHURN_EVERY_MS) : undefined;
  log(`  ${stamp()} ${load.id} ${SERVERS[id].label} (${warmS} s warm-up + ${windows} × ${windowS} s):`);
  const session = await runWindows(origin, requests, CONNECTIONS, warmS, windowS, windows, at, tailS);
  const runs = session.runs;
  let errors = session.warmErrors;
  if (session.warmErrors) problems.push(`${session.warmErrors} errors during the load's warm-up`);
  runs.forEach((outcome, i) => {
    errors += outcome.errors;
    problems.push(...outcome.problems.map((p) => `window ${i + 1}: ${p}`));
    // A window in which nothing came back measured nothing: it must not pass for a slow 0.
    if (outcome.good === 0) problems.push(`window ${i + 1}: no good answer within its ${windowS} s`);
    log(` ${fmt(outcome.rps)}`);
  });
  const writes = churn ? await churn.stop() : undefined;
  const sourceBefore = countersBefore.sourceQueries;
  const sourceAfter = countersAfter.sourceQueries;
  const good = runs.reduce((n, r) => n + r.good, 0);

  let ordersBehind: number | undefined;
  if (load.churn && load.requests.kind === 'fixed') {
    if (writes?.problems.length) problems.push(`writes failed: ${writes.problems.join('; ')}`);
    const p = prepared[0]!;
    // Past the end of the range, new orders fall outside it and nothing could be behind.
    if (Date.now() >= p.range.to)
      problems.push('the hour ended during the writes: later ones fell outside the range, so orders behind counts only the earlier ones');
    try {
      const answer = await post(origin, p.headers, p.body);
      const total = (answer.data.dashboard.orders as { total: number }).total;
      ordersBehind = countOrders(server.databasePath, p.spec.tenant, p.range) - total;
    } catch (error) {
      problems.push(`could not read orders.total after the writes: ${(error as Error).message.slice(0, 200)}`);
    }
  }

  const commands = storeAfter && storeBefore ? minus(storeAfter, storeBefore) : undefined;
  const totalCommands = commands ? Object.values(commands).reduce((a, b) => a + b, 0) : undefined;
  const storeAnswers = session.answersBetween(readAt.store[0]!, readAt.store[1]!);
  const counterAnswers = session.answersBetween(readAt.counters[0]!, readAt.counters[1]!);
  const perStoreAnswer = (n: number) => n / storeAnswers;
  const perCounterAnswer = (n: number) => n / counterAnswers;
  const cell: LoadCell = {
    load: load.id,
    server: id,
    warmUpS: warmS,
    windowS,
    runs: runs.map(({ rps, p50, p99, good }) => ({ rps, p50, p99, good })),
    rps: median(runs.map((r) => r.rps)),
    p50: medianOfMeasured(runs.map((r) => r.p50)),
    p99: medianOfMeasured(runs.map((r) => r.p99)),
    good,
    errors,
    problems,
    storeCommandsPerRequest: totalCommands !== undefined && storeAnswers > 0 ? perStoreAnswer(totalCommands) : undefined,
    storeCommands:
      commands && storeAnswers > 0
        ? Object.entries(commands)
            .map(([name, n]) => [name, perStoreAnswer(n)] as [string, number])
            .sort((a, b) => b[1] - a[1])
        : undefined,
    sourceQueriesPerRequest:
      sourceBefore !== undefined && sourceAfter !== undefined && counterAnswers > 0
        ? perCounterAnswer(sourceAfter - sourceBefore)
        : undefined,
    cache:
      countersBefore.cache && countersAfter.cache && counterAnswers > 0
        ? {
            hit: perCounterAnswer(countersAfter.cache.hit - countersBefore.cache.hit),
            miss: perCounterAnswer(countersAfter.cache.miss - countersBefore.cache.miss),
            stale: perCounterAnswer(countersAfter.cache.stale - countersBefore.cache.stale),
            lockWaits: countersAfter.cache.lockWaits - countersBefore.cache.lockWaits,
            storeErrors: countersAfter.cache.storeErrors - countersBefore.cache.storeErrors,
          }
        : undefined,
    peakRssMiB: peak,
    loopLagMaxMs: countersAfter.loopLagMaxMs,
    tier: countersAfter.tier,
    writes: writes && { ok: writes.ok, failed: writes.failed },
    ordersBehind,
  };
  log(
    ` → ${fmt(cell.rps)} req/s, p50 ${fmt(cell.p50)} ms${errors ? `, ${errors} errors` : ''}${ordersBehind ? `, ${ordersBehind} orders behind` : ''}\n`,
  );
  return cell;
}

/** One cell of a server's rounds (one window each): medians over the windows, counts added, per-request figures averaged, peaks and orders behind at their worst. */
function mergeRounds(cells: LoadCell[]): LoadCell {
  const defined = (values: Array<number | undefined>) => values.filter((v): v is number => v !== undefined);
  const mean = (values: Array<number | undefined>) => {
    const known = defined(values);
    return known.length ? known.reduce((a, b) => a + b, 0) / known.length : undefined;
  };
  const max = (values: Array<number | undefined>) => {
    const known = defined(values);
    return known.length ? Math.max(...known) : undefined;
  };
  const runs = cells.flatMap((c) => c.runs);
  const names = [...new Set(cells.flatMap((c) => (c.storeCommands ?? []).map(([name]) => name)))];
  const caches = cells.map((c) => c.cache).filter((c) => c !== undefined);
  const writes = cells.map((c) => c.writes).filter((w) => w !== undefined);
  return {
    load: cells[0]!.load,
    server: cells[0]!.server,
    warmUpS: Math.max(...cells.map((c) => c.warmUpS)),
    windowS: Math.max(...cells.map((c) => c.windowS)),
    runs,
    rps: median(runs.map((r) => r.rps)),
    p50: medianOfMeasured(runs.map((r) => r.p50)),
    p99: medianOfMeasured(runs.map((r) => r.p99)),
    good: cells.reduce((n, c) => n + c.good, 0),
    errors: cells.reduce((n, c) => n + c.errors, 0),
    problems: cells.flatMap((c, i) => c.problems.map((p) => `round ${i + 1}: ${p}`)),
    storeCommandsPerRequest: mean(cells.map((c) => c.storeCommandsPerRequest)),
    storeCommands: names.length
      ? names
          .map((name) => [name, mean(cells.map((c) => c.storeCommands?.find(([n]) => n === name)?.[1] ?? 0))!] as [string, number])
          .sort((a, b) => b[1] - a[1])
      : undefined,
    sourceQueriesPerRequest: mean(cells.map((c) => c.sourceQueriesPerRequest)),
    cache: caches.length
      ? {
          hit: mean(caches.map((c) => c.hit))!,
          miss: mean(caches.map((c) => c.miss))!,
          stale: mean(caches.map((c) => c.stale))!,
          lockWaits: caches.reduce((n, c) => n + c.lockWaits, 0),
          storeErrors: caches.reduce((n, c) => n + c.storeErrors, 0),
        }
      : undefined,
    loopLagMaxMs: max(cells.map((c) => c.loopLagMaxMs)),
    peakRssMiB: max(cells.map((c) => c.peakRssMiB)),
    tier: cells.reduce<LoadCell['tier']>((most, c) => (c.tier && (!most || c.tier.peakBytes > most.peakBytes) ? c.tier : most), undefined),
    writes: writes.length ? { ok: writes.reduce((n, w) => n + w.ok, 0), failed: writes.reduce((n, w) => n + w.failed, 0) } : undefined,
    ordersBehind: max(cells.map((c) => c.ordersBehind)),
  };
}

async function measureSequential(id: ServerId, item: (typeof SEQUENTIAL)[number], p: Prepared): Promise<SequentialCell> {
  const { origin } = started.get(id)!.process;
  const problems: string[] = [];
  for (let i = 0; i < WARM_UPS; i++) {
    try {
      await post(origin, p.headers, p.body);
    } catch (error) {
      problems.push(`warm-up request failed: ${(error as Error).message.slice(0, 200)}`);
      break;
    }
  }
  const { storeUrls } = started.get(id)!;
  const before = storeUrls ? await storeCommands(storeUrls) : undefined;
  const s = await sequential(origin, p.headers, p.body, E_REQUESTS, E_CAP_MS);
  const commands = storeUrls && before ? minus(await storeCommands(storeUrls), before) : undefined;
  log(`  ${stamp()} ${item.id} ${SERVERS[id].label}: p50 ${fmt(s.p50, 2)} ms (n=${s.n})\n`);
  return {
    id: item.id,
    server: id,
    p50: s.p50,
    p90: s.p90,
    n: s.n,
    errors: s.errors,
    problems: [...problems, ...s.problems],
    storeCommandsPerRequest: commands && s.n > 0 ? Object.values(commands).reduce((a, b) => a + b, 0) / s.n : undefined,
    storeCommands:
      commands && s.n > 0
        ? Object.entries(commands)
            .map(([name, n]) => [name, n / s.n] as [string, number])
            .sort((a, b) => b[1] - a[1])
        : undefined,
  };
}

async function measureStampede(seedPath: string, baseEnv: Record<string, string>, p: Prepared): Promise<StampedeResult> {
  const redis = await startRedis();
  const databasePath = join(run.dir, 'stampede.sqlite');
  copyFileSync(seedPath, databasePath);
  const env = { ...baseEnv, DATABASE_URL: `sqlite:${databasePath}`, REDIS_URL: redis.url };
  const pair = await Promise.all([1, 2].map((n) => startServer(run, `this API (Redis) #${n}`, 'api.ts', [], env)));
  extraServers.push(...pair);
  try {
    const storeBefore = await storeCommands([redis.url]);
    const t0 = performance.now();
    let last = 0;
    const settled = await Promise.allSettled(
      Array.from({ length: F_REQUESTS }, (_, i) =>
        post(pair[i % 2]!.origin, p.headers, p.body).then((answer) => {
          last = Math.max(last, performance.now() - t0);
          return answer;
        }),
      ),
    );
    const problems: string[] = [];
    let errors = 0;
    let differing = 0;
    for (const s of settled) {
      if (s.status === 'rejected') {
        errors += 1;
        if (problems.length < 3) problems.push(String((s.reason as Error).message).slice(0, 200));
      } else if (difference(p.expected.data, s.value.data)) {
        differing += 1;
        if (differing === 1) problems.push(`answer differs from the reference: ${difference(p.expected.data, s.value.data)}`);
      }
    }
    if (differing > 1) problems.push(`${differing} answers differ from the reference`);
    const scrapes = await Promise.all(pair.map((s) => scrapeMetrics(s.origin)));
    const sourceQueriesByMetric: Record<string, number> = {};
    for (const scrape of scrapes) {
      for (const [metric, n] of Object.entries(sumBy(scrape, 'cache_source_queries_total', 'metric')))
        sourceQueriesByMetric[metric] = (sourceQueriesByMetric[metric] ?? 0) + n;
    }
    const commands = minus(await storeCommands([redis.url]), storeBefore);
    const good = F_REQUESTS - errors;
    const result: StampedeResult = {
      requests: F_REQUESTS,
      errors: errors + differing,
      sourceQueries: Object.fromEntries(Object.entries(sourceQueriesByMetric).sort()),
      lockWaits: scrapes.reduce((n, s) => n + sumOf(s, 'cache_lock_waits_total'), 0),
      storeCommandsPerRequest: good > 0 ? Object.values(commands).reduce((a, b) => a + b, 0) / good : NaN,
      wallMs: last,
      problems,
    };
    log(`  ${stamp()} f: ${good} good of ${F_REQUESTS}; source queries ${JSON.stringify(result.sourceQueries)}\n`);
    return result;
  } finally {
    await Promise.all(pair.map((s) => s.stop()));
    await redis.stop();
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

function machine(): Pick<RunMeta, 'cpu' | 'cores' | 'memoryGiB' | 'node' | 'redis' | 'commit'> {
  const cpu = cpus();
  const sh = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, { cwd: REPO, encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  const dirty =
    sh('git', ['status', '--porcelain', '--untracked-files=no'])
      .split('\n')
      .filter((l) => l && !/BENCHMARKS\.md$/.test(l)).length > 0;
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown CPU',
    cores: cpu.length,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    redis: sh('redis-server', ['--version']).replace(/\s+sha=.*$/, ''),
    commit: `${sh('git', ['rev-parse', '--short=12', 'HEAD'])}${dirty ? ' (with uncommitted changes)' : ''} on ${sh('git', ['rev-parse', '--abbrev-ref', 'HEAD'])}`,
  };
}

function commandLine(): string {
  const set = KNOB_NAMES.filter((name) => process.env[name] !== undefined && process.env[name] !== '').map(
    (name) => `${name}=${process.env[name]}`,
  );
  return [...set, 'npm run bench'].join(' ');
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const secret = randomBytes(32).toString('hex');
  const notes: string[] = [];
  const notRun = new Map<string, string>();
  const defaults = loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret });
  notes.push(
    defaults.responseCacheTtlMs > 0
      ? `This API keeps whole responses by default (RESPONSE_CACHE_TTL_MS=${defaults.responseCacheTtlMs}, validated per request); "${SERVERS[FIELD_PATH].label}" is the same server with RESPONSE_CACHE_TTL_MS=0.`
      : `Whole responses are off by default (RESPONSE_CACHE_TTL_MS=0): "${SERVERS[FIELD_PATH].label}" and this API (Redis) run the same configuration.`,
  );

  // Seed once; every server gets a copy of this file.
  const seedPath = join(run.dir, 'seed.sqlite');
  log(`Seeding ${seedPath} (days ${SEED.days}, scale ${SEED.scale}) … `);
  const nowMs = Date.now();
  let rows: { orders: number; sessions: number };
  let productId: string;
  {
    const database = openDatabase({ kind: 'sqlite', path: seedPath });
    try {
      await migrate(database.db);
      rows = await seed(database, { ...SEED, endMs: nowMs });
      const product = await database.db
        .selectFrom('products')
        .select('id')
        .where('tenant_id', '=', 'acme')
        .orderBy('id')
        .executeTakeFirstOrThrow();
      productId = product.id;
    } finally {
      await database.close();
    }
  }
  log(`${fmt(rows.orders)} orders, ${fmt(rows.sessions)} sessions\n`);

  const baseEnv: Record<string, string> = { NODE_ENV: 'production', JWT_SECRET: secret, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' };
  const secretBytes = loadConfig(baseEnv).auth.jwtSecret;

  log(`Starting ${NEEDED.map((id) => SERVERS[id].label).join(', ')} …\n`);
  const t0 = Date.now();
  const starts = await Promise.allSettled(NEEDED.map(async (id) => started.set(id, await startBenchServer(id, seedPath, baseEnv))));
  const failedStart = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failedStart) throw failedStart.reason;
  log(`  all listening after ${fmt((Date.now() - t0) / 1000, 1)} s\n`);

  // The reference: the app without a cache, on the untouched seed, in this process (no port).
  reference = await createApp(loadConfig({ ...baseEnv, DATABASE_URL: `sqlite:${seedPath}` }), {
    logger: createLogger('silent'),
    seed: false,
    cache: false,
    consumeEvents: false,
  });
  const tokens = new Map<string, string>();
  /** A new object every time: a shared one would carry one request's content-length into another. */
  const headersOf = async (spec: Pick<RequestSpec, 'tenant' | 'region'>): Promise<Headers> => {
    const key = `${spec.tenant}|${spec.region ?? ''}`;
    let token = tokens.get(key);
    if (!token) tokens.set(key, (token = await signToken({ tenant: spec.tenant, role: 'ADMIN', region: spec.region }, secretBytes)));
    return { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` };
  };
  const prepare = async (spec: RequestSpec, atMs = nowMs): Promise<Prepared> => {
    const headers = await headersOf(spec);
    const range = rangeOf(spec, atMs);
    const body = bodyOf(spec, range);
    // A copy: the fetch API underneath writes content-length into the object it is given.
    const response = await reference!.yoga.fetch('http://reference/graphql', { method: 'POST', headers: { ...headers }, body });
    const text = await response.text();
    const parsed = JSON.parse(text) as { data?: unknown; errors?: unknown };
    if (response.status !== 200 || parsed.errors || !parsed.data)
      throw new Error(`The reference app refused a bench request (HTTP ${response.status}): ${text.slice(0, 400)}`);
    // Every range of the plan lies in the seeded data: an empty answer means the bench asks for the wrong time.
    const orders = (parsed.data as { dashboard?: { orders?: { total?: number } } }).dashboard?.orders?.total;
    if (!orders) throw new Error(`The reference app answered ${orders} orders for ${body}: the bench's ranges miss the seeded data.`);
    return { spec, headers, body, range, expected: { text, data: parsed.data } };
  };
  const preparedOf = new Map<string, Prepared[]>();
  for (const load of PLAN) {
    const specs = load.requests.kind === 'cycle' ? load.requests.specs : [load.requests.spec];
    preparedOf.set(load.id, await Promise.all(specs.map((spec) => prepare(spec))));
  }
  const sequentialPrepared = new Map<string, Prepared>();
  for (const item of SEQUENTIAL) if (SEQUENTIAL_ON.length) sequentialPrepared.set(item.id, await prepare(item.spec));
  const stampedePrepared = KNOBS.scenarios.includes('f') ? await prepare(STAMPEDE_SPEC) : undefined;

  // The stored server answers with the reference's bytes.
  const stored = started.get('stored');
  if (stored) {
    const all = [...[...preparedOf.values()].flat(), ...sequentialPrepared.values()];
    const answers = all.map((p) => ({ tenant: p.spec.tenant, region: p.spec.region, body: p.body, answer: p.expected.text }));
    const response = await fetch(`${stored.process.origin}/bench/answers`, { method: 'PUT', body: JSON.stringify(answers) });
    if (response.status !== 204) throw new Error(`The stored server refused its answers: HTTP ${response.status}`);
  }
  const sizes = [...preparedOf.entries()].map(
    ([id, ps]) => `${id} ${fmt(median(ps.map((p) => Buffer.byteLength(p.expected.text))) / 1024, 1)} kB`,
  );
  if (sizes.length) log(`Answer sizes (median per load): ${sizes.join(', ')}\n`);

  const results: Results = { cells: [], sequential: [] };
  /** Servers that (b) has written orders to: their answers no longer equal the seed's. */
  const written = new Set<ServerId>();
  const churnTarget = { headers: await headersOf({ tenant: 'acme' }), productId };
  for (const stage of STAGES) {
    const scenarios = stage.filter((s) => KNOBS.scenarios.includes(s));
    if (scenarios.length === 0) continue;
    log(`${stamp()} Scenario${scenarios.length > 1 ? 's' : ''} ${scenarios.join(', ')}\n`);
    if (scenarios.includes('e')) {
      for (const item of SEQUENTIAL)
        for (const id of SEQUENTIAL_ON)
          results.sequential.push(
            await alone([id], `${item.id} ${SERVERS[id].label}`, () => measureSequential(id, item, sequentialPrepared.get(item.id)!)),
          );
    }
    if (scenarios.includes('f')) results.stampede = await alone([], 'f', () => measureStampede(seedPath, baseEnv, stampedePrepared!));
    // Rounds: in each of KNOBS.runs rounds, every load of the stage on every one of its
    // servers, one window each (roundOrder), so that the windows a target compares are
    // measured seconds apart and the ratio of each round's pair is taken: a shared machine
    // whose speed drifts moves both alike.
    const loads = scenarios.flatMap((scenario) => PLAN.filter((l) => l.scenario === scenario));
    const rounds = new Map<string, LoadCell[]>();
    for (let round = 0; round < KNOBS.runs; round++) {
      if (loads.length) log(`  ${stamp()} round ${round + 1} of ${KNOBS.runs}\n`);
      // Writes land in the hour they are made: (b) asks for the range that ends with the hour it runs in.
      for (const load of loads)
        if (load.churn) preparedOf.set(load.id, [await prepare((load.requests as { spec: RequestSpec }).spec, Date.now())]);
      for (const [load, id] of roundOrder(loads)) {
        // Answers are compared with the untouched seed's until an order is written to that server.
        const checkAnswers = (load.scenario === 'a' || load.scenario === 'd') && !written.has(id);
        const cell = await alone([id], `${load.id} ${SERVERS[id].label}`, () =>
          measureLoad(load, id, preparedOf.get(load.id)!, churnTarget, 1, checkAnswers),
        );
        if (load.churn) written.add(id);
        rounds.set(`${load.id} ${id}`, [...(rounds.get(`${load.id} ${id}`) ?? []), cell]);
      }
    }
    for (const load of loads) for (const id of load.servers) results.cells.push(mergeRounds(rounds.get(`${load.id} ${id}`)!));
  }

  const evaluated = evaluate(results, notRun);
  const rssResettable = resetPeakRss(process.pid);
  const meta: RunMeta = {
    date: startedAt.toISOString(),
    command: commandLine(),
    ...machine(),
    loadAtStart,
    durationS: KNOBS.durationS,
    runs: KNOBS.runs,
    rows,
    elapsedS: process.uptime(),
    scenarios: SCENARIO_IDS.filter((s) => KNOBS.scenarios.includes(s)),
    servers: NEEDED,
    rssResettable,
    notes: [
      ...notes,
      ...(sizes.length ? [`Answer sizes (median per load): ${sizes.join(', ')}.`] : []),
      `Before each cell the driver waits until less than a tenth of the CPUs is busy (bench/quiet.ts): a server whose load ended may still be answering what its connections sent. Waited ${fmt(settled.totalMs / 1000, 1)} s in all (at least one 0.2 s step per cell); ${settled.over1s} cell${settled.over1s === 1 ? '' : 's'} waited 1 s or more, the longest ${fmt(settled.longestMs / 1000, 1)} s (before ${settled.before || '–'}).`,
      'Ratios compare medians of short runs on a shared 2-core machine: a ratio within about 10% of its threshold may flip between runs.',
    ],
  };
  const report = renderReport(meta, results, evaluated);
  writeFileSync(join(REPO, 'BENCHMARKS.md'), report);
  console.log(
    evaluated
      .map(
        (e) =>
          `${e.verdict.padEnd(7)} ${e.target.text}${e.measure ? `: ${e.target.unit === 'ratio' ? `${fmt(e.measure.value, 2)}×` : fmt(e.measure.value, Number.isInteger(e.measure.value) ? 0 : 2)} (${e.measure.detail})${e.measure.problems.length ? ` ⚠ ${e.measure.problems.join('; ')}` : ''}` : ''}`,
      )
      .join('\n'),
  );
  const failed = evaluated.filter((e) => e.verdict === 'FAIL').length;
  log(`\nWrote BENCHMARKS.md; ${failed} of ${evaluated.length} targets FAIL; run took ${fmt(process.uptime())} s\n`);
  return failed > 0 && KNOBS.strict ? 1 : 0;
}

let exitCode = 0;
try {
  exitCode = await main();
} catch (error) {
  console.error(error);
  for (const s of [...servers.values(), ...extraServers].filter((s) => s.exited()))
    console.error(`\n${s.name} (pid ${s.pid}) had exited; its last output:\n${s.output()}`);
  exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(watchdog);
  log(`Cleaned up; ${fmt(process.uptime(), 1)} s in all\n`);
}
process.exitCode = exitCode;
