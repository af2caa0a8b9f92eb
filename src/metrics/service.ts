/**
 * The metrics service: resolvers ask it for a metric over a window; it asks the
 * source for the buckets it needs and combines them as each declaration says.
 * A reader is made per request so that a metric needed by two fields (revenue for
 * `revenue` and `averageOrderValue`) is fetched once.
 */
import { bucketsOf, type BucketWindow } from '../cache/buckets.js';
import type { AggregateSource } from '../source/aggregates.js';
import type { DataScope } from '../source/types.js';
import {
  CUSTOMERS,
  ORDERS,
  REVENUE,
  SESSIONS,
  TOP_PRODUCTS,
  type ProductSalesByBucket,
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
}

export interface MetricsService {
  /** A reader whose lookups are shared for the life of one request. */
  reader(): MetricsReader;
}

export function createMetricsService(source: AggregateSource): MetricsService {
  async function sumSeries(metric: SumMetric, scope: DataScope, window: BucketWindow): Promise<SeriesModel> {
    const buckets = await metric.computeSpan(source, scope, window);
    return toSeries(window, buckets, metric.unit);
  }

  async function customers(scope: DataScope, window: BucketWindow): Promise<SeriesModel> {
    const [buckets, total] = await Promise.all([
      CUSTOMERS.computeSpan(source, scope, window),
      CUSTOMERS.computeTotal(source, scope, window),
    ]);
    return { ...toSeries(window, buckets, 1), total };
  }

  async function productTotals(scope: DataScope, window: BucketWindow) {
    return mergeProductBuckets((await TOP_PRODUCTS.computeSpan(source, scope, window)).values());
  }

  return {
    reader() {
      // Promises, not values, are memoised: two fields asking at once share one query.
      const memo = new Map<string, Promise<unknown>>();
      const once = <T>(key: string, compute: () => Promise<T>): Promise<T> => {
        let hit = memo.get(key) as Promise<T> | undefined;
        if (!hit) memo.set(key, (hit = compute()));
        return hit;
      };
      const keyOf = (what: string, scope: DataScope, window: BucketWindow) =>
        JSON.stringify([what, scope.tenant, scope.region ?? null, window.granularity, window.from, window.to]);

      const reader: MetricsReader = {
        revenue: (scope, window) => once(keyOf('REVENUE', scope, window), () => sumSeries(REVENUE, scope, window)),
        orders: (scope, window) => once(keyOf('ORDERS', scope, window), () => sumSeries(ORDERS, scope, window)),
        sessions: (scope, window) => once(keyOf('SESSIONS', scope, window), () => sumSeries(SESSIONS, scope, window)),
        customers: (scope, window) => once(keyOf('CUSTOMERS', scope, window), () => customers(scope, window)),
        async averageOrderValue(scope, window) {
          const [revenue, orders] = await Promise.all([reader.revenue(scope, window), reader.orders(scope, window)]);
          return orders.total === 0 ? null : revenue.total / orders.total;
        },
        async conversionRate(scope, window) {
          const [orders, sessions] = await Promise.all([reader.orders(scope, window), reader.sessions(scope, window)]);
          return sessions.total === 0 ? null : orders.total / sessions.total;
        },
        async topProducts(scope, window, limit) {
          const totals = await once(keyOf('TOP_PRODUCTS', scope, window), () => productTotals(scope, window));
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
