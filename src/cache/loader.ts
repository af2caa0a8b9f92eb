/**
 * The per-request batching loader: every bucket key asked for in the same tick of
 * one request goes to the store in one `getMany` (one MGET for a tenant). A store
 * failure reads as "absent" for every key of the batch; the resilient store has
 * already counted it.
 *
 * Identical batches of concurrent requests in one process share one `getMany`:
 * a hundred users opening the same dashboard at once cost one MGET, not a hundred
 * (which would also starve the event loop parsing the same replies).
 */
import DataLoader from 'dataloader';
import { createSingleFlight } from './single-flight.js';
import type { CacheStore } from './store.js';

export type BucketLoader = DataLoader<string, string | null>;

/** Shares in-flight `getMany` calls for the same key list across requests of one process. */
export interface ReadCoalescer {
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
}

export function createReadCoalescer(store: CacheStore): ReadCoalescer {
  const reads = createSingleFlight();
  return {
    // Keys never contain a newline (keys.ts escapes every control character).
    getMany: (keys) => reads.run(keys.join('\n'), () => store.getMany(keys)),
  };
}

export function createBucketLoader(reads: ReadCoalescer): BucketLoader {
  return new DataLoader<string, string | null>(
    async (keys) => {
      try {
        return await reads.getMany(keys);
      } catch {
        return keys.map(() => null);
      }
    },
    // Values are per request anyway; caching them in the loader dedupes repeats.
    { cache: true },
  );
}
