/**
 * A real server for a test file: its own database, small deterministic demo data,
 * an HTTP listener on a free port, and helpers to sign tokens and send queries.
 */
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { signToken, type Role } from '../../src/auth/identity.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import type { SeedOptions } from '../../src/source/seed.js';
import { parsePrometheus, type PromText } from './prometheus.js';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases.js';

/** The JWT secret of every test server, in process or not (instances.ts), so that a test can sign its own tokens. */
export const TEST_SECRET = 'test-secret-0123456789-0123456789-abcdef';

/** What `TestApp.gql` resolves with: the HTTP status, the parsed JSON body (`data` typed as `T`) and the headers. */
export interface GraphQLResponse<T = any> {
  status: number;
  body: {
    data?: T;
    errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, any> }>;
    extensions?: Record<string, any>;
  };
  headers: Headers;
}

/** A running app for one test file, with helpers to call it; `close` stops it and drops its database. */
export interface TestApp {
  app: App;
  /** Base URL of the listener, e.g. `http://127.0.0.1:54321`. */
  url: string;
  database: TestDatabase;
  config: Config;
  /** Signs a token with the app's secret. @default tenant 'acme', role 'ADMIN', no region, 12 h */
  token(claims: { tenant?: string; role?: Role; region?: string; ttlMs?: number }): Promise<string>;
  /** POSTs a GraphQL request; `token: null` sends none. @default token an ADMIN token of `acme` */
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GraphQLResponse<T>>;
  /** The Prometheus text of /metrics, parsed: `value('cache_recomputes_total', { metric: 'ORDERS' })`. */
  metrics(): Promise<PromText>;
  close(): Promise<void>;
}

/** How `startTestApp` builds the app. */
export interface TestAppOptions {
  /** Which database to create for it. @default 'sqlite' */
  database?: DatabaseKind;
  /** A PostgreSQL of the test's own (a private server it stops and starts) instead: used as it is, never dropped. */
  databaseUrl?: string;
  /** Demo data to write; `false` writes none. @default SMALL_SEED */
  seed?: SeedOptions | false;
  /** Environment variables for `loadConfig`, over the test defaults (NODE_ENV test, PORT 0, …). */
  env?: Record<string, string>;
  /** Epoch ms now, for the app (tokens still use the real clock). */
  clock?: () => number;
  /** Metric declarations and the SDL that shows them, when a test adds its own. */
  metrics?: AppOptions['metrics'];
  typeDefs?: AppOptions['typeDefs'];
  /** More yoga plugins, after the app's. */
  plugins?: AppOptions['plugins'];
}

/** Small demo data: 10 days at 1/10th the volume, ending at the current hour. */
export const SMALL_SEED: SeedOptions = { days: 10, scale: 0.1 };

/**
 * Starts the real app (`createApp`) on a private database, listening on a free port of
 * 127.0.0.1, with a silent logger. The caller closes it (`close`), which also drops the
 * database.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database: TestDatabase = options.databaseUrl
    ? { config: { kind: 'postgres', url: options.databaseUrl }, url: options.databaseUrl, drop: async () => {} }
    : await createTestDatabase(options.database ?? 'sqlite');
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_SECRET,
    DATABASE_URL: database.url,
    HOST: '127.0.0.1',
    PORT: '0',
    ...options.env,
  });
  const app = await createApp(config, {
    logger: createLogger('silent'),
    seed: options.seed ?? SMALL_SEED,
    clock: options.clock,
    metrics: options.metrics,
    typeDefs: options.typeDefs,
    plugins: options.plugins,
  });
  const port = await app.listen(0);
  const url = `http://127.0.0.1:${port}`;
  const adminToken = await signToken({ tenant: 'acme', role: 'ADMIN' }, config.auth.jwtSecret);
  return {
    app,
    url,
    database,
    config,
    token: ({ tenant = 'acme', role = 'ADMIN', region, ttlMs }) => signToken({ tenant, role, region, ttlMs }, config.auth.jwtSecret),
    async gql(query, variables, token = adminToken) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: (await response.json()) as GraphQLResponse['body'], headers: response.headers };
    },
    async metrics() {
      return parsePrometheus(await (await fetch(`${url}/metrics`)).text());
    },
    async close() {
      await app.close();
      await database.drop();
    },
  };
}

/** The ISO string of an epoch-ms instant. */
export const iso = (ms: number) => new Date(ms).toISOString();
/** An hour in milliseconds. */
export const HOUR_MS = 3_600_000;

/** The last `hours` whole hours before the current one, as a dashboard range, and where they end (the current hour's start). */
export function closedHours(hours: number): { end: number; range: { from: string; to: string } } {
  const end = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  return { end, range: { from: iso(end - hours * HOUR_MS), to: iso(end) } };
}
/** A day in milliseconds (UTC has no DST). */
export const DAY_MS = 86_400_000;

/** `extensions.cache` of an answer: per metric, how many buckets were hits, misses and stale. */
export type CacheStats = Record<string, { hit: number; miss: number; stale: number }>;

/** True when the answer says every bucket of every metric it read came from the cache (hits only, at least one). */
export function allHits(response: GraphQLResponse): boolean {
  const stats = response.body.extensions?.cache as CacheStats | undefined;
  return !!stats && Object.keys(stats).length > 0 && Object.values(stats).every((s) => s.miss === 0 && s.stale === 0 && s.hit > 0);
}
