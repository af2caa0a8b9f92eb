/**
 * Warming, as a library: the plan of `npm run warm` (parsed and validated), and the
 * work itself over a source and a cache runtime. src/cli/warm.ts is the command;
 * tests call these directly with metric declarations of their own.
 */
import { parseArgs } from 'node:util';
import { ROLES } from '../auth/identity.js';
import { BUCKET_MS, bucketCount, bucketStart, snapWindow, type BucketWindow, type Granularity } from '../cache/buckets.js';
import { openCacheRuntime, type CacheRuntime } from '../compose/cache-runtime.js';
import { openAll } from '../compose/lifecycle.js';
import { openSource, type SourcePart } from '../compose/source.js';
import type { Config } from '../config/index.js';
import { parseIsoInstant } from '../domain/iso-time.js';
import { publishNotice } from '../events/notices.js';
import { connectRedis } from '../events/redis-clients.js';
import type { StoredMetric } from '../metrics/define.js';
import type { CacheMetrics } from '../observability/cache-metrics.js';
import type { Logger } from '../observability/logger.js';
import { REGIONS, isRegion, type DataScope, type Region } from '../source/types.js';

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
export class UsageError extends Error {}

/** What to warm, validated. */
export interface WarmPlan {
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

/**
 * Reads `npm run warm`'s arguments: `--tenant` (required), `--days` (1 to 400, default
 * 30), `--force`, `--region` (default: the all-regions scope, then each region) and
 * `--until` (an ISO 8601 time not after `now`; default `now`). `now` is epoch ms.
 * @throws UsageError naming the bad argument, with the usage line.
 */
export function parsePlan(argv: string[], now: number): WarmPlan {
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

/** What warming works with: the config, the source, and the cache runtime over the declarations. */
export interface WarmTarget {
  config: Config;
  source: SourcePart;
  cache: CacheRuntime;
}

/** The reads per step: every stored metric, once per role for one keyed by role. */
function readsOf(metrics: readonly StoredMetric[]): Array<{ metric: StoredMetric; role: string | undefined }> {
  return metrics.flatMap((metric) => (metric.scope.role ? [...ROLES] : [undefined]).map((role: string | undefined) => ({ metric, role })));
}

/**
 * Warms `plan` through the target's cache: reports on `out` (the summary) and `err`
 * (progress, warnings). Resolves with the exit code.
 * @throws UsageError for a tenant the database does not have; Error when the store is unreachable.
 */
export async function warm(
  target: WarmTarget,
  plan: WarmPlan,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): Promise<number> {
  const { config, source, cache } = target;
  const stored = cache.metrics.registry.stored;
  if (config.store.kind === 'memory') {
    err.write(
      "warning: no REDIS_URL or REDIS_CLUSTER_NODES: the cache is this process's memory and dies with it, so this warms nothing a server will read. " +
        'Set REDIS_URL (or REDIS_CLUSTER_NODES) to the store the servers share.\n',
    );
  } else if (!(await cache.store.ping())) {
    throw new Error(
      `the cache store (${config.store.kind}) does not answer: nothing would be stored. Check REDIS_URL / REDIS_CLUSTER_NODES.`,
    );
  }
  if (!(await source.writes.tenant(plan.tenant))) {
    throw new UsageError(`--tenant: no tenant "${plan.tenant}" in the database of DATABASE_URL`);
  }

  const started = performance.now();
  const before = await counters(cache.cacheMetrics);
  if (plan.force) {
    const dropped = await cache.invalidation.manual(plan.tenant, undefined, { from: plan.from, to: plan.until });
    if ((await counters(cache.cacheMetrics)).errors > before.errors) {
      throw new Error(
        '--force: the cache store failed while dropping the range; entries that were not dropped would be read, not recomputed. Nothing was warmed.',
      );
    }
    out.write(
      `dropped ${plural(dropped, 'cached entry', 'cached entries')} of ${plan.tenant} from ${iso(plan.from)} to ${iso(plan.until)}\n`,
    );
  }

  const granularities = [...new Set(stored.flatMap((m) => m.granularities))];
  const reads = readsOf(stored);
  const steps = stepsOf(plan, granularities);
  const total = steps.reduce(
    (n, s) => n + bucketCount(s.window) * reads.filter((r) => r.metric.granularities.includes(s.window.granularity)).length,
    0,
  );
  const label = `warming ${plan.tenant}`;
  err.write(
    `${label} from ${iso(plan.from)} to ${iso(plan.until)}: ${plural(plan.regions.length, 'scope', 'scopes')} × ${granularities.join(', ')}\n`,
  );
  const progress = createProgress(label, total, err);
  try {
    for (const step of steps) {
      const due = reads.filter((r) => r.metric.granularities.includes(step.window.granularity));
      // A fresh reader per step and role, as per request: its memo and loader live no
      // longer, and its reads go to the store as one batch.
      const readers = new Map<string | undefined, ReturnType<typeof cache.metrics.reader>>();
      const readerFor = (role: string | undefined) => readers.get(role) ?? readers.set(role, cache.metrics.reader(role)).get(role)!;
      await Promise.all(due.map(({ metric, role }) => readerFor(role).prefetch(metric, step.scope, step.window)));
      progress.advance(
        bucketCount(step.window) * due.length,
        `${step.scope.region ?? 'all regions'} ${step.window.granularity} ${iso(step.window.from).slice(0, 10)}`,
      );
    }
  } finally {
    progress.end();
  }
  // Stale entries were served and refreshed behind the read: count those refreshes too.
  await cache.core.idle();
  const after = await counters(cache.cacheMetrics);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  out.write(
    `warmed ${plan.tenant}: ${plural(plan.regions.length, 'scope', 'scopes')} × ${plural(granularities.length, 'granularity', 'granularities')}, ` +
      `${plural(plan.days, 'day', 'days')}; ${after.computed - before.computed} buckets computed, ${after.cached - before.cached} already cached, in ${seconds} s\n`,
  );
  const errors = after.errors - before.errors;
  if (errors > 0) {
    err.write(
      `error: the cache store failed ${plural(errors, 'time', 'times')}; the buckets of those commands were computed but may not be stored. Run again once the store answers.\n`,
    );
    return 1;
  }
  return 0;
}

/** Opens the source and the cache runtime alone (and a pub/sub publisher for `--force` notices), runs `work`, closes them. */
export async function withWarmTarget<T>(config: Config, logger: Logger, work: (target: WarmTarget) => Promise<T>): Promise<T> {
  const { value: target, lifecycle } = await openAll(logger, async (lifecycle) => {
    const source = await openSource(config, { logger, seed: false }, lifecycle);
    const publisher = connectRedis(config.store, 'publish');
    if (publisher) lifecycle.defer('pub/sub publisher', () => publisher.disconnect());
    const cache = await openCacheRuntime(
      config,
      {
        logger,
        clock: Date.now,
        aggregates: source.aggregates,
        notify: publisher
          ? (notice) =>
              void publishNotice(publisher, notice).catch((error) =>
                logger.warn({ err: error }, 'could not tell subscribers about the drop'),
              )
          : undefined,
      },
      lifecycle,
    );
    return { config, source, cache };
  });
  try {
    return await work(target);
  } finally {
    await lifecycle.close();
  }
}
