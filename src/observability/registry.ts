/**
 * An explicit Prometheus registry (not prom-client's global one), so that tests
 * and several apps in one process never share counters.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/** A new, empty Prometheus registry; with `defaultMetrics` (default true) it also collects prom-client's process metrics. */
export function createRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
