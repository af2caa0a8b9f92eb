/**
 * The server part: the GraphQL schema over the metric declarations (checked against
 * them at start), the HTTP server with health, readiness, metrics and the live page,
 * and the WebSocket endpoint for graphql-ws subscriptions.
 */
import type { Registry } from 'prom-client';
import { signToken } from '../auth/identity.js';
import type { ResilientStore } from '../cache/resilient-store.js';
import { SHUTDOWN_CLOSE_RESERVE_MS, type Config } from '../config/index.js';
import type { GraphQLServices } from '../graphql/context.js';
import { createDashboardYoga, type DashboardYoga } from '../graphql/yoga.js';
import { attachWebSocket } from '../graphql/websocket.js';
import { createHttpServer, type HttpServer } from '../http/server.js';
import type { MetricsService } from '../metrics/service.js';
import { createGraphQLMetrics } from '../observability/graphql-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { Database } from '../source/database.js';
import { createPageRoutes } from '../web/routes.js';
import type { Plugin } from 'graphql-yoga';
import type { Lifecycle } from './lifecycle.js';

/** What `openServer` builds: the yoga server and the HTTP server that serves it (and the WebSocket endpoint). */
export interface ServerPart {
  yoga: DashboardYoga;
  http: HttpServer;
}

/** What `openServer` needs besides the config: the services resolvers call, what readiness checks, and where metrics go. */
export interface ServerOptions {
  logger: Logger;
  registry: Registry;
  services: GraphQLServices;
  metrics: MetricsService;
  /** What /readyz reports on. */
  database: Database;
  store: ResilientStore;
  /** More yoga plugins, after ours (the whole-response layer). */
  plugins: Plugin[];
  /** The SDL. @default schema/*.graphql */
  typeDefs?: string | undefined;
}

/** Builds the schema and the servers; nothing listens until `http.listen`. */
export function openServer(config: Config, options: ServerOptions, lifecycle: Lifecycle): ServerPart {
  const { logger, database, store, services } = options;
  const yoga = createDashboardYoga({
    config,
    services,
    metrics: options.metrics,
    logger,
    typeDefs: options.typeDefs,
    graphqlMetrics: createGraphQLMetrics(options.registry),
    plugins: options.plugins,
    graphiqlToken: () => signToken({ tenant: 'acme', role: 'ADMIN' }, config.auth.jwtSecret, services.clock()),
  });
  const http = createHttpServer({
    // Node's request and response as Yoga's own Node adapter takes them, the server context
    // a plain object of ours. Through `yoga.fetch`, whatwg-node made a single context object
    // the prototype of a new one (`isolateObject`), and V8 gives an object used as a
    // prototype a map of its own in the old generation, whose pointer kept the request's
    // objects alive through every scavenge (~3 MB promoted per scavenge under load, pauses
    // of 10–15 ms); a Request built by hand from Node's still left ~1.1 MB, the adapter ~0.3.
    graphql(req, res) {
      const context: object = { req, res };
      return yoga.handleNodeRequestAndResponse(req, res, context);
    },
    routes: createPageRoutes({ config, logger, clock: services.clock }),
    registry: options.registry,
    maxBodyBytes: config.limits.maxBodyBytes,
    logger,
    shutdownGraceMs: config.shutdownTimeoutMs - SHUTDOWN_CLOSE_RESERVE_MS,
    // Subscriptions never end by themselves: end them, over SSE and WebSocket, so that
    // their clients see them complete (and subscribe again elsewhere).
    async onStop() {
      services.hub.endAll();
      await websocket.close();
    },
    async readiness() {
      const [up, cacheUp] = await Promise.all([database.ping(1_000), store.ping()]);
      return {
        database: { status: up ? 'up' : 'down', kind: database.kind, required: true },
        cache: { status: cacheUp && store.breakerState() === 'closed' ? 'up' : 'down', kind: store.kind, required: false },
      };
    },
  });
  // Closes the WebSocket endpoint too (onStop).
  lifecycle.defer('http server', () => http.close());
  const websocket = attachWebSocket(http.server, yoga, config.auth.jwtSecret);
  return { yoga, http };
}
