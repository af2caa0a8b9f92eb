/**
 * `npm run soak [-- --seconds 300] [--report FILE] [--max-rss-growth-mib 256]`: two
 * instances of the app (bench/servers/api.ts, every cache layer on: in-process tier,
 * whole responses, Redis) on one Redis and one database, held under steady load for
 * a bounded time, then checked against an uncached instance on the same database.
 *
 * - Redis: REDIS_URL when set (keys under a prefix of the run's own), else a private
 *   redis-server.
 * - Database: a postgres DATABASE_URL (which must answer), else the local PostgreSQL
 *   at 127.0.0.1:5432; either way in a schema of the run's own, dropped at the end.
 *   When neither can be had, a SQLite file (the report says which).
 * - Tenants: the demo three (a short, small seed) and three more with a catalogue and
 *   no history, one of them named with key separators (`:{}|/%`).
 * - Load: `--connections` loops of plain fetch over every tenant × region scope ×
 *   range (HOUR and DAY), ADMIN and ANALYST in turn, alternating between the instances.
 * - Writes: one `recordOrder` every `--write-every-ms`, round-robin over tenants and
 *   instances, each dated in a past hour inside the loaded ranges (so it drops
 *   cached buckets and whole responses).
 * - Subscribers: per tenant three SSE subscriptions: one on each instance, and a
 *   region-scoped one.
 *
 * "None missing", exactly: a write of tenant T in region R dated in hour H is heard by
 * a subscriber of T (whose scope includes R) when that subscriber received a payload
 * delivered no earlier than the write was sent, whose metrics include ORDERS and whose
 * [from, to) contains H. Coalescing (src/events/hub.ts) merges the notices of one
 * tenant within SUBSCRIPTION_COALESCE_MS into one payload with the union of their
 * metrics and the hull of their ranges, so one payload may cover several writes; the
 * writes of one tenant are spaced wider than that window (tenants × write interval),
 * so a payload normally covers one. A payload that covers no write of its
 * subscriber's scope is counted as foreign (a leak or a spurious notice) and fails
 * the run too.
 *
 * RSS growth: VmRSS from /proc/PID/status, sampled every second; growth is the last
 * sample minus the one at the end of the warm-up (a fifth of the run, 5 to 60 s).
 * The in-process tier may legitimately grow to CACHE_LOCAL_MAX_BYTES (64 MiB by
 * default), hence the default bound.
 *
 * Final pass: once the writes have returned and every subscriber has heard them,
 * each request of the load is sent to both instances and compared with the uncached
 * instance's answer (bench/answers.ts: exact, but `customers.total` within 2%). The
 * report also gives each instance's cache store errors: a drop that failed (a store
 * command timed out on an overloaded machine) leaves its entries until their TTL, and
 * shows here as a differing answer.
 *
 * Exit code 0 when every check holds, 1 when one fails, 2 when the soak could not
 * run. Everything it starts is stopped at the end, on a signal and by a watchdog;
 * what a SIGKILLed run leaves, the next run (or `npm run bench`) removes
 * (bench/leftovers.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { signToken } from '../src/auth/identity.js';
import { BUCKET_MS, bucketStart } from '../src/cache/buckets.js';
import { openDatabase, type Database } from '../src/source/database.js';
import { migrate } from '../src/source/migrations.js';
import { DEMO_TENANTS, seed } from '../src/source/seed.js';
import { REGIONS, type Region } from '../src/source/types.js';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redis.js';
import { createPostgresSchema, postgresAnswers, STANDARD_POSTGRES, type PostgresSchema } from '../test/helpers/services.js';
import { openSse, type SseStream } from '../test/helpers/sse-stream.js';
import { difference } from './answers.js';
import { startServer, type ServerProcess } from './children.js';
import { createRunDir, sweepLeftovers } from './leftovers.js';
import { goodBody, quantile } from './load.js';
import { scrapeMetrics, sumBy, sumOf } from './probes.js';

// ---------------------------------------------------------------------------
// Knobs
// ---------------------------------------------------------------------------

const USAGE =
  'usage: npm run soak -- [--seconds N (default 300)] [--connections N (default 8)] [--write-every-ms N (default 100)] ' +
  '[--max-rss-growth-mib N (default 256)] [--report FILE.json]';

function readKnobs() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '300' },
      connections: { type: 'string', default: '8' },
      'write-every-ms': { type: 'string', default: '100' },
      'max-rss-growth-mib': { type: 'string', default: '256' },
      report: { type: 'string' },
    },
    strict: true,
  });
  const whole = (name: keyof typeof values, min: number, max: number): number => {
    const raw = values[name] as string;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  return {
    seconds: whole('seconds', 10, 3_600),
    connections: whole('connections', 1, 64),
    writeEveryMs: whole('write-every-ms', 20, 10_000),
    maxRssGrowthMiB: whole('max-rss-growth-mib', 1, 4_096),
    report: values.report,
  };
}

let KNOBS: ReturnType<typeof readKnobs>;
try {
  KNOBS = readKnobs();
} catch (error) {
  process.stderr.write(`Cannot run the soak: ${(error as Error).message}\n${USAGE}\n`);
  process.exit(2);
}

/** The seed: short and small, so that the run starts in seconds; the ranges below stay inside it. */
const SEED = { days: 30, scale: 0.1 };
/** Tenants besides the demo three: a catalogue each, no history. One has key separators in its id. */
const EXTRA_TENANTS = ['soak-delta', 'soak-epsilon', 'soak:{zeta}|/%'];
/** How long the subscribers may take to hear the last writes after they returned. */
const HEAR_TIMEOUT_MS = 10_000;
/** Requests in flight during the final pass (each asks the uncached instance, then A, then B). */
const FINAL_PASS_CONNECTIONS = 4;
/** How long one request may take before it counts as an error. */
const REQUEST_TIMEOUT_MS = 10_000;
const SECRET = randomBytes(32).toString('hex');
const HOUR = BUCKET_MS.HOUR;

