/**
 * The in-process tier: decoded entries in front of the store, so that a warm read
 * decodes nothing and sends no bucket keys. Bounded in bytes, least recently used
 * out first; each item keeps its entry's fresh and stale deadlines, exactly as the
 * store does, and lives no longer than `maxLifeMs`.
 *
 * An item is served only under the validator it was read under (keys.ts
 * `validatorKey`): every drop of a metric's buckets replaces that metric's validator
 * in the store, in the same atomic step as the drop. A request reads the validators
 * of the metrics it needs first (one MGET in the tenant's slot); an item whose
 * validator differs is not served and the request goes to the store for it. So an
 * item is never older than the last drop that the request could know of:
 *
 * | the request reads validator | the item was read under | then                               |
 * |-----------------------------|-------------------------|------------------------------------|
 * | v                           | v                       | served (fresh), or stale + refresh |
 * | v                           | u ≠ v                   | read from the store, kept under v  |
 * | unknown (store failed)      | any                     | not served, nothing kept: the read |
 * |                             |                         | goes on as if there were no tier   |
 *
 * A request never sees "no validator": one that finds none writes a fresh value
 * first (SET NX, loader.ts), so a validator lost to expiry, eviction or a store that
 * restarted empty comes back as a value no item was read under. A validator lives
 * `VALIDATOR_TTL_MS` after it was last written, twice an item's longest life.
 */
import { LRUCache } from 'lru-cache';
import type { Entry } from './entry.js';
import { journalHash } from './store.js';

/** @default maxBytes 67108864 (64 MiB), maxLifeMs 86400000 (a day) */
export interface LocalTierOptions {
  /** Most bytes kept, as estimated by the caller's `bytes` for each item. @default 67108864 */
  maxBytes?: number;
  /** Longest an item lives, whatever its entry says: must stay below the validators' TTL. @default 86400000 */
  maxLifeMs?: number;
  /** Epoch ms now; must never read 0 (lru-cache takes a 0 start for "no TTL"). @default Date.now */
  clock?: () => number;
}

/** The validator a request read: a value; `null` or `undefined` when there is none to trust (never served, never kept under). */
export type Validator = string | null | undefined;

/** The tier: decoded entries by key, each under the validator it was read under. */
export interface LocalTier {
  /** The entry under `key` if it was kept under exactly `validator` (never for an unknown one) and has not expired. */
  get<V>(key: string, validator: Validator): Entry<V> | undefined;
  /**
   * As `get`, for a bucket's entry (never a value composed from several): also an item kept
   * under an earlier validator that `validator` carries it to (`carries`), which is then
   * kept under `validator`.
   */
  getCarried<V>(key: string, validator: Validator): Entry<V> | undefined;
  /**
   * The item under `key` with the validator it was kept under, if it has not expired: for a
   * caller that checks the validator itself (an item kept under several, see loader.ts `ValidatedBy`).
   */
  peek<V>(key: string): { entry: Entry<V>; validator: string } | undefined;
  /** Keeps `entry` under `validator` (nothing for an unknown one), counting `bytes` against the bound. */
  set(key: string, entry: Entry, validator: Validator, bytes: number): void;
  /** Bytes kept now (never above the bound). */
  bytes(): number;
  /** The most bytes kept at once since the tier was made (never above the bound). */
  peakBytes(): number;
  /** The bound, in bytes. */
  readonly maxBytes: number;
}

/**
 * How long a validator lives after it was last written: twice the longest an item may,
 * so that an item outlives no validator it was read under.
 */
export const VALIDATOR_TTL_MS = 2 * 86_400_000;

/** The tier's defaults. */
export const LOCAL_TIER_DEFAULTS = Object.freeze({
  /** @default 64 MiB */
  maxBytes: 64 * 1024 * 1024,
  /** @default a day */
  maxLifeMs: 86_400_000,
});

interface Item {
  entry: Entry;
  validator: string;
  /** Epoch ms: the entry's stale deadline or the longest life, whichever comes first. */
  until: number;
}

