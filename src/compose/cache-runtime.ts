/**
 * The cache runtime: everything the service needs to read and drop cached metrics,
 * and nothing of GraphQL or HTTP — the store (memory, Redis or Cluster) behind its
 * breaker, the read-through core, the metrics service over the declarations,
 * invalidation, the whole-response layer when it is on, and the Prometheus registry
 * that counts it all. `npm run warm` builds this part alone.
 */
import type { Registry } from 'prom-client';
import { createInvalidator } from '../cache/invalidation.js';
import { tenantPrefix } from '../cache/keys.js';
import { createLocalTier } from '../cache/local-tier.js';
import { createMemoryStore } from '../cache/memory-store.js';
import { createCacheCore, type CacheCore } from '../cache/read-through.js';
import { createClusterStore, createRedisStore } from '../cache/redis-store.js';
import { createResilientStore, type ResilientStore } from '../cache/resilient-store.js';
import type { CacheStore } from '../cache/store.js';
import type { Config } from '../config/index.js';
import type { InvalidationNotice } from '../events/notices.js';
import type { Plugin } from 'graphql-yoga';
import { createResponseCache } from '../graphql/plugins/response-cache.js';
import { createInvalidationService, type InvalidationService } from '../metrics/invalidation-service.js';
import { DASHBOARD_REGISTRY, type MetricRegistry } from '../metrics/registry.js';
import { createMetricsService, type MetricsService } from '../metrics/service.js';
import { createCacheMetrics, observeLocalTier, type CacheMetrics } from '../observability/cache-metrics.js';
import type { Logger } from '../observability/logger.js';
import { createRegistry } from '../observability/registry.js';
import type { AggregateSource } from '../source/aggregates.js';
import type { Lifecycle } from './lifecycle.js';

/** The cache runtime once open. */
export interface CacheRuntime {
  /** Prometheus registry of the process: the cache's instruments and everyone else's. */
  registry: Registry;
  cacheMetrics: CacheMetrics;
  store: ResilientStore;
  core: CacheCore;
  metrics: MetricsService;
  invalidation: InvalidationService;
  /** The whole-response layer (a yoga plugin), unless RESPONSE_CACHE_TTL_MS=0 or the tier is off. */
  responseCache: Plugin | undefined;
}

/** What the cache runtime is built with, beside the config. */
export interface CacheRuntimeOptions {
  logger: Logger;
  clock: () => number;
  aggregates: AggregateSource;
  /** @default the dashboard's metrics */
  metrics?: MetricRegistry | undefined;
  /** `false` serves every bucket straight from the source (benchmarks, equivalence checks). @default true */
  cached?: boolean | undefined;
  /**
   * Wraps the source the metrics service reads, with the runtime's Prometheus registry
   * at hand (a benchmark counts its queries this way). @default none
   */
  wrapAggregates?: ((aggregates: AggregateSource, registry: Registry) => AggregateSource) | undefined;
  /** Hears every invalidation once its entries are dropped (subscribers' notices); not awaited. */
  notify?: ((notice: InvalidationNotice) => void) | undefined;
  /**
   * Every instance's notices as they arrive: in the bounded-staleness mode, a tenant's
   * validators are read again once one about it arrives.
   */
  listen?: ((listener: (notice: InvalidationNotice) => void) => () => void) | undefined;
}

/** Opens the store (waiting for its first connection) and composes the cache around it. */
export async function openCacheRuntime(config: Config, options: CacheRuntimeOptions, lifecycle: Lifecycle): Promise<CacheRuntime> {
  const { logger, clock } = options;
  const registry = createRegistry();
  const cacheMetrics = createCacheMetrics(registry, logger);
  const store = createResilientStore(createStore(config), {
    failureThreshold: config.cache.breakerThreshold,
    cooldownMs: config.cache.breakerCooldownMs,
    observer: cacheMetrics,
  });
  lifecycle.defer('cache store', () => store.close());
  // Wait for the first connection (bounded by the connect timeout) so that the first
  // requests do not count a store that is merely still connecting as failed.
  if (!(await store.ping())) logger.warn({ store: store.kind }, 'cache store not reachable at start; serving from the source until it is');

  // The in-process tier of decoded buckets; with the memory store too, where it saves
  // decoding every entry on every read. An uncached app reads nothing through it: none.
  const local =
    config.cache.localMaxBytes > 0 && options.cached !== false
      ? createLocalTier({ maxBytes: config.cache.localMaxBytes, clock })
      : undefined;
  if (local) observeLocalTier(registry, local);
  const core = createCacheCore({
    store,
    observer: cacheMetrics,
    clock,
    lock: { ttlMs: config.cache.lockTtlMs, waitMs: config.cache.lockWaitMs },
    local,
    staleIfErrorMs: config.cache.staleIfErrorMs,
    stalenessBoundMs: config.cache.stalenessBoundMs,
  });
  // Background refreshes finish before the store closes (registered after it: closes first),
  // and the span locks of requests the stop cut are released rather than left to their TTL.
  lifecycle.defer('cache refreshes', () => {
    core.releaseHeld();
    return core.idle();
  });
  const space = { prefix: config.cache.keyPrefix, cacheVersion: config.cache.version };
  if (config.cache.stalenessBoundMs > 0 && options.listen) {
    const stop = options.listen((notice) => core.forgetValidators(tenantPrefix({ ...space, tenant: notice.tenant })));
    lifecycle.defer('notices to the validators', async () => stop());
  }
  // Whole responses live in the tier, validated like its buckets: without a tier, or uncached, there are none.
  const responseCache =
    config.responseCacheTtlMs > 0 && local
      ? createResponseCache({
          // Its lookups share the turn's validator read with the requests on the field path.
          store: core.validatorReads,
          tier: local,
          ...space,
          secret: config.auth.jwtSecret,
          maxLifeMs: config.responseCacheTtlMs,
          describe: config.env !== 'production',
          clock,
          observer: cacheMetrics.responses,
        })
      : undefined;
  const registryOfMetrics = options.metrics ?? DASHBOARD_REGISTRY;
  const invalidator = createInvalidator(
    store,
    cacheMetrics,
    clock,
    config.cache.lockTtlMs,
    (keys) => core.forget(keys),
    (validators) => validators.forEach((key) => core.forgetValidators(key)),
  );
  // Before the store closes (closers run newest first): failed drops are no longer sent again.
  lifecycle.defer('drop retries', () => invalidator.stop());
  const invalidation = createInvalidationService({
    space,
    invalidator,
    registry: registryOfMetrics,
    clock,
    notify: options.notify,
  });
  const aggregates = options.wrapAggregates ? options.wrapAggregates(options.aggregates, registry) : options.aggregates;
  const metrics = createMetricsService(aggregates, options.cached === false ? undefined : { core, ...space }, registryOfMetrics, clock);
  return { registry, cacheMetrics, store, core, metrics, invalidation, responseCache };
}

/** The store named by the config. */
function createStore(config: Config): CacheStore {
  const options = { commandTimeoutMs: config.cache.commandTimeoutMs };
  switch (config.store.kind) {
    case 'memory':
      return createMemoryStore({ maxEntries: config.cache.memoryMaxEntries, maxBytes: config.cache.memoryMaxBytes });
    case 'redis':
      return createRedisStore(config.store.url, options);
    case 'cluster':
      return createClusterStore(config.store.nodes, options);
  }
}
