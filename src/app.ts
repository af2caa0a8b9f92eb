/**
 * Composes the service from a config: source → writes and aggregates → metrics →
 * GraphQL → HTTP. `main.ts` and the tests both build through here.
 */
import { signToken } from './auth/identity.js';
import type { Config } from './config/index.js';
import { createRecorder } from './domain/recorder.js';
import { createEventBus } from './events/bus.js';
import { attachWebSocket } from './graphql/websocket.js';
import { createResponseCache } from './graphql/plugins/response-cache.js';
import { createDashboardYoga, type DashboardYoga } from './graphql/yoga.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { createMetricsService, type MetricsService } from './metrics/service.js';
import type { Logger } from './observability/logger.js';
import { createRegistry } from './observability/registry.js';
import { createAggregateSource } from './source/aggregates.js';
import { openDatabase, type Database } from './source/database.js';
import { migrate } from './source/migrations.js';
import { isSeeded, seed, type SeedOptions } from './source/seed.js';
import { createWriteSource } from './source/writes.js';
import { createStaticRates } from './vendors/fx.js';
import { createCachedVendorRates } from './vendors/fx-cached.js';
import { createFxMetrics } from './observability/fx-metrics.js';
import { createGraphQLMetrics } from './observability/graphql-metrics.js';
import { createCacheCore, type CacheCore } from './cache/read-through.js';
import { createInvalidator } from './cache/invalidation.js';
import { createMemoryStore } from './cache/memory-store.js';
import { createClusterStore, createRedisStore } from './cache/redis-store.js';
import { createResilientStore, type ResilientStore } from './cache/resilient-store.js';
import type { CacheStore } from './cache/store.js';
import { createInvalidationService, type InvalidationService } from './metrics/invalidation-service.js';
import { createCacheMetrics, type CacheMetrics } from './observability/cache-metrics.js';
import type { Registry } from 'prom-client';
import { BUCKET_MS, bucketStart } from './cache/buckets.js';
import { createSubscriptionHub, type SubscriptionHub } from './events/hub.js';
import { createLocalFanout, createRedisFanout, type InvalidationNotice } from './events/notices.js';
import { connectRedis } from './events/redis-clients.js';
import { StreamConsumer } from './events/stream-consumer.js';
import { METRICS, metricsTouchedBy, type MetricName } from './metrics/definitions.js';
import { storedMetricsOf } from './metrics/invalidation-service.js';
import { createEventMetrics } from './observability/event-metrics.js';

export interface AppOptions {
  logger: Logger;
  /** Epoch ms now. @default Date.now */
  clock?: () => number;
  /**
   * Demo data to write when the database is empty; `false` writes none.
   * @default the contract's demo data (90 days, scale 1)
   */
  seed?: SeedOptions | false;
  /**
   * `false` serves every bucket straight from the source, for benchmarks and for
   * checking that cached results equal uncached ones. Not a configuration setting.
   * @default true
   */
  cache?: boolean;
  /**
   * `false` leaves the event stream to the servers: for tools such as `npm run warm`
   * that build the app for a few seconds. @default true
   */
  consumeEvents?: boolean;
}

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
  /** Graceful stop: HTTP first, then the database. */
  close(): Promise<void>;
}

