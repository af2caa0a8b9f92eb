/**
 * `metricsInvalidated`: which metrics of the caller's tenant changed, and over which
 * range, coalesced per tenant by the hub. The filter comes from the verified token
 * only; the subscription ends when the token expires.
 */
import { Repeater } from 'graphql-yoga';
import type { MetricsInvalidatedPayload } from '../../events/hub.js';
import type { MetricName, SubscriptionResolvers } from '../resolvers.generated.js';

/**
 * `Subscription.metricsInvalidated`: the hub's payloads for the caller's tenant and
 * region, optionally only the `metrics` asked for; ends when the token expires.
 */
export const Subscription: SubscriptionResolvers = {
  metricsInvalidated: {
    subscribe(_, { metrics: wanted }, { identity, services }) {
      return new Repeater<{ metricsInvalidated: MetricsInvalidatedPayload & { metrics: MetricName[] } }>(async (push, stop) => {
        const unsubscribe = services.hub.subscribe(
          {
            tenant: identity.tenant,
            region: identity.region,
            metrics: wanted && wanted.length > 0 ? new Set<string>(wanted) : undefined,
          },
          (payload) => void push({ metricsInvalidated: payload as MetricsInvalidatedPayload & { metrics: MetricName[] } }),
          // The instance stops: the stream completes (SSE `complete`, graphql-ws `complete`), not cut.
          () => stop(),
        );
        // A subscription lives no longer than its token (setTimeout caps near 24.8 days).
        const expiry = setTimeout(stop, Math.min(2 ** 31 - 1, Math.max(0, identity.expiresAt - services.clock())));
        await stop;
        clearTimeout(expiry);
        unsubscribe();
      });
    },
  },
};
