import { describe, expect, it } from 'vitest';
import { buildKey, tenantPrefix } from '../../src/cache/keys.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { tombstoneTime } from '../../src/cache/store.js';
import { manualClock } from './cache-test-kit.js';

const T0 = Date.parse('2026-11-25T12:00:00Z');
const LONG = 60_000;
const write = (key: string, value: string, ttlMs = LONG) => ({ key, value, ttlMs });

describe('createMemoryStore: reads, writes and deletes', () => {
  it('is of kind memory and answers ping', async () => {
    const store = createMemoryStore();
    expect(store.kind).toBe('memory');
    await expect(store.ping()).resolves.toBe(true);
  });

  it('getMany returns values in the order asked, null where absent, repeats included', async () => {
    const store = createMemoryStore();
    await store.setMany([write('a', '1'), write('b', '2')]);
    expect(await store.getMany(['b', 'x', 'a', 'b'])).toEqual(['2', null, '1', '2']);
    expect(await store.getMany([])).toEqual([]);
  });

  it('setMany writes every value and overwrites existing ones', async () => {
    const store = createMemoryStore();
    await store.setMany([write('a', '1'), write('b', '2')]);
    await store.setMany([write('b', 'two'), write('c', '3')]);
    expect(await store.getMany(['a', 'b', 'c'])).toEqual(['1', 'two', '3']);
  });

  it('keeps the empty string as a value, distinct from absent', async () => {
    const store = createMemoryStore();
    await store.setMany([write('e', '')]);
    expect(await store.getMany(['e'])).toEqual(['']);
  });

  it('deleteMany deletes the keys and counts only those that existed', async () => {
    const store = createMemoryStore();
    await store.setMany([write('a', '1'), write('b', '2'), write('c', '3')]);
    expect(await store.deleteMany(['a', 'c', 'missing'])).toBe(2);
    expect(await store.getMany(['a', 'b', 'c'])).toEqual([null, '2', null]);
    expect(await store.deleteMany(['a'])).toBe(0);
    expect(await store.deleteMany([])).toBe(0);
  });

  it('deleteByPrefix deletes exactly the keys that start with the prefix and counts them', async () => {
    const store = createMemoryStore();
    const key = (tenant: string, metric: string) =>
      buildKey({ prefix: 'dash', cacheVersion: '1', tenant, metric, metricVersion: 1, granularity: 'HOUR', bucketStart: 0 });
    const ours = [key('a', 'REVENUE'), key('a', 'ORDERS')];
    // Tenant "ab" shares the raw prefix "a" but not the tagged one "{a}:".
    const theirs = [key('ab', 'REVENUE'), key('b', 'REVENUE'), 'other:key'];
    await store.setMany([...ours, ...theirs].map((k) => write(k, 'v')));
    expect(await store.deleteByPrefix(tenantPrefix({ prefix: 'dash', cacheVersion: '1', tenant: 'a' }))).toBe(2);
    expect(await store.getMany(ours)).toEqual([null, null]);
    expect(await store.getMany(theirs)).toEqual(['v', 'v', 'v']);
    expect(await store.deleteByPrefix('nothing:')).toBe(0);
    expect(await store.deleteByPrefix('')).toBe(3);
    expect(await store.getMany(theirs)).toEqual([null, null, null]);
  });

  it('close empties the store', async () => {
    const store = createMemoryStore();
    await store.setMany([write('a', '1')]);
    await store.acquireLock('l', 't', LONG);
    await store.close();
    expect(await store.getMany(['a'])).toEqual([null]);
    expect(await store.acquireLock('l', 'u', LONG)).toBe(true);
  });
});

// On a manual clock, so nothing waits. The contract suite (test/integration/store-contract.test.ts)
// checks the same expiries on the default clock, in real time.
describe('createMemoryStore: TTL, on the injected clock', () => {
  it('expires an entry after its ttl and keeps the others', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.setMany([write('short', 's', 30), write('long', 'l', LONG)]);
    expect(await store.getMany(['short', 'long'])).toEqual(['s', 'l']);
    clock.advance(29);
    expect(await store.getMany(['short'])).toEqual(['s']);
    clock.advance(2);
    expect(await store.getMany(['short'])).toEqual([null]);
    expect(await store.getMany(['long'])).toEqual(['l']);
  });

  it('restarts the ttl when a key is written again', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.setMany([write('k', 'old', 30)]);
    await store.setMany([write('k', 'new', LONG)]);
    await store.setMany([write('again', 'first', 30)]);
    clock.advance(20);
    await store.setMany([write('again', 'second', 30)]);
    clock.advance(20); // 40 ms after the first write of `again`, 20 after the second
    expect(await store.getMany(['k', 'again'])).toEqual(['new', 'second']);
    clock.advance(11);
    expect(await store.getMany(['k', 'again'])).toEqual(['new', null]);
  });

  it('does not count an expired entry as deleted, even one never read since it expired (as Redis)', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.setMany([write('gone', 'g', 30), write('gone:2', 'g', 30), write('kept', 'k')]);
    // Nothing reads them once they have expired, so the LRU still holds them, expired.
    clock.advance(31);
    expect(await store.deleteMany(['gone', 'kept'])).toBe(1);
    expect(await store.deleteByPrefix('gone')).toBe(0);
    expect(await store.getMany(['gone', 'gone:2', 'kept'])).toEqual([null, null, null]);
  });

  it('rounds a fractional or zero ttl up to at least 1 ms rather than keeping the entry forever', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.setMany([write('zero', 'z', 0), write('fraction', 'f', 0.2)]);
    expect(await store.getMany(['zero', 'fraction'])).toEqual(['z', 'f']);
    clock.advance(2);
    expect(await store.getMany(['zero', 'fraction'])).toEqual([null, null]);
  });

  it('expires a tombstone after its ttl, after which a guarded write lands again', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.setMany([write('k', 'v')]);
    expect(await store.invalidate(['k'], T0, 100)).toBe(1);
    clock.advance(100);
    expect(tombstoneTime((await store.getMany(['k']))[0])).toBe(T0);
    // A computation that read the source before the drop loses while the tombstone lives.
    await store.setMany([write('k', 'stale')], { unlessInvalidatedSince: T0 - 1 });
    expect(tombstoneTime((await store.getMany(['k']))[0])).toBe(T0);
    clock.advance(1);
    expect(await store.getMany(['k'])).toEqual([null]);
    await store.setMany([write('k', 'late')], { unlessInvalidatedSince: T0 - 1 });
    expect(await store.getMany(['k'])).toEqual(['late']);
  });
});

