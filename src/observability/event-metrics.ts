/** Prometheus instruments of the event pipeline and subscriptions. Bounded labels only. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConsumeResult } from '../events/stream-consumer.js';

/** What the stream consumer reports to the event metrics. */
export interface EventMetrics {
  /** One stream entry handled, by outcome; a `type` other than a domain event's counts as `unknown`. */
  consumed(result: ConsumeResult, type: string): void;
}

/**
 * Registers `events_consumed_total`, the `graphql_subscriptions` gauge (read from
 * `sources.subscribers` at each scrape) and, when `sources.pending` is given, the
 * `event_stream_pending` gauge (-1 when Redis does not answer within 500 ms).
 */
export function createEventMetrics(
  registry: Registry,
  sources: { subscribers: () => number; pending?: (() => Promise<number>) | undefined },
): EventMetrics {
  const consumed = new Counter({
    name: 'events_consumed_total',
    help: 'Entries read from the dashboard:events stream, by type and outcome (ingested, duplicate, malformed, failed)',
    labelNames: ['type', 'result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'graphql_subscriptions',
    help: 'metricsInvalidated subscriptions open on this instance',
    registers: [registry],
    collect() {
      this.set(sources.subscribers());
    },
  });
  if (sources.pending) {
    const pending = sources.pending;
    new Gauge({
      name: 'event_stream_pending',
      help: 'Entries of dashboard:events delivered to the consumer group and not yet acknowledged',
      registers: [registry],
      // A scrape must never hang on Redis: -1 when the count does not come in time.
      async collect() {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(-1), 500)));
        this.set(await Promise.race([pending().catch(() => -1), timeout]));
        clearTimeout(timer);
      },
    });
  }
  return {
    consumed: (result, type) => consumed.inc({ type: type === 'order.recorded' || type === 'session.recorded' ? type : 'unknown', result }),
  };
}
