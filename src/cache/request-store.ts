/**
 * One request's view of the store: once a command of the request has failed, the
 * request sends the store nothing more.
 *
 * A store that hangs (a paused or overloaded Redis, a network that drops packets)
 * answers every command after `REDIS_COMMAND_TIMEOUT_MS`. A request makes several
 * in a row — its validators, its buckets, a span lock, the write-back — so without
 * this it would wait once per command, several timeouts in all, before the source
 * answered. With it, a request waits on a failing store at most once:
 *
 * | the request's store commands so far | a new command of the request                      |
 * |-------------------------------------|---------------------------------------------------|
 * | none failed                         | sent (through the breaker, resilient-store.ts)    |
 * | one failed (timeout, refused, the   | not sent: fails at once with E_REQUEST_SKIPPED,   |
 * | circuit open)                       | counted like a failure; the source answers        |
 *
 * Commands already in flight when the first failure comes are not recalled: they were
 * sent together, so they cost the request the same one wait. A lock the request holds
 * is released whatever its view says (lock.ts): a lock left behind would make every
 * other worker wait for it.
 */
import { CacheError, CacheErrorCodes, type StoreOperation } from './errors.js';
import { NOOP_OBSERVER, type CacheObserver } from './observer.js';
import type { CacheStore } from './store.js';

/** A request's store: the store's calls until one of them fails, then none. */
export interface RequestStore extends CacheStore {
  /** True once a command of this request failed: the rest are skipped. */
  failed(): boolean;
  /**
   * Runs `work` (a read shared with other requests, say) under this view: skipped once
   * the request has failed, and its failure makes the request fail the next ones.
   */
  guard<T>(operation: StoreOperation, work: () => Promise<T>): Promise<T>;
  /** Marks the request failed by a command it sent outside this view (already counted there): the rest are skipped. */
  fail(error: unknown): void;
}

/** A fresh view of `store` for one request; skipped commands are reported on `observer`. */
export function createRequestStore(store: CacheStore, observer: CacheObserver = NOOP_OBSERVER): RequestStore {
  let failure: unknown;
  let hasFailed = false;

  function guard<T>(operation: StoreOperation, work: () => Promise<T>): Promise<T> {
    if (hasFailed) {
      const error = new CacheError(
        CacheErrorCodes.E_REQUEST_SKIPPED,
        operation,
        `cache store ${operation} skipped: an earlier store command of this request failed`,
        { cause: failure },
      );
      observer.storeError(operation, error);
      return Promise.reject(error);
    }
    return work().catch((error: unknown) => {
      if (!hasFailed) {
        hasFailed = true;
        failure = error;
      }
      throw error;
    });
  }

  return {
    kind: store.kind,
    failed: () => hasFailed,
    guard,
    fail(error) {
      if (!hasFailed) {
        hasFailed = true;
        failure = error;
      }
    },
    getMany: (keys) => guard('get', () => store.getMany(keys)),
    setMany: (writes, options) => guard('set', () => store.setMany(writes, options)),
    invalidate: (keys, at, ttlMs, validators) => guard('delete', () => store.invalidate(keys, at, ttlMs, validators)),
    deleteMany: (keys) => guard('delete', () => store.deleteMany(keys)),
    deleteByPrefix: (prefix) => guard('scan', () => store.deleteByPrefix(prefix)),
    acquireLock: (key, token, ttlMs) => guard('lock', () => store.acquireLock(key, token, ttlMs)),
    // A held lock is always released (see above): never skipped, and its failure does
    // not count against the request.
    releaseLock: (key, token) => store.releaseLock(key, token),
    ping: () => store.ping(),
    // The store outlives the request.
    close: async () => {},
  };
}
