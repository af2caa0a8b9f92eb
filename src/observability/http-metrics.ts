/** Prometheus instruments of the HTTP layer. Routes are a fixed set, never a raw path. */
import { Gauge, type Registry } from 'prom-client';

/** The route label of HTTP metrics: one of the served paths, or `other` for the rest. */
export type Route = 'graphql' | 'healthz' | 'readyz' | 'metrics' | 'other';

/** The HTTP server's instruments. */
export interface HttpInstruments {
  /** Requests being handled now, by route; a graceful stop waits for these. */
  inFlight: Gauge<'route'>;
}

/** Registers the HTTP instruments (`http_requests_in_flight`) in `registry`. */
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
