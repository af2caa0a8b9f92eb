/**
 * The shape of a metric declaration. A declaration is the whole metric: its schema
 * field, its logic version, the events that change it, who may read it, what the
 * source computes (the SQL), how its buckets combine over a range, and for how long
 * its buckets live. Everything else — the reader, the resolvers, invalidation,
 * `npm run warm`, the start-up check — derives what it needs from declarations.
 *
 * How buckets combine:
 *
 * | combine    | a bucket holds                      | the field's value over a range                 |
 * |------------|-------------------------------------|------------------------------------------------|
 * | `sum`      | an integer                          | a series; total = sum of buckets ÷ unit        |
 * | `distinct` | exact count + mergeable sketch      | a series of counts; total = merged sketches    |
 * | `topN`     | group → measures                    | groups merged over the range, ranked, labelled |
 * | `derived`  | nothing (never stored)              | a formula over its inputs' totals              |
 */
import type { Role } from '../auth/identity.js';
import type { Granularity } from '../cache/buckets.js';
import { DEFAULT_TTL, type TtlPolicy } from '../cache/policy.js';
import type { Sketch } from '../cache/sketch.js';
import type { DomainEventType } from '../events/types.js';
import type { GroupQuery, LabelQuery, MembersQuery, ValueQuery } from '../source/aggregates.js';
import type { SeriesModel } from './types.js';

/** A metric's name: a value of the schema's `MetricName` enum. */
export type MetricName = string;

interface BaseDeclaration {
  /** The `MetricName` enum value. */
  readonly name: MetricName;
  /** Schema coordinate of the field that shows it, e.g. `Dashboard.revenue`. */
  readonly field: string;
  /** Logic version; bump it when the computation changes (old entries are then never read). */
  readonly version: number;
  /**
   * Roles that may read it; absent: every role. A derived metric may read no more
   * widely than its inputs allow (its rule comes from them).
   */
  readonly readableBy?: readonly Role[] | undefined;
  /** Other schema coordinates that reveal this metric's value and share its role rule. */
  readonly alsoShownIn?: readonly string[] | undefined;
}

/** What a stored metric declares about its cache entries. */
interface StoredDeclaration extends BaseDeclaration {
  /** Events whose rows change its buckets. */
  readonly events: readonly DomainEventType[];
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
export interface SumMetric extends StoredDeclaration {
  readonly combine: 'sum';
  /** The source's aggregate per bucket: an integer (cents, counts) so that sums are exact. */
  readonly query: ValueQuery;
  /** Divides stored integers into the value shown (100: cents → major units). */
  readonly unit: number;
}

/** One bucket of a distinct count: the exact count in the bucket and a mergeable sketch. */
export interface DistinctBucket {
  n: number;
  s: Sketch;
}

/** A per-bucket distinct count; its range total merges the buckets' sketches. */
export interface DistinctMetric extends StoredDeclaration {
  readonly combine: 'distinct';
  /** The members counted per bucket. */
  readonly query: MembersQuery;
}

/** Per-bucket measures of a group (a product's orders and revenue in cents, say). */
export type GroupMeasures = Record<string, number>;
/** One bucket of a top-N metric: group key → its measures in that bucket. */
export type GroupsBucket = Record<string, GroupMeasures>;

/** Per-bucket group maps merged key by key over the range, then ranked and labelled. */
export interface TopNMetric<Item = unknown> extends StoredDeclaration {
  readonly combine: 'topN';
  /** Measures per group and bucket. */
  readonly query: GroupQuery;
  /** Where each group's display name comes from. */
  readonly labels: LabelQuery;
  /** The measure ranked by, descending; ties by key ascending. */
  readonly rankBy: string;
  /** The field's `limit` argument: default and largest allowed (at least 1). */
  readonly limit: { readonly default: number; readonly max: number };
  /** One ranked group as the schema shows it; `label` falls back to the key. */
  present(key: string, measures: Readonly<GroupMeasures>, label: string): Item;
}

/** A metric computed at read time from the totals of others; never stored. */
export interface DerivedMetric extends BaseDeclaration {
  readonly combine: 'derived';
  /** The stored `sum` or `distinct` metrics whose totals the formula takes, in order. */
  readonly inputs: readonly MetricName[];
  /** The value from the inputs' totals, in `inputs` order; null where undefined (no orders). */
  formula(totals: readonly number[]): number | null;
}

/** A metric kept in the cache, bucket by bucket: a sum, a distinct count or a top-N. */
export type StoredMetric = SumMetric | DistinctMetric | TopNMetric;
/** Any metric declaration, told apart by `combine`. */
export type MetricDefinition = StoredMetric | DerivedMetric;

/** The value a metric's field resolves to. */
export type MetricValue<M extends MetricDefinition> = M extends SumMetric | DistinctMetric
  ? SeriesModel
  : M extends TopNMetric<infer Item>
    ? Item[]
    : number | null;

/** Field arguments a metric's value may depend on (`topProducts(limit:)`). */
export interface MetricArgs {
  limit?: number | null | undefined;
}

/** What stored metrics share unless they say otherwise: both bucket sizes, scoped by region, not by role. */
export const STORED_DEFAULTS = Object.freeze({
  granularities: ['HOUR', 'DAY'] as readonly Granularity[],
  scope: Object.freeze({ region: true, role: false }),
  ttl: DEFAULT_TTL,
});

/** A stored declaration as written: `combine` comes from the define function, the rest may take STORED_DEFAULTS. */
type StoredInput<T> = Omit<T, 'combine' | 'granularities' | 'scope' | 'ttl'> &
  Partial<Pick<StoredDeclaration, 'granularities' | 'scope' | 'ttl'>>;

/** Declares a summed metric. */
export function defineSum(declaration: StoredInput<SumMetric>): SumMetric {
  return Object.freeze({ ...STORED_DEFAULTS, ...declaration, combine: 'sum' });
}

/** Declares a distinct count. */
export function defineDistinct(declaration: StoredInput<DistinctMetric>): DistinctMetric {
  return Object.freeze({ ...STORED_DEFAULTS, ...declaration, combine: 'distinct' });
}

/** Declares a ranked top-N metric. */
export function defineTopN<Item>(declaration: StoredInput<TopNMetric<Item>>): TopNMetric<Item> {
  return Object.freeze({ ...STORED_DEFAULTS, ...declaration, combine: 'topN' });
}

/** Declares a metric computed from other metrics' totals. */
export function defineDerived(declaration: Omit<DerivedMetric, 'combine'>): DerivedMetric {
  return Object.freeze({ ...declaration, combine: 'derived' });
}

/** Type guard: the metric keeps buckets in the cache. */
export const isStored = (metric: MetricDefinition): metric is StoredMetric => metric.combine !== 'derived';
