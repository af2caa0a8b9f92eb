/**
 * Memory pressure in Redis with `allkeys-lru` (issue 10, point 6a): Redis evicts any
 * key, tombstones and validators included. A tombstone is what stops a computation
 * that read the source before a write from storing its value after the write's drop;
 * once evicted, the key reads as absent. The write-back also checks the metric's
 * validator as read before the source read (store.ts `WriteBackOptions`), which every
 * drop replaces and whose loss reads as "moved": so no value read before a write lands
 * after it, whatever was evicted.
 *
 * A private redis-server with a small `maxmemory`, filled with filler keys by the test
 * until what it needs evicted is gone (checked, not assumed: INFO evicted_keys and the
 * keys themselves).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvalidator } from '../../src/cache/invalidation.js';
import { buildKey, validatorKey } from '../../src/cache/keys.js';
import { createValidatorReader } from '../../src/cache/loader.js';
import { createRedisStore } from '../../src/cache/redis-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { eventually } from '../helpers/eventually.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

const HOUR = 3_600_000;
const parts = { prefix: 'dash', cacheVersion: '1', tenant: 'acme', metric: 'ORDERS', metricVersion: 1 } as const;
const bucket = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;
const KEY = buildKey({ ...parts, granularity: 'HOUR', bucketStart: bucket });
const VALIDATOR = validatorKey(parts);

let server: RedisServerHandle;
let client: Redis;
let store: CacheStore;
let filled = 0;

beforeAll(async () => {
  server = await startRedisServer({ args: ['--maxmemory', '4mb', '--maxmemory-policy', 'allkeys-lru'] });
  client = new Redis(server.url);
  store = createRedisStore(server.url);
  await eventually(() => store.ping(), 5_000, 'the store answering');
});
afterAll(async () => {
  client?.disconnect();
  await store?.close();
  await server?.stop();
});

/** Writes 200 filler keys of 2 kB: more than the server may hold, so it evicts. */
async function fill(): Promise<void> {
  const pipeline = client.pipeline();
  for (let i = 0; i < 200; i++) pipeline.set(`filler:${filled++}`, 'x'.repeat(2_048));
  await pipeline.exec();
}
const evictedKeys = async () => Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))![1]);

describe('a write-back after its tombstone and validator were evicted (allkeys-lru)', () => {
  it('does not store the value read before the write', async () => {
    const entry = (orders: number) =>
      JSON.stringify({ v: orders, c: Date.now(), x: '1/1', f: Date.now() + HOUR, s: Date.now() + 2 * HOUR });
    await store.setMany([{ key: KEY, value: entry(10), ttlMs: HOUR }]);

    // A request reads the validator, then begins reading the source (10 orders)…
    const read = await createValidatorReader(store).load(VALIDATOR);
    expect(typeof read).toBe('string');
    const since = Date.now();
    // …an order is written meanwhile (11 now), and its drop leaves a tombstone and a new validator…
    await createInvalidator(store).drop('ORDERS', 'order.recorded', [KEY], [VALIDATOR]);
    // …which memory pressure evicts before the slow computation is done.
    const evictedBefore = await evictedKeys();
    await eventually(
      async () => {
        await fill();
        const [key, validator] = await store.getMany([KEY, VALIDATOR]);
        return key === null && validator === null;
      },
      20_000,
      'the tombstone and the validator evicted',
    );
    expect(await evictedKeys()).toBeGreaterThan(evictedBefore);

    // The computation stores what it read before the write.
    await store.setMany([{ key: KEY, value: entry(10), ttlMs: HOUR }], {
      unlessInvalidatedSince: since,
      validator: { key: VALIDATOR, value: read! },
    });
    // Nothing landed: the next read computes 11 from the source.
    expect((await store.getMany([KEY]))[0]).toBeNull();
  });

  it('still stores a value read after the drop while the validator it read is there', async () => {
    const read = await createValidatorReader(store).load(VALIDATOR);
    const since = Date.now();
    await store.setMany([{ key: KEY, value: 'computed after', ttlMs: HOUR }], {
      unlessInvalidatedSince: since,
      validator: { key: VALIDATOR, value: read! },
    });
    expect((await store.getMany([KEY]))[0]).toBe('computed after');
  });
});
