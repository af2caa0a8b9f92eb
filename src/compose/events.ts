/**
 * The events parts. Notices: how invalidations reach subscribers on every instance
 * (Redis pub/sub, or in process when embedded). Ingest: every write is a domain
 * event on the in-process bus, whether it came from a mutation or from the
 * `dashboard:events` stream; each one drops its buckets before the write returns.
 */
import type { Registry } from 'prom-client';
import { SHUTDOWN_CLOSE_RESERVE_MS, type Config } from '../config/index.js';
import { createRecorder, type Recorder } from '../domain/recorder.js';
import { createEventBus, type EventBus } from '../events/bus.js';
import { createSubscriptionHub, type SubscriptionHub } from '../events/hub.js';
import { createLocalFanout, createRedisFanout, type InvalidationNotice } from '../events/notices.js';
import { connectRedis } from '../events/redis-clients.js';
import { StreamConsumer } from '../events/stream-consumer.js';
import type { InvalidationService } from '../metrics/invalidation-service.js';
import { createEventMetrics } from '../observability/event-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { WriteSource } from '../source/writes.js';
import type { Lifecycle } from './lifecycle.js';

/** How long start-up waits for pub/sub to listen before going on without it. */
const FANOUT_READY_MS = 2_000;

/** What `openNotices` opens: the subscription hub, and the way to tell every instance's subscribers. */
export interface NoticesPart {
  hub: SubscriptionHub;
  /** Publishes a notice to every instance; never throws (a lost notice costs a refetch hint only). */
  notify(notice: InvalidationNotice): void;
  /** Hears every instance's notices, this one's included, as they arrive; returns a function that stops. */
  listen(listener: (notice: InvalidationNotice) => void): () => void;
}

/** What `openNotices` needs besides the config. */
export interface NoticesOptions {
  logger: Logger;
  clock: () => number;
  /** Metric names in the order payloads list them. */
  metricOrder: readonly string[];
}

/** The fan-out of notices and the hub that filters them for this instance's subscribers. */
export async function openNotices(config: Config, options: NoticesOptions, lifecycle: Lifecycle): Promise<NoticesPart> {
  const { logger } = options;
  const publisher = connectRedis(config.store, 'publish');
  if (publisher) lifecycle.defer('pub/sub publisher', () => publisher.disconnect());
  const subscriber = connectRedis(config.store, 'subscribe');
  if (subscriber) lifecycle.defer('pub/sub subscriber', () => subscriber.disconnect());
  const fanout =
    publisher && subscriber
      ? createRedisFanout(publisher, subscriber, (error) => logger.warn({ err: error }, 'invalidation notice fan-out failed'))
      : createLocalFanout();
  const hub = createSubscriptionHub({
    fanout,
    metricOrder: options.metricOrder,
    clock: options.clock,
    coalesceMs: config.events.coalesceMs,
  });
  lifecycle.defer('subscription hub', () => hub.close());
  let readyTimer: NodeJS.Timeout | undefined;
  await Promise.race([fanout.ready(), new Promise((resolve) => (readyTimer = setTimeout(resolve, FANOUT_READY_MS)))]);
  clearTimeout(readyTimer);
  return {
    hub,
    listen: (listener) => fanout.listen(listener),
    notify: (notice) =>
      void hub
        .notify(notice)
        .catch((error) => logger.warn({ err: error, tenant: notice.tenant }, 'could not publish an invalidation notice')),
  };
}

/**
 * What `openIngest` opens: the in-process event bus, the recorder that turns writes into
 * events, and the consumer of the `dashboard:events` stream when there is one.
 */
export interface IngestPart {
  bus: EventBus;
  recorder: Recorder;
  /** Reads dashboard:events; only when the store is Redis or a cluster, and asked for. */
  consumer: StreamConsumer | undefined;
}

/**
 * What `openIngest` needs besides the config: where writes go, what drops their buckets,
 * and where subscribers are counted for the event metrics.
 */
export interface IngestOptions {
  logger: Logger;
  clock: () => number;
  registry: Registry;
  writes: WriteSource;
  invalidation: InvalidationService;
  hub: SubscriptionHub;
  /** `false` leaves the event stream to the servers (tools that run for a few seconds). @default true */
  consumeEvents?: boolean | undefined;
}

/** The bus, the recorder of our own writes, and the consumer of other services' events. */
export async function openIngest(config: Config, options: IngestOptions, lifecycle: Lifecycle): Promise<IngestPart> {
  const { logger, clock, invalidation } = options;
  const bus = createEventBus((error, event) =>
    logger.error({ err: error, event: event.type, tenant: event.tenant }, 'event listener failed'),
  );
  // Awaited by the write: its entries are gone before it returns (read your writes).
  bus.subscribe(async (event) => void (await invalidation.onEvent(event)));
  const recorder = createRecorder({ writes: options.writes, bus, clock });

  const connection = options.consumeEvents === false ? undefined : connectRedis(config.store, 'stream');
  // The scrape's count of pending entries goes on a connection of its own: on the
  // consumer's, it would wait behind the blocking read and mostly time out (-1).
  const admin = connection ? connectRedis(config.store, 'admin') : undefined;
  if (admin) lifecycle.defer('event stream admin connection', () => admin.disconnect());
  const consumer = connection
    ? new StreamConsumer({
        redis: connection,
        admin,
        handle: (event) => recorder.ingest(event),
        logger,
        clock,
        claimIdleMs: config.events.claimIdleMs,
        stopGraceMs: config.shutdownTimeoutMs - SHUTDOWN_CLOSE_RESERVE_MS,
        onResult: (result, type) => eventMetrics.consumed(result, type),
      })
    : undefined;
  const eventMetrics = createEventMetrics(options.registry, {
    subscribers: () => options.hub.size(),
    pending: consumer && (() => consumer.pending()),
  });
  if (consumer) {
    lifecycle.defer('event stream consumer', () => consumer.stop());
    await consumer
      .start()
      .catch((error) => logger.warn({ err: error }, 'event stream consumer could not start; events from other services wait'));
  }
  return { bus, recorder, consumer };
}
