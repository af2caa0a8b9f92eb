/**
 * `metricsInvalidated`: domain events of the caller's tenant and scope, as the
 * metrics they change. In-process delivery for now.
 */
import { Repeater } from 'graphql-yoga';
import { metricsTouchedBy, type MetricName } from '../../metrics/definitions.js';
import type { SubscriptionResolvers } from '../resolvers.generated.js';
import { BUCKET_MS, bucketStart } from '../../cache/buckets.js';

export const Subscription: SubscriptionResolvers = {
  metricsInvalidated: {
    subscribe(_, { metrics: wanted }, { identity, services }) {
      const filter = wanted && wanted.length > 0 ? new Set<MetricName>(wanted) : undefined;
      return new Repeater(async (push, stop) => {
        const unsubscribe = services.bus.subscribe((event) => {
          // Tenant equality on the verified token's tenant: nothing else is ever delivered.
          if (event.tenant !== identity.tenant) return;
          if (identity.region !== undefined && event.region !== identity.region) return;
          const metrics = metricsTouchedBy(event.type).filter((m) => !filter || filter.has(m));
          if (metrics.length === 0) return;
          const from = bucketStart(event.occurredAt, 'DAY');
          void push({
            metricsInvalidated: { metrics, from, to: from + BUCKET_MS.DAY, reason: event.type, at: services.clock() },
          });
        });
        // A subscription lives no longer than its token (setTimeout caps near 24.8 days).
        const expiry = setTimeout(stop, Math.min(2 ** 31 - 1, Math.max(0, identity.expiresAt - services.clock())));
        await stop;
        clearTimeout(expiry);
        unsubscribe();
      });
    },
  },
};
