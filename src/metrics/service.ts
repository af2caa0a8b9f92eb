/**
 * The metrics service: resolvers ask it for a metric over a window; it asks the
 * source for the buckets it needs and combines them as each declaration says.
 * A reader is made per request so that a metric needed by two fields (revenue for
 * `revenue` and `averageOrderValue`) is fetched once.
 */
import { bucketsOf, type BucketWindow } from '../cache/buckets.js';
import { buildKey } from '../cache/keys.js';
import type { LookupResult } from '../cache/observer.js';
import type { BucketSpec, CacheCore, RequestCache } from '../cache/read-through.js';
import { countDistinct, sketchOf } from '../cache/sketch.js';
import type { AggregateSource } from '../source/aggregates.js';
import type { DataScope } from '../source/types.js';
import {
  CUSTOMERS,
  ORDERS,
  REVENUE,
  SESSIONS,
  TOP_PRODUCTS,
  type DistinctBucket,
  type ProductSalesByBucket,
  type StoredMetric,
  type SumMetric,
} from './definitions.js';
import type { ProductSalesModel, SeriesModel } from './types.js';

/** Largest `limit` of `topProducts`. */
export const TOP_PRODUCTS_MAX = 50;

/** What resolvers use during one request. */
export interface MetricsReader {
  revenue(scope: DataScope, window: BucketWindow): Promise<SeriesModel>;
  orders(scope: DataScope, window: BucketWindow): Promise<SeriesModel>;
  sessions(scope: DataScope, window: BucketWindow): Promise<SeriesModel>;
  customers(scope: DataScope, window: BucketWindow): Promise<SeriesModel>;
  /** revenue.total / orders.total, or null without orders. */
  averageOrderValue(scope: DataScope, window: BucketWindow): Promise<number | null>;
  /** orders.total / sessions.total, or null without sessions. */
  conversionRate(scope: DataScope, window: BucketWindow): Promise<number | null>;
  /** Products ranked by orders (then id), at most `limit` (1..50). */
  topProducts(scope: DataScope, window: BucketWindow, limit: number): Promise<ProductSalesModel[]>;
  /** Per metric, buckets hit, missed and served stale so far in this request. */
  cacheStats(): Record<string, Record<LookupResult, number>>;
  /** Until when everything read so far stays fresh (epoch ms); Infinity when nothing was read, now when uncached. */
  freshUntil(): number;
}

export interface MetricsService {
  /**
   * A reader whose lookups are shared for the life of one request.
   * @param role the caller's role: part of a key only for metrics whose value differs by role.
   */
  reader(role?: string): MetricsReader;
}

/** Where cached buckets live and how their keys are named. */
export interface MetricsCache {
  core: CacheCore;
  /** Key prefix, e.g. `dash`. */
  prefix: string;
  /** Global CACHE_VERSION. */
  cacheVersion: string;
}

/** The empty value of a bucket with no rows, per way of combining. */
const EMPTY = { sum: 0, distinct: { n: 0, s: sketchOf([]) } as DistinctBucket, topN: {} as ProductSalesByBucket };

/**
 * @param cache absent: every bucket comes straight from the source (used to check
 *   that cached results equal uncached ones).
 */
