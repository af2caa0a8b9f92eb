/**
 * Bench server: the ceiling for executing a dashboard query in this stack. The
 * app's own server part (src/compose/server.ts: the same HTTP server, yoga setup,
 * plugins, token check, schema and resolvers), over a metrics service whose every
 * read returns a precomputed constant: no store, no cache, no IO on a measured
 * request.
 *
 * Each constant is computed once, the first time a (metric, scope, window, limit)
 * is asked for (by the driver's warm-up), from the uncached metrics service over
 * this server's copy of the seeded database; those few source queries show on
 * /metrics as `bench_source_queries_total`, so a measured run that needed one is
 * visible.
 */
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createResilientStore } from '../../src/cache/resilient-store.js';
import { createLifecycle } from '../../src/compose/lifecycle.js';
import { openServer } from '../../src/compose/server.js';
import { loadConfig } from '../../src/config/index.js';
import type { GraphQLServices } from '../../src/graphql/context.js';
import type { MetricsReader, MetricsService } from '../../src/metrics/service.js';
import { createMetricsService } from '../../src/metrics/service.js';
import { createLogger } from '../../src/observability/logger.js';
import { createRegistry } from '../../src/observability/registry.js';
import { createAggregateSource } from '../../src/source/aggregates.js';
import { openDatabase } from '../../src/source/database.js';
import { serve, serverArgs } from './child.js';
import { countingSource } from './counting-source.js';

/** Reads return constants, computed by `truth` on first ask and kept for the life of the process. */
function constantMetrics(truth: MetricsService): MetricsService {
  const constants = new Map<string, Promise<unknown>>();
  return {
    registry: truth.registry,
    reader(role) {
      const reader: MetricsReader = {
        read(metric, scope, window, args) {
          const key = JSON.stringify([
            metric.name,
            scope.tenant,
            scope.region ?? null,
            window.granularity,
            window.from,
            window.to,
            args?.limit ?? null,
            role ?? null,
          ]);
          let value = constants.get(key);
          if (!value) {
            value = truth.reader(role).read(metric, scope, window, args);
            constants.set(key, value);
            // A failed computation is not a constant: the next ask tries again.
            value.catch(() => constants.delete(key));
          }
          return value as never;
        },
        prefetch: async () => {},
        cacheStats: () => ({}),
        freshUntil: () => Infinity,
        staleUntil: () => Infinity,
        freshUntilByMetric: () => new Map(),
        validatedBy: () => undefined,
        readUnvalidated: () => {},
        seed: () => {},
      };
      return reader;
    },
  };
}

/** The services of mutations, subscriptions and revenueIn: the limit server serves dashboard metrics only. */
function noServices(): GraphQLServices {
  const refuse = (name: string): never => {
    throw new Error(`the limit server answers dashboard metrics only (asked for services.${name})`);
  };
  return {
    clock: Date.now,
    get recorder() {
      return refuse('recorder');
    },
    get invalidation() {
      return refuse('invalidation');
    },
    get hub() {
      return refuse('hub');
    },
    get writes() {
      return refuse('writes');
    },
    get fx() {
      return refuse('fx');
    },
    get bus() {
      return refuse('bus');
    },
    currencyOf: () => refuse('currencyOf'),
  };
}

serverArgs({});

await serve('limit', async () => {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);
  const lifecycle = createLifecycle(logger);
  try {
    const database = openDatabase(config.database);
    lifecycle.defer('database', () => database.close());
    const registry = createRegistry();
    const sourceCounts = new Registry();
    const truth = createMetricsService(countingSource(createAggregateSource(database), sourceCounts));
    const store = createResilientStore(createMemoryStore({ maxEntries: 100, maxBytes: 1_048_576 }), {
      failureThreshold: config.cache.breakerThreshold,
      cooldownMs: config.cache.breakerCooldownMs,
    });
    lifecycle.defer('store', () => store.close());
    const server = openServer(
      config,
      {
        logger,
        registry: Registry.merge([registry, sourceCounts]),
        metrics: constantMetrics(truth),
        database,
        store,
        plugins: [],
        services: noServices(),
      },
      lifecycle,
    );
    return { port: await server.http.listen(0, config.host), close: () => lifecycle.close() };
  } catch (error) {
    await lifecycle.close();
    throw error;
  }
});
