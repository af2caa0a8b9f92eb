/**
 * Dropping entries: by key (an event's exact buckets) or by prefix (all cached time
 * of a metric). Counted per metric and reason. A store that fails to drop is counted
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

export function createInvalidator(store: CacheStore, observer: CacheObserver = NOOP_OBSERVER): Invalidator {
  const count = (metric: string, reason: string, n: number) => {
    if (n > 0) observer.invalidated(metric, reason, n);
    return n;
  };
  return {
    async drop(metric, reason, keys) {
      if (keys.length === 0) return 0;
      return count(metric, reason, await store.deleteMany(keys).catch(() => 0));
    },
    async dropPrefix(metric, reason, prefix) {
      return count(metric, reason, await store.deleteByPrefix(prefix).catch(() => 0));
    },
  };
}
