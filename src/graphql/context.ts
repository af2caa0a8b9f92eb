/**
 * Per-request context. Built from the verified token only; the services are
 * shared by every request, the metrics reader is made for this one.
 */
import type { Identity } from '../auth/identity.js';
import type { Logger } from '../observability/logger.js';
import type { Recorder } from '../domain/recorder.js';
import type { EventBus } from '../events/bus.js';
import type { SubscriptionHub } from '../events/hub.js';
import type { InvalidationService } from '../metrics/invalidation-service.js';
import type { MetricsReader } from '../metrics/service.js';
import type { WriteSource } from '../source/writes.js';
import type { FxRates } from '../vendors/fx.js';

/** Long-lived services every resolver may use. */
export interface GraphQLServices {
  recorder: Recorder;
  invalidation: InvalidationService;
  hub: SubscriptionHub;
  writes: WriteSource;
  /** The currency a tenant's amounts are in (USD for an unknown tenant); remembered for a minute. */
  currencyOf(tenant: string): Promise<string>;
  fx: FxRates;
  bus: EventBus;
  /** Epoch ms now. */
  clock: () => number;
}

/**
 * What every resolver gets, built per request by yoga's `context` from the verified token
 * alone: who is asking, a logger and a metrics reader for this request, and the shared
 * services. A request without a valid token gets no context: it fails UNAUTHENTICATED.
 */
export interface GraphQLContext {
  /** The verified caller: tenant, role and region scope come from here only. */
  identity: Identity;
  /** This request's logger: request id, tenant and role on every line. */
  log: Logger;
  /** This request's reader of metric values, for the caller's role; its memo lives as long as the request. */
  metrics: MetricsReader;
  services: GraphQLServices;
}
