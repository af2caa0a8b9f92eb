/**
 * The cross-process protocol of lock.ts, one path at a time, over the in-process
 * memory store (whose locks read like keys, as in Redis). A manual clock and a
 * stepped sleep make every wait run in microtasks; "the other worker" is the test,
 * acting on the store between polls.
 */
import { describe, expect, it } from 'vitest';
import { createStoreLock, DEFAULT_LOCK, type LockedWork, type StoreLockOptions } from '../../src/cache/lock.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createFlakyStore, deferred, manualClock, steppedSleep } from './cache-test-kit.js';
import { eventually } from '../helpers/eventually.js';

const T0 = Date.parse('2026-11-25T12:00:00Z');
const KEYS = ['t:{a}:k1', 't:{a}:k2'];
const LOCK = 't:{a}:k1:lock:2';

function setup(options: StoreLockOptions = {}) {
  const clock = manualClock(T0);
  const sleep = steppedSleep(clock);
  const store = createFlakyStore({ inner: createMemoryStore({ clock }) });
  const lock = createStoreLock(store, { clock, sleep, ...options });
  const computes: number[] = [];
  /** A result is both keys, joined; compute stores `computed-N`. */
  const work = (overrides: Partial<LockedWork<string>> = {}): LockedWork<string> => ({
    lockKey: LOCK,
    keys: KEYS,
    check: (values) => (values.every((v) => v !== null) ? values.join('+') : undefined),
    async compute() {
      computes.push(clock());
      const n = computes.length;
      await store.inner.setMany(KEYS.map((key) => ({ key, value: `computed-${n}`, ttlMs: 60_000 })));
      return `computed-${n}`;
    },
    ...overrides,
  });
  /** Another worker's lock, as its SET NX PX leaves it. */
  const holdLock = (token = 'holder', ttlMs = 60_000) => store.inner.acquireLock(LOCK, token, ttlMs);
  /** Another worker stores the values. */
  const writeValues = (value: string) => store.inner.setMany(KEYS.map((key) => ({ key, value, ttlMs: 60_000 })));
  /** getMany calls that polled the lock with the values. */
  const polls = () => store.reads.filter((keys) => keys.includes(LOCK));
  return { clock, sleep, store, lock, work, computes, holdLock, writeValues, polls };
}

describe('createStoreLock: the lock is free', () => {
  it('takes it, double-checks the values, computes, and releases it', async () => {
    const { store, lock, work, computes, polls } = setup();
    expect(await lock.run(work())).toBe('computed-1');
    expect(computes).toHaveLength(1);
    expect(store.calls.acquireLock).toBe(1);
    expect(store.reads).toEqual([KEYS]); // the double check, without the lock
    expect(polls()).toEqual([]);
    expect(store.calls.releaseLock).toBe(1);
    expect(await store.inner.acquireLock(LOCK, 'next', 1_000)).toBe(true); // released
  });

  it("uses values a previous holder stored between the caller's read and the lock, without computing", async () => {
    const { lock, work, computes, writeValues } = setup();
    await writeValues('theirs');
    expect(await lock.run(work())).toBe('theirs+theirs');
    expect(computes).toEqual([]);
  });

  it('computes when the double check finds only part of the values', async () => {
    const { store, lock, work, computes } = setup();
    await store.inner.setMany([{ key: KEYS[0]!, value: 'half', ttlMs: 60_000 }]);
    expect(await lock.run(work())).toBe('computed-1');
    expect(computes).toHaveLength(1);
  });

  it('takes a falsy result of check for a result: only undefined means none', async () => {
    const { lock, work, computes } = setup();
    expect(await lock.run(work({ check: () => '' }))).toBe('');
    expect(computes).toEqual([]);
  });

  it('computes when the double check read fails, and still releases', async () => {
    const { store, lock, work, computes } = setup();
    store.onCall = (method) => {
      if (method === 'getMany') store.failing = true;
      else store.failing = false;
    };
    expect(await lock.run(work())).toBe('computed-1');
    expect(computes).toHaveLength(1);
    expect(store.calls.releaseLock).toBe(1);
  });

  it('holds the lock for ttlMs', async () => {
    const { clock, store, lock, work } = setup({ ttlMs: 5_000 });
    const during: boolean[] = [];
    await lock.run(
      work({
        async compute() {
          during.push(await store.inner.acquireLock(LOCK, 'other', 1_000));
          clock.advance(4_999);
          during.push(await store.inner.acquireLock(LOCK, 'other', 1_000));
          clock.advance(1);
          during.push(await store.inner.acquireLock(LOCK, 'other', 1_000));
          return 'x';
        },
      }),
    );
    expect(during).toEqual([false, false, true]);
  });

  it('passes a failed compute on, after releasing the lock', async () => {
    const { store, lock, work } = setup();
    const error = new Error('source down');
    await expect(lock.run(work({ compute: () => Promise.reject(error) }))).rejects.toBe(error);
    expect(store.calls.releaseLock).toBe(1);
    expect(await store.inner.acquireLock(LOCK, 'next', 1_000)).toBe(true);
  });
});

