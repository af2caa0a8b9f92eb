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

export interface CacheStore {
  /** Which implementation this is, for /readyz. */
  readonly kind: 'memory' | 'redis' | 'cluster';
  /** The values of `keys`, in order, null where absent or expired. */
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  /** Writes every value with its TTL. */
  setMany(writes: readonly StoreWrite[]): Promise<void>;
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
  close(): Promise<void>;
}
