import { describe, expect, it } from 'vitest';
import { CacheError, CacheErrorCodes, type StoreOperation } from '../../src/cache/errors.js';
import { createResilientStore, type BreakerOptions } from '../../src/cache/resilient-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { createFlakyStore, deferred, flush, manualClock, recordingObserver, type StoreMethod } from './cache-test-kit.js';

const T0 = Date.parse('2026-11-25T12:00:00Z');

function setup(options: BreakerOptions = {}) {
  const inner = createFlakyStore();
  const observer = recordingObserver();
  const clock = manualClock(T0);
  const store = createResilientStore(inner, { failureThreshold: 3, cooldownMs: 5_000, ...options, observer, clock });
  const innerCalls = () => Object.values(inner.calls).reduce((a, b) => a + b, 0);
  return { inner, observer, clock, store, innerCalls };
}

/** Awaits `promise`, expecting a CacheError, and returns it. */
async function rejection(promise: Promise<unknown>): Promise<CacheError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection, the call succeeded');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CacheError);
  return error as CacheError;
}

/** Every guarded operation: how to call it, its inner method and its label. */
const OPERATIONS: Array<[StoreOperation, StoreMethod, (store: CacheStore) => Promise<unknown>]> = [
  ['get', 'getMany', (s) => s.getMany(['k1', 'k2'])],
  ['set', 'setMany', (s) => s.setMany([{ key: 'k1', value: 'v', ttlMs: 1_000 }])],
  ['delete', 'deleteMany', (s) => s.deleteMany(['k1'])],
  ['scan', 'deleteByPrefix', (s) => s.deleteByPrefix('k')],
  ['lock', 'acquireLock', (s) => s.acquireLock('lock', 'token', 1_000)],
  ['unlock', 'releaseLock', (s) => s.releaseLock('lock', 'token')],
];

/** The operations behind the breaker: every one but the lock release, which always goes through. */
const GUARDED = OPERATIONS.filter(([operation]) => operation !== 'unlock');

const fail = (store: CacheStore) => store.getMany(['k']).catch(() => undefined);

describe('createResilientStore: failures', () => {
  it.each(OPERATIONS)('reports a failed %s with its operation label and wraps the cause', async (operation, method, run) => {
    const { inner, observer, store } = setup();
    inner.failing = true;
    const error = await rejection(run(store));
    expect(error.code).toBe(CacheErrorCodes.E_STORE_UNAVAILABLE);
    expect(error.operation).toBe(operation);
    expect(error.message).toContain(`cache store ${operation} failed`);
    expect(error.message).toContain(`store down (test double): ${method}`);
    expect((error.cause as Error).message).toBe(`store down (test double): ${method}`);
    expect(inner.calls[method]).toBe(1);
    expect(observer.storeErrors).toEqual([{ operation, error }]);
  });

  it.each(OPERATIONS)('passes a successful %s through with its result and reports nothing', async (_operation, method, run) => {
    const { inner, observer, store } = setup();
    await expect(run(store)).resolves.not.toBeInstanceOf(Error);
    expect(inner.calls[method]).toBe(1);
    expect(observer.storeErrors).toEqual([]);
  });

  it('returns the inner store results unchanged', async () => {
    const { store } = setup();
    await store.setMany([{ key: 'a', value: '1', ttlMs: 60_000 }]);
    expect(await store.getMany(['a', 'b'])).toEqual(['1', null]);
    expect(await store.acquireLock('l', 't1', 60_000)).toBe(true);
    expect(await store.acquireLock('l', 't2', 60_000)).toBe(false);
    expect(await store.releaseLock('l', 't2')).toBe(false);
    expect(await store.releaseLock('l', 't1')).toBe(true);
    expect(await store.deleteMany(['a', 'b'])).toBe(1);
    expect(store.kind).toBe('memory');
  });
});

