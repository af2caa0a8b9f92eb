/**
 * `npm run warm -- --tenant acme [--days 30] [--force] [--region EU] [--until <ISO time>]`
 * computes and stores the cached buckets of a tenant over a range ahead of traffic,
 * through the same read-through the server uses: buckets already cached are read,
 * missing ones are computed (one source query per contiguous span) and written back.
 *
 * The range is [until - days, until], its start floored to the hour; `until` is now
 * unless given. It is warmed at every bucket size the stored metrics declare, in the
 * all-regions scope and in each region's (tokens with a region claim read those), or
 * in one region's only with `--region`. `--force` first drops the tenant's entries of
 * the range (every metric, every scope), so that a range is recomputed after its
 * source rows were fixed behind the cache's back.
 *
 * It builds the app from the same environment as the server (DATABASE_URL, REDIS_URL
 * or REDIS_CLUSTER_NODES), never seeds, and does not listen. Exit codes: 0 done, 1 the
 * work failed (store unreachable, store errors, source errors), 2 bad arguments.
 */
import { parseArgs } from 'node:util';
import type { App } from '../app.js';
import { BUCKET_MS, bucketCount, bucketStart, snapWindow, type BucketWindow, type Granularity } from '../cache/buckets.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { parseIsoInstant } from '../domain/iso-time.js';
import { STORED_METRICS, type MetricName } from '../metrics/definitions.js';
import { TOP_PRODUCTS_MAX, type MetricsReader } from '../metrics/service.js';
import type { CacheMetrics } from '../observability/cache-metrics.js';
import { createLogger } from '../observability/logger.js';
import { REGIONS, isRegion, type DataScope, type Region } from '../source/types.js';
import { createWriteSource } from '../source/writes.js';

const USAGE = 'usage: npm run warm -- --tenant <id> [--days 1..400] [--force] [--region EU|NA|APAC] [--until <ISO 8601 time>]';

/**
 * Limits and defaults of the options.
 */
const LIMITS = Object.freeze({
  /** @default 1 */
  minDays: 1,
  /** The longest range a dashboard may ask for (400 days at DAY). @default 400 */
  maxDays: 400,
  /** @default 30 */
  defaultDays: 30,
});

/**
 * Span of one read, per bucket size: a week of hours is what a dashboard typically
 * asks for (168 keys per metric in one MGET, one source query per missing span); days
 * are few enough to read the whole range at once.
 */
const CHUNK_MS: Readonly<Record<Granularity, number | undefined>> = Object.freeze({ HOUR: 7 * BUCKET_MS.DAY, DAY: undefined });

/** Bad arguments: exit code 2, with the usage line. */
class UsageError extends Error {}

/** What to warm, validated. */
interface WarmPlan {
  tenant: string;
  days: number;
  force: boolean;
  /** Scopes to warm: `undefined` is the all-regions scope. */
  regions: Array<Region | undefined>;
  /** Range start: `until - days`, floored to the hour. Epoch ms. */
  from: number;
  /** Range end, exclusive. Epoch ms. */
  until: number;
}

type Read = (reader: MetricsReader, scope: DataScope, window: BucketWindow) => Promise<unknown>;

/** How each stored metric is read through a reader: every stored metric needs one (checked before any work). */
const READS: Readonly<Partial<Record<MetricName, Read>>> = Object.freeze({
  REVENUE: (reader, scope, window) => reader.revenue(scope, window),
  ORDERS: (reader, scope, window) => reader.orders(scope, window),
  SESSIONS: (reader, scope, window) => reader.sessions(scope, window),
  CUSTOMERS: (reader, scope, window) => reader.customers(scope, window),
  TOP_PRODUCTS: (reader, scope, window) => reader.topProducts(scope, window, TOP_PRODUCTS_MAX),
});

