/**
 * Every metric, declared once: what it is called in the schema, what events change
 * it, how its buckets combine over a range, and how the source computes a span of
 * its buckets. The service reads these declarations; nothing else knows a metric's
 * SQL or its combination rule.
 */
import type { BucketWindow } from '../cache/buckets.js';
import type { AggregateSource } from '../source/aggregates.js';
import type { DataScope } from '../source/types.js';

/** Names of the contract's `MetricName` enum. */
export type MetricName =
  | 'REVENUE'
  | 'ORDERS'
  | 'SESSIONS'
  | 'CUSTOMERS'
  | 'AVERAGE_ORDER_VALUE'
  | 'CONVERSION_RATE'
  | 'TOP_PRODUCTS';

/** Domain events that change source rows. */
export type DomainEventType = 'order.recorded' | 'session.recorded';

/** Per-product sales inside one bucket (cents). */
export type ProductSalesByBucket = Record<string, { orders: number; revenueCents: number }>;

interface BaseDefinition {
  readonly name: MetricName;
  /** Schema coordinate of the field that shows it. */
  readonly field: string;
  /** Logic version; bump it when the computation changes. */
  readonly version: number;
  /** Events whose rows change this metric's buckets. */
  readonly events: readonly DomainEventType[];
}

/** A metric stored per bucket whose range value is the sum of its buckets. */
export interface SumMetric extends BaseDefinition {
  readonly combine: 'sum';
  /** Divides stored integers into the value shown (cents → major units). */
  readonly unit: number;
  computeSpan(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<Map<number, number>>;
}

/** A per-bucket distinct count; its range total is distinct over the whole range. */
export interface DistinctMetric extends BaseDefinition {
  readonly combine: 'distinct';
  computeSpan(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<Map<number, number>>;
  computeTotal(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<number>;
}

/** Per-bucket maps merged key by key over the range, then ranked. */
export interface TopNMetric extends BaseDefinition {
  readonly combine: 'topN';
  computeSpan(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<Map<number, ProductSalesByBucket>>;
}

/** A metric composed at read time from others; never stored. */
export interface DerivedMetric extends BaseDefinition {
  readonly combine: 'derived';
  readonly inputs: readonly MetricName[];
}

export type MetricDefinition = SumMetric | DistinctMetric | TopNMetric | DerivedMetric;

const toMap = (rows: ReadonlyArray<{ bucket: number; value: number }>) => new Map(rows.map((r) => [r.bucket, r.value]));

export const REVENUE: SumMetric = {
  name: 'REVENUE',
  field: 'Dashboard.revenue',
  version: 1,
  events: ['order.recorded'],
  combine: 'sum',
  unit: 100,
  computeSpan: async (source, scope, window) => toMap(await source.revenueCents(scope, window)),
};

export const ORDERS: SumMetric = {
  name: 'ORDERS',
  field: 'Dashboard.orders',
  version: 1,
  events: ['order.recorded'],
  combine: 'sum',
  unit: 1,
  computeSpan: async (source, scope, window) => toMap(await source.orderCount(scope, window)),
};

export const SESSIONS: SumMetric = {
  name: 'SESSIONS',
  field: 'Dashboard.sessions',
  version: 1,
  events: ['session.recorded'],
  combine: 'sum',
  unit: 1,
  computeSpan: async (source, scope, window) => toMap(await source.sessionCount(scope, window)),
};

export const CUSTOMERS: DistinctMetric = {
  name: 'CUSTOMERS',
  field: 'Dashboard.customers',
  version: 1,
  events: ['order.recorded'],
  combine: 'distinct',
  computeSpan: async (source, scope, window) => toMap(await source.customerCount(scope, window)),
  computeTotal: (source, scope, window) => source.distinctCustomers(scope, window),
};

export const TOP_PRODUCTS: TopNMetric = {
  name: 'TOP_PRODUCTS',
  field: 'Dashboard.topProducts',
  version: 1,
  events: ['order.recorded'],
  combine: 'topN',
  async computeSpan(source, scope, window) {
    const spans = new Map<number, ProductSalesByBucket>();
    for (const row of await source.productSales(scope, window)) {
      let bucket = spans.get(row.bucket);
      if (!bucket) spans.set(row.bucket, (bucket = {}));
      bucket[row.productId] = { orders: row.orders, revenueCents: row.revenueCents };
    }
    return spans;
  },
};

export const AVERAGE_ORDER_VALUE: DerivedMetric = {
  name: 'AVERAGE_ORDER_VALUE',
  field: 'Dashboard.averageOrderValue',
  version: 1,
  events: ['order.recorded'],
  combine: 'derived',
  inputs: ['REVENUE', 'ORDERS'],
};

export const CONVERSION_RATE: DerivedMetric = {
  name: 'CONVERSION_RATE',
  field: 'Dashboard.conversionRate',
  version: 1,
  events: ['order.recorded', 'session.recorded'],
  combine: 'derived',
  inputs: ['ORDERS', 'SESSIONS'],
};

/** All metrics by name. */
export const METRICS: Readonly<Record<MetricName, MetricDefinition>> = Object.freeze({
  REVENUE,
  ORDERS,
  SESSIONS,
  CUSTOMERS,
  AVERAGE_ORDER_VALUE,
  CONVERSION_RATE,
  TOP_PRODUCTS,
});

/** Metrics whose declarations name `event`. */
export function metricsTouchedBy(event: DomainEventType): MetricName[] {
  return Object.values(METRICS)
    .filter((m) => m.events.includes(event))
    .map((m) => m.name);
}
