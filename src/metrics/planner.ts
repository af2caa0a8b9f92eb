/**
 * The invalidation planner: what a domain event changes, exactly. That tenant; the
 * metrics whose declarations name the event; at each granularity the one bucket
 * that contains occurredAt; and every scope that can see the event's region (the
 * all-regions entry and that region's entry; each role only for metrics keyed by
 * role). Nothing else is dropped.
 */
import { BUCKET_MS, bucketStart, type Granularity } from '../cache/buckets.js';
import { bucketKeyOf, metricPrefix as metricKeyPrefix } from '../cache/keys.js';
import type { DomainEvent } from '../events/types.js';
import { REGIONS } from '../source/types.js';
import { ROLES } from '../auth/identity.js';
import type { MetricName, StoredMetric } from './define.js';

/** Where the keys live: the global prefix and CACHE_VERSION. */
export interface KeySpace {
  prefix: string;
  cacheVersion: string;
}

/** Keys to drop, grouped by metric (for counting). */
export type InvalidationPlan = Map<MetricName, string[]>;

/** Every key of `metric` for the tenant: each granularity's buckets × region scopes × (roles, if keyed by role). */
function keysFor(
  space: KeySpace,
  metric: StoredMetric,
  tenant: string,
  regions: ReadonlyArray<string | undefined>,
  bucketsAt: (granularity: Granularity) => number[],
): string[] {
  const keys: string[] = [];
  const roles: Array<string | undefined> = metric.scope.role ? [...ROLES] : [undefined];
  const scopes = metric.scope.region ? regions : [undefined];
  for (const granularity of metric.granularities) {
    const buckets = bucketsAt(granularity);
    for (const region of scopes)
      for (const role of roles) {
        const keyOf = bucketKeyOf({ ...space, tenant, metric: metric.name, metricVersion: metric.version, region, role, granularity });
        for (const bucket of buckets) keys.push(keyOf(bucket));
      }
  }
  return keys;
}

/** The keys an event changes, among `metrics` (the registry's stored metrics). */
export function planEvent(space: KeySpace, event: DomainEvent, metrics: readonly StoredMetric[]): InvalidationPlan {
  const plan: InvalidationPlan = new Map();
  for (const metric of metrics) {
    if (!metric.events.includes(event.type)) continue;
    plan.set(
      metric.name,
      keysFor(space, metric, event.tenant, [undefined, event.region], (g) => [bucketStart(event.occurredAt, g)]),
    );
  }
  return plan;
}

/** The keys of `metrics` over [from, to) for a tenant, every scope, every granularity each declares. */
export function planRange(space: KeySpace, tenant: string, metrics: readonly StoredMetric[], from: number, to: number): InvalidationPlan {
  const plan: InvalidationPlan = new Map();
  for (const metric of metrics) {
    plan.set(
      metric.name,
      keysFor(space, metric, tenant, [undefined, ...REGIONS], (g) => {
        const starts: number[] = [];
        for (let t = bucketStart(from, g); t < to; t += BUCKET_MS[g]) starts.push(t);
        return starts;
      }),
    );
  }
  return plan;
}

/** The prefix of every key of one metric of a tenant, for dropping all its cached time. */
export function metricPrefix(space: KeySpace, tenant: string, metric: StoredMetric): string {
  return metricKeyPrefix({ ...space, tenant, metric: metric.name, metricVersion: metric.version });
}
