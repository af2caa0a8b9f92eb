/**
 * Computation coordination across processes: a lock in the store per result that is
 * expensive to get (a span of buckets from the source, a base currency's rates from
 * the FX vendor), so that one worker gets it and the others read what it stored.
 *
 * Protocol (per lock key):
 *
 * | who                    | does                                                            |
 * |------------------------|-----------------------------------------------------------------|
 * | first worker           | SET lock token PX ttl NX → OK: reads the values again (double   |
 * |                        | check: a holder may have stored them and let go meanwhile);     |
 * |                        | no result there → computes and stores; then releases            |
 * | others (NX fails)      | wait: poll the values and the lock in one MGET, every `pollMs`  |
 * |                        | at first, each interval half as long again, up to 100 ms        |
 * |   values make a result | → use it (no computation)                                       |
 * |   lock gone, no result | → the holder failed: `onNoResult` (default: compute without the |
 * |                        |   lock)                                                         |
 * |   waited `waitMs`      | → `onNoResult` (bounded wait)                                   |
 * |   poll fails           | → `onNoResult`                                                  |
 * | a caller with `onHeld` | does not wait: answers `onHeld()` at once (a background refresh |
 * |                        | that another worker is already doing)                           |
 * | holder that dies       | its lock expires after `ttlMs`: nobody waits longer             |
 * | release                | a script deletes the lock only if it still holds the token;     |
 * |                        | sent, not waited on: the result is the holder's already         |
 * | store down             | no lock at all: each process computes (the source answers)      |
 */
import { randomBytes } from 'node:crypto';
import type { CacheStore } from './store.js';

/** @default ttlMs 10000, waitMs 3000, pollMs 10 */
export interface LockOptions {
  /** Longest a lock lives: bounds how long a dead holder blocks anyone. @default 10000 */
  ttlMs: number;
  /** Longest a waiter waits before giving up on the holder. @default 3000 */
  waitMs: number;
  /** First poll interval; grows by half each poll up to 100 ms. @default 10 */
  pollMs: number;
}

/** The bucket cache's defaults (CACHE_LOCK_TTL_MS and CACHE_LOCK_WAIT_MS override the first two). */
export const DEFAULT_LOCK: Readonly<LockOptions> = Object.freeze({ ttlMs: 10_000, waitMs: 3_000, pollMs: 10 });

/** The longest poll interval, however long a wait has lasted. */
const MAX_POLL_MS = 100;

/** One guarded computation: where its result is stored and how to get it. */
export interface LockedWork<T> {
  /** The lock's key (keys.ts `lockKey`); in the slot of `keys`. */
  lockKey: string;
  /** The store keys the result is made of. */
  keys: readonly string[];
  /**
   * The result the stored values of `keys` (in order, null where absent) make now, or
   * undefined when they make none. Used for the double check and while waiting.
   */
  check(values: ReadonlyArray<string | null>): T | undefined;
  /** Gets the result and stores it under `keys`. */
  compute(): Promise<T>;
  /** When set, a worker that finds the lock held answers this at once instead of waiting. */
  onHeld?: () => T;
  /** What a waiter answers when the holder gave no result. @default compute() */
  onNoResult?: () => T | Promise<T>;
  /**
   * Wraps a wait for the holder (a count, a trace span); must resolve with what `wait`
   * resolves: the holder's result, or undefined when none came.
   */
  aroundWait?: (wait: () => Promise<T | undefined>) => Promise<T | undefined>;
}

/** The store calls the protocol makes. */
export type LockStore = Pick<CacheStore, 'getMany' | 'acquireLock' | 'releaseLock'>;

/** How a `StoreLock` waits: the lock's TTL and wait (defaults `DEFAULT_LOCK`), and the clock and sleep it waits with. */
export interface StoreLockOptions extends Partial<LockOptions> {
  /** Epoch ms now: the wait's deadline. @default Date.now */
  clock?: () => number;
  /** Sleeps `ms` between polls; injected so that tests can count polls and move a clock. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The lock protocol (the table above) bound to one store and one set of options. A lock
 * held by a process that dies is released by its TTL; a store that is down means no lock,
 * and each process computes for itself.
 */
export interface StoreLock {
  /** The options in force. */
  readonly options: Readonly<LockOptions>;
  /** Runs `work` under the protocol above. A failure of `compute` is passed on, after the release. */
  run<T>(work: LockedWork<T>): Promise<T>;
}

/** A token unique to one acquisition, so that only its owner can release it. */
function lockToken(): string {
  return randomBytes(12).toString('base64url');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The protocol over `store`, with one set of options for every computation it guards. */
export function createStoreLock(store: LockStore, options: StoreLockOptions = {}): StoreLock {
  const lock: LockOptions = {
    ttlMs: options.ttlMs ?? DEFAULT_LOCK.ttlMs,
    waitMs: options.waitMs ?? DEFAULT_LOCK.waitMs,
    pollMs: options.pollMs ?? DEFAULT_LOCK.pollMs,
  };
  const clock = options.clock ?? Date.now;
  const pause = options.sleep ?? sleep;

  /** Polls the values and the lock together until the holder is done, gone, or `waitMs` passed. */
  async function waitForHolder<T>(work: LockedWork<T>): Promise<T | undefined> {
    const deadline = clock() + lock.waitMs;
    let interval = lock.pollMs;
    while (clock() < deadline) {
      await pause(Math.min(interval, Math.max(1, deadline - clock())));
      interval = Math.min(MAX_POLL_MS, interval * 1.5);
      let values: Array<string | null>;
      try {
        values = await store.getMany([...work.keys, work.lockKey]);
      } catch {
        return undefined;
      }
      const result = work.check(values.slice(0, work.keys.length));
      if (result !== undefined) return result;
      if (values[work.keys.length] === null) return undefined; // holder gone without a result
    }
    return undefined;
  }

  return {
    options: Object.freeze({ ...lock }),
    async run<T>(work: LockedWork<T>): Promise<T> {
      const token = lockToken();
      let acquired: boolean;
      try {
        acquired = await store.acquireLock(work.lockKey, token, lock.ttlMs);
      } catch {
        // No store, no lock: compute here.
        return work.compute();
      }
      if (acquired) {
        try {
          const values = await store.getMany(work.keys).catch(() => undefined);
          const stored = values ? work.check(values) : undefined;
          return stored !== undefined ? stored : await work.compute();
        } finally {
          // Not awaited: on a store that hangs, the caller would wait a whole command
          // timeout for nothing. Sent even so, so that nobody waits on a lock whose holder
          // is done (a lock nobody releases blocks every other worker for up to `waitMs`).
          void store.releaseLock(work.lockKey, token).catch(() => {});
        }
      }
      if (work.onHeld) return work.onHeld();
      const wait = () => waitForHolder(work);
      const got = await (work.aroundWait ? work.aroundWait(wait) : wait());
      if (got !== undefined) return got;
      return work.onNoResult ? work.onNoResult() : work.compute();
    },
  };
}
