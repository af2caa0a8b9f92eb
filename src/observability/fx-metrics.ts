/** Prometheus instruments of the FX vendor client. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FxObserver } from '../vendors/fx-cached.js';

/**
 * The FX client's observer, counting into `registry`: vendor calls by outcome and their
 * latency, the circuit's state (1 while open) and stale rates served.
 */
export function createFxMetrics(registry: Registry): FxObserver {
  const registers = [registry];
  const calls = new Counter({
    name: 'fx_vendor_requests_total',
    help: 'FX vendor calls by outcome (ok, timeout, error, invalid, circuit_open)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'fx_vendor_request_duration_seconds',
    help: 'FX vendor call latency',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers,
  });
  const open = new Gauge({
    name: 'fx_vendor_circuit_open',
    help: '1 while the FX vendor circuit is open (the vendor rests), else 0',
    registers,
  });
  const stale = new Counter({
    name: 'fx_stale_served_total',
    help: 'Exchange rates served stale because the vendor failed or was slow',
    registers,
  });
  open.set(0);
  return {
    vendorCall(outcome, durationMs) {
      calls.inc({ outcome });
      if (durationMs !== undefined) duration.observe(durationMs / 1000);
    },
    staleServed: () => stale.inc(),
    circuit: (isOpen) => open.set(isOpen ? 1 : 0),
  };
}