function parsePlan(argv: string[], now: number): WarmPlan {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        tenant: { type: 'string' },
        days: { type: 'string', default: String(LIMITS.defaultDays) },
        force: { type: 'boolean', default: false },
        region: { type: 'string' },
        until: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const tenant = values.tenant?.trim();
  if (!tenant) throw new UsageError(`--tenant is required: the id of the tenant to warm, e.g. --tenant acme\n${USAGE}`);
  const days = /^\d+$/.test(values.days) ? Number(values.days) : NaN;
  if (!(days >= LIMITS.minDays && days <= LIMITS.maxDays)) {
    throw new UsageError(`--days must be a whole number from ${LIMITS.minDays} to ${LIMITS.maxDays}, got "${values.days}"\n${USAGE}`);
  }
  let regions: Array<Region | undefined> = [undefined, ...REGIONS];
  if (values.region !== undefined) {
    const region = values.region.toUpperCase();
    if (!isRegion(region)) throw new UsageError(`--region must be one of ${REGIONS.join(', ')}, got "${values.region}"\n${USAGE}`);
    regions = [region];
  }
  let until = now;
  if (values.until !== undefined) {
    const parsed = parseIsoInstant(values.until);
    if (parsed === undefined || parsed > now) {
      throw new UsageError(`--until must be an ISO 8601 time not after now, e.g. 2026-11-30T00:00:00Z, got "${values.until}"\n${USAGE}`);
    }
    until = parsed;
  }
  return { tenant, days, force: values.force, regions, from: bucketStart(until - days * BUCKET_MS.DAY, 'HOUR'), until };
}

/** One read: a scope over one window (a chunk of the range at one bucket size). */
interface Step {
  scope: DataScope;
  window: BucketWindow;
}

/** The reads that cover the range: per scope, per bucket size, chunk by chunk. */
function stepsOf(plan: WarmPlan, granularities: readonly Granularity[]): Step[] {
  const steps: Step[] = [];
  for (const region of plan.regions) {
    const scope: DataScope = { tenant: plan.tenant, region };
    for (const granularity of granularities) {
      const chunk = CHUNK_MS[granularity] ?? plan.until - plan.from;
      for (let from = plan.from; from < plan.until; from += chunk) {
        steps.push({ scope, window: snapWindow(from, Math.min(from + chunk, plan.until), granularity) });
      }
    }
  }
  return steps;
}