const DASHBOARD = `query Soak($from: DateTime!, $to: DateTime!, $g: Granularity!) {
  dashboard(range: { from: $from, to: $to }, granularity: $g) {
    range { from to }
    revenue { total points { start value } }
    orders { total points { start value } }
    sessions { total }
    customers { total points { start value } }
    averageOrderValue
    conversionRate
    topProducts(limit: 5) { productId name orders revenue }
  }
}`;
const RECORD_ORDER = `mutation SoakWrite($input: RecordOrderInput!) { recordOrder(input: $input) { id } }`;

// ---------------------------------------------------------------------------
// Resources, and their cleanup however the run ends
// ---------------------------------------------------------------------------

for (const line of sweepLeftovers()) process.stderr.write(`${line}\n`);
const run = createRunDir();
const servers: ServerProcess[] = [];
const streams: SseStream[] = [];
let redis: RedisServerHandle | undefined;
let schema: PostgresSchema | undefined;
let sqliteDir: string | undefined;

async function cleanup(): Promise<void> {
  for (const s of streams) s.close();
  await Promise.allSettled(servers.map((s) => s.stop()));
  await redis?.stop().catch(() => {});
  await schema?.drop().catch((error: Error) => process.stderr.write(`could not drop the soak's schema: ${error.message}\n`));
  if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  rmSync(run.dir, { recursive: true, force: true });
}

