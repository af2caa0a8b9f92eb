/**
 * The race an event-driven cache must not lose: a recompute reads the source, a write
 * lands and its invalidation drops the bucket, then the recompute writes back what it
 * read before the write. The tombstone the invalidation leaves keeps that stale value
 * out, so the next reader computes again and sees the write.
 */
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, type BucketWindow } from '../../src/cache/buckets.js';
import { createInvalidator } from '../../src/cache/invalidation.js';
import { buildKey } from '../../src/cache/keys.js';
import type { LockOptions } from '../../src/cache/lock.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { DEFAULT_TTL } from '../../src/cache/policy.js';
import { createCacheCore, type BucketSpec } from '../../src/cache/read-through.js';
import { createResilientStore } from '../../src/cache/resilient-store.js';

const BUCKET = Date.UTC(2026, 10, 20, 10);
const WINDOW: BucketWindow = { granularity: 'HOUR', from: BUCKET, to: BUCKET + BUCKET_MS.HOUR };

/**
 * One bucket over a memory store, a source whose value the test sets, and a first
 * computation that stays blocked (after reading the source) until `release()`.
 */
function race(options: { lock?: Partial<LockOptions>; forgetOnDrop?: boolean } = {}) {
  const state = { now: BUCKET + 5 * BUCKET_MS.HOUR, sourceValue: 1, computes: 0 };
  const store = createResilientStore(createMemoryStore());
  const core = createCacheCore({ store, clock: () => state.now, lock: options.lock });
  const invalidator = createInvalidator(
    store,
    undefined,
    () => state.now,
    10_000,
    options.forgetOnDrop ? (keys) => core.forget(keys) : undefined,
  );
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const key = buildKey({
    prefix: 'race',
    cacheVersion: '1',
    tenant: 't',
    metric: 'ORDERS',
    metricVersion: 1,
    granularity: 'HOUR',
    bucketStart: BUCKET,
  });
  const spec: BucketSpec<number> = {
    metric: 'ORDERS',
    version: '1/1',
    granularity: 'HOUR',
    ttl: DEFAULT_TTL,
    keyOf: () => key,
    empty: 0,
    async compute() {
      state.computes++;
      const read = state.sourceValue; // the source is read now...
      if (state.computes === 1) await gate; // ...and the write lands while this one is slow
      return new Map([[BUCKET, read]]);
    },
  };
  const read = () => core.read(spec, WINDOW, core.forRequest());
  /** The write commits and its invalidation runs. */
  const write = async () => {
    state.now += 5;
    state.sourceValue = 2;
    await invalidator.drop('ORDERS', 'order.recorded', [key]);
  };
  return { state, read, write, release };
}

describe('a recompute racing an invalidation', () => {
  it('does not write back what it read before the write that invalidated it', async () => {
    const { state, read, write, release } = race();
    const slow = read();
    await new Promise((resolve) => setImmediate(resolve));
    expect(state.computes).toBe(1);

    await write();
    release();
    expect((await slow)[0]!.value).toBe(1); // that request began before the write

    // Within the very millisecond of the drop the order cannot be told, so a recompute
    // then is not kept either (one extra recompute, never a stale value); a moment later:
    state.now += 1;
    const next = await read();
    expect(next[0]).toMatchObject({ value: 2, how: 'miss' });
    expect(state.computes).toBe(2);
    const warm = await read();
    expect(warm[0]).toMatchObject({ value: 2, how: 'hit' });
  });
});

describe('a request after the drop, in the same process', () => {
  it('does not join work that began before the write', async () => {
    const { state, read, write, release } = race({ lock: { waitMs: 50, pollMs: 5 }, forgetOnDrop: true });
    const slow = read();
    await new Promise((resolve) => setImmediate(resolve));
    await write();
    state.now += 1;
    // The write has returned: a new request must see it, even though the slow one still runs.
    const after = await read();
    expect(after[0]!.value).toBe(2);
    expect(state.computes).toBe(2);
    release();
    expect((await slow)[0]!.value).toBe(1);
  });
});