/** A bar on a terminal; a line every 10% otherwise (logs, CI). */
function createProgress(label: string, total: number, stream: NodeJS.WriteStream) {
  const tty = stream.isTTY === true;
  const width = 30;
  let done = 0;
  let lastTenth = 0;
  return {
    advance(units: number, what: string) {
      done += units;
      const ratio = total === 0 ? 1 : Math.min(1, done / total);
      if (tty) {
        const filled = Math.round(ratio * width);
        const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${what}`;
        stream.write(`\r\x1b[2K${line.slice(0, Math.max(20, (stream.columns || 80) - 1))}`);
      } else {
        const tenth = Math.floor(ratio * 10);
        if (tenth > lastTenth) {
          lastTenth = tenth;
          stream.write(`${label}: ${tenth * 10}% (${done} of ${total} bucket reads)\n`);
        }
      }
    },
    end() {
      if (tty) stream.write('\r\x1b[2K');
    },
  };
}

/** Totals of the cache counters that the summary compares before and after. */
async function counters(metrics: CacheMetrics): Promise<{ computed: number; cached: number; errors: number }> {
  const { recomputes, requests, errors } = metrics.instruments;
  const [r, q, e] = await Promise.all([recomputes.get(), requests.get(), errors.get()]);
  const sum = (values: ReadonlyArray<{ value: number }>) => values.reduce((n, v) => n + v.value, 0);
  return { computed: sum(r.values), cached: sum(q.values.filter((v) => v.labels.result === 'hit')), errors: sum(e.values) };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const iso = (ms: number) => new Date(ms).toISOString();

async function warm(app: App, plan: WarmPlan): Promise<number> {
  const missing = STORED_METRICS.filter((m) => !READS[m.name]);
  if (missing.length) {
    throw new Error(`warm: no read declared for stored metric(s) ${missing.map((m) => m.name).join(', ')}; add them to READS in src/cli/warm.ts`);
  }
  // It reads without a role, which warms every role's entries only while no metric's
  // value differs by role (none does today).
  const byRole = STORED_METRICS.filter((m) => m.scope.role);
  if (byRole.length) {
    throw new Error(`warm: ${byRole.map((m) => m.name).join(', ')} keyed by role; src/cli/warm.ts reads without one and must be taught the roles first`);
  }
  if (app.config.store.kind === 'memory') {
    process.stderr.write(
      'warning: no REDIS_URL or REDIS_CLUSTER_NODES: the cache is this process\'s memory and dies with it, so this warms nothing a server will read. ' +
        'Set REDIS_URL (or REDIS_CLUSTER_NODES) to the store the servers share.\n',
    );
  } else if (!(await app.store.ping())) {
    throw new Error(`the cache store (${app.config.store.kind}) does not answer: nothing would be stored. Check REDIS_URL / REDIS_CLUSTER_NODES.`);
  }
  if (!(await createWriteSource(app.database).tenant(plan.tenant))) {
    throw new UsageError(`--tenant: no tenant "${plan.tenant}" in the database of DATABASE_URL`);
  }

  const started = performance.now();
  const before = await counters(app.cacheMetrics);
  if (plan.force) {
    const dropped = await app.invalidation.manual(plan.tenant, undefined, { from: plan.from, to: plan.until });
    if ((await counters(app.cacheMetrics)).errors > before.errors) {
      throw new Error('--force: the cache store failed while dropping the range; entries that were not dropped would be read, not recomputed. Nothing was warmed.');
    }
    process.stdout.write(`dropped ${plural(dropped, 'cached entry', 'cached entries')} of ${plan.tenant} from ${iso(plan.from)} to ${iso(plan.until)}\n`);
  }

  const granularities = [...new Set(STORED_METRICS.flatMap((m) => m.granularities))];
  const steps = stepsOf(plan, granularities);
  const total = steps.reduce((n, s) => n + bucketCount(s.window), 0) * STORED_METRICS.length;
  const label = `warming ${plan.tenant}`;
  process.stderr.write(`${label} from ${iso(plan.from)} to ${iso(plan.until)}: ${plural(plan.regions.length, 'scope', 'scopes')} × ${granularities.join(', ')}\n`);
  const progress = createProgress(label, total, process.stderr);
  try {
    for (const step of steps) {
      // A fresh reader per step, as per request: its memo and loader live no longer, and
      // its five reads go to the store as one batch.
      const reader = app.metrics.reader();
      await Promise.all(STORED_METRICS.map((m) => READS[m.name]!(reader, step.scope, step.window)));
      progress.advance(bucketCount(step.window) * STORED_METRICS.length, `${step.scope.region ?? 'all regions'} ${step.window.granularity} ${iso(step.window.from).slice(0, 10)}`);
    }
  } finally {
    progress.end();
  }
  // Stale entries were served and refreshed behind the read: count those refreshes too.
  await app.cache.idle();
  const after = await counters(app.cacheMetrics);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `warmed ${plan.tenant}: ${plural(plan.regions.length, 'scope', 'scopes')} × ${plural(granularities.length, 'granularity', 'granularities')}, ` +
      `${plural(plan.days, 'day', 'days')}; ${after.computed - before.computed} buckets computed, ${after.cached - before.cached} already cached, in ${seconds} s\n`,
  );
  const errors = after.errors - before.errors;
  if (errors > 0) {
    process.stderr.write(`error: the cache store failed ${plural(errors, 'time', 'times')}; the buckets of those commands were computed but may not be stored. Run again once the store answers.\n`);
    return 1;
  }
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const plan = parsePlan(argv, Date.now());
  // Loaded once the arguments are good, so that a typo fails at once, not after the
  // whole service (GraphQL schema and all) has been loaded.
  const { createApp } = await import('../app.js');
  // Logs on stderr: stdout carries only the summary, for scripts.
  const app = await createApp(loadConfig(), { logger: createLogger('warn', process.stderr), seed: false, consumeEvents: false });
  try {
    return await warm(app, plan);
  } finally {
    await app.cache.idle();
    await app.close();
  }
}

// Exit with the command's code once the app is closed.
run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${error instanceof ConfigError ? `Cannot warm: ${message}` : message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