/** Creates an empty tier. */
export function createLocalTier(options: LocalTierOptions = {}): LocalTier {
  const maxBytes = options.maxBytes ?? LOCAL_TIER_DEFAULTS.maxBytes;
  const maxLifeMs = options.maxLifeMs ?? LOCAL_TIER_DEFAULTS.maxLifeMs;
  const clock = options.clock ?? Date.now;
  const items = new LRUCache<string, Item>({
    maxSize: maxBytes,
    // Expired items go when read or when space is needed; timers would run in real time.
    ttlAutopurge: false,
    // A clock moved within the same millisecond of real time must count.
    ttlResolution: 0,
    perf: { now: clock },
  });
  let peak = 0;
  return {
    maxBytes,
    get<V>(key: string, validator: Validator) {
      if (validator === undefined || validator === null) return undefined;
      const item = items.get(key);
      // lru-cache's TTL only makes room; the deadline itself is checked here, to the millisecond.
      return item && item.validator === validator && clock() < item.until ? (item.entry as Entry<V>) : undefined;
    },
    getCarried<V>(key: string, validator: Validator) {
      if (validator === undefined || validator === null) return undefined;
      const item = items.get(key);
      if (!item || !(clock() < item.until)) return undefined;
      if (item.validator !== validator) {
        if (!carries(item.validator, validator, key)) return undefined;
        item.validator = validator;
      }
      return item.entry as Entry<V>;
    },
    peek<V>(key: string) {
      const item = items.get(key);
      return item && clock() < item.until ? { entry: item.entry as Entry<V>, validator: item.validator } : undefined;
    },
    set(key, entry, validator, bytes) {
      if (validator === undefined || validator === null) return;
      const now = clock();
      const ttl = Math.min(maxLifeMs, entry.staleUntil - now);
      // Larger than the whole bound: lru-cache would refuse it anyway; say so by not trying.
      if (ttl <= 0 || bytes > maxBytes) {
        items.delete(key);
        return;
      }
      items.set(key, { entry, validator, until: now + ttl }, { ttl: Math.ceil(ttl), size: Math.max(1, Math.ceil(bytes)) });
      if (items.calculatedSize > peak) peak = items.calculatedSize;
    },
    bytes: () => items.calculatedSize,
    peakBytes: () => peak,
  };
}

/** The last validator's journal read, parsed: most lookups of a request share one. */
let parsed: { validator: string; drops: Array<{ replaced: string; keys: ReadonlySet<string> | 'all' }> } | undefined;

/**
 * Whether a bucket's entry read under validator `under` still stands under `now`: when
 * `now`'s journal (store.ts `nextValidator`) leads back to `under` through drops none
 * of which dropped `key`. Every drop of a metric's entries replaces its validator in
 * the same atomic step, and writes what it dropped; so between `under` and `now` the
 * store changed nothing else of that metric, and a copy of `key` is as good as a read.
 * False whenever the way back is not in the journal (older than its depth, a validator
 * made anew, a drop by prefix), or a drop named no key.
 */
export function carries(under: string, now: string, key: string): boolean {
  if (parsed?.validator !== now) {
    const [, ...journal] = now.split('|');
    parsed = {
      validator: now,
      drops: journal.map((entry) => {
        const colon = entry.indexOf(':');
        const dropped = entry.slice(colon + 1);
        return { replaced: entry.slice(0, colon), keys: dropped === '*' ? 'all' : new Set(dropped.split(',')) };
      }),
    };
  }
  if (parsed.drops.length === 0) return false;
  const bar = under.indexOf('|');
  const underId = bar < 0 ? under : under.slice(0, bar);
  const hash = journalHash(key);
  for (const drop of parsed.drops) {
    if (drop.keys === 'all' || drop.keys.has(hash)) return false;
    if (drop.replaced === underId) return true;
  }
  return false;
}

/** An estimate of an item's bytes in memory: decoded values take about twice their JSON (UTF-16), plus the key and bookkeeping. */
export function estimateBytes(key: string, encodedLength: number): number {
  return 2 * (key.length + encodedLength) + 96;
}
