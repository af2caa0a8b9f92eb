/**
 * An explicit Prometheus registry (not prom-client's global one), so that tests
 * and several apps in one process never share counters.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
