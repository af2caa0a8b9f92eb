/**
 * What `npm run bench` measures, as tables: the seeded data, the queries, the
 * servers, the scenarios and the targets. Change a number here, not in the driver.
 */
import { BUCKET_MS, type Granularity } from '../src/cache/buckets.js';

/**
 * Seeded once into a temp SQLite file; every server gets a byte-identical copy. 90
 * days, so that the 90-day dashboard of (e) reads real data; a quarter of the
 * demo volume (acme ~500 orders and ~2,500 sessions a day), so that the whole run
 * stays near six minutes on two cores. Less data flatters the baselines that read
 * the source (uncached, and the whole-response cache on a miss), not this API.
 */
export const SEED = { days: 90, scale: 0.25 } as const;
/** Concurrent connections of every load run. */
export const CONNECTIONS = 50;
/**
 * Shortest load warm-up (s) before the measured windows. A server that has been idle for
 * the other cells of a round takes a couple of seconds under load to reach its steady
 * state (its young generation grown again, old-generation collections spaced out): over
 * six trials of this API after 30 s idle, p99 ÷ p50 of the window from 1 to 2.5 s after
 * the load began read 1.8–2.8× (mean 2.5×), of the window from 2.5 to 4 s 1.7–2.4× (mean
 * 2.1×), lower in every trial.
 */
export const LOAD_WARM_S = 2.5;
/** Longest load warm-up (s) before the measured windows, for a slow server (bench/dashboard.ts sessionShape). */
export const SLOW_WARM_CAP_S = 8;
/** Longest measured window (s) for a slow server (bench/dashboard.ts sessionShape). */
export const SLOW_WINDOW_CAP_S = 6;
/** How often (ms) scenario (b) writes one order through the server under test. */
export const CHURN_EVERY_MS = 200;
/** Sequential requests per (query, server) in scenario (e), after WARM_UPS; at most E_CAP_MS of them. */
export const E_REQUESTS = 15;
export const E_CAP_MS = 5_000;
/** Identical cold requests of scenario (f), spread over its two processes. */
export const F_REQUESTS = 200;
/** Requests of each distinct body sent to a server before it is measured (warm cache, warm JIT); the fastest of all but the first sizes the load's warm-up and windows (sessionShape). At least 2. */
export const WARM_UPS = 3;

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

const SERIES = '{ total points { start value } }';
/** The selections of a dashboard, by name. */
export const FIELD_SETS = {
  /** revenue, orders, sessions (total and points), averageOrderValue, conversionRate: ~25 kB over 7 days by hour. */
  five: `revenue ${SERIES} orders ${SERIES} sessions ${SERIES} averageOrderValue conversionRate`,
  /** The seven metric fields (revenueIn aside: it would add the FX vendor). */
  full: `revenue ${SERIES} orders ${SERIES} sessions ${SERIES} customers ${SERIES} averageOrderValue conversionRate topProducts(limit: 5) { productId name orders revenue }`,
} as const;
export type FieldSet = keyof typeof FIELD_SETS;

export const documentOf = (fields: FieldSet) =>
  `query Dashboard($from: DateTime!, $to: DateTime!, $granularity: Granularity!) { dashboard(range: { from: $from, to: $to }, granularity: $granularity) { ${FIELD_SETS[fields]} } }`;

export const CHURN_MUTATION = 'mutation Churn($input: RecordOrderInput!) { recordOrder(input: $input) { id } }';

/** One kind of request: whose, which fields, how far back from the end of the current hour. */
export interface RequestSpec {
  tenant: 'acme' | 'globex' | 'initech';
  region?: 'EU' | 'NA' | 'APAC' | undefined;
  fields: FieldSet;
  granularity: Granularity;
  days: number;
}

export const ACME_7D_FIVE: RequestSpec = { tenant: 'acme', fields: 'five', granularity: 'HOUR', days: 7 };
export const ACME_7D_FULL: RequestSpec = { tenant: 'acme', fields: 'full', granularity: 'HOUR', days: 7 };
export const ACME_90D_FULL: RequestSpec = { tenant: 'acme', fields: 'full', granularity: 'HOUR', days: 90 };

