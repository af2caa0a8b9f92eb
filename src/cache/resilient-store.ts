/**
 * A store that fails well: every failure is counted and turned into a CacheError,
 * and a circuit breaker (breaker.ts) stops waiting on a store that keeps failing:
 *
 * | state     | a call                              | then                                        |
 * |-----------|-------------------------------------|---------------------------------------------|
 * | closed    | goes to the store                   | `failureThreshold` failures in a row → open |
 * | open      | fails at once (E_CIRCUIT_OPEN)      | after `cooldownMs` → half-open              |
 * | half-open | one call goes through, others fail  | success → closed; failure → open again      |
 *
 * Three things bypass the breaker. A lock release is always sent (its failure counted,
 * the circuit left as it is): a lock nobody releases makes every other worker wait
 * for it, and nobody waits on a release (lock.ts). A drop (`invalidate`) is always
 * sent too, the same way: refused by an open circuit, it would leave the entries of
 * before a write in a store that is only slow or full, served again once the circuit
 * closes; sent, it lands even when it times out (a stalled Redis runs it once it goes
 * on), and it costs only the writer the wait. And when the store says it has
 * connected again (Redis back after an outage), an open circuit lets the next call
 * through as its trial at once, instead of serving the source for the rest of the
 * cooldown: caching resumes as soon as the store does.
 */
import { createBreaker, type BreakerOptions, type BreakerState } from './breaker.js';
import { CacheError, CacheErrorCodes, type StoreOperation } from './errors.js';
import { NOOP_OBSERVER, type CacheObserver } from './observer.js';
import type { CacheStore } from './store.js';

export type { BreakerOptions, BreakerState } from './breaker.js';

/** A store whose failures are counted and turned into CacheErrors, behind a circuit breaker. */
export interface ResilientStore extends CacheStore {
  /** The breaker's state now. */
  breakerState(): BreakerState;
}

/** Wraps `store` with the breaker (state table above) and counts every failure on the observer. */
export function createResilientStore(
  store: CacheStore,
  options: BreakerOptions & { observer?: CacheObserver; clock?: () => number } = {},
): ResilientStore {
  const observer = options.observer ?? NOOP_OBSERVER;
  const breaker = createBreaker(options);
  store.onReady?.(() => breaker.probe());

  /** Runs one store command: timed, and a failure counted and wrapped in a CacheError. */
  async function send<T>(operation: StoreOperation, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } catch (cause) {
      const error = new CacheError(
        CacheErrorCodes.E_STORE_UNAVAILABLE,
        operation,
        `cache store ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`,
        { cause },
      );
      observer.storeError(operation, error);
      throw error;
    } finally {
      observer.storeCommand?.(operation, performance.now() - started);
    }
  }

  function call<T>(operation: StoreOperation, run: () => Promise<T>): Promise<T> {
    return breaker.run(
      () => send(operation, run),
      () => {
        const error = new CacheError(CacheErrorCodes.E_CIRCUIT_OPEN, operation, `cache store circuit is open; ${operation} skipped`);
        observer.storeError(operation, error);
        throw error;
      },
    );
  }

  return {
    kind: store.kind,
    breakerState: () => breaker.state(),
    getMany: (keys) => call('get', () => store.getMany(keys)),
    setMany: (writes, options) => call('set', () => store.setMany(writes, options)),
    // Past the breaker (see above), as the lock release.
    invalidate: (keys, at, ttlMs, validators) => send('delete', () => store.invalidate(keys, at, ttlMs, validators)),
    deleteMany: (keys) => call('delete', () => store.deleteMany(keys)),
    deleteByPrefix: (prefix) => call('scan', () => store.deleteByPrefix(prefix)),
    acquireLock: (key, token, ttlMs) => call('lock', () => store.acquireLock(key, token, ttlMs)),
    // Past the breaker (see above): sent even while the circuit is open, never moving it.
    releaseLock: (key, token) => send('unlock', () => store.releaseLock(key, token)),
    // Health checks go straight to the store: they are how an operator sees it return.
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
