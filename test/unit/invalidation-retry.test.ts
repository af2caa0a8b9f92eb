/**
 * A drop the store refused is sent again behind, until it lands: a write that returned
 * while the store was unreachable must not leave the entries of before it to be served
 * once the store is back with its data.
 */
import { describe, expect, it } from 'vitest';
import { createInvalidator, RETRY_LIMITS } from '../../src/cache/invalidation.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { tombstoneTime } from '../../src/cache/store.js';
import { eventually } from '../helpers/eventually.js';
import { createFlakyStore } from './cache-test-kit.js';

describe('a drop the store refused', () => {
  it('is sent again until it lands: tombstones and a new validator, then nothing pending', async () => {
    const inner = createMemoryStore();
    const store = createFlakyStore({ inner });
    await inner.setMany([
      { key: 'bucket', value: 'before the write', ttlMs: 60_000 },
      { key: 'validator', value: 'v-before', ttlMs: 60_000 },
    ]);
    const invalidator = createInvalidator(store);
    try {
      store.failing = true;
      expect(await invalidator.drop('ORDERS', 'order.recorded', ['bucket'], ['validator'])).toBe(0);
      expect(invalidator.pending()).toBe(1);
      // Still refused: still pending, the entry of before the write still there.
      await new Promise((resolve) => setTimeout(resolve, RETRY_LIMITS.firstWaitMs * 2));
      expect(store.calls.invalidate).toBeGreaterThan(1);
      expect(invalidator.pending()).toBe(1);
      expect(await inner.getMany(['bucket'])).toEqual(['before the write']);

      store.failing = false;
      await eventually(async () => invalidator.pending() === 0, 10_000, 'the drop landed');
      const [bucket, validator] = await inner.getMany(['bucket', 'validator']);
      expect(tombstoneTime(bucket)).toEqual(expect.any(Number));
      expect(validator).not.toBe('v-before');
    } finally {
      invalidator.stop();
    }
  });

  it('sends nothing more once stopped', async () => {
    const store = createFlakyStore({ inner: createMemoryStore() });
    const invalidator = createInvalidator(store);
    store.failing = true;
    await invalidator.drop('ORDERS', 'order.recorded', ['bucket'], ['validator']);
    invalidator.stop();
    const calls = store.calls.invalidate;
    store.failing = false;
    await new Promise((resolve) => setTimeout(resolve, RETRY_LIMITS.firstWaitMs * 3));
    expect(store.calls.invalidate).toBe(calls);
    expect(invalidator.pending()).toBe(0);
  });
});