/** Scenario (d): cycled through in this order by every connection. */
export const MIX: readonly RequestSpec[] = [
  { tenant: 'acme', fields: 'full', granularity: 'HOUR', days: 7 },
  { tenant: 'globex', fields: 'full', granularity: 'HOUR', days: 7 },
  { tenant: 'initech', fields: 'five', granularity: 'HOUR', days: 7 },
  { tenant: 'acme', fields: 'five', granularity: 'HOUR', days: 1 },
  { tenant: 'globex', fields: 'full', granularity: 'DAY', days: 30 },
  { tenant: 'initech', fields: 'full', granularity: 'DAY', days: 90 },
  { tenant: 'acme', region: 'EU', fields: 'full', granularity: 'HOUR', days: 7 },
  { tenant: 'acme', fields: 'full', granularity: 'DAY', days: 30 },
  { tenant: 'globex', fields: 'five', granularity: 'HOUR', days: 1 },
  { tenant: 'initech', fields: 'full', granularity: 'HOUR', days: 30 },
  { tenant: 'globex', region: 'NA', fields: 'five', granularity: 'DAY', days: 90 },
  { tenant: 'acme', fields: 'five', granularity: 'DAY', days: 90 },
];

/** The range of a spec: `days` back from the end of the hour that holds `nowMs` (so the open bucket is in it). */
export function rangeOf(spec: Pick<RequestSpec, 'days'>, nowMs: number): { from: number; to: number } {
  const to = Math.floor(nowMs / BUCKET_MS.HOUR) * BUCKET_MS.HOUR + BUCKET_MS.HOUR;
  return { from: to - spec.days * BUCKET_MS.DAY, to };
}

export function bodyOf(spec: RequestSpec, range: { from: number; to: number }): string {
  const variables = { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), granularity: spec.granularity };
  return JSON.stringify({ query: documentOf(spec.fields), variables });
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

export const SERVER_IDS = [
  'stored',
  'limit',
  'uncached',
  'whole-response',
  'api-redis',
  'api-fields',
  'api-bounded',
  'api-cluster',
  'api-memory',
] as const;
export type ServerId = (typeof SERVER_IDS)[number];

export interface ServerSpec {
  id: ServerId;
  /** As the tables show it. */
  label: string;
  /** One line for the report. */
  what: string;
  /** File under bench/servers/, its flags, and settings over the driver's. */
  entry: string;
  args: string[];
  env?: Readonly<Record<string, string>>;
  /** What it keeps data in: its own private redis-server, a private three-master cluster, or nothing to count. */
  store: 'redis' | 'cluster' | 'none';
  /** Serves the app's Prometheus /metrics (every server but `stored`). */
  metricsEndpoint: boolean;
  /** Where its source queries are counted on /metrics, if anywhere. */
  sourceCounter: 'cache_source_queries_total' | 'bench_source_queries_total' | undefined;
}

/** The bound of `api-bounded` (CACHE_STALENESS_BOUND_MS). */
export const BOUNDED_MS = 1_000;

