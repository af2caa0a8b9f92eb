/**
 * Invalidation for the dashboard: a domain event drops exactly the buckets it
 * changes (planner.ts); `invalidateMetrics` drops named metrics over a range, or all
 * their cached time. A derived metric is not stored: naming one drops its inputs.
 *
 * Entries are dropped before the call resolves — read your writes, on every instance
 * sharing the store. Then subscribers are told which metrics changed, derived ones
 * included; that notice is a hint and is not awaited.
 */
import { BUCKET_MS, bucketStart } from '../cache/buckets.js';
import type { Invalidator } from '../cache/invalidation.js';
import type { InvalidationNotice } from '../events/notices.js';
import type { DomainEvent } from '../events/types.js';
import { validatorKey } from '../cache/keys.js';
import type { MetricName, StoredMetric } from './define.js';
import { metricPrefix, planEvent, planRange, type InvalidationPlan, type KeySpace } from './planner.js';
import { DASHBOARD_REGISTRY, type MetricRegistry } from './registry.js';

/** Drops what writes change and tells subscribers. */
export interface InvalidationService {
  /** Drops what `event` changes and tells subscribers; resolves with the number of entries dropped. */
  onEvent(event: DomainEvent): Promise<number>;
  /**
   * Drops `metrics` (all when empty) of `tenant` over [from, to), or over all cached
   * time when no range is given, and tells subscribers (reason `manual`). Resolves
   * with the number of entries dropped.
   */
  manual(tenant: string, metrics: readonly MetricName[] | undefined, range?: { from: number; to: number }): Promise<number>;
}

/** What invalidation is built from. */
export interface InvalidationOptions {
  space: KeySpace;
  invalidator: Invalidator;
  /** @default the dashboard's metrics */
  registry?: MetricRegistry;
  /** Hears every drop once it is done; not awaited. */
  notify?: (notice: InvalidationNotice) => void;
  /** Epoch ms now. @default Date.now */
  clock?: () => number;
}

/** A manual drop without a range covers every bucket a dashboard may still ask for. */
const ALL_TIME_MS = 400 * BUCKET_MS.DAY;

/** The dashboard's invalidation over an invalidator and the metric declarations. */
export function createInvalidationService(options: InvalidationOptions): InvalidationService {
  const { space, invalidator } = options;
  const registry = options.registry ?? DASHBOARD_REGISTRY;
  const clock = options.clock ?? Date.now;
  const notify = options.notify ?? (() => {});

  // Every drop replaces the metric's validator too, so that no instance serves an
  // in-process copy (a bucket, a composed value, a whole response) read before it.
  const validatorOf = (tenant: string, metric: StoredMetric) =>
    validatorKey({ ...space, tenant, metric: metric.name, metricVersion: metric.version });
  const dropPlan = async (plan: InvalidationPlan, reason: string, tenant: string) => {
    const counts = await Promise.all(
      [...plan].map(([name, keys]) => invalidator.drop(name, reason, keys, [validatorOf(tenant, registry.get(name) as StoredMetric)])),
    );
    return counts.reduce((a, b) => a + b, 0);
  };

  return {
    async onEvent(event) {
      const dropped = await dropPlan(planEvent(space, event, registry.stored), event.type, event.tenant);
      const hour = bucketStart(event.occurredAt, 'HOUR');
      notify({
        tenant: event.tenant,
        region: event.region,
        metrics: registry.touchedBy(event.type),
        from: hour,
        to: hour + BUCKET_MS.HOUR,
        reason: event.type,
      });
      return dropped;
    },

    async manual(tenant, names, range) {
      const metrics = registry.storedBehind(names);
      const drop = range
        ? dropPlan(planRange(space, tenant, metrics, range.from, range.to), 'manual', tenant)
        : Promise.all(
            metrics.map((m) => invalidator.dropPrefix(m.name, 'manual', metricPrefix(space, tenant, m), [validatorOf(tenant, m)])),
          ).then((counts) => counts.reduce((a, b) => a + b, 0));
      const dropped = await drop;
      const now = clock();
      notify({
        tenant,
        metrics: registry.affectedBy(metrics),
        from: range?.from ?? bucketStart(now - ALL_TIME_MS, 'DAY'),
        to: range?.to ?? bucketStart(now, 'DAY') + BUCKET_MS.DAY,
        reason: 'manual',
      });
      return dropped;
    },
  };
}
