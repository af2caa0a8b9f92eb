/**
 * Invalidation notices: what subscribers hear. One per event or manual invalidation,
 * fanned out to every instance (Redis pub/sub, or in-process in the embedded mode),
 * then coalesced per tenant before delivery.
 */
import { Redis, type Cluster } from 'ioredis';

/** What one event or manual invalidation changed, published to every instance for its subscribers. */
export interface InvalidationNotice {
  tenant: string;
  /** The event's region; undefined for a manual invalidation, which spans every region. */
  region?: string | undefined;
  /** Metric names whose values changed, derived ones included. */
  metrics: string[];
  /** Changed range, epoch ms, [from, to). */
  from: number;
  to: number;
  /** `order.recorded`, `session.recorded` or `manual`. */
  reason: string;
}

/** Delivers notices to every instance, this one included. */
export interface Fanout {
  /** Resolves once this instance is listening. */
  ready(): Promise<void>;
  publish(notice: InvalidationNotice): Promise<void>;
  /** @returns a function that stops listening. */
  listen(listener: (notice: InvalidationNotice) => void): () => void;
  close(): Promise<void>;
}

/** The embedded mode: one process, so publishing is delivering. */
export function createLocalFanout(): Fanout {
  const listeners = new Set<(notice: InvalidationNotice) => void>();
  return {
    ready: async () => {},
    async publish(notice) {
      for (const listener of listeners) listener(notice);
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
    },
  };
}

/** The pub/sub channel of notices. */
export const NOTICE_CHANNEL = 'dashboard:invalidations';

/** How often a refused subscription to the channel is tried again. */
const RESUBSCRIBE_MS = 1_000;

/**
 * Across instances through Redis pub/sub. `publisher` is any connection; `subscriber`
 * must be one of its own (a subscribed connection can do nothing else). A lost
 * message costs a subscriber a refetch hint only: entries are dropped in the store
 * itself, so no instance ever serves stale data because of it (in the bounded-staleness
 * mode, none longer than its bound).
 */
export function createRedisFanout(publisher: Redis | Cluster, subscriber: Redis | Cluster, onError: (error: unknown) => void): Fanout {
  const listeners = new Set<(notice: InvalidationNotice) => void>();
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  // A refused subscription (the Redis user may not use the channel, say) is tried again
  // every RESUBSCRIBE_MS until it holds; meanwhile notices are lost.
  let refused = false;
  const subscribe = (): Promise<void> =>
    subscriber.subscribe(NOTICE_CHANNEL).then(
      () => void (refused = false),
      (error) => {
        // Told once per refusal, not on every try.
        if (!refused) onError(error);
        refused = true;
        if (closed) return;
        clearTimeout(retry);
        retry = setTimeout(() => void subscribe(), RESUBSCRIBE_MS);
        retry.unref();
      },
    );
  const subscribed = subscribe();
  // After a reconnect of a single Redis (a Cluster's subscriber subscribes again itself).
  if (subscriber instanceof Redis) {
    let connected = subscriber.status === 'ready';
    subscriber.on('ready', () => {
      if (connected && !closed) void subscribe();
      connected = true;
    });
  }
  subscriber.on('message', (channel: string, message: string) => {
    if (channel !== NOTICE_CHANNEL) return;
    let notice: InvalidationNotice;
    try {
      notice = parseNotice(JSON.parse(message));
    } catch (error) {
      onError(error);
      return;
    }
    for (const listener of listeners) listener(notice);
  });
  return {
    ready: () => subscribed,
    publish: (notice) => publishNotice(publisher, notice),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      listeners.clear();
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}

/** Publishes one notice on the channel: for tools that drop entries and have no subscribers of their own. */
export async function publishNotice(publisher: Redis | Cluster, notice: InvalidationNotice): Promise<void> {
  await publisher.publish(NOTICE_CHANNEL, JSON.stringify(notice));
}

function parseNotice(raw: unknown): InvalidationNotice {
  const n = raw as Partial<InvalidationNotice>;
  if (
    typeof n !== 'object' ||
    n === null ||
    typeof n.tenant !== 'string' ||
    !Array.isArray(n.metrics) ||
    !n.metrics.every((m) => typeof m === 'string') ||
    typeof n.from !== 'number' ||
    typeof n.to !== 'number' ||
    typeof n.reason !== 'string' ||
    (n.region !== undefined && typeof n.region !== 'string')
  ) {
    throw new Error('malformed invalidation notice on the pub/sub channel');
  }
  return { tenant: n.tenant, region: n.region, metrics: n.metrics, from: n.from, to: n.to, reason: n.reason };
}
