/**
 * The Redis store against a server that stalls (SIGSTOP), then answers again: a
 * stalled Redis runs, once it goes on, every command it was sent meanwhile, including
 * those whose callers gave up at their timeout. A span lock taken that way would be
 * held by nobody, and every other worker would wait for it (CACHE_LOCK_WAIT_MS).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/cache/redis-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { eventually } from '../helpers/eventually.js';
import { commandStats, startRedisServer, type RedisServerHandle } from '../helpers/redis.js';

let server: RedisServerHandle;
let store: CacheStore;

beforeAll(async () => {
  server = await startRedisServer();
  store = createRedisStore(server.url, { commandTimeoutMs: 200 });
  expect(await store.ping()).toBe(true);
});
afterAll(async () => {
  await store?.close();
  await server?.stop();
});

describe('a lock asked for while Redis stalls', () => {
  it('is not left behind once Redis goes on: the SET that timed out is undone', async () => {
    const key = 't-stall:{a}:lock';
    server.pause();
    try {
      await expect(store.acquireLock(key, 'gave-up', 60_000)).rejects.toThrow(/timed out/);
    } finally {
      server.resume();
    }
    // Redis ran the SET NX it had been sent (the lock was taken) and then let it go.
    await eventually(async () => ((await commandStats([server.url])).set ?? 0) >= 1, 10_000, 'the late SET run');
    await eventually(async () => (await store.getMany([key]))[0] === null, 10_000, 'the lock gone');
    expect(await store.acquireLock(key, 'next', 60_000)).toBe(true);
  });
});
