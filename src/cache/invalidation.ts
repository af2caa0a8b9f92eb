/**
 * Dropping entries: by key (an event's exact buckets, each left as a short-lived
 * tombstone) or by prefix (all cached time of a metric). Counted per metric and
 * reason. A store that fails to drop is counted too; its entries then live until
 * their TTL, which is why every entry has one.
 *
 * Every drop also replaces the validators it is given (local-tier.ts): with the
 * tombstones, in one atomic step, for a drop by key; after the last key is gone, for
 * a drop by prefix (SCAN is not atomic, so a copy read while it ran carries the old
 * validator and is refused once the new one is there).
 */
import { VALIDATOR_TTL_MS } from './local-tier.js';
import { NOOP_OBSERVER, type CacheObserver } from './observer.js';
import { newValidator, type CacheStore } from './store.js';

/** Drops cached entries and replaces validators, counting what it dropped. */
export interface Invalidator {
  /** Drops `keys` and replaces `validators`; resolves with how many entries existed (0 when the store failed). */
  drop(metric: string, reason: string, keys: readonly string[], validators?: readonly string[]): Promise<number>;
  /** Deletes every key under `prefix`, then replaces `validators`; resolves with how many existed. */
  dropPrefix(metric: string, reason: string, prefix: string, validators?: readonly string[]): Promise<number>;
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
    async drop(metric, reason, keys, validators = []) {
      if (keys.length === 0 && validators.length === 0) return 0;
      onDrop?.(keys);
      const at = clock();
      const bump = validators.length ? { keys: validators, value: newValidator(at), ttlMs: VALIDATOR_TTL_MS } : undefined;
      return count(metric, reason, await store.invalidate(keys, at, tombstoneMs, bump).catch(() => 0));
    },
    async dropPrefix(metric, reason, prefix, validators = []) {
      const dropped = await store.deleteByPrefix(prefix).catch(() => 0);
      if (validators.length) {
        const value = newValidator(clock());
        await store.setMany(validators.map((key) => ({ key, value, ttlMs: VALIDATOR_TTL_MS }))).catch(() => {});
      }
      return count(metric, reason, dropped);
    },
  };
}
