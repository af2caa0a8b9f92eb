/**
 * Composes the service from a config: source → writes and aggregates → metrics →
 * GraphQL → HTTP. `main.ts` and the tests both build through here.
 */
import { signToken } from './auth/identity.js';
import type { Config } from './config/index.js';
import { createRecorder } from './domain/recorder.js';
import { createEventBus } from './events/bus.js';
import { createDashboardYoga, type DashboardYoga } from './graphql/yoga.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { createMetricsService } from './metrics/service.js';
import type { Logger } from './observability/logger.js';
import { createRegistry } from './observability/registry.js';
import { createAggregateSource } from './source/aggregates.js';
import { openDatabase, type Database } from './source/database.js';
import { migrate } from './source/migrations.js';
import { isSeeded, seed, type SeedOptions } from './source/seed.js';
import { createWriteSource } from './source/writes.js';
import { createStaticRates } from './vendors/fx.js';

export interface AppOptions {
  logger: Logger;
  /** Epoch ms now. @default Date.now */
  clock?: () => number;
  /**
   * Demo data to write when the database is empty; `false` writes none.
   * @default the contract's demo data (90 days, scale 1)
   */
  seed?: SeedOptions | false;
}

export interface App {
  readonly config: Config;
  readonly database: Database;
  readonly yoga: DashboardYoga;
  readonly http: HttpServer;
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

  const writes = createWriteSource(database);
  const bus = createEventBus((error, event) =>
    logger.error({ err: error, event: event.type, tenant: event.tenant }, 'event listener failed'),
  );
  const services = {
    writes,
    bus,
    clock,
    recorder: createRecorder({ writes, bus, clock }),
    fx: createStaticRates(),
  };
  const metrics = createMetricsService(createAggregateSource(database));
  const registry = createRegistry();
  const yoga = createDashboardYoga({
    config,
    services,
    metrics,
    logger,
    graphiqlToken: () => signToken({ tenant: 'acme', role: 'ADMIN' }, config.auth.jwtSecret, clock()),
  });
  const http = createHttpServer({
    graphql: (request, context) => yoga.fetch(request, context),
    registry,
    maxBodyBytes: config.limits.maxBodyBytes,
    logger,
    async readiness() {
      const up = await database.ping(1_000);
      return {
        database: { status: up ? 'up' : 'down', kind: database.kind, required: true },
        cache: { status: 'up', kind: 'none', required: false },
      };
    },
  });

  let closed: Promise<void> | undefined;
  return {
    config,
    database,
    yoga,
    http,
    listen: (port) => http.listen(port ?? config.port, config.host),
    close() {
      closed ??= (async () => {
        await http.close();
        await database.close();
      })();
      return closed;
    },
  };
}
