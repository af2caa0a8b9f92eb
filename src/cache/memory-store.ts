/**
 * The in-process store of the embedded default: bounded (LRU by entries and by
 * bytes), with the same semantics as Redis, TTLs and locks included. Locks here
 * hold within one process, which is all there is in the embedded mode.
 */
import { LRUCache } from 'lru-cache';
import { droppedToken, nextValidator, tombstone, tombstoneTime, type CacheStore, type StoreWrite } from './store.js';

/** @default maxEntries 100000, maxBytes 268435456 (256 MiB) */
export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used go first. @default 100000 */
  maxEntries?: number;
  /** Most bytes kept (UTF-16 length of key and value, times two). @default 268435456 */
  maxBytes?: number;
  /**
   * Epoch ms now, for the expiry of entries, tombstones and locks alike, so that a
   * test can move time instead of waiting for it. Must never read 0: lru-cache takes
   * an entry written at time 0 for one without a TTL. When absent, locks use
   * `Date.now` and entries lru-cache's default time source (`performance.now`).
   * @default Date.now
   */
  clock?: () => number;
}

/**
 * An in-process CacheStore: entries and tombstones in one bounded LRU (lru-cache),
 * locks in a map beside it, all expiring on `options.clock` when given.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): CacheStore {
  const clock = options.clock ?? Date.now;
  const entries = new LRUCache<string, string>({
    max: options.maxEntries ?? 100_000,
    maxSize: options.maxBytes ?? 256 * 1024 * 1024,
    sizeCalculation: (value, key) => (value.length + key.length) * 2,
    // Expired entries are dropped when read or when space is needed. (Autopurge would
    // also run on real-time timers, which an injected clock does not drive.)
    ttlAutopurge: false,
    // lru-cache measures an entry's age as perf.now() minus the perf.now() of its
    // write, so any ms source works. It reuses one reading for `ttlResolution` ms of
    // real time; a clock that a test moves within that window would go unseen, so an
    // injected clock is read at every check. Without one, lru-cache's defaults stand.
    ...(options.clock ? { perf: { now: options.clock }, ttlResolution: 0 } : {}),
  });
  const locks = new Map<string, { token: string; expiresAt: number }>();
  const liveLock = (key: string) => {
    const lock = locks.get(key);
    if (lock && lock.expiresAt <= clock()) {
      locks.delete(key);
      return undefined;
    }
    return lock;
  };
  /** What `key` holds as Redis would answer for it: a value, else a live lock's token (a validator made by SET NX sits among the locks, loader.ts). */
  const held = (key: string) => entries.get(key) ?? liveLock(key)?.token;

  return {
    kind: 'memory',
    async getMany(keys) {
      // Locks read like any key, as in Redis: a waiter polls a lock with its entries.
      return keys.map((key) => held(key) ?? null);
    },
    async setMany(writes: readonly StoreWrite[], options) {
      const since = options?.unlessInvalidatedSince;
      // As the Redis script (store.ts WriteBackOptions): this LRU evicts too.
      const validator = options?.validator;
      const unchanged = since === undefined || !validator || held(validator.key) === validator.value;
      for (const { key, value, ttlMs } of writes) {
        if (since !== undefined) {
          const dropped = tombstoneTime(entries.get(key));
          if (unchanged ? dropped !== undefined && dropped >= since : !(dropped !== undefined && dropped < since)) continue;
        }
        entries.set(key, value, { ttl: Math.max(1, Math.ceil(ttlMs)) });
      }
    },
    async invalidate(keys, at, ttlMs, validators) {
      let n = 0;
      for (const key of keys) {
        const current = entries.get(key);
        if (current !== undefined && tombstoneTime(current) === undefined) n++;
        entries.set(key, tombstone(at), { ttl: Math.max(1, Math.ceil(ttlMs)) });
      }
      // One synchronous step with the tombstones: atomic, as the Redis script is.
      const dropped = droppedToken(keys);
      for (const key of validators?.keys ?? []) {
        entries.set(key, nextValidator(held(key), validators!.value, dropped), { ttl: Math.max(1, Math.ceil(validators!.ttlMs)) });
      }
      return n;
    },
    async deleteMany(keys) {
      let n = 0;
      for (const key of keys) {
        // `has` is false for an expired entry that the LRU has not dropped yet; Redis would
        // not count it either.
        // A key set by acquireLock is a key like any other, as in Redis.
        if (entries.has(key) || liveLock(key)) n++;
        entries.delete(key);
        locks.delete(key);
      }
      return n;
    },
    async deleteByPrefix(prefix) {
      let n = 0;
      for (const key of [...entries.keys()]) {
        if (!key.startsWith(prefix)) continue;
        if (entries.has(key)) n++;
        entries.delete(key);
      }
      return n;
    },
    async acquireLock(key, token, ttlMs) {
      if (liveLock(key)) return false;
      locks.set(key, { token, expiresAt: clock() + ttlMs });
      return true;
    },
    async releaseLock(key, token) {
      if (liveLock(key)?.token !== token) return false;
      locks.delete(key);
      return true;
    },
    async ping() {
      return true;
    },
    async close() {
      entries.clear();
      locks.clear();
    },
  };
}