describe('createResilientStore: circuit breaker', () => {
  it('opens after failureThreshold consecutive failures, then fails fast without calling the store', async () => {
    const { inner, observer, store, innerCalls } = setup({ failureThreshold: 3 });
    inner.failing = true;
    await fail(store);
    await fail(store);
    expect(store.breakerState()).toBe('closed');
    await fail(store);
    expect(store.breakerState()).toBe('open');
    expect(innerCalls()).toBe(3);

    observer.reset();
    for (const [operation, , run] of GUARDED) {
      const error = await rejection(run(store));
      expect(error.code).toBe(CacheErrorCodes.E_CIRCUIT_OPEN);
      expect(error.operation).toBe(operation);
    }
    expect(innerCalls()).toBe(3);
    expect(observer.storeErrors.map((e) => e.operation)).toEqual(GUARDED.map(([operation]) => operation));
    expect(observer.storeErrors.every((e) => (e.error as CacheError).code === CacheErrorCodes.E_CIRCUIT_OPEN)).toBe(true);
  });

  it('fails fast even when the store has recovered, until the cooldown ends', async () => {
    const { inner, clock, store } = setup({ failureThreshold: 2, cooldownMs: 5_000 });
    inner.failing = true;
    await fail(store);
    await fail(store);
    inner.failing = false;
    clock.advance(4_999);
    expect(store.breakerState()).toBe('open');
    expect((await rejection(store.getMany(['k']))).code).toBe(CacheErrorCodes.E_CIRCUIT_OPEN);
    expect(inner.calls.getMany).toBe(2);
  });

  it('counts only consecutive failures: a success resets the count', async () => {
    const { inner, store } = setup({ failureThreshold: 3 });
    inner.failing = true;
    await fail(store);
    await fail(store);
    inner.failing = false;
    await store.getMany(['k']);
    inner.failing = true;
    await fail(store);
    await fail(store);
    expect(store.breakerState()).toBe('closed');
    await fail(store);
    expect(store.breakerState()).toBe('open');
  });

  it('honours a threshold of 1', async () => {
    const { inner, store } = setup({ failureThreshold: 1 });
    inner.failing = true;
    await fail(store);
    expect(store.breakerState()).toBe('open');
  });

  it('uses the documented defaults: 3 failures, 5000 ms', async () => {
    const inner = createFlakyStore();
    const clock = manualClock(T0);
    const store = createResilientStore(inner, { clock });
    inner.failing = true;
    await fail(store);
    await fail(store);
    expect(store.breakerState()).toBe('closed');
    await fail(store);
    expect(store.breakerState()).toBe('open');
    clock.advance(4_999);
    expect(store.breakerState()).toBe('open');
    clock.advance(1);
    expect(store.breakerState()).toBe('half-open');
  });

  it('lets one trial call through after cooldownMs; its success closes the circuit', async () => {
    const { inner, clock, store, observer } = setup({ failureThreshold: 2, cooldownMs: 5_000 });
    inner.failing = true;
    await fail(store);
    await fail(store);
    inner.failing = false;
    clock.advance(5_000);
    expect(store.breakerState()).toBe('half-open');
    observer.reset();
    await store.setMany([{ key: 'a', value: '1', ttlMs: 60_000 }]);
    expect(inner.calls.setMany).toBe(1);
    expect(store.breakerState()).toBe('closed');
    expect(await store.getMany(['a'])).toEqual(['1']);
    expect(observer.storeErrors).toEqual([]);
  });

  it('re-opens when the trial call fails, for a whole new cooldown', async () => {
    const { inner, clock, store } = setup({ failureThreshold: 2, cooldownMs: 5_000 });
    inner.failing = true;
    await fail(store);
    await fail(store);
    clock.advance(5_000);
    const error = await rejection(store.getMany(['k']));
    expect(error.code).toBe(CacheErrorCodes.E_STORE_UNAVAILABLE);
    expect(inner.calls.getMany).toBe(3);
    expect(store.breakerState()).toBe('open');

    inner.failing = false;
    clock.advance(4_999);
    expect((await rejection(store.getMany(['k']))).code).toBe(CacheErrorCodes.E_CIRCUIT_OPEN);
    expect(inner.calls.getMany).toBe(3);
    clock.advance(1);
    await expect(store.getMany(['k'])).resolves.toEqual([null]);
    expect(store.breakerState()).toBe('closed');
  });

  it('re-opens on one failed trial, not after failureThreshold of them', async () => {
    const { inner, clock, store } = setup({ failureThreshold: 5, cooldownMs: 1_000 });
    inner.failing = true;
    for (let i = 0; i < 5; i++) await fail(store);
    expect(store.breakerState()).toBe('open');
    clock.advance(1_000);
    await fail(store);
    expect(store.breakerState()).toBe('open');
  });

  it('in half-open, fails every other call fast while the trial is in flight', async () => {
    const { inner, clock, store } = setup({ failureThreshold: 1, cooldownMs: 1_000 });
    inner.failing = true;
    await fail(store);
    inner.failing = false;
    clock.advance(1_000);

    const gate = deferred();
    inner.gate = gate.promise;
    const trial = store.getMany(['a']);
    await flush();
    expect(inner.calls.getMany).toBe(2);
    const other = await rejection(store.setMany([{ key: 'b', value: '1', ttlMs: 1_000 }]));
    expect(other.code).toBe(CacheErrorCodes.E_CIRCUIT_OPEN);
    expect(other.operation).toBe('set');
    expect(inner.calls.setMany).toBe(0);

    inner.gate = undefined;
    gate.resolve();
    await expect(trial).resolves.toEqual([null]);
    expect(store.breakerState()).toBe('closed');
    await store.setMany([{ key: 'b', value: '1', ttlMs: 1_000 }]);
    expect(inner.calls.setMany).toBe(1);
  });
});

