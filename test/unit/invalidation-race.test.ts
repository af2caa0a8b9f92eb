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
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { DEFAULT_TTL } from '../../src/cache/policy.js';
import { createCacheCore, type BucketSpec } from '../../src/cache/read-through.js';
import { createResilientStore } from '../../src/cache/resilient-store.js';

const BUCKET = Date.UTC(2026, 10, 20, 10);
const WINDOW: BucketWindow = { granularity: 'HOUR', from: BUCKET, to: BUCKET + BUCKET_MS.HOUR };

describe('a recompute racing an invalidation', () => {
  it('does not write back what it read before the write that invalidated it', async () => {
    let now = BUCKET + 5 * BUCKET_MS.HOUR;
    const store = createResilientStore(createMemoryStore());
    const core = createCacheCore({ store, clock: () => now });
    const invalidator = createInvalidator(store, undefined, () => now, 10_000);

    let sourceValue = 1; // the source before the write
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let computes = 0;
    const key = buildKey({ prefix: 'race', cacheVersion: '1', tenant: 't', metric: 'ORDERS', metricVersion: 1, granularity: 'HOUR', bucketStart: BUCKET });
    const spec: BucketSpec<number> = {
      metric: 'ORDERS',
      version: '1/1',
      granularity: 'HOUR',
      ttl: DEFAULT_TTL,
      keyOf: () => key,
      empty: 0,
      async compute() {
        computes++;
        const read = sourceValue; // the source is read now...
        if (computes === 1) await gate; // ...and the write lands while this one is slow
        return new Map([[BUCKET, read]]);
      },
    };

    const slow = core.read(spec, WINDOW, core.forRequest());
    await new Promise((resolve) => setImmediate(resolve));
    expect(computes).toBe(1);

    now += 5;
    sourceValue = 2; // the write commits...
    await invalidator.drop('ORDERS', 'order.recorded', [key]); // ...and its invalidation runs
    release();
    expect((await slow)[0]!.value).toBe(1); // that request began before the write

    // Within the very millisecond of the drop the order cannot be told, so a recompute
    // then is not kept either (one extra recompute, never a stale value); a moment later:
    now += 1;
    const next = await core.read(spec, WINDOW, core.forRequest());
    expect(next[0]).toMatchObject({ value: 2, how: 'miss' });
    expect(computes).toBe(2);
    const warm = await core.read(spec, WINDOW, core.forRequest());
    expect(warm[0]).toMatchObject({ value: 2, how: 'hit' });
  });
});

describe('a request after the drop, in the same process', () => {
  it('does not join work that began before the write', async () => {
    let now = BUCKET + 5 * BUCKET_MS.HOUR;
    const store = createResilientStore(createMemoryStore());
    const core = createCacheCore({ store, clock: () => now, lock: { waitMs: 50, pollMs: 5 } });
    const invalidator = createInvalidator(store, undefined, () => now, 10_000, (keys) => core.forget(keys));
    let sourceValue = 1;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let computes = 0;
    const key = buildKey({ prefix: 'race2', cacheVersion: '1', tenant: 't', metric: 'ORDERS', metricVersion: 1, granularity: 'HOUR', bucketStart: BUCKET });
    const spec: BucketSpec<number> = {
      metric: 'ORDERS',
      version: '1/1',
      granularity: 'HOUR',
      ttl: DEFAULT_TTL,
      keyOf: () => key,
      empty: 0,
      async compute() {
        computes++;
        const read = sourceValue;
        if (computes === 1) await gate;
        return new Map([[BUCKET, read]]);
      },
    };
    const slow = core.read(spec, WINDOW, core.forRequest());
    await new Promise((resolve) => setImmediate(resolve));
    now += 5;
    sourceValue = 2;
    await invalidator.drop('ORDERS', 'order.recorded', [key]);
    now += 1;
    // The write has returned: a new request must see it, even though the slow one still runs.
    const after = await core.read(spec, WINDOW, core.forRequest());
    expect(after[0]!.value).toBe(2);
    expect(computes).toBe(2);
    release();
    expect((await slow)[0]!.value).toBe(1);
  });
});
