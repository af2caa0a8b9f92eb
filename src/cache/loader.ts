/**
 * The per-request batching loader: every bucket key asked for in the same tick of
 * one request goes to the store in one `getMany` (one MGET for a tenant). A store
 * failure reads as "absent" for every key of the batch; the resilient store has
 * already counted it.
 */
import DataLoader from 'dataloader';
import type { CacheStore } from './store.js';

export type BucketLoader = DataLoader<string, string | null>;

export function createBucketLoader(store: CacheStore): BucketLoader {
  return new DataLoader<string, string | null>(
    async (keys) => {
      try {
        return await store.getMany(keys);
      } catch {
        return keys.map(() => null);
      }
    },
    // Values are per request anyway; caching them in the loader dedupes repeats.
    { cache: true },
  );
}
