/** Prometheus instruments of the HTTP layer. Routes are a fixed set, never a raw path. */
import { Gauge, type Registry } from 'prom-client';

export type Route = 'graphql' | 'healthz' | 'readyz' | 'metrics' | 'other';

export interface HttpInstruments {
  /** Requests being handled now, by route; a graceful stop waits for these. */
  inFlight: Gauge<'route'>;
}

export function createHttpInstruments(registry: Registry): HttpInstruments {
  return {
    inFlight: new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests being handled now, by route',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
  };
}
