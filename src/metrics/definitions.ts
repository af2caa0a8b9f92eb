/**
 * Every metric, declared once: what it is called in the schema, what events change
 * it, how its buckets combine over a range, and how the source computes a span of
 * its buckets. The service reads these declarations; nothing else knows a metric's
 * SQL or its combination rule.
 */
import type { BucketWindow, Granularity } from '../cache/buckets.js';
import { DEFAULT_TTL, type TtlPolicy } from '../cache/policy.js';
import { sketchOf, type Sketch } from '../cache/sketch.js';
import type { AggregateSource } from '../source/aggregates.js';
import type { DataScope } from '../source/types.js';
import { DOMAIN_EVENTS, type DomainEventType } from '../events/types.js';

/** Names of the contract's `MetricName` enum. */
export type MetricName =
  | 'REVENUE'
  | 'ORDERS'
  | 'SESSIONS'
  | 'CUSTOMERS'
  | 'AVERAGE_ORDER_VALUE'
  | 'CONVERSION_RATE'
  | 'TOP_PRODUCTS';

export { DOMAIN_EVENTS, type DomainEventType };

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

/** What a stored (not derived) metric declares about its cache entries. */
interface StoredDefinition extends BaseDefinition {
  /** Bucket sizes it is cached at. */
  readonly granularities: readonly Granularity[];
  /**
   * Scope dimensions its value depends on, beyond the tenant (always): `region` when
   * the caller's token names one; `role` only if the value differs by role, so that
   * roles seeing the same value share one entry.
   */
  readonly scope: { readonly region: boolean; readonly role: boolean };
  readonly ttl: TtlPolicy;
}

/** A metric stored per bucket whose range value is the sum of its buckets. */
export interface SumMetric extends StoredDefinition {
  readonly combine: 'sum';
  /** Divides stored integers into the value shown (cents → major units). */
  readonly unit: number;
  computeSpan(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<Map<number, number>>;
}

/** One bucket of a distinct count: the exact count in the bucket and a mergeable sketch. */
export interface DistinctBucket {
  n: number;
  s: Sketch;
}

/** A per-bucket distinct count; its range total merges the buckets' sketches. */
export interface DistinctMetric extends StoredDefinition {
  readonly combine: 'distinct';
  computeSpan(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<Map<number, DistinctBucket>>;
  /** Exact distinct count over a window, straight from the source (the uncached path). */
  computeTotal(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<number>;
}

/** Per-bucket maps merged key by key over the range, then ranked. */
export interface TopNMetric extends StoredDefinition {
  readonly combine: 'topN';
  computeSpan(source: AggregateSource, scope: DataScope, window: BucketWindow): Promise<Map<number, ProductSalesByBucket>>;
}

/** A metric composed at read time from others; never stored. */
export interface DerivedMetric extends BaseDefinition {
  readonly combine: 'derived';
  readonly inputs: readonly MetricName[];
}

export type StoredMetric = SumMetric | DistinctMetric | TopNMetric;
export type MetricDefinition = StoredMetric | DerivedMetric;

/** Every stored metric is cached at both sizes and scoped by region, not by role. */
const STORED = { granularities: ['HOUR', 'DAY'], scope: { region: true, role: false }, ttl: DEFAULT_TTL } as const;

const toMap = (rows: ReadonlyArray<{ bucket: number; value: number }>) => new Map(rows.map((r) => [r.bucket, r.value]));

export const REVENUE: SumMetric = {
  ...STORED,
  name: 'REVENUE',
  field: 'Dashboard.revenue',
  version: 1,
  events: ['order.recorded'],
  combine: 'sum',
  unit: 100,
  computeSpan: async (source, scope, window) => toMap(await source.revenueCents(scope, window)),
};

export const ORDERS: SumMetric = {
  ...STORED,
  name: 'ORDERS',
  field: 'Dashboard.orders',
  version: 1,
  events: ['order.recorded'],
  combine: 'sum',
  unit: 1,
  computeSpan: async (source, scope, window) => toMap(await source.orderCount(scope, window)),
};

export const SESSIONS: SumMetric = {
  ...STORED,
  name: 'SESSIONS',
  field: 'Dashboard.sessions',
  version: 1,
  events: ['session.recorded'],
  combine: 'sum',
  unit: 1,
  computeSpan: async (source, scope, window) => toMap(await source.sessionCount(scope, window)),
};

export const CUSTOMERS: DistinctMetric = {
  ...STORED,
  name: 'CUSTOMERS',
  field: 'Dashboard.customers',
  version: 1,
  events: ['order.recorded'],
  combine: 'distinct',
  async computeSpan(source, scope, window) {
    const members = new Map<number, string[]>();
    for (const row of await source.customersByBucket(scope, window)) {
      let list = members.get(row.bucket);
      if (!list) members.set(row.bucket, (list = []));
      list.push(row.customerId);
    }
    return new Map([...members].map(([bucket, ids]) => [bucket, { n: ids.length, s: sketchOf(ids) }]));
  },
  computeTotal: (source, scope, window) => source.distinctCustomers(scope, window),
};

export const TOP_PRODUCTS: TopNMetric = {
  ...STORED,
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

/** The metrics kept in the cache, each with its own buckets. */
export const STORED_METRICS: readonly StoredMetric[] = [REVENUE, ORDERS, SESSIONS, CUSTOMERS, TOP_PRODUCTS];

/** Metrics whose declarations name `event`. */
export function metricsTouchedBy(event: DomainEventType): MetricName[] {
  return Object.values(METRICS)
    .filter((m) => m.events.includes(event))
    .map((m) => m.name);
}
