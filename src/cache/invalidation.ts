/**
 * Dropping entries: by key (an event's exact buckets, each left as a short-lived
 * tombstone) or by prefix (all cached time of a metric). Counted per metric and reason. A store that fails to drop is counted
 * too; its entries then live until their TTL, which is why every entry has one.
 */
import { NOOP_OBSERVER, type CacheObserver } from './observer.js';
import type { CacheStore } from './store.js';

export interface Invalidator {
  /** Deletes `keys`; resolves with how many existed (0 when the store failed). */
  drop(metric: string, reason: string, keys: readonly string[]): Promise<number>;
  /** Deletes every key under `prefix`; resolves with how many existed. */
  dropPrefix(metric: string, reason: string, prefix: string): Promise<number>;
}

/**
 * @param tombstoneMs how long a dropped key keeps its tombstone: at least as long as
 *   a recompute may run (the lock TTL), so that one started before the drop cannot
 *   write back what it read before the write.
 */
export function createInvalidator(
  store: CacheStore,
  observer: CacheObserver = NOOP_OBSERVER,
  clock: () => number = Date.now,
  tombstoneMs = 10_000,
  /** Told which keys were dropped, e.g. so that the read-through stops sharing work on them. */
  onDrop?: (keys: readonly string[]) => void,
): Invalidator {
  const count = (metric: string, reason: string, n: number) => {
    if (n > 0) observer.invalidated(metric, reason, n);
    return n;
  };
  return {
    async drop(metric, reason, keys) {
      if (keys.length === 0) return 0;
      onDrop?.(keys);
      return count(metric, reason, await store.invalidate(keys, clock(), tombstoneMs).catch(() => 0));
    },
    async dropPrefix(metric, reason, prefix) {
      return count(metric, reason, await store.deleteByPrefix(prefix).catch(() => 0));
    },
  };
}
