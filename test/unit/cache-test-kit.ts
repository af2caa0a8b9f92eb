/**
 * Test doubles and helpers for the cache-core unit tests: a manual clock, deferred
 * promises, a recording CacheObserver, and a hand-written CacheStore double that can
 * be made to fail. Pure JS, no IO. Not a test file itself. (Polling for a condition is
 * `eventually` in test/helpers/eventually.ts, shared with every other test.)
 */
import type { StoreOperation } from '../../src/cache/errors.js';
import type { CacheObserver, LookupResult } from '../../src/cache/observer.js';
import type { CacheStore, StoreWrite, ValidatorWrite } from '../../src/cache/store.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';

/** A clock that moves only when told to. */
export interface ManualClock {
  /** Epoch ms now. */
  (): number;
  /** Moves the clock `ms` forward; returns the new time. */
  advance(ms: number): number;
  /** Sets the time to `t`, epoch ms (backwards too). */
  set(t: number): void;
}

/** A manual clock at `start` (epoch ms). */
export function manualClock(start: number): ManualClock {
  let now = start;
  const clock = (() => now) as ManualClock;
  clock.advance = (ms) => (now += ms);
  clock.set = (t) => {
    now = t;
  };
  return clock;
}

/** Lets every pending microtask and I/O callback run once (no timed wait). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise with its `resolve` and `reject` at hand, so that a test decides when (and how) something finishes. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A new, pending deferred. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type ObserverEvent = keyof CacheObserver;

/** A CacheObserver that keeps every call, and can hand out a promise of the next one. */
export interface RecordingObserver extends CacheObserver {
  lookups: Array<{ metric: string; result: LookupResult; count: number }>;
  recomputes: Array<{ metric: string; buckets: number; durationMs: number }>;
  sourceQueries: string[];
  staleServes: Array<{ metric: string; count: number }>;
  staleIfErrors: Array<{ metric: string; count: number }>;
  sourceFailures: Array<{ metric: string; error: unknown }>;
  lockWaits: string[];
  invalidations: Array<{ metric: string; reason: string; count: number }>;
  storeErrors: Array<{ operation: StoreOperation; error: unknown }>;
  /** Resolves at the next call of `event`. */
  next(event: ObserverEvent): Promise<void>;
  /** Forgets everything recorded so far. */
  reset(): void;
}

/** A recording observer with nothing recorded. */
export function recordingObserver(): RecordingObserver {
  const waiting = new Map<ObserverEvent, Array<() => void>>();
  const fire = (event: ObserverEvent) => {
    const list = waiting.get(event) ?? [];
    waiting.delete(event);
    for (const resolve of list) resolve();
  };
  const observer: RecordingObserver = {
    lookups: [],
    recomputes: [],
    sourceQueries: [],
    staleServes: [],
    staleIfErrors: [],
    sourceFailures: [],
    lockWaits: [],
    invalidations: [],
    storeErrors: [],
    lookup(metric, result, count = 1) {
      observer.lookups.push({ metric, result, count });
      fire('lookup');
    },
    recomputed(metric, buckets, durationMs) {
      observer.recomputes.push({ metric, buckets, durationMs });
      fire('recomputed');
    },
    sourceQuery(metric) {
      observer.sourceQueries.push(metric);
      fire('sourceQuery');
    },
    staleServed(metric, count = 1) {
      observer.staleServes.push({ metric, count });
      fire('staleServed');
    },
    staleIfError(metric, count) {
      observer.staleIfErrors.push({ metric, count });
      fire('staleIfError');
    },
    sourceFailed(metric, error) {
      observer.sourceFailures.push({ metric, error });
      fire('sourceFailed');
    },
    lockWaited(metric) {
      observer.lockWaits.push(metric);
      fire('lockWaited');
    },
    invalidated(metric, reason, count) {
      observer.invalidations.push({ metric, reason, count });
      fire('invalidated');
    },
    storeError(operation, error) {
      observer.storeErrors.push({ operation, error });
      fire('storeError');
    },
    next(event) {
      return new Promise<void>((resolve) => {
        const list = waiting.get(event) ?? [];
        list.push(resolve);
        waiting.set(event, list);
      });
    },
    reset() {
      observer.lookups.length = 0;
      observer.recomputes.length = 0;
      observer.sourceQueries.length = 0;
      observer.staleServes.length = 0;
      observer.staleIfErrors.length = 0;
      observer.sourceFailures.length = 0;
      observer.lockWaits.length = 0;
      observer.invalidations.length = 0;
      observer.storeErrors.length = 0;
    },
  };
  return observer;
}

/** The CacheStore methods `FlakyStore` counts, gates and fails. */
export type StoreMethod =
  'getMany' | 'setMany' | 'invalidate' | 'deleteMany' | 'deleteByPrefix' | 'acquireLock' | 'releaseLock' | 'ping' | 'close';