describe('createStoreLock: release', () => {
  it('deletes only its own lock: one that expired and was taken by another worker stays', async () => {
    const { clock, store, lock, work } = setup({ ttlMs: 1_000 });
    await lock.run(
      work({
        async compute() {
          clock.advance(1_000); // our lock expires while we compute...
          expect(await store.inner.acquireLock(LOCK, 'newer', 60_000)).toBe(true); // ...and another worker takes it
          return 'x';
        },
      }),
    );
    expect(store.calls.releaseLock).toBe(1);
    expect(await store.inner.acquireLock(LOCK, 'third', 1_000)).toBe(false);
    expect(await store.inner.releaseLock(LOCK, 'newer')).toBe(true);
  });

  it('answers even when the release fails', async () => {
    const { store, lock, work } = setup();
    store.onCall = (method) => {
      store.failing = method === 'releaseLock';
    };
    expect(await lock.run(work())).toBe('computed-1');
  });
});

describe('createStoreLock: the lock is held by another worker', () => {
  it('waits, then uses the values the holder stored, without computing', async () => {
    const { sleep, lock, work, computes, holdLock, writeValues, polls } = setup();
    expect(await holdLock()).toBe(true);
    sleep.onSleep = async (poll) => {
      if (poll === 3) await writeValues('holder');
    };
    expect(await lock.run(work())).toBe('holder+holder');
    expect(computes).toEqual([]);
    // Each poll reads the values and the lock in one call.
    expect(polls()).toEqual([
      [...KEYS, LOCK],
      [...KEYS, LOCK],
      [...KEYS, LOCK],
    ]);
  });

  it('polls first after pollMs, each interval half as long again, never over 100 ms', async () => {
    const { clock, sleep, lock, work, computes, holdLock } = setup({ pollMs: 10, waitMs: 1_000 });
    await holdLock();
    await lock.run(work());
    expect(sleep.intervals.slice(0, 8)).toEqual([10, 15, 22.5, 33.75, 50.625, 75.9375, 100, 100]);
    expect(Math.max(...sleep.intervals)).toBe(100);
    expect(computes).toEqual([T0 + 1_000]);
    expect(clock()).toBe(T0 + 1_000);
  });

  it('keeps waiting while the lock is held and nothing is stored, then computes itself after waitMs', async () => {
    const { clock, sleep, lock, work, computes, holdLock, polls, store } = setup({ waitMs: 50, pollMs: 5 });
    await holdLock();
    expect(await lock.run(work())).toBe('computed-1');
    // 5 + 7.5 + 11.25 + 16.875 = 40.625, then the 9.375 left before the deadline.
    expect(sleep.intervals).toEqual([5, 7.5, 11.25, 16.875, 9.375]);
    expect(polls()).toHaveLength(5);
    expect(computes).toEqual([T0 + 50]);
    expect(clock()).toBe(T0 + 50);
    // It computed without the lock: the holder's lock is untouched.
    expect(store.calls.releaseLock).toBe(0);
    expect(await store.inner.releaseLock(LOCK, 'holder')).toBe(true);
  });

  it('computes at once when the holder lets go of the lock without storing a result', async () => {
    const { sleep, store, lock, work, computes, holdLock } = setup();
    await holdLock();
    sleep.onSleep = async (poll) => {
      if (poll === 2) await store.inner.releaseLock(LOCK, 'holder');
    };
    expect(await lock.run(work())).toBe('computed-1');
    expect(sleep.intervals).toHaveLength(2);
    expect(computes).toHaveLength(1);
  });

  it('computes at once when the holder died and its lock expired', async () => {
    const { sleep, clock, lock, work, computes, holdLock } = setup({ waitMs: 10_000 });
    await holdLock('dead', 30);
    expect(await lock.run(work())).toBe('computed-1');
    expect(computes).toEqual([clock()]);
    expect(clock()).toBeGreaterThanOrEqual(T0 + 30);
    expect(clock()).toBeLessThan(T0 + 100);
    expect(sleep.intervals.length).toBeLessThan(5);
  });

  it('gives up on the holder when a poll fails, and computes', async () => {
    const { sleep, store, lock, work, computes, holdLock } = setup();
    await holdLock();
    sleep.onSleep = () => {
      store.failing = true;
    };
    store.onCall = (method) => {
      if (method !== 'getMany') store.failing = false;
    };
    expect(await lock.run(work())).toBe('computed-1');
    expect(sleep.intervals).toHaveLength(1);
    expect(computes).toHaveLength(1);
  });

  it('answers onNoResult instead of computing when the holder gives none, whether gone or too slow', async () => {
    for (const how of ['gone', 'slow'] as const) {
      const { sleep, store, lock, work, computes, holdLock } = setup({ waitMs: 100 });
      await holdLock();
      if (how === 'gone') sleep.onSleep = () => store.inner.releaseLock(LOCK, 'holder').then(() => undefined);
      expect(await lock.run(work({ onNoResult: () => 'what was stored' })), how).toBe('what was stored');
      expect(computes, how).toEqual([]);
    }
  });

  it('with onHeld, answers at once: no wait, no poll, no computation', async () => {
    const { sleep, lock, work, computes, holdLock, polls } = setup();
    await holdLock();
    expect(await lock.run(work({ onHeld: () => 'left to the holder' }))).toBe('left to the holder');
    expect(sleep.intervals).toEqual([]);
    expect(polls()).toEqual([]);
    expect(computes).toEqual([]);
  });

  it('runs the wait inside aroundWait, which sees how it ended', async () => {
    const outcomes: Array<string | undefined> = [];
    const aroundWait: LockedWork<string>['aroundWait'] = async (wait) => {
      outcomes.push('waiting');
      const got = await wait();
      outcomes.push(got);
      return got;
    };
    const filled = setup();
    await filled.holdLock();
    filled.sleep.onSleep = () => filled.writeValues('holder');
    expect(await filled.lock.run(filled.work({ aroundWait }))).toBe('holder+holder');

    const alone = setup({ waitMs: 20 });
    await alone.holdLock();
    expect(await alone.lock.run(alone.work({ aroundWait }))).toBe('computed-1');
    expect(outcomes).toEqual(['waiting', 'holder+holder', 'waiting', undefined]);
  });

  it('does not call aroundWait when it did not wait', async () => {
    const { lock, work } = setup();
    let waited = false;
    await lock.run(
      work({
        aroundWait: (wait) => {
          waited = true;
          return wait();
        },
      }),
    );
    expect(waited).toBe(false);
  });
});