describe('createResilientStore: lock release', () => {
  it('is sent while the circuit is open, without closing it: a lock left behind would block every other worker', async () => {
    const { inner, observer, store } = setup({ failureThreshold: 1 });
    inner.failing = true;
    await fail(store);
    expect(store.breakerState()).toBe('open');
    inner.failing = false;
    expect(await store.acquireLock('l', 't', 60_000).catch(() => 'refused')).toBe('refused');
    await inner.acquireLock('l', 't', 60_000);
    observer.reset();
    await expect(store.releaseLock('l', 't')).resolves.toBe(true);
    expect(inner.calls.releaseLock).toBe(1);
    expect(store.breakerState()).toBe('open');
    expect(observer.storeErrors).toEqual([]);
  });

  it('counts a failed release without moving the circuit', async () => {
    const { inner, observer, store } = setup({ failureThreshold: 1 });
    inner.failing = true;
    const error = await rejection(store.releaseLock('l', 't'));
    expect(error.code).toBe(CacheErrorCodes.E_STORE_UNAVAILABLE);
    expect(observer.storeErrors.map((e) => e.operation)).toEqual(['unlock']);
    expect(store.breakerState()).toBe('closed');
  });
});

describe('createResilientStore: drops', () => {
  it('are sent while the circuit is open, without closing it: refused, the entries of before a write would be served again', async () => {
    const { inner, observer, store } = setup({ failureThreshold: 1 });
    inner.failing = true;
    await fail(store);
    expect(store.breakerState()).toBe('open');
    inner.failing = false;
    observer.reset();
    await expect(store.invalidate(['k1'], 1_000, 10_000)).resolves.toBe(0);
    expect(inner.calls.invalidate).toBe(1);
    expect(store.breakerState()).toBe('open');
    expect(observer.storeErrors).toEqual([]);

    inner.failing = true;
    const error = await rejection(store.invalidate(['k1'], 2_000, 10_000));
    expect(error.code).toBe(CacheErrorCodes.E_STORE_UNAVAILABLE);
    expect(observer.storeErrors.map((e) => e.operation)).toEqual(['delete']);
  });
});

describe('createResilientStore: the store says it is back', () => {
  /** A store double that can say it reconnected, as the Redis store does on ioredis's 'ready'. */
  function reconnecting() {
    const inner = createFlakyStore();
    let ready: (() => void) | undefined;
    // The double's methods keep reading `inner.failing`: the copy fails when it does.
    const store: CacheStore = { ...inner, onReady: (listener) => void (ready = listener) };
    return { inner, store, reconnect: () => ready?.() };
  }

  it('lets the next call through as the trial at once, instead of after the rest of the cooldown', async () => {
    const { inner, store: raw, reconnect } = reconnecting();
    const clock = manualClock(T0);
    const store = createResilientStore(raw, { failureThreshold: 1, cooldownMs: 60_000, clock });
    inner.failing = true;
    await fail(store);
    expect(store.breakerState()).toBe('open');
    inner.failing = false;
    clock.advance(1_000);
    expect((await rejection(store.getMany(['k']))).code).toBe(CacheErrorCodes.E_CIRCUIT_OPEN);

    reconnect();
    expect(store.breakerState()).toBe('half-open');
    await expect(store.getMany(['k'])).resolves.toEqual([null]);
    expect(store.breakerState()).toBe('closed');
  });

  it('still lets the trial decide: a failed one opens the circuit for a whole cooldown again', async () => {
    const { inner, store: raw, reconnect } = reconnecting();
    const clock = manualClock(T0);
    const store = createResilientStore(raw, { failureThreshold: 1, cooldownMs: 60_000, clock });
    inner.failing = true;
    await fail(store);
    reconnect();
    expect((await rejection(store.getMany(['k']))).code).toBe(CacheErrorCodes.E_STORE_UNAVAILABLE);
    expect(store.breakerState()).toBe('open');
    clock.advance(59_999);
    expect(store.breakerState()).toBe('open');
  });

  it('changes nothing while the circuit is closed', async () => {
    const { inner, store: raw, reconnect } = reconnecting();
    const store = createResilientStore(raw, { failureThreshold: 2 });
    inner.failing = true;
    await fail(store);
    reconnect();
    expect(store.breakerState()).toBe('closed');
    await fail(store);
    expect(store.breakerState()).toBe('open');
  });
});

describe('createResilientStore: ping', () => {
  it('goes straight to the store while the circuit is open, without closing it', async () => {
    const { inner, store } = setup({ failureThreshold: 1 });
    inner.failing = true;
    await fail(store);
    expect(store.breakerState()).toBe('open');
    inner.failing = false;
    await expect(store.ping()).resolves.toBe(true);
    expect(inner.calls.ping).toBe(1);
    expect(store.breakerState()).toBe('open');
  });

  it('neither counts nor reports a failed ping', async () => {
    const { inner, observer, store } = setup({ failureThreshold: 1 });
    inner.failing = true;
    await expect(store.ping()).rejects.toThrow(/store down/);
    await expect(store.ping()).rejects.toThrow(/store down/);
    expect(inner.calls.ping).toBe(2);
    expect(store.breakerState()).toBe('closed');
    expect(observer.storeErrors).toEqual([]);
  });
});
