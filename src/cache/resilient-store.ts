/**
 * A store that fails well: every failure is counted and turned into a CacheError,
 * and a circuit breaker stops waiting on a store that keeps failing.
 *
 * Breaker states:
 *
 * | state     | a call                              | then                                        |
 * |-----------|-------------------------------------|---------------------------------------------|
 * | closed    | goes to the store                   | `failureThreshold` failures in a row → open |
 * | open      | fails at once (E_CIRCUIT_OPEN)      | after `cooldownMs` → half-open              |
 * | half-open | one call goes through, others fail  | success → closed; failure → open again      |
 */
import { CacheError, CacheErrorCodes, type StoreOperation } from './errors.js';
import { NOOP_OBSERVER, type CacheObserver } from './observer.js';
import type { CacheStore } from './store.js';

/** @default failureThreshold 3, cooldownMs 5000 */
export interface BreakerOptions {
  /** Consecutive failures that open the circuit. @default 3 */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call. @default 5000 */
  cooldownMs?: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ResilientStore extends CacheStore {
  /** The breaker's state now. */
  breakerState(): BreakerState;
}

export function createResilientStore(
  store: CacheStore,
  options: BreakerOptions & { observer?: CacheObserver; clock?: () => number } = {},
): ResilientStore {
  const threshold = options.failureThreshold ?? 3;
  const cooldownMs = options.cooldownMs ?? 5_000;
  const observer = options.observer ?? NOOP_OBSERVER;
  const clock = options.clock ?? Date.now;
  let failures = 0;
  let openedAt = 0;
  let state: BreakerState = 'closed';
  let trialInFlight = false;

  const currentState = (): BreakerState => {
    if (state === 'open' && clock() - openedAt >= cooldownMs) state = 'half-open';
    return state;
  };

  async function call<T>(operation: StoreOperation, run: () => Promise<T>): Promise<T> {
    const now = currentState();
    if (now === 'open' || (now === 'half-open' && trialInFlight)) {
      const error = new CacheError(CacheErrorCodes.E_CIRCUIT_OPEN, operation, `cache store circuit is open; ${operation} skipped`);
      observer.storeError(operation, error);
      throw error;
    }
    const trial = now === 'half-open';
    if (trial) trialInFlight = true;
    const started = performance.now();
    try {
      const result = await run();
      failures = 0;
      state = 'closed';
      return result;
    } catch (cause) {
      failures++;
      if (trial || failures >= threshold) {
        state = 'open';
        openedAt = clock();
      }
      const error = new CacheError(
        CacheErrorCodes.E_STORE_UNAVAILABLE,
        operation,
        `cache store ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`,
        { cause },
      );
      observer.storeError(operation, error);
      throw error;
    } finally {
      if (trial) trialInFlight = false;
      observer.storeCommand?.(operation, performance.now() - started);
    }
  }

  return {
    kind: store.kind,
    breakerState: currentState,
    getMany: (keys) => call('get', () => store.getMany(keys)),
    setMany: (writes, options) => call('set', () => store.setMany(writes, options)),
    invalidate: (keys, at, ttlMs) => call('delete', () => store.invalidate(keys, at, ttlMs)),
    deleteMany: (keys) => call('delete', () => store.deleteMany(keys)),
    deleteByPrefix: (prefix) => call('scan', () => store.deleteByPrefix(prefix)),
    acquireLock: (key, token, ttlMs) => call('lock', () => store.acquireLock(key, token, ttlMs)),
    releaseLock: (key, token) => call('unlock', () => store.releaseLock(key, token)),
    // Health checks go straight to the store: they are how an operator sees it return.
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
