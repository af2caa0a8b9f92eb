/**
 * What the cache core reports as it works. The core knows no metrics library:
 * observability/ implements this with Prometheus counters, tests with plain arrays.
 * Every label value is bounded: a metric name or an operation, never a tenant.
 */
import type { StoreOperation } from './errors.js';

/** How one bucket was got. */
export type LookupResult = 'hit' | 'miss' | 'stale';

/**
 * The cache core's reports, one method per event; observability/cache-metrics.ts turns
 * them into the contract's Prometheus metrics. Methods must not throw: they run on the
 * read path. `metric` is a metric's name, never a tenant.
 */
export interface CacheObserver {
  /** One bucket looked up. */
  lookup(metric: string, result: LookupResult, count?: number): void;
  /** Buckets computed from the source (misses and refreshes). */
  recomputed(metric: string, buckets: number, durationMs: number): void;
  /** One query sent to the source. */
  sourceQuery(metric: string): void;
  /** A stale value served while a refresh runs. */
  staleServed(metric: string, count?: number): void;
  /** A lookup waited for another worker's lock. */
  lockWaited(metric: string): void;
  /** Buckets dropped, and why (`order.recorded`, `manual`, …). */
  invalidated(metric: string, reason: string, count: number): void;
  /** A store failure; the source answered instead. */
  storeError(operation: StoreOperation, error: unknown): void;
  /**
   * Values served past their stale window because the source failed (stale-if-error);
   * each is also a `stale` lookup and a `staleServed`.
   */
  staleIfError?(metric: string, count: number): void;
  /** A computation from the source failed (the source is down or refused the query); not thrown from here. */
  sourceFailed?(metric: string, error: unknown): void;
  /** One store command and how long it took, failed or not. */
  storeCommand?(operation: StoreOperation, durationMs: number): void;
}

/** An observer that records nothing. */
export const NOOP_OBSERVER: CacheObserver = {
  lookup() {},
  recomputed() {},
  sourceQuery() {},
  staleServed() {},
  lockWaited() {},
  invalidated() {},
  storeError() {},
};