process.once('exit', () => rmSync(run.dir, { recursive: true, force: true }));
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the soak\n`);
    void cleanup().finally(() => process.exit(code));
  });
}
const watchdog = setTimeout(
  () => {
    process.stderr.write('The soak is still running long after its time: giving up.\n');
    void cleanup().finally(() => process.exit(2));
  },
  (KNOBS.seconds + 300) * 1_000,
);
watchdog.unref();

const log = (text: string) => process.stderr.write(`[${process.uptime().toFixed(0).padStart(4)} s] ${text}\n`);

// ---------------------------------------------------------------------------
// Setup: Redis, database, tenants, servers
// ---------------------------------------------------------------------------

async function openRedis(): Promise<{ url: string; kind: string }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, kind: 'REDIS_URL' };
  redis = await startRedisServer();
  if (redis.pid !== undefined) run.own({ kind: 'redis', pid: redis.pid, port: redis.port });
  return { url: redis.url, kind: 'private redis-server' };
}

async function openSource(): Promise<{ url: string; kind: string }> {
  const given = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : undefined;
  if (given && !(await postgresAnswers(given))) throw new Error('PostgreSQL at DATABASE_URL does not answer.');
  const base = given ?? ((await postgresAnswers(STANDARD_POSTGRES)) ? STANDARD_POSTGRES : undefined);
  if (base) {
    schema = await createPostgresSchema(base, 'soak');
    return { url: schema.url, kind: `PostgreSQL (${given ? 'DATABASE_URL' : '127.0.0.1:5432'}, own schema)` };
  }
  sqliteDir = mkdtempSync(join(tmpdir(), 'dashboard-api-soak-'));
  return { url: `sqlite:${join(sqliteDir, 'soak.sqlite')}`, kind: 'SQLite (no PostgreSQL could be had)' };
}

interface Tenant {
  id: string;
  products: string[];
}

async function seedTenants(database: Database, endMs: number): Promise<Tenant[]> {
  await migrate(database.db);
  await seed(database, { ...SEED, endMs });
  for (const [i, id] of EXTRA_TENANTS.entries()) {
    await database.db
      .insertInto('tenants')
      .values({ id, name: id, currency: 'USD', home_region: REGIONS[i % REGIONS.length]! })
      .execute();
    await database.db
      .insertInto('products')
      .values([1, 2, 3].map((n) => ({ tenant_id: id, id: `${id}-p${n}`, name: `Product ${n}`, price_cents: 1_000 * n })))
      .execute();
  }
  const rows = await database.db.selectFrom('products').select(['tenant_id', 'id']).orderBy('id').execute();
  return [...DEMO_TENANTS.map((t) => t.id), ...EXTRA_TENANTS].map((id) => ({
    id,
    products: rows.filter((r) => r.tenant_id === id).map((r) => r.id),
  }));
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

type Headers = Record<string, string>;

interface Query {
  label: string;
  headers: Headers;
  body: string;
}

/** Every tenant × region scope × range the load cycles through, with the roles in turn. */
async function queries(tenants: Tenant[], endMs: number): Promise<Query[]> {
  const ranges = [
    { days: 1, g: 'HOUR' },
    { days: 3, g: 'HOUR' },
    { days: 7, g: 'HOUR' },
    { days: 14, g: 'DAY' },
    { days: 28, g: 'DAY' },
  ] as const;
  const out: Query[] = [];
  for (const tenant of tenants) {
    for (const region of [undefined, ...REGIONS]) {
      // ADMIN and ANALYST see the same values and share entries (CONTRACT.md): both are asked, in turn.
      for (const [i, r] of ranges.entries()) {
        const role = i % 2 === 0 ? 'ADMIN' : 'ANALYST';
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${await token(tenant.id, role, region)}` };
        const variables = { from: new Date(endMs - r.days * BUCKET_MS.DAY).toISOString(), to: new Date(endMs).toISOString(), g: r.g };
        out.push({
          label: `${tenant.id}/${region ?? '*'}/${role}/${r.days}d ${r.g}`,
          headers,
          body: JSON.stringify({ query: DASHBOARD, variables }),
        });
      }
    }
  }
  return out;
}

function token(tenant: string, role: string, region?: Region): Promise<string> {
  return signToken({ tenant, role, region, ttlMs: (KNOBS.seconds + 3_600) * 1_000 }, new TextEncoder().encode(SECRET));
}

