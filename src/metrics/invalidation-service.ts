/**
 * Invalidation for the dashboard: domain events drop exactly the buckets they
 * change (planner.ts); `invalidateMetrics` drops named metrics over a range, or all
 * their cached time. Derived metrics are not stored: naming one drops its inputs.
 */
import type { Invalidator } from '../cache/invalidation.js';
import type { DomainEvent } from '../events/types.js';
import { METRICS, STORED_METRICS, type MetricName } from './definitions.js';
import { metricPrefix, planEvent, planRange, type KeySpace } from './planner.js';

export interface InvalidationService {
  /** Drops what `event` changes; resolves with the number of entries dropped. */
  onEvent(event: DomainEvent): Promise<number>;
  /**
   * Drops `metrics` (all when empty) of `tenant` over [from, to), or over all cached
   * time when no range is given. Resolves with the number of entries dropped.
   */
  manual(tenant: string, metrics: readonly MetricName[] | undefined, range?: { from: number; to: number }): Promise<number>;
}

/** Stored metrics behind `names` (a derived metric stands for its inputs). */
export function storedMetricsOf(names: readonly MetricName[] | undefined): MetricName[] {
  if (!names || names.length === 0) return STORED_METRICS.map((m) => m.name);
  const out = new Set<MetricName>();
  for (const name of names) {
    const metric = METRICS[name];
    if (metric.combine === 'derived') for (const input of metric.inputs) out.add(input);
    else out.add(name);
  }
  return [...out];
}

export function createInvalidationService(space: KeySpace, invalidator: Invalidator): InvalidationService {
  const dropPlan = async (plan: Map<MetricName, string[]>, reason: string) => {
    const counts = await Promise.all([...plan].map(([metric, keys]) => invalidator.drop(metric, reason, keys)));
    return counts.reduce((a, b) => a + b, 0);
  };
  return {
    onEvent: (event) => dropPlan(planEvent(space, event), event.type),
    async manual(tenant, metrics, range) {
      const names = storedMetricsOf(metrics);
      if (range) return dropPlan(planRange(space, tenant, names, range.from, range.to), 'manual');
      const counts = await Promise.all(
        STORED_METRICS.filter((m) => names.includes(m.name)).map((m) => invalidator.dropPrefix(m.name, 'manual', metricPrefix(space, tenant, m))),
      );
      return counts.reduce((a, b) => a + b, 0);
    },
  };
}