export const SERVERS: Readonly<Record<ServerId, ServerSpec>> = {
  stored: {
    id: 'stored',
    label: 'stored',
    what: 'node:http: verifies the JWT (verifyAuthorization) and writes back the stored bytes of the real answer; the physical limit of a hit',
    entry: 'stored.ts',
    args: [],
    store: 'none',
    metricsEndpoint: false,
    sourceCounter: undefined,
  },
  limit: {
    id: 'limit',
    label: 'limit',
    what: "the app's HTTP server, yoga setup, schema and resolvers over metric values precomputed once (no IO per request): the ceiling for executing the query",
    entry: 'limit.ts',
    args: [],
    store: 'none',
    metricsEndpoint: true,
    sourceCounter: 'bench_source_queries_total',
  },
  uncached: {
    id: 'uncached',
    label: 'uncached',
    what: 'createApp(config, { cache: false }): every bucket from SQLite',
    entry: 'api.ts',
    args: ['--uncached'],
    store: 'none',
    metricsEndpoint: true,
    sourceCounter: undefined,
  },
  'whole-response': {
    id: 'whole-response',
    label: 'whole-response cache',
    what: '@graphql-yoga/plugin-response-cache over Redis (TTL 30 s, session = tenant + region, entity invalidation on mutations) in front of the uncached app',
    entry: 'whole-response.ts',
    args: [],
    store: 'redis',
    metricsEndpoint: true,
    sourceCounter: 'bench_source_queries_total',
  },
  'api-redis': {
    id: 'api-redis',
    label: 'this API (Redis)',
    what: 'createApp with REDIS_URL (a private redis-server), defaults otherwise',
    entry: 'api.ts',
    args: [],
    store: 'redis',
    metricsEndpoint: true,
    sourceCounter: 'cache_source_queries_total',
  },
  'api-fields': {
    id: 'api-fields',
    label: 'this API (Redis), field path alone',
    what: 'createApp with REDIS_URL and RESPONSE_CACHE_TTL_MS=0: whole responses off, every request executed over the tier and the store',
    entry: 'api.ts',
    args: [],
    env: { RESPONSE_CACHE_TTL_MS: '0' },
    store: 'redis',
    metricsEndpoint: true,
    sourceCounter: 'cache_source_queries_total',
  },
  'api-bounded': {
    id: 'api-bounded',
    label: 'this API (Redis), bounded staleness 1 s',
    what: `createApp with REDIS_URL and CACHE_STALENESS_BOUND_MS=${BOUNDED_MS}: validators read less than a second ago are not read again (another instance's write shows when its notice arrives, at the latest a second after it returned; the server's own writes at once)`,
    entry: 'api.ts',
    args: [],
    env: { CACHE_STALENESS_BOUND_MS: String(BOUNDED_MS) },
    store: 'redis',
    metricsEndpoint: true,
    sourceCounter: 'cache_source_queries_total',
  },
  'api-cluster': {
    id: 'api-cluster',
    label: 'this API (Cluster)',
    what: 'createApp with REDIS_CLUSTER_NODES (a private three-master Redis Cluster)',
    entry: 'api.ts',
    args: [],
    store: 'cluster',
    metricsEndpoint: true,
    sourceCounter: 'cache_source_queries_total',
  },
  'api-memory': {
    id: 'api-memory',
    label: 'this API (embedded)',
    what: 'createApp without REDIS_URL: the in-process memory store',
    entry: 'api.ts',
    args: [],
    store: 'none',
    metricsEndpoint: true,
    sourceCounter: 'cache_source_queries_total',
  },
};

/**
 * The order in which a round measures a load's servers: the servers a target compares
 * next to each other (the field path alone after limit, this API after the
 * whole-response cache), so that a machine whose speed drifts within a round moves
 * both alike.
 */
export const ROUND_ORDER: readonly ServerId[] = [
  'stored',
  'uncached',
  'limit',
  'api-fields',
  'whole-response',
  'api-redis',
  'api-bounded',
  'api-cluster',
  'api-memory',
];

/** The servers the API's targets are about. */
export const API_SERVERS: readonly ServerId[] = ['api-redis', 'api-cluster', 'api-memory'];

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

export const SCENARIO_IDS = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** A load measured on every server of its scenario: median of RUNS autocannon runs. */
export interface LoadSpec {
  id: string;
  scenario: ScenarioId;
  title: string;
  /** A fixed request, cycled requests, or a sliding one (each ends at the instant it is sent). */
  requests:
    { kind: 'fixed'; spec: RequestSpec } | { kind: 'cycle'; specs: readonly RequestSpec[] } | { kind: 'sliding'; spec: RequestSpec };
  /** Writes one order per CHURN_EVERY_MS during the runs. */
  churn: boolean;
  servers: readonly ServerId[];
  /**
   * The load of this stage a target divides this one by, on the same server: each round
   * measures this load on a server right after that one (bench/dashboard.ts roundOrder).
   */
  against?: string;
}

/**
 * Every server but the field path alone, which only (a) measures (its target is about
 * (a)), and the bounded-staleness mode, which (a) and (b) measure (what it saves is the
 * warm request's one read, and what it risks shows under writes).
 */
const ALL: readonly ServerId[] = SERVER_IDS.filter((id) => id !== 'api-fields' && id !== 'api-bounded');
/**
 * The servers of (b). `uncached` serves writes but is left out: it reads the source
 * for every answer, so it cannot fall behind, and the half minute its slow cells
 * would cost is better spent keeping the run short.
 */
const CHURNED: readonly ServerId[] = ['whole-response', 'api-redis', 'api-bounded', 'api-cluster', 'api-memory'];