async function post(origin: string, headers: Headers, body: string): Promise<{ ok: boolean; text: string; ms: number }> {
  const started = performance.now();
  try {
    const response = await fetch(`${origin}/graphql`, { method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await response.text();
    return { ok: response.status === 200, text, ms: performance.now() - started };
  } catch (error) {
    return { ok: false, text: String(error), ms: performance.now() - started };
  }
}

// ---------------------------------------------------------------------------
// Load, writes, subscribers, memory
// ---------------------------------------------------------------------------

interface LoadOutcome {
  requests: number;
  errors: number;
  problems: string[];
  latencies: number[];
}

function startLoad(instances: ServerProcess[], list: Query[], connections: number): { stop(): Promise<LoadOutcome> } {
  const outcome: LoadOutcome = { requests: 0, errors: 0, problems: [], latencies: [] };
  let running = true;
  let next = 0;
  const loop = async () => {
    while (running) {
      const n = next++;
      const q = list[n % list.length]!;
      const answer = await post(instances[n % instances.length]!.origin, q.headers, q.body);
      outcome.requests += 1;
      outcome.latencies.push(answer.ms);
      if (!answer.ok || !goodBody(answer.text)) {
        outcome.errors += 1;
        if (outcome.problems.length < 5) outcome.problems.push(`${q.label}: ${answer.text.slice(0, 200)}`);
      }
    }
  };
  const loops = Array.from({ length: connections }, () => loop());
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return outcome;
    },
  };
}

interface Write {
  tenant: string;
  region: Region;
  hour: number;
  sentAt: number;
  ok: boolean;
}

