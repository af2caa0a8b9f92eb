/**
 * Redis connections for events: the stream consumer (blocking reads), its short
 * reads beside them (a command on the blocked connection waits for the block to end)
 * and pub/sub (a subscribed connection can do nothing else) each need their own,
 * apart from the cache store's. Reconnect for ever, like the store.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { StoreConfig } from '../config/index.js';

const retryStrategy = (times: number) => Math.min(times * 100, 2_000);

/** What a connection is for. */
export type Purpose =
  /** Blocking stream reads: no command timeout; commands wait for a reconnect. */
  | 'stream'
  /** Pub/sub listening: waits for a reconnect, then subscribes again. */
  | 'subscribe'
  /** Publishing notices on the write path: fails fast rather than hold a write up. */
  | 'publish'
  /**
   * Short reads beside a blocking connection (the stream's pending count for a scrape):
   * fails fast, as a scrape must not hang.
   */
  | 'admin';

const OPTIONS: Record<Purpose, RedisOptions> = {
  stream: { maxRetriesPerRequest: null, retryStrategy },
  // The fan-out subscribes again itself after a reconnect (notices.ts): ioredis's own
  // resubscribe leaves a refusal (NOPERM from an ACL) unhandled, which ends the process.
  subscribe: { maxRetriesPerRequest: null, retryStrategy, autoResubscribe: false },
  publish: { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500, retryStrategy },
  admin: { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500, retryStrategy },
};

/** A new connection to the configured Redis or Cluster; undefined in the embedded mode. */
export function connectRedis(store: StoreConfig, purpose: Purpose): Redis | Cluster | undefined {
  let client: Redis | Cluster;
  const options = OPTIONS[purpose];
  if (store.kind === 'redis') client = new Redis(store.url, options);
  else if (store.kind === 'cluster') {
    client = new Cluster(
      store.nodes.map((n) => ({ ...n })),
      {
        redisOptions: options,
        clusterRetryStrategy: retryStrategy,
        enableOfflineQueue: options.enableOfflineQueue ?? true,
      },
    );
  } else return undefined;
  // Connection errors surface as failed commands where they matter; without a listener
  // ioredis would print each reconnect attempt.
  client.on('error', () => {});
  return client;
}