describe('createMemoryStore: bounds', () => {
  it('evicts the least recently used entry beyond maxEntries', async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    await store.setMany([write('a', '1'), write('b', '2'), write('c', '3')]);
    await store.getMany(['a']); // a is now the most recently used; b the least
    await store.setMany([write('d', '4')]);
    expect(await store.getMany(['a', 'b', 'c', 'd'])).toEqual(['1', null, '3', '4']);
  });

  it('evicts the least recently used entries beyond maxBytes', async () => {
    // Each entry weighs (2 + 20) * 2 = 44 bytes: two fit in 100, three do not.
    const store = createMemoryStore({ maxBytes: 100 });
    const value = 'x'.repeat(20);
    await store.setMany([write('k1', value), write('k2', value)]);
    expect(await store.getMany(['k1', 'k2'])).toEqual([value, value]);
    await store.getMany(['k1']);
    await store.setMany([write('k3', value)]);
    expect(await store.getMany(['k1', 'k2', 'k3'])).toEqual([value, null, value]);
  });
});

describe('createMemoryStore: locks', () => {
  it('acquires a free lock once; a second acquirer fails while it is held', async () => {
    const store = createMemoryStore();
    expect(await store.acquireLock('lock', 'first', LONG)).toBe(true);
    expect(await store.acquireLock('lock', 'second', LONG)).toBe(false);
    expect(await store.acquireLock('lock', 'first', LONG)).toBe(false); // not re-entrant
    expect(await store.acquireLock('other-lock', 'second', LONG)).toBe(true);
  });

  it('releases only with the token that acquired it', async () => {
    const store = createMemoryStore();
    await store.acquireLock('lock', 'owner', LONG);
    expect(await store.releaseLock('lock', 'intruder')).toBe(false);
    expect(await store.acquireLock('lock', 'intruder', LONG)).toBe(false); // still held
    expect(await store.releaseLock('lock', 'owner')).toBe(true);
    expect(await store.releaseLock('lock', 'owner')).toBe(false); // already released
    expect(await store.acquireLock('lock', 'intruder', LONG)).toBe(true);
  });

  it('does not release a lock that was never taken', async () => {
    const store = createMemoryStore();
    expect(await store.releaseLock('lock', 'anyone')).toBe(false);
  });

  it('expires a lock after its ttl on the injected clock', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    expect(await store.acquireLock('lock', 'dead-holder', 1_000)).toBe(true);
    clock.advance(999);
    expect(await store.acquireLock('lock', 'next', 1_000)).toBe(false);
    clock.advance(1);
    expect(await store.acquireLock('lock', 'next', 1_000)).toBe(true);
    // The first holder's token no longer releases anything: the lock is someone else's.
    expect(await store.releaseLock('lock', 'dead-holder')).toBe(false);
    expect(await store.acquireLock('lock', 'third', 1_000)).toBe(false);
    expect(await store.releaseLock('lock', 'next')).toBe(true);
  });

  it('cannot release an expired lock, even with its own token', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.acquireLock('lock', 'owner', 500);
    clock.advance(500);
    expect(await store.releaseLock('lock', 'owner')).toBe(false);
  });

  // The module promises "the same semantics as Redis, TTLs and locks included", and
  // store.ts says acquireLock "sets `key` to `token`". In Redis the lock is a plain
  // key (SET key token PX ttl NX) that MGET sees; lock.ts relies on that: a waiter
  // polls "the span's entries and the lock in one MGET" and reads null as "holder gone".
  it('shows a held lock to getMany under its key, as Redis does', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.acquireLock('lock', 'token-1', 1_000);
    expect(await store.getMany(['lock'])).toEqual(['token-1']);
    await store.releaseLock('lock', 'token-1');
    expect(await store.getMany(['lock'])).toEqual([null]);
  });

  it('stops showing a lock once it has expired on the injected clock', async () => {
    const clock = manualClock(T0);
    const store = createMemoryStore({ clock });
    await store.acquireLock('lock', 'token-1', 1_000);
    clock.advance(999);
    expect(await store.getMany(['lock', 'other'])).toEqual(['token-1', null]);
    clock.advance(1);
    expect(await store.getMany(['lock'])).toEqual([null]);
  });
});