export function createMetricsService(source: AggregateSource, cache?: MetricsCache): MetricsService {
  /** The cache spec of one stored metric for one scope and granularity. */
  function specFor<V>(metric: StoredMetric, scope: DataScope, window: BucketWindow, role: string | undefined): BucketSpec<V> {
    const base = {
      prefix: cache!.prefix,
      cacheVersion: cache!.cacheVersion,
      tenant: scope.tenant,
      metric: metric.name,
      metricVersion: metric.version,
      region: metric.scope.region ? scope.region : undefined,
      role: metric.scope.role ? role : undefined,
      granularity: window.granularity,
    };
    return {
      metric: metric.name,
      version: `${cache!.cacheVersion}/${metric.version}`,
      granularity: window.granularity,
      ttl: metric.ttl,
      keyOf: (bucketStart) => buildKey({ ...base, bucketStart }),
      compute: (span) => metric.computeSpan(source, scope, span) as Promise<unknown> as Promise<ReadonlyMap<number, V>>,
      empty: EMPTY[metric.combine] as V,
    };
  }

  // Concurrent identical requests share one read (the same results array): combine its
  // buckets once for all of them too. Keyed weakly, so gone with the read.
  const combined = new WeakMap<object, Promise<unknown>>();
  const combineOnce = <T>(read: object, combine: () => Promise<T>): Promise<T> => {
    let done = combined.get(read) as Promise<T> | undefined;
    if (!done) combined.set(read, (done = combine()));
    return done;
  };

  /** bucket → value for every bucket of the window: through the cache when there is one. */
  async function bucketValues<V>(
    metric: StoredMetric,
    scope: DataScope,
    window: BucketWindow,
    request: RequestCache | undefined,
    role: string | undefined,
  ): Promise<{ values: ReadonlyMap<number, V>; read: object }> {
    if (!cache || !request) {
      const values = (await metric.computeSpan(source, scope, window)) as unknown as ReadonlyMap<number, V>;
      return { values, read: values };
    }
    const results = await cache.core.read(specFor<V>(metric, scope, window, role), window, request);
    return { values: new Map(results.map((r) => [r.bucket, r.value])), read: results };
  }

  return {
    reader(role) {
      const request = cache?.core.forRequest();
      // Promises, not values, are memoised: two fields asking at once share one lookup.
      const memo = new Map<string, Promise<unknown>>();
      const once = <T>(key: string, compute: () => Promise<T>): Promise<T> => {
        let hit = memo.get(key) as Promise<T> | undefined;
        if (!hit) memo.set(key, (hit = compute()));
        return hit;
      };
      const keyOf = (what: string, scope: DataScope, window: BucketWindow) =>
        JSON.stringify([what, scope.tenant, scope.region ?? null, window.granularity, window.from, window.to]);

      const sumSeries = (metric: SumMetric, scope: DataScope, window: BucketWindow) =>
        once(keyOf(metric.name, scope, window), async () => {
          const { values, read } = await bucketValues<number>(metric, scope, window, request, role);
          return combineOnce(read, async () => toSeries(window, values, metric.unit));
        });

      const reader: MetricsReader = {
        revenue: (scope, window) => sumSeries(REVENUE, scope, window),
        orders: (scope, window) => sumSeries(ORDERS, scope, window),
        sessions: (scope, window) => sumSeries(SESSIONS, scope, window),
        customers: (scope, window) =>
          once(keyOf(CUSTOMERS.name, scope, window), async () => {
            const { values, read } = await bucketValues<DistinctBucket>(CUSTOMERS, scope, window, request, role);
            return combineOnce(read, async () => {
              const series = toSeries(window, new Map([...values].map(([b, v]) => [b, v.n])), 1);
              // Cached: merge the buckets' sketches. Uncached: ask the source for the exact count.
              const total = cache ? countDistinct([...values.values()].map((v) => v.s)) : await CUSTOMERS.computeTotal(source, scope, window);
              return { ...series, total };
            });
          }),
        async averageOrderValue(scope, window) {
          const [revenue, orders] = await Promise.all([reader.revenue(scope, window), reader.orders(scope, window)]);
          return orders.total === 0 ? null : revenue.total / orders.total;
        },
        async conversionRate(scope, window) {
          const [orders, sessions] = await Promise.all([reader.orders(scope, window), reader.sessions(scope, window)]);
          return sessions.total === 0 ? null : orders.total / sessions.total;
        },
        async topProducts(scope, window, limit) {
          const totals = await once(keyOf(TOP_PRODUCTS.name, scope, window), async () => {
            const { values, read } = await bucketValues<ProductSalesByBucket>(TOP_PRODUCTS, scope, window, request, role);
            return combineOnce(read, async () => mergeProductBuckets(values.values()));
          });
          const ranked = [...totals.entries()]
            .sort(([idA, a], [idB, b]) => b.orders - a.orders || (idA < idB ? -1 : idA > idB ? 1 : 0))
            .slice(0, limit);
          const names = await source.productNames(scope.tenant, ranked.map(([id]) => id));
          return ranked.map(([productId, sales]) => ({
            productId,
            name: names.get(productId) ?? productId,
            orders: sales.orders,
            revenue: sales.revenueCents / 100,
          }));
        },
        cacheStats: () => Object.fromEntries(request?.stats ?? []),
        freshUntil: () => (request ? request.freshUntil : memo.size > 0 ? 0 : Infinity),
      };
      return reader;
    },
  };
}

/**
 * Every bucket of the window with its value (0 where the source had no rows).
 * Values are stored as integers and divided by `unit` only here, so totals are
 * exact sums of integers.
 */
export function toSeries(window: BucketWindow, buckets: ReadonlyMap<number, number>, unit: number): SeriesModel {
  let total = 0;
  const points = bucketsOf(window).map((start) => {
    const raw = buckets.get(start) ?? 0;
    total += raw;
    return { start, value: raw / unit };
  });
  return { total: total / unit, points };
}

/** Adds per-bucket product maps into one map over the range. */
export function mergeProductBuckets(buckets: Iterable<ProductSalesByBucket>): Map<string, { orders: number; revenueCents: number }> {
  const totals = new Map<string, { orders: number; revenueCents: number }>();
  for (const bucket of buckets) {
    for (const [productId, sales] of Object.entries(bucket)) {
      const sum = totals.get(productId);
      if (sum) {
        sum.orders += sales.orders;
        sum.revenueCents += sales.revenueCents;
      } else totals.set(productId, { ...sales });
    }
  }
  return totals;
}
