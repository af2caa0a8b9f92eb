/**
 * The store contract: IO only, no policy. Every store (in-process memory, Redis,
 * Redis Cluster) passes the same contract test suite.
 *
 * Keys passed to one `getMany`, `setMany` or `deleteMany` call may span slots; a
 * store groups them (a dashboard's keys share one tenant hash tag, so they form one
 * group, and a warm dashboard costs one MGET).
 */

/** One value to write, with its time to live. */
export interface StoreWrite {
  key: string;
  value: string;
  /** Milliseconds; every entry expires. */
  ttlMs: number;
}

/**
 * What an invalidation leaves where an entry was: `{"t":<epoch ms>}`, for a short
 * while. A recompute that started before that instant read the source before the
 * write that caused it, so its result must not land (see `setMany`'s
 * `unlessInvalidatedSince`); readers take a tombstone for a miss.
 */
export function tombstone(at: number): string {
  return `{"t":${Math.floor(at)}}`;
}

/** The instant of a tombstone, or undefined when `value` is not one. */
export function tombstoneTime(value: string | null | undefined): number | undefined {
  const m = value ? /^\{"t":(\d+)\}$/.exec(value) : null;
  return m ? Number(m[1]) : undefined;
}

/** Validator keys (keys.ts `validatorKey`) to replace together with a drop. */
export interface ValidatorWrite {
  keys: readonly string[];
  /** A value never used before (see `newValidator`). */
  value: string;
  /** Milliseconds: longer than any in-process copy may live, so that a validator never reads as absent again while a copy read under "absent" could still be served. */
  ttlMs: number;
}

/**
 * A fresh validator value, unique to one drop: an instant and random bits, so that a
 * value never comes back (a counter would, once its key expired and was made again).
 */
export function newValidator(at: number): string {
  return `${Math.floor(at).toString(36)}.${Math.random().toString(36).slice(2, 10)}${Math.random().toString(36).slice(2, 10)}`;
}

/** How many drops a validator remembers (`nextValidator`). */
export const VALIDATOR_JOURNAL_DEPTH = 3;

/**
 * A key's short hash in a validator's journal: FNV-1a, 32 bits, base 36. Two keys may
 * share one; a copy whose key shares a dropped key's hash is then read anew (never
 * kept wrongly, only read once more).
 */
export function journalHash(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** Most keys a drop names in a validator's journal: a larger drop (a manual one over months) is written as `*`. */
export const JOURNAL_MAX_KEYS = 64;

/**
 * What a drop of `keys` writes in the journal: each key's hash; `*` (anything) for a drop
 * that names no key or more than `JOURNAL_MAX_KEYS`, after which nothing read before carries over.
 */
export function droppedToken(keys: readonly string[]): string {
  return keys.length && keys.length <= JOURNAL_MAX_KEYS ? keys.map(journalHash).join(',') : '*';
}

/**
 * The value a drop writes over a validator that held `previous`: the drop's own fresh
 * `value`, then a journal of the last drops, newest first (at most
 * `VALIDATOR_JOURNAL_DEPTH`), each as the value it replaced and what it dropped:
 * `value|previousId:hashes|…`. An in-process copy read under an earlier value still
 * stands under this one when no drop in between dropped its key (local-tier.ts
 * `carries`): after an order, a process re-reads the open hour, not the metric's week.
 * Nothing before (absent, lost): the value alone, so nothing read before carries over.
 * The Redis script (redis-store.ts INVALIDATE) writes exactly the same.
 */
export function nextValidator(previous: string | null | undefined, value: string, dropped: string): string {
  if (!previous) return value;
  const bar = previous.indexOf('|');
  const id = bar < 0 ? previous : previous.slice(0, bar);
  const older =
    bar < 0
      ? []
      : previous
          .slice(bar + 1)
          .split('|')
          .slice(0, VALIDATOR_JOURNAL_DEPTH - 1);
  return [value, `${id}:${dropped}`, ...older].join('|');
}

/**
 * How a computed value is written back over what may have happened since its source
 * read began. A tombstone says "dropped at t", but only while it is there: an
 * eviction (maxmemory), its TTL or a store restarted empty removes it, and an absent
 * key no longer tells a drop after the read from no entry at all. The metric's
 * validator settles it, since every drop replaces it in the same atomic step as its
 * tombstones and nothing ever writes an old value back into it:
 *
 * | the validator now         | a key holding …                  | is                      |
 * |---------------------------|----------------------------------|-------------------------|
 * | the value read before the | a tombstone of `since` or later  | left alone              |
 * | source read (no drop of   | anything else, or nothing        | written                 |
 * | the metric since)         |                                  |                         |
 * | another value, or none    | a tombstone older than `since`   | written (a later drop   |
 * | (a drop since, or the     |                                  | would have replaced it) |
 * | validator was lost)       | anything else, or nothing        | left alone: a drop may  |
 * |                           |                                  | have been lost with it  |
 *
 * So a value read before a write never lands after the write's drop, whatever the
 * store evicted meanwhile; what is left alone is computed again by a later read.
 */
export interface WriteBackOptions {
  /** Epoch ms when the computation began reading the source: drops at or after it win. */
  unlessInvalidatedSince?: number;
  /**
   * The validator (keys.ts `validatorKey`) of the keys' metric as read before the
   * source read; its key must share the keys' hash slot (the tenant's tag does).
   * Only with `unlessInvalidatedSince`.
   */
  validator?: { key: string; value: string };
}

/** What every store does (memory, Redis, Cluster); IO only, and the same contract suite checks each. */
export interface CacheStore {
  /** Which implementation this is, for /readyz. */
  readonly kind: 'memory' | 'redis' | 'cluster';
  /** The values of `keys`, in order, null where absent or expired. */
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  /**
   * Writes every value with its TTL. With `unlessInvalidatedSince`, a key holding a
   * tombstone of that instant or later is left alone (atomically per key). With
   * `validator` too, the write-back is checked against what a lost tombstone would
   * have said (see {@link WriteBackOptions}), atomically per hash slot.
   */
  setMany(writes: readonly StoreWrite[], options?: WriteBackOptions): Promise<void>;
  /**
   * Replaces each key by a tombstone of `at` living `ttlMs`; resolves with how many
   * keys held a live entry (a tombstone does not count). With `validators`, sets each
   * of their keys to their value in the same atomic step (per hash slot): nobody can
   * see the tombstones without the new validators, or the reverse.
   */
  invalidate(keys: readonly string[], at: number, ttlMs: number, validators?: ValidatorWrite): Promise<number>;
  /** Deletes `keys`; resolves with how many existed. */
  deleteMany(keys: readonly string[]): Promise<number>;
  /** Deletes every key that starts with `prefix`; resolves with how many existed. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** Sets `key` to `token` for `ttlMs` unless it exists; true when this call set it. */
  acquireLock(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Deletes `key` only while it still holds `token`; true when it did. */
  releaseLock(key: string, token: string): Promise<boolean>;
  /** True when the store answers now. */
  ping(): Promise<boolean>;
  /**
   * Calls `listener` each time the store's connection is ready again after it was lost
   * (Redis back after an outage); a store that cannot lose one (memory) never calls it.
   */
  onReady?(listener: () => void): void;
  close(): Promise<void>;
}