export const LOADS: readonly LoadSpec[] = [
  {
    id: 'a5',
    scenario: 'a',
    title: '(a) warm: 7 days by hour, 5 fields',
    requests: { kind: 'fixed', spec: ACME_7D_FIVE },
    churn: false,
    servers: SERVER_IDS,
  },
  {
    id: 'af',
    scenario: 'a',
    title: '(a) warm: 7 days by hour, all 7 fields',
    requests: { kind: 'fixed', spec: ACME_7D_FULL },
    churn: false,
    servers: SERVER_IDS,
  },
  {
    id: 'b5',
    against: 'a5',
    scenario: 'b',
    title: '(b) churn: (a) 5 fields, one order written every 200 ms',
    requests: { kind: 'fixed', spec: ACME_7D_FIVE },
    churn: true,
    servers: CHURNED,
  },
  {
    id: 'bf',
    against: 'af',
    scenario: 'b',
    title: '(b) churn: (a) all 7 fields, one order written every 200 ms',
    requests: { kind: 'fixed', spec: ACME_7D_FULL },
    churn: true,
    servers: CHURNED,
  },
  {
    id: 'cf',
    against: 'af',
    scenario: 'c',
    title: '(c) sliding: the last 7 days up to the instant of each request, all 7 fields',
    requests: { kind: 'sliding', spec: ACME_7D_FULL },
    churn: false,
    servers: ['uncached', 'whole-response', 'api-redis', 'api-cluster', 'api-memory'],
  },
  {
    id: 'd',
    scenario: 'd',
    title: `(d) mix: ${MIX.length} requests over 3 tenants, 2 region scopes, 1–90 days, HOUR and DAY`,
    requests: { kind: 'cycle', specs: MIX },
    churn: false,
    servers: ALL,
  },
];

/** Scenario (e): one request at a time. */
export const SEQUENTIAL: ReadonlyArray<{ id: string; title: string; spec: RequestSpec }> = [
  { id: 'e7', title: '7 days by hour, all 7 fields', spec: ACME_7D_FULL },
  { id: 'e90', title: '90 days by hour, all 7 fields', spec: ACME_90D_FULL },
];
export const SEQUENTIAL_SERVERS: readonly ServerId[] = ALL;

/** Scenario (f): the request sent cold, F_REQUESTS times at once, to two processes of this API on one Redis. */
export const STAMPEDE_SPEC: RequestSpec = ACME_7D_FULL;

export const SCENARIO_TITLES: Readonly<Record<ScenarioId, string>> = {
  a: '(a) warm',
  b: '(b) churn',
  c: '(c) sliding window',
  d: '(d) mix of tenants, ranges and granularities',
  e: '(e) one request at a time, warm',
  f: '(f) 200 identical cold requests, two processes, one Redis',
};

/**
 * The order of the run, in stages. The loads of one stage are measured in rounds:
 * each round measures every load of the stage on every one of its servers once
 * (roundOrder), so that a target dividing one window by another compares windows of
 * the same round, seconds apart, never the first scenario with one run minutes later
 * on a machine that has sped up or slowed down in between. (d) goes first: its answers, like those of (a)'s first round, are
 * checked against the untouched seed, and (b) writes orders into each server's
 * database.
 */
export const STAGES: ReadonlyArray<readonly ScenarioId[]> = [['d'], ['a', 'c', 'b'], ['e'], ['f']];

/**
 * One round's cells, in order: each load that no other is measured against, on its
 * servers in ROUND_ORDER, each server followed at once by the loads measured against
 * that one on it ((c), then (b), after their (a)); a load whose base is not in the stage
 * stands alone, and a dependent's servers that its base lacks follow the base's.
 */
export function roundOrder(loads: readonly LoadSpec[]): Array<[LoadSpec, ServerId]> {
  const ids = new Set(loads.map((l) => l.id));
  const order: Array<[LoadSpec, ServerId]> = [];
  const inOrder = (servers: readonly ServerId[]) => ROUND_ORDER.filter((id) => servers.includes(id));
  for (const base of loads.filter((l) => l.against === undefined || !ids.has(l.against))) {
    // Those that only read before those that write.
    const dependents = loads.filter((l) => l.against === base.id).sort((x, y) => Number(x.churn) - Number(y.churn));
    for (const id of inOrder(base.servers)) {
      order.push([base, id]);
      for (const d of dependents) if (d.servers.includes(id)) order.push([d, id]);
    }
    for (const d of dependents) for (const id of inOrder(d.servers)) if (!base.servers.includes(id)) order.push([d, id]);
  }
  return order;
}