/**
 * A hand-written double of our own CacheStore interface (not a Redis mock): it
 * delegates to `inner` (an in-process memory store by default), counts every call,
 * rejects every call while `failing` is set, and holds calls while `gate` is set.
 */
export interface FlakyStore extends CacheStore {
  failing: boolean;
  /** When set, every call waits for it before doing anything. */
  gate: Promise<void> | undefined;
  /** When set, runs (and is awaited) at the start of every call, before `gate` and `failing`. */
  onCall: ((method: StoreMethod) => void | Promise<void>) | undefined;
  readonly calls: Record<StoreMethod, number>;
  /** The keys of every getMany call, in order. */
  readonly reads: string[][];
  readonly inner: CacheStore;
}

/** What `createFlakyStore` wraps, and how much of Redis it mimics. */
export interface FlakyStoreOptions {
  /** The store calls go to. @default a new memory store */
  inner?: CacheStore;
  /**
   * Make a held lock readable by getMany under its key (its token), as Redis does
   * (`SET key token PX ttl NX` is a plain key). Expiry is not modelled.
   */
  locksReadable?: boolean;
}

/**
 * A flaky store over `options.inner`, healthy (not failing, no gate) with every count at
 * 0. `close` is counted but never gated or failed.
 */
export function createFlakyStore(options: FlakyStoreOptions = {}): FlakyStore {
  const inner = options.inner ?? createMemoryStore();
  const heldLocks = new Map<string, string>();
  const calls: Record<StoreMethod, number> = {
    getMany: 0,
    setMany: 0,
    invalidate: 0,
    deleteMany: 0,
    deleteByPrefix: 0,
    acquireLock: 0,
    releaseLock: 0,
    ping: 0,
    close: 0,
  };
  const reads: string[][] = [];
  const store: FlakyStore = {
    kind: inner.kind,
    failing: false,
    gate: undefined,
    onCall: undefined,
    calls,
    reads,
    inner,
    async getMany(keys: readonly string[]) {
      await enter('getMany');
      reads.push([...keys]);
      const values = await inner.getMany(keys);
      if (!options.locksReadable) return values;
      return values.map((value, i) => value ?? heldLocks.get(keys[i]!) ?? null);
    },
    async setMany(writes: readonly StoreWrite[], setOptions?: { unlessInvalidatedSince?: number }) {
      await enter('setMany');
      return inner.setMany(writes, setOptions);
    },
    async invalidate(keys: readonly string[], at: number, ttlMs: number, validators?: ValidatorWrite) {
      await enter('invalidate');
      return inner.invalidate(keys, at, ttlMs, validators);
    },
    async deleteMany(keys: readonly string[]) {
      await enter('deleteMany');
      return inner.deleteMany(keys);
    },
    async deleteByPrefix(prefix: string) {
      await enter('deleteByPrefix');
      return inner.deleteByPrefix(prefix);
    },
    async acquireLock(key: string, token: string, ttlMs: number) {
      await enter('acquireLock');
      const acquired = await inner.acquireLock(key, token, ttlMs);
      if (acquired) heldLocks.set(key, token);
      return acquired;
    },
    async releaseLock(key: string, token: string) {
      await enter('releaseLock');
      const released = await inner.releaseLock(key, token);
      if (released) heldLocks.delete(key);
      return released;
    },
    async ping() {
      await enter('ping');
      return inner.ping();
    },
    async close() {
      calls.close++;
      return inner.close();
    },
  };

  async function enter(method: StoreMethod): Promise<void> {
    calls[method]++;
    if (store.onCall) await store.onCall(method);
    if (store.gate) await store.gate;
    if (store.failing) throw new Error(`store down (test double): ${method}`);
  }

  return store;
}

/**
 * A `sleep` for code that polls: it records each requested interval, moves `clock`
 * by it and resolves at once, so a wait of seconds runs in microtasks. `onSleep`, when
 * set, runs (and is awaited) after the clock moved: where a test plays the other worker.
 */
export interface SteppedSleep {
  (ms: number): Promise<void>;
  /** Every interval asked for, in order. */
  readonly intervals: number[];
  onSleep: ((poll: number) => void | Promise<void>) | undefined;
}

/** A stepped sleep that moves `clock`, with no intervals recorded yet. */
export function steppedSleep(clock: ManualClock): SteppedSleep {
  const intervals: number[] = [];
  const sleep: SteppedSleep = Object.assign(
    async (ms: number) => {
      intervals.push(ms);
      clock.advance(ms);
      await sleep.onSleep?.(intervals.length);
    },
    { intervals, onSleep: undefined as SteppedSleep['onSleep'] },
  );
  return sleep;
}
