/**
 * The composition root: config → source → notices → cache runtime → ingest →
 * server. Each part (src/compose/) registers its closer as it opens, so a start that
 * fails half-way closes exactly what had opened, and `close` stops everything in
 * reverse order. `main.ts` and the tests both build through here.
 */
import type { Registry } from 'prom-client';
import type { CacheCore } from './cache/read-through.js';
import type { ResilientStore } from './cache/resilient-store.js';
import type { Plugin } from 'graphql-yoga';
import { openCacheRuntime, type CacheRuntimeOptions } from './compose/cache-runtime.js';
import { openIngest, openNotices } from './compose/events.js';
import { openAll } from './compose/lifecycle.js';
import { openServer } from './compose/server.js';
import { openSource } from './compose/source.js';
import type { Config } from './config/index.js';
import { createCurrencyLookup } from './domain/tenant-currency.js';
import type { SubscriptionHub } from './events/hub.js';
import type { StreamConsumer } from './events/stream-consumer.js';
import type { DashboardYoga } from './graphql/yoga.js';
import type { HttpServer } from './http/server.js';
import type { InvalidationService } from './metrics/invalidation-service.js';
import { DASHBOARD_REGISTRY, type MetricRegistry } from './metrics/registry.js';
import type { MetricsService } from './metrics/service.js';
import type { CacheMetrics } from './observability/cache-metrics.js';
import { createFxMetrics } from './observability/fx-metrics.js';
import type { Logger } from './observability/logger.js';
import type { Database } from './source/database.js';
import type { SeedOptions } from './source/seed.js';
import { createStaticRates } from './vendors/fx.js';
import { createCachedVendorRates } from './vendors/fx-cached.js';

/** How `createApp` builds the service, beyond the config: what it would not read from the environment. */
export interface AppOptions {
  /** Where every part logs. */
  logger: Logger;
  /** Epoch ms now. @default Date.now */
  clock?: (() => number) | undefined;
  /**
   * Demo data to write when the database is empty; `false` writes none.
   * @default the contract's demo data (90 days, scale 1)
   */
  seed?: SeedOptions | false | undefined;
  /**
   * `false` serves every bucket straight from the source, for benchmarks and for
   * checking that cached results equal uncached ones. Not a configuration setting.
   * @default true
   */
  cache?: boolean | undefined;
  /**
   * `false` leaves the event stream to the servers: for tools that build the app for
   * a few seconds. @default true
   */
  consumeEvents?: boolean | undefined;
  /** The metric declarations served. @default the dashboard's (src/metrics/definitions.ts) */
  metrics?: MetricRegistry | undefined;
  /** The SDL, when the declarations need more than schema/ has (tests). @default schema/*.graphql */
  typeDefs?: string | undefined;
  /** More yoga plugins, after ours (a benchmark's whole-response cache). @default none */
  plugins?: Plugin[] | undefined;
  /** Wraps the source the metrics read, given the app's Prometheus registry (a benchmark's query counter). @default none */
  wrapAggregates?: CacheRuntimeOptions['wrapAggregates'];
}

/**
 * The running service: its parts, exposed for main.ts, the CLI tools and the tests, and
 * `listen`/`close`. Nothing listens until `listen` is called.
 */
export interface App {
  readonly config: Config;
  readonly database: Database;
  readonly yoga: DashboardYoga;
  readonly http: HttpServer;
  readonly registry: Registry;
  readonly store: ResilientStore;
  readonly cache: CacheCore;
  readonly cacheMetrics: CacheMetrics;
  readonly invalidation: InvalidationService;
  readonly metrics: MetricsService;
  readonly hub: SubscriptionHub;
  /** Reads dashboard:events; only when the store is Redis or a cluster. */
  readonly consumer: StreamConsumer | undefined;
  /** Binds config.port (or `port`) and resolves with the port bound. */
  listen(port?: number): Promise<number>;
  /**
   * Graceful stop (README, "Stopping"): no new connections or stream entries; subscriptions
   * completed; in-flight requests and the stream entries in hand finished; then events,
   * the cache (lock releases sent), and the database last.
   */
  close(): Promise<void>;
}

/**
 * Opens every part of the service. On failure, whatever had opened is closed before
 * the error is rethrown.
 */
export async function createApp(config: Config, options: AppOptions): Promise<App> {
  const { logger } = options;
  const clock = options.clock ?? Date.now;
  const registryOfMetrics = options.metrics ?? DASHBOARD_REGISTRY;

  const { value, lifecycle } = await openAll(logger, async (lifecycle) => {
    const source = await openSource(config, { logger, seed: options.seed }, lifecycle);
    const notices = await openNotices(config, { logger, clock, metricOrder: registryOfMetrics.all.map((m) => m.name) }, lifecycle);
    const cache = await openCacheRuntime(
      config,
      {
        logger,
        clock,
        aggregates: source.aggregates,
        wrapAggregates: options.wrapAggregates,
        metrics: registryOfMetrics,
        cached: options.cache,
        notify: notices.notify,
        listen: notices.listen,
      },
      lifecycle,
    );
    const ingest = await openIngest(
      config,
      {
        logger,
        clock,
        registry: cache.registry,
        writes: source.writes,
        invalidation: cache.invalidation,
        hub: notices.hub,
        consumeEvents: options.consumeEvents,
      },
      lifecycle,
    );
    const fx = config.fx.apiUrl
      ? createCachedVendorRates({
          apiUrl: config.fx.apiUrl,
          ttlMs: config.fx.ttlMs,
          timeoutMs: config.fx.timeoutMs,
          store: cache.store,
          prefix: config.cache.keyPrefix,
          cacheVersion: config.cache.version,
          logger,
          clock,
          observer: createFxMetrics(cache.registry),
        })
      : createStaticRates();
    const server = openServer(
      config,
      {
        logger,
        registry: cache.registry,
        metrics: cache.metrics,
        database: source.database,
        store: cache.store,
        typeDefs: options.typeDefs,
        plugins: [...(cache.responseCache ? [cache.responseCache] : []), ...(options.plugins ?? [])],
        services: {
          currencyOf: createCurrencyLookup(source.writes, clock),
          invalidation: cache.invalidation,
          hub: notices.hub,
          writes: source.writes,
          bus: ingest.bus,
          clock,
          recorder: ingest.recorder,
          fx,
        },
      },
      lifecycle,
    );
    return { source, notices, cache, ingest, server };
  });

  const { source, notices, cache, ingest, server } = value;
  return {
    config,
    database: source.database,
    yoga: server.yoga,
    http: server.http,
    registry: cache.registry,
    store: cache.store,
    cache: cache.core,
    cacheMetrics: cache.cacheMetrics,
    invalidation: cache.invalidation,
    metrics: cache.metrics,
    hub: notices.hub,
    consumer: ingest.consumer,
    listen: (port) => server.http.listen(port ?? config.port, config.host),
    async close() {
      // Stop taking work at once, on both doors: the HTTP server refuses new connections
      // and the stream consumer reads no new entries, while what each has in hand
      // finishes (bounded by SHUTDOWN_TIMEOUT_MS). Then everything closes, newest first.
      await Promise.allSettled([server.http.close(), ingest.consumer?.stop()]);
      await lifecycle.close();
    },
  };
}