describe('createStoreLock: the store is down', () => {
  it('computes without a lock, and neither waits nor releases', async () => {
    const { sleep, store, lock, work, computes } = setup();
    store.failing = true;
    const result = lock.run(work({ compute: async () => (computes.push(0), 'from the source') }));
    expect(await result).toBe('from the source');
    expect(computes).toHaveLength(1);
    expect(store.calls.acquireLock).toBe(1);
    expect(store.calls.releaseLock).toBe(0);
    expect(sleep.intervals).toEqual([]);
  });

  it('lets each caller compute: there is no lock to share', async () => {
    const { store, lock, work, computes } = setup();
    store.failing = true;
    const gate = deferred();
    const slow = work({ compute: async () => (computes.push(0), await gate.promise, 'x') });
    const both = Promise.all([lock.run(slow), lock.run(slow)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(computes).toHaveLength(2);
    gate.resolve();
    expect(await both).toEqual(['x', 'x']);
  });
});

describe('createStoreLock: options', () => {
  it('uses the documented defaults', () => {
    const lock = createStoreLock(createMemoryStore());
    expect(lock.options).toEqual({ ttlMs: 10_000, waitMs: 3_000, pollMs: 10 });
    expect(DEFAULT_LOCK).toEqual({ ttlMs: 10_000, waitMs: 3_000, pollMs: 10 });
  });

  it('takes each option given and the default for each left out or undefined', () => {
    expect(createStoreLock(createMemoryStore(), { waitMs: 500, pollMs: undefined }).options).toEqual({
      ttlMs: 10_000,
      waitMs: 500,
      pollMs: 10,
    });
  });
});

describe('createStoreLock: release', () => {
  it('is sent but not waited on: a release that hangs (a stalled store) does not hold the result up', async () => {
    const { store, lock, work } = setup();
    const hang = deferred();
    store.onCall = (method) => (method === 'releaseLock' ? hang.promise : undefined);
    expect(await lock.run(work())).toBe('computed-1');
    expect(store.calls.releaseLock).toBe(1);
    hang.resolve();
    await eventually(async () => await store.inner.acquireLock(LOCK, 'next', 1_000), 1_000, 'the lock released');
  });
});
