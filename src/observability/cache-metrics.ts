/**
 * The contract's cache metrics (CONTRACT.md, "Prometheus metrics"), fed by the cache
 * core through the CacheObserver interface. Labels are fixed and bounded: a metric
 * name, a lookup result, a reason or a store operation; never a tenant.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LocalTier } from '../cache/local-tier.js';
import type { CacheObserver } from '../cache/observer.js';
import type { Logger } from './logger.js';

/** The cache observer that counts into Prometheus (`cache_*` metrics), and its instruments. */
export interface CacheMetrics extends CacheObserver {
  /** The instruments themselves, for tests and derived metrics. */
  readonly instruments: {
    requests: Counter<'metric' | 'result'>;
    recomputes: Counter<'metric'>;
    sourceQueries: Counter<'metric'>;
    recomputeDuration: Histogram<'metric'>;
    staleServed: Counter<'metric'>;
    staleIfError: Counter<'metric'>;
    sourceErrors: Counter<'metric'>;
    lockWaits: Counter<'metric'>;
    invalidations: Counter<'metric' | 'reason'>;
    errors: Counter<'operation'>;
    storeDuration: Histogram<'operation'>;
    responseLookups: Counter<'result'>;
  };
  /** Counts the whole-response layer's lookups (graphql/plugins/response-cache.ts). */
  readonly responses: { lookup(result: 'hit' | 'stale' | 'joined' | 'changed' | 'miss'): void; staleServed(metric: string): void };
}

/**
 * Registers the `cache_*` instruments in `registry` (once per registry: prom-client
 * refuses a second registration). With a `logger`, store failures are logged, at most one
 * line a second.
 */
export function createCacheMetrics(registry: Registry, logger?: Logger): CacheMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'cache_requests_total',
    help: 'Bucket lookups by result (hit, miss, stale)',
    labelNames: ['metric', 'result'] as const,
    registers,
  });
  const recomputes = new Counter({
    name: 'cache_recomputes_total',
    help: 'Buckets computed from the source',
    labelNames: ['metric'] as const,
    registers,
  });
  const sourceQueries = new Counter({
    name: 'cache_source_queries_total',
    help: 'Queries sent to the source database',
    labelNames: ['metric'] as const,
    registers,
  });
  const recomputeDuration = new Histogram({
    name: 'cache_recompute_duration_seconds',
    help: 'Duration of source computations of a span of buckets',
    labelNames: ['metric'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const staleServed = new Counter({
    name: 'cache_stale_served_total',
    help: 'Stale values served while a refresh runs',
    labelNames: ['metric'] as const,
    registers,
  });
  const staleIfError = new Counter({
    name: 'cache_stale_if_error_total',
    help: 'Stale values served past their stale window because the source failed (stale-if-error); also counted in cache_stale_served_total',
    labelNames: ['metric'] as const,
    registers,
  });
  const sourceErrors = new Counter({
    name: 'cache_source_errors_total',
    help: 'Computations from the source database that failed (served stale where the cache held the buckets, else SERVICE_UNAVAILABLE)',
    labelNames: ['metric'] as const,
    registers,
  });
  const lockWaits = new Counter({
    name: 'cache_lock_waits_total',
    help: "Lookups that waited on another worker's lock",
    labelNames: ['metric'] as const,
    registers,
  });
  const invalidations = new Counter({
    name: 'cache_invalidations_total',
    help: 'Buckets dropped, by reason',
    labelNames: ['metric', 'reason'] as const,
    registers,
  });
  const storeDuration = new Histogram({
    name: 'cache_store_command_duration_seconds',
    help: 'Latency of cache store commands by operation, failed ones included',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const errors = new Counter({
    name: 'cache_errors_total',
    help: 'Cache store failures, each served from the source instead',
    labelNames: ['operation'] as const,
    registers,
  });

  const responseLookups = new Counter({
    name: 'cache_response_lookups_total',
    help: 'Whole-response lookups: hit (served fresh), stale (served stale while one request refreshes it), joined (served what a concurrent execution made), changed (a validator moved), miss (none kept)',
    labelNames: ['result'] as const,
    registers,
  });

  // A dead store fails every request; one log line per second is enough to see it.
  let lastLogged = 0;
  // The same for a dead source database.
  let lastSourceLogged = 0;
  return {
    instruments: {
      requests,
      recomputes,
      sourceQueries,
      recomputeDuration,
      staleServed,
      staleIfError,
      sourceErrors,
      lockWaits,
      invalidations,
      errors,
      storeDuration,
      responseLookups,
    },
    responses: { lookup: (result) => responseLookups.inc({ result }), staleServed: (metric) => staleServed.inc({ metric }) },
    storeCommand: (operation, durationMs) => storeDuration.observe({ operation }, durationMs / 1000),
    lookup: (metric, result, count = 1) => requests.inc({ metric, result }, count),
    recomputed(metric, buckets, durationMs) {
      recomputes.inc({ metric }, buckets);
      recomputeDuration.observe({ metric }, durationMs / 1000);
    },
    sourceQuery: (metric) => sourceQueries.inc({ metric }),
    staleServed: (metric, count = 1) => staleServed.inc({ metric }, count),
    staleIfError: (metric, count) => staleIfError.inc({ metric }, count),
    sourceFailed(metric, error) {
      sourceErrors.inc({ metric });
      const now = Date.now();
      if (logger && now - lastSourceLogged > 1_000) {
        lastSourceLogged = now;
        logger.warn(
          { metric, err: error },
          'source database failed; serving what the cache holds (stale-if-error), else SERVICE_UNAVAILABLE',
        );
      }
    },
    lockWaited: (metric) => lockWaits.inc({ metric }),
    invalidated: (metric, reason, count) => invalidations.inc({ metric, reason }, count),
    storeError(operation, error) {
      errors.inc({ operation });
      const now = Date.now();
      if (logger && now - lastLogged > 1_000) {
        lastLogged = now;
        logger.warn({ operation, err: error }, 'cache store failed; serving from the source');
      }
    },
  };
}

/**
 * `cache_local_bytes{kind}`: what the in-process tier holds now (`held`), the most it has
 * held at once since the process started (`peak`), and its bound (`bound`,
 * `CACHE_LOCAL_MAX_BYTES`). Read when scraped.
 */
export function observeLocalTier(registry: Registry, tier: Pick<LocalTier, 'bytes' | 'peakBytes' | 'maxBytes'>): void {
  new Gauge({
    name: 'cache_local_bytes',
    help: 'Bytes of the in-process tier: held now, the peak since start, and its bound (CACHE_LOCAL_MAX_BYTES)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.set({ kind: 'held' }, tier.bytes());
      this.set({ kind: 'peak' }, tier.peakBytes());
      this.set({ kind: 'bound' }, tier.maxBytes);
    },
  });
}