function startWrites(instances: ServerProcess[], tenants: Tenant[], endMs: number, everyMs: number) {
  const writes: Write[] = [];
  const problems: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const headers = new Map<string, Headers>();
  let n = 0;
  const write = () => {
    const i = n++;
    const tenant = tenants[i % tenants.length]!;
    const region = REGIONS[Math.floor(i / tenants.length) % REGIONS.length]!;
    const instance = instances[Math.floor(i / (tenants.length * REGIONS.length)) % instances.length]!;
    // A different past hour for each write, spread over the loaded ranges (the last 28 days).
    const hour = endMs - (2 + ((i * 37) % (26 * 24))) * HOUR;
    const record: Write = { tenant: tenant.id, region, hour, sentAt: Date.now(), ok: false };
    writes.push(record);
    const body = JSON.stringify({
      query: RECORD_ORDER,
      variables: {
        input: {
          productId: tenant.products[i % tenant.products.length],
          customerId: `soak-c${i % 97}`,
          amount: 12.5 + (i % 40),
          region,
          occurredAt: new Date(hour + ((i * 7_919) % HOUR)).toISOString(),
        },
      },
    });
    const done = post(instance.origin, headers.get(tenant.id)!, body).then((answer) => {
      record.ok = answer.ok && answer.text.includes('"recordOrder":{"id"') && !answer.text.includes('"errors"');
      if (!record.ok && problems.length < 5) problems.push(`${tenant.id}: ${answer.text.slice(0, 200)}`);
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    writes,
    async start() {
      for (const t of tenants)
        headers.set(t.id, { 'content-type': 'application/json', authorization: `Bearer ${await token(t.id, 'ANALYST')}` });
      timer = setInterval(write, everyMs);
    },
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return problems;
    },
  };
}

interface Subscriber {
  name: string;
  tenant: string;
  region: Region | undefined;
  stream: SseStream;
}

/** Which writes a subscriber must have heard, which it has not, and what it heard that no write explains. */
function hearing(sub: Subscriber, writes: Write[]) {
  const mine = writes.filter((w) => w.ok && w.tenant === sub.tenant && (sub.region === undefined || w.region === sub.region));
  const payloads = sub.stream.events.map((e: { metrics: string[]; from: string; to: string; at: string }) => ({
    orders: e.metrics.includes('ORDERS'),
    from: Date.parse(e.from),
    to: Date.parse(e.to),
    at: Date.parse(e.at),
  }));
  // The server's clock and ours are the same machine's; a millisecond of rounding is allowed.
  const covers = (p: (typeof payloads)[number], w: Write) => p.orders && p.from <= w.hour && w.hour < p.to && p.at >= w.sentAt - 1;
  const missing = mine.filter((w) => !payloads.some((p) => covers(p, w))).length;
  const foreign = payloads.filter((p) => !mine.some((w) => covers(p, w))).length;
  return { expected: mine.length, heard: payloads.length, missing, foreign };
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The sum of a metric's samples on an instance's /metrics (bench/probes.ts reads the format). */
async function scrapeSum(origin: string, name: string): Promise<number> {
  return sumOf(await scrapeMetrics(origin), name);
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

/** What `--report` writes, and the table shows. */
export interface SoakReport {
  seconds: number;
  database: string;
  redis: string;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  writes: { sent: number; ok: number; failed: number };
  subscribers: Array<{ name: string; expected: number; heard: number; missing: number; foreign: number }>;
  /** Per instance, MiB: at the end of warm-up, at the end, the growth between, the growth over the second half of that, and the peak. */
  rss: Array<{ instance: string; warmMiB: number; endMiB: number; growthMiB: number; secondHalfMiB: number; peakMiB: number }>;
  /** `cache_errors_total` of each instance at the end of the load, by operation. */
  storeErrors: Array<{ instance: string; byOperation: Record<string, number> }>;
  maxRssGrowthMiB: number;
  answers: { compared: number; differing: number };
  problems: string[];
  passed: boolean;
}

async function soak(): Promise<SoakReport> {
  const [store, source] = await Promise.all([openRedis(), openSource()]);
  log(`database: ${source.kind}; Redis: ${store.kind}`);
  // The ranges end at the next hour: every seeded hour and every write lies inside them.
  const endMs = bucketStart(Date.now(), 'HOUR') + HOUR;
  const database = openDatabase(
    source.url.startsWith('sqlite:') ? { kind: 'sqlite', path: source.url.slice(7) } : { kind: 'postgres', url: source.url },
  );
  let tenants: Tenant[];
  try {
    tenants = await seedTenants(database, endMs - HOUR);
  } finally {
    await database.close();
  }
  log(`seeded ${tenants.length} tenants (${SEED.days} days at scale ${SEED.scale})`);

  const env = { DATABASE_URL: source.url, JWT_SECRET: SECRET, NODE_ENV: 'production', LOG_LEVEL: 'warn' };
  // Keys under a prefix of this run's own, should REDIS_URL be a Redis others use.
  const cached = { ...env, REDIS_URL: store.url, CACHE_KEY_PREFIX: `soak-${randomBytes(4).toString('hex')}` };
  const started = await Promise.all([
    startServer(run, 'instance A', 'api.ts', [], cached),
    startServer(run, 'instance B', 'api.ts', [], cached),
    startServer(run, 'uncached', 'api.ts', ['--uncached'], env),
  ]);
  servers.push(...started);
  const [a, b, uncached] = started;
  const instances = [a, b];
  log(`instances A (pid ${a.pid}) and B (pid ${b.pid}) on Redis, and an uncached one (pid ${uncached.pid})`);

  const subscribers: Subscriber[] = [];
  for (const tenant of tenants) {
    const region = REGIONS[tenants.indexOf(tenant) % REGIONS.length]!;
    for (const [name, instance, scope] of [
      ['A', a, undefined],
      ['B', b, undefined],
      [`B ${region}`, b, region],
    ] as const) {
      const stream = await openSse(instance.origin, await token(tenant.id, 'ANALYST', scope), ['ORDERS']);
      streams.push(stream);
      if (stream.status !== 200) throw new Error(`subscription of ${tenant.id} on ${name} answered HTTP ${stream.status}`);
      subscribers.push({ name: `${tenant.id} on ${name}`, tenant: tenant.id, region: scope, stream });
    }
  }
  const perInstance = tenants.length;
  const subscribed = await until(
    async () =>
      (await scrapeSum(a.origin, 'graphql_subscriptions')) === perInstance &&
      (await scrapeSum(b.origin, 'graphql_subscriptions')) === 2 * perInstance,
    10_000,
  );
  if (!subscribed) throw new Error('the subscriptions did not open on the instances within 10 s');

  const list = await queries(tenants, endMs);
  log(
    `load: ${KNOBS.connections} connections over ${list.length} requests; one order every ${KNOBS.writeEveryMs} ms; ${subscribers.length} subscribers`,
  );
  const writer = startWrites(instances, tenants, endMs, KNOBS.writeEveryMs);
  await writer.start();
  const load = startLoad(instances, list, KNOBS.connections);

  const warmS = Math.min(60, Math.max(5, Math.round(KNOBS.seconds / 5)));
  const samples = new Map<number, number[]>(instances.map((s) => [s.pid, []]));
  let warm = new Map<number, number>();
  let warmIndex = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < KNOBS.seconds * 1_000) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const s of instances) samples.get(s.pid)!.push(rssMiB(s.pid));
    const elapsedS = (Date.now() - t0) / 1_000;
    if (warm.size === 0 && elapsedS >= warmS) {
      warm = new Map(instances.map((s) => [s.pid, samples.get(s.pid)!.at(-1)!]));
      warmIndex = samples.get(a.pid)!.length - 1;
      log(`warm-up over: RSS ${instances.map((s) => `${s.name} ${warm.get(s.pid)!.toFixed(0)} MiB`).join(', ')}`);
    }
    if (Math.round(elapsedS) % 30 === 0) log(`${Math.round(elapsedS)} s of ${KNOBS.seconds}`);
  }
  const [outcome, writeProblems] = await Promise.all([load.stop(), writer.stop()]);
  const writes = writer.writes;
  log(`load stopped: ${outcome.requests} requests, ${writes.length} writes`);
  // Not a failure by itself (each is answered from the source), but what explains a stale answer if one shows.
  const storeErrors = await Promise.all(
    instances.map(async (s) => ({
      instance: s.name,
      byOperation: sumBy(await scrapeMetrics(s.origin), 'cache_errors_total', 'operation'),
    })),
  );

  await until(() => subscribers.every((s) => hearing(s, writes).missing === 0), HEAR_TIMEOUT_MS);
  // Anything still in the pipes arrives within a coalescing window or two; a foreign payload too.
  await new Promise((resolve) => setTimeout(resolve, 1_000));

  // The final pass, after every write returned: read-your-writes says each answer now matches the source.
  let compared = 0;
  let differing = 0;
  const problems = [...outcome.problems, ...writeProblems];
  const check = async (q: Query) => {
    const truth = await post(uncached.origin, q.headers, q.body);
    if (!truth.ok || !goodBody(truth.text)) throw new Error(`the uncached instance failed ${q.label}: ${truth.text.slice(0, 300)}`);
    const expected = (JSON.parse(truth.text) as { data: unknown }).data;
    for (const instance of instances) {
      const answer = await post(instance.origin, q.headers, q.body);
      compared += 1;
      const d =
        answer.ok && goodBody(answer.text)
          ? difference(expected, (JSON.parse(answer.text) as { data: unknown }).data)
          : answer.text.slice(0, 200);
      if (d) {
        differing += 1;
        if (differing <= 5) problems.push(`${instance.name} ${q.label} differs from the uncached instance: ${d}`);
      }
    }
  };
  const pending = [...list];
  await Promise.all(
    Array.from({ length: FINAL_PASS_CONNECTIONS }, async () => {
      for (let q = pending.shift(); q; q = pending.shift()) await check(q);
    }),
  );
  log(`final pass: ${compared} answers compared`);

  const rss = instances.map((s) => {
    const list = samples.get(s.pid)!;
    const warmMiB = warm.get(s.pid) ?? list[0]!;
    const endMiB = list.at(-1)!;
    // A cache filling up levels off; a leak keeps its slope: the second half after warm-up tells them apart.
    const midMiB = list[warmIndex + Math.floor((list.length - 1 - warmIndex) / 2)]!;
    return { instance: s.name, warmMiB, endMiB, growthMiB: endMiB - warmMiB, secondHalfMiB: endMiB - midMiB, peakMiB: Math.max(...list) };
  });
  const heard = subscribers.map((s) => ({ name: s.name, ...hearing(s, writes) }));
  const okWrites = writes.filter((w) => w.ok).length;
  const report: SoakReport = {
    seconds: KNOBS.seconds,
    database: source.kind,
    redis: store.kind,
    requests: outcome.requests,
    errors: outcome.errors + (writes.length - okWrites),
    p50Ms: quantile(outcome.latencies, 0.5),
    p99Ms: quantile(outcome.latencies, 0.99),
    writes: { sent: writes.length, ok: okWrites, failed: writes.length - okWrites },
    subscribers: heard,
    rss,
    storeErrors,
    maxRssGrowthMiB: KNOBS.maxRssGrowthMiB,
    answers: { compared, differing },
    problems,
    passed: false,
  };
  report.passed =
    report.errors === 0 &&
    okWrites > 0 &&
    heard.every((h) => h.missing === 0 && h.foreign === 0 && h.expected > 0) &&
    rss.every((r) => r.growthMiB <= KNOBS.maxRssGrowthMiB) &&
    differing === 0;
  return report;
}

