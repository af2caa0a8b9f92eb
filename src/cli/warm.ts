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
 * What it reads follows from the metric declarations: every stored metric, at every
 * bucket size it declares, and once per role for a metric keyed by role.
 *
 * It builds the source and the cache runtime alone from the same environment as the
 * server (DATABASE_URL, REDIS_URL or REDIS_CLUSTER_NODES) — no schema, no HTTP, no
 * stream consumer — never seeds, and tells subscribers of a `--force` drop over
 * pub/sub like a server would. Exit codes: 0 done, 1 the work failed (store
 * unreachable, store errors, source errors), 2 bad arguments.
 */
import { ConfigError, loadConfig } from '../config/index.js';
import { createLogger } from '../observability/logger.js';
import { parsePlan, UsageError, warm, withWarmTarget } from './warmer.js';

async function run(argv: string[]): Promise<number> {
  const plan = parsePlan(argv, Date.now());
  // Logs on stderr: stdout carries only the summary, for scripts.
  return withWarmTarget(loadConfig(), createLogger('warn', process.stderr), (target) => warm(target, plan));
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
