/**
 * The GraphQL server: schema from schema/*.graphql, resolvers, identity per
 * request, query limits, error mapping, GraphiQL with an example query.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphQLError, buildSchema } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createSchema, createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { verifyAuthorization } from '../auth/identity.js';
import type { Config } from '../config/index.js';
import { DomainError } from '../errors.js';
import { checkDeclarations } from '../metrics/declarations-check.js';
import type { MetricsService } from '../metrics/service.js';
import type { Logger } from '../observability/logger.js';
import type { GraphQLContext, GraphQLServices } from './context.js';
import { createMaskError, findDomainError, toGraphQLError } from './errors.js';
import { cacheExtensionPlugin } from './plugins/cache-extension.js';
import { httpCachingPlugin } from './plugins/http-caching.js';
import { requestMetricsPlugin } from './plugins/request-metrics.js';
import { requestLogPlugin } from './plugins/request-log.js';
import { tracingPlugin } from './plugins/tracing.js';
import type { GraphQLMetrics } from '../observability/graphql-metrics.js';
import { queryLimitPlugins } from './plugins/query-limits.js';
import { createResolvers } from './resolvers/index.js';

const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema');

/** The SDL of schema/, concatenated in file-name order. */
export function loadTypeDefs(dir = SCHEMA_DIR): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

/** The query GraphiQL opens with: the last 7 days, every field. */
export const EXAMPLE_QUERY = `# The last 7 days of your tenant, by day. Change the range or use HOUR.
query Dashboard($from: DateTime!, $to: DateTime!) {
  dashboard(range: { from: $from, to: $to }, granularity: DAY) {
    range { from to }
    revenue { total points { start value } }
    orders { total }
    sessions { total }
    customers { total }
    averageOrderValue
    conversionRate
    topProducts(limit: 3) { productId name orders revenue }
    revenueIn(currency: "EUR") { amount rate source fetchedAt stale }
  }
}
`;

/**
 * `extensions.cache` outside production for everyone; in production only with
 * PAGE_CACHE_DETAILS, and never for a VIEWER (how the cache served revenue is no
 * business of a role that may not read it, and production answers stay lean).
 */
function cacheDetailsPlugins(config: Config): Array<Plugin<GraphQLContext>> {
  if (config.env !== 'production') return [cacheExtensionPlugin()];
  return config.pageCacheDetails ? [cacheExtensionPlugin({ roles: ['ADMIN', 'ANALYST'] })] : [];
}

/** What `createDashboardYoga` builds the server from. */
export interface YogaOptions {
  config: Config;
  services: GraphQLServices;
  metrics: MetricsService;
  logger: Logger;
  /** More plugins, after ours (the whole-response layer). */
  plugins?: Plugin[] | undefined;
  /** Request duration and errors per operation. */
  graphqlMetrics?: GraphQLMetrics | undefined;
  /** Signs a token to prefill in GraphiQL's headers; used outside production only. */
  graphiqlToken?: (() => Promise<string>) | undefined;
  /** The SDL. @default schema/*.graphql (loadTypeDefs) */
  typeDefs?: string | undefined;
}

/**
 * The yoga server of the dashboard; `fetch` answers a Request. Its server context is
 * left undeclared (`object`): the HTTP server passes `{ req, res }`, the WebSocket
 * endpoint its socket and params, and no resolver reads them.
 */
export type DashboardYoga = YogaServerInstance<object, GraphQLContext>;

/**
 * The yoga server over the metrics service's declarations.
 * @throws DeclarationError when the declarations and the schema disagree.
 */
export function createDashboardYoga(options: YogaOptions): DashboardYoga {
  const { config, services, metrics, logger, graphiqlToken, graphqlMetrics, plugins } = options;
  const typeDefs = options.typeDefs ?? loadTypeDefs();
  // Checked on the SDL alone, before resolvers are attached: a declaration the schema
  // lacks gets the message that says what to fix, not a resolver-wiring error.
  checkDeclarations(buildSchema(typeDefs), metrics.registry);
  const schema = createSchema<GraphQLContext>({ typeDefs, resolvers: createResolvers(metrics.registry) as never });
  return createYoga<object, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // The HTTP server has read the body already, refusing one above MAX_BODY_BYTES
    // (src/http/server.ts): yoga's own limit would only pipe it through one more stream.
    maxRequestBodySize: false,
    // GraphiQL's assets inlined rather than fetched from a CDN: it works offline, on a
    // laptop with nothing but Node, and behind a strict firewall.
    renderGraphiQL,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      // Yoga logs every error it masks; a refusal of bad input or a forbidden field is the
      // caller's business, not an operator's, so those go to debug.
      error: (...args) =>
        args.some((a) => findDomainError(a)) ? logger.debug(args.map(String).join(' ')) : logger.error({ err: args[0] }, 'graphql error'),
    },
    // A factory, so that every page load gets today's range and (in development) a fresh token.
    graphiql: async () => {
      const now = services.clock();
      const variables = JSON.stringify(
        { from: new Date(now - 7 * 86_400_000).toISOString().slice(0, 10), to: new Date(now).toISOString() },
        null,
        2,
      );
      const token = config.env !== 'production' && graphiqlToken ? await graphiqlToken() : undefined;
      const headers = JSON.stringify(
        token ? { Authorization: `Bearer ${token}` } : { Authorization: 'Bearer <paste a token from npm run token>' },
        null,
        2,
      );
      return {
        title: 'Dashboard API',
        defaultQuery: EXAMPLE_QUERY,
        headers,
        defaultHeaders: headers,
        defaultTabs: [{ query: EXAMPLE_QUERY, variables, headers }],
        defaultEditorToolsVisibility: true,
        subscriptionsProtocol: 'SSE',
      };
    },
    maskedErrors: {
      isDev: config.env === 'development',
      maskError: createMaskError((error) => logger.error({ err: error }, 'unexpected error in a resolver')),
    },
    async context(initial) {
      // graphql-ws clients send the token in connectionParams; HTTP and SSE in the header.
      const params = (initial as { connectionParams?: { authorization?: unknown } }).connectionParams;
      const header = typeof params?.authorization === 'string' ? params.authorization : initial.request?.headers.get('authorization');
      try {
        const identity = await verifyAuthorization(header, config.auth.jwtSecret);
        const reqId = initial.request?.headers.get('x-request-id') ?? undefined;
        const log = logger.child({ reqId, tenant: identity.tenant, role: identity.role });
        return { identity, services, log, metrics: metrics.reader(identity.role) };
      } catch (error) {
        if (error instanceof DomainError) throw toGraphQLError(error);
        throw new GraphQLError('Could not verify the token.', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
      }
    },
    plugins: [
      ...queryLimitPlugins(config.limits, metrics.registry),
      tracingPlugin(),
      httpCachingPlugin(),
      ...(graphqlMetrics ? [requestMetricsPlugin(graphqlMetrics)] : []),
      requestLogPlugin(),
      ...cacheDetailsPlugins(config),
      ...(plugins ?? []),
    ],
  });
}