export async function createApp(config: Config, options: AppOptions): Promise<App> {
  const { logger } = options;
  const clock = options.clock ?? Date.now;
  const database = openDatabase(config.database);
  try {
    await migrate(database.db);
    if (options.seed !== false && !(await isSeeded(database))) {
      logger.info({ database: database.kind }, 'empty database: seeding deterministic demo data');
      await seed(database, options.seed ?? {});
    }
  } catch (error) {
    await database.close();
    throw error;
  }

  const registry = createRegistry();
  const cacheMetrics = createCacheMetrics(registry, logger);
  const store = createResilientStore(createStore(config), {
    failureThreshold: config.cache.breakerThreshold,
    cooldownMs: config.cache.breakerCooldownMs,
    observer: cacheMetrics,
  });
  // Wait for the first connection (bounded by the connect timeout) so that the first
  // requests do not count a store that is merely still connecting as failed.
  if (!(await store.ping())) logger.warn({ store: store.kind }, 'cache store not reachable at start; serving from the source until it is');
  const cache = createCacheCore({
    store,
    observer: cacheMetrics,
    clock,
    lock: { ttlMs: config.cache.lockTtlMs, waitMs: config.cache.lockWaitMs },
  });
  const space = { prefix: config.cache.keyPrefix, cacheVersion: config.cache.version };
  const invalidation = createInvalidationService(
    space,
    createInvalidator(store, cacheMetrics, clock, config.cache.lockTtlMs, (keys) => cache.forget(keys)),
  );

  // Notices reach every instance through Redis pub/sub (in-process when embedded).
  const publisher = connectRedis(config.store, 'publish');
  const subscriber = connectRedis(config.store, 'subscribe');
  const fanout =
    publisher && subscriber
      ? createRedisFanout(publisher, subscriber, (error) => logger.warn({ err: error }, 'invalidation notice fan-out failed'))
      : createLocalFanout();
  const hub = createSubscriptionHub({ fanout, metricOrder: Object.keys(METRICS), clock, coalesceMs: config.events.coalesceMs });
  let readyTimer: NodeJS.Timeout | undefined;
  await Promise.race([fanout.ready(), new Promise((resolve) => (readyTimer = setTimeout(resolve, 2_000)))]);
  clearTimeout(readyTimer);
  const notify = (notice: InvalidationNotice) =>
    hub.notify(notice).catch((error) => logger.warn({ err: error, tenant: notice.tenant }, 'could not publish an invalidation notice'));

  const responseCache =
    config.responseCacheTtlMs > 0
      ? createResponseCache({ store, ...space, secret: config.auth.jwtSecret, ttlMs: config.responseCacheTtlMs, clock })
      : undefined;

  const writes = createWriteSource(database);
  const bus = createEventBus((error, event) =>
    logger.error({ err: error, event: event.type, tenant: event.tenant }, 'event listener failed'),
  );
  // Entries are dropped before the write returns: read your writes, on every instance
  // sharing the store. Then every subscriber of the tenant hears which metrics changed.
  bus.subscribe(async (event) => {
    await Promise.all([invalidation.onEvent(event), responseCache?.generations.bump(event.tenant)]);
    const hour = bucketStart(event.occurredAt, 'HOUR');
    // Not awaited: the write has landed and its entries are gone; the hint to
    // subscribers must not hold the mutation up when pub/sub is slow or down.
    void notify({
      tenant: event.tenant,
      region: event.region,
      metrics: metricsTouchedBy(event.type),
      from: hour,
      to: hour + BUCKET_MS.HOUR,
      reason: event.type,
    });
  });
  const notifyingInvalidation: InvalidationService = {
    ...invalidation,
    async manual(tenant: string, names: readonly MetricName[] | undefined, range?: { from: number; to: number }) {
      const [dropped] = await Promise.all([invalidation.manual(tenant, names, range), responseCache?.generations.bump(tenant)]);
      const stored = storedMetricsOf(names);
      // Derived metrics change with their inputs: name them too.
      const metrics = Object.values(METRICS)
        .filter((m) => stored.includes(m.name) || (m.combine === 'derived' && m.inputs.some((i) => stored.includes(i))))
        .map((m) => m.name);
      const now = clock();
      void notify({
        tenant,
        metrics,
        from: range?.from ?? bucketStart(now - 400 * BUCKET_MS.DAY, 'DAY'),
        to: range?.to ?? bucketStart(now, 'DAY') + BUCKET_MS.DAY,
        reason: 'manual',
      });
      return dropped;
    },
  };
  const recorder = createRecorder({ writes, bus, clock });
  const streamConnection = options.consumeEvents === false ? undefined : connectRedis(config.store, 'stream');
  let consumer: StreamConsumer | undefined;
  const eventMetrics = createEventMetrics(registry, {
    subscribers: () => hub.size(),
    pending: streamConnection && (() => consumer!.pending()),
  });
  consumer = streamConnection
    ? new StreamConsumer({
        redis: streamConnection,
        handle: (event) => recorder.ingest(event),
        logger,
        clock,
        claimIdleMs: config.events.claimIdleMs,
        onResult: eventMetrics.consumed,
      })
    : undefined;
  if (consumer) {
    await consumer.start().catch((error) => logger.warn({ err: error }, 'event stream consumer could not start; events from other services wait'));
  }

  // revenueIn needs the tenant's currency on every request; it hardly ever changes, so a
  // minute-old answer is fine and spares the source a query per request.
  const currencies = new Map<string, { currency: Promise<string>; until: number }>();
  const currencyOf = (tenant: string): Promise<string> => {
    const known = currencies.get(tenant);
    if (known && known.until > clock()) return known.currency;
    const currency = writes.tenant(tenant).then((row) => row?.currency ?? 'USD');
    currency.catch(() => currencies.delete(tenant));
    if (currencies.size > 10_000) currencies.clear();
    currencies.set(tenant, { currency, until: clock() + 60_000 });
    return currency;
  };

  const services = {
    currencyOf,
    invalidation: notifyingInvalidation,
    hub,
    writes,
    bus,
    clock,
    recorder,
    fx: config.fx.apiUrl
      ? createCachedVendorRates({
          apiUrl: config.fx.apiUrl,
          ttlMs: config.fx.ttlMs,
          timeoutMs: config.fx.timeoutMs,
          store,
          prefix: config.cache.keyPrefix,
          cacheVersion: config.cache.version,
          logger,
          clock,
          observer: createFxMetrics(registry),
        })
      : createStaticRates(),
  };
  const metrics = createMetricsService(createAggregateSource(database), options.cache === false ? undefined : { core: cache, ...space });
  const yoga = createDashboardYoga({
    config,
    services,
    metrics,
    logger,
    graphqlMetrics: createGraphQLMetrics(registry),
    plugins: responseCache ? [responseCache.plugin] : [],
    graphiqlToken: () => signToken({ tenant: 'acme', role: 'ADMIN' }, config.auth.jwtSecret, clock()),
  });
  const http = createHttpServer({
    graphql: (request, context) => yoga.fetch(request, context),
    registry,
    maxBodyBytes: config.limits.maxBodyBytes,
    logger,
    async readiness() {
      const [up, cacheUp] = await Promise.all([database.ping(1_000), store.ping()]);
      return {
        database: { status: up ? 'up' : 'down', kind: database.kind, required: true },
        cache: { status: cacheUp && store.breakerState() === 'closed' ? 'up' : 'down', kind: store.kind, required: false },
      };
    },
  });

  const websocket = attachWebSocket(http.server, yoga, config.auth.jwtSecret);

  let closed: Promise<void> | undefined;
  return {
    config,
    database,
    yoga,
    http,
    registry,
    store,
    cache,
    cacheMetrics,
    invalidation: notifyingInvalidation,
    metrics,
    hub,
    consumer,
    listen: (port) => http.listen(port ?? config.port, config.host),
    close() {
      closed ??= (async () => {
        await consumer?.stop();
        await websocket.close();
        await http.close();
        await hub.close();
        await cache.idle();
        await store.close();
        await database.close();
      })();
      return closed;
    },
  };
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