function table(report: SoakReport): string {
  const mark = (ok: boolean) => (ok ? 'ok' : 'FAIL');
  const rows: Array<[string, string, string]> = [
    ['duration', `${report.seconds} s`, ''],
    ['database', report.database, ''],
    ['Redis', report.redis, ''],
    ['requests', String(report.requests), ''],
    ['errors (requests + writes)', String(report.errors), mark(report.errors === 0)],
    ['latency p50 / p99', `${report.p50Ms.toFixed(1)} / ${report.p99Ms.toFixed(1)} ms`, ''],
    ['orders written (ok / sent)', `${report.writes.ok} / ${report.writes.sent}`, mark(report.writes.failed === 0 && report.writes.ok > 0)],
    ...report.subscribers.map((s): [string, string, string] => [
      `subscriber ${s.name}`,
      `${s.expected} writes, ${s.heard} events, ${s.missing} missing, ${s.foreign} foreign`,
      mark(s.missing === 0 && s.foreign === 0 && s.expected > 0),
    ]),
    ...report.rss.map((r): [string, string, string] => [
      `RSS ${r.instance}`,
      `${r.warmMiB.toFixed(0)} → ${r.endMiB.toFixed(0)} MiB after warm-up (${r.growthMiB >= 0 ? '+' : ''}${r.growthMiB.toFixed(1)}, bound +${report.maxRssGrowthMiB}; ${r.secondHalfMiB >= 0 ? '+' : ''}${r.secondHalfMiB.toFixed(1)} in its second half; peak ${r.peakMiB.toFixed(0)})`,
      mark(r.growthMiB <= report.maxRssGrowthMiB),
    ]),
    ...report.storeErrors.map((e): [string, string, string] => [
      `cache store errors ${e.instance}`,
      Object.entries(e.byOperation)
        .map(([op, n]) => `${op} ${n}`)
        .join(', ') || 'none',
      '',
    ]),
    [
      'final answers differing from the uncached instance',
      `${report.answers.differing} of ${report.answers.compared}`,
      mark(report.answers.differing === 0),
    ],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const line = (r: [string, string, string]) => `| ${r[0].padEnd(w0)} | ${r[1].padEnd(w1)} | ${r[2].padEnd(5)} |`;
  return [
    line(['what', 'figure', 'check']),
    `|${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 2)}|-------|`,
    ...rows.map(line),
    '',
    ...report.problems.map((p) => `problem: ${p}`),
    report.passed ? 'SOAK PASSED' : 'SOAK FAILED',
  ].join('\n');
}

let code = 2;
try {
  const report = await soak();
  process.stdout.write(`${table(report)}\n`);
  if (KNOBS.report) writeFileSync(KNOBS.report, JSON.stringify(report, null, 2));
  code = report.passed ? 0 : 1;
} catch (error) {
  process.stderr.write(`The soak could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  for (const s of servers) if (s.exited()) process.stderr.write(`${s.name} output:\n${s.output()}\n`);
}
await cleanup();
process.exit(code);
