/**
 * The store contract (src/cache/store.ts), one suite run against every real store:
 * the in-process memory store, Redis (the shared server, keys under this file's own
 * prefix) and a private three-master Redis Cluster. Ordered reads with nulls, writes,
 * TTLs, deletes by key and by literal prefix, the recompute lock's protocol, large and
 * unicode values, and keys of several tenants' hash tags in one call.
 */
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createClusterStore, createRedisStore } from '../../src/cache/redis-store.js';
import { droppedToken, JOURNAL_MAX_KEYS, journalHash, nextValidator, tombstoneTime, type CacheStore } from '../../src/cache/store.js';
import { eventually } from '../helpers/eventually.js';
import { cleanupPrefix, startRedisCluster, uniquePrefix } from '../helpers/redis.js';

/** A store under test, the key prefix its tests keep to, and how to tidy up after it. */
interface Subject {
  store: CacheStore;
  prefix: string;
  dispose(): Promise<void>;
}

const SUBJECTS: Array<{ name: string; open(): Promise<Subject> }> = [
  {
    name: 'memory',
    async open() {
      const store = createMemoryStore();
      return { store, prefix: uniquePrefix('store-contract-memory'), dispose: () => store.close() };
    },
  },
  {
    name: 'redis',
    async open() {
      // The shared server: every key of this suite starts with `prefix`, removed afterwards.
      const url = inject('redisUrl');
      const prefix = uniquePrefix('store-contract-redis');
      const store = createRedisStore(url);
      return {
        store,
        prefix,
        async dispose() {
          await store.close();
          await cleanupPrefix(url, prefix);
        },
      };
    },
  },
  {
    name: 'cluster',
    async open() {
      // A private cluster: the store connects lazily, so creating it cannot fail.
      const cluster = await startRedisCluster();
      const store = createClusterStore(cluster.nodes);
      return {
        store,
        prefix: uniquePrefix('store-contract-cluster'),
        async dispose() {
          await store.close();
          await cluster.stop();
        },
      };
    },
  },
];

/**
 * `count` characters (code points, so that no surrogate pair is cut) of `alphabet`, in
 * a pattern rather than one character repeated, so that a truncation or a mix-up shows.
 */
function patterned(count: number, alphabet: string): string {
  const chars = [...alphabet];
  return Array.from({ length: count }, (_, i) => chars[(i * 7 + (i >> 5)) % chars.length]).join('');
}

describe.each(SUBJECTS)('store contract: $name', ({ name, open }) => {
  let subject: Subject | undefined;
  let store: CacheStore;
  let n = 0;
  /** A prefix of its own for each test, under the suite's. */
  const fresh = () => `${subject!.prefix}:${++n}`;

  beforeAll(async () => {
    subject = await open();
    store = subject.store;
    // Redis and Cluster connect lazily; the cluster also needs its slot map first.
    await eventually(() => store.ping(), 1_000, `${name} store answering PING`);
  });

  afterAll(async () => {
    await subject?.dispose();
  });

  it('reports its kind', () => {
    expect(store.kind).toBe(name);
  });

  it('getMany returns values in the order asked, null where absent', async () => {
    const p = fresh();
    await store.setMany([
      { key: `${p}:a`, value: 'A', ttlMs: 60_000 },
      { key: `${p}:b`, value: 'B', ttlMs: 60_000 },
    ]);
    expect(await store.getMany([`${p}:b`, `${p}:missing`, `${p}:a`, `${p}:b`])).toEqual(['B', null, 'A', 'B']);
    expect(await store.getMany([`${p}:nothing`, `${p}:none`])).toEqual([null, null]);
  });

  it('empty calls do nothing and answer empty', async () => {
    expect(await store.getMany([])).toEqual([]);
    await expect(store.setMany([])).resolves.toBeUndefined();
    expect(await store.deleteMany([])).toBe(0);
  });

  it('setMany then getMany reads every value back, and a later write replaces an earlier one', async () => {
    const p = fresh();
    const writes = Array.from({ length: 25 }, (_, i) => ({ key: `${p}:k${i}`, value: `v${i}`, ttlMs: 60_000 }));
    await store.setMany(writes);
    expect(await store.getMany(writes.map((w) => w.key))).toEqual(writes.map((w) => w.value));

    await store.setMany([{ key: `${p}:k3`, value: 'replaced', ttlMs: 60_000 }]);
    expect(await store.getMany([`${p}:k2`, `${p}:k3`, `${p}:k4`])).toEqual(['v2', 'replaced', 'v4']);
  });

  it("keys of different tenants' hash tags work together in one call", async () => {
    const p = fresh();
    const keys = [`${p}:{a}:x`, `${p}:{b}:y`, `${p}:{c}:z`, `${p}:{a}:w`];
    // The point of the test on a cluster: these keys live in different slots.
    expect(new Set(keys.map((k) => calculateSlot(k))).size).toBe(3);

    await store.setMany(keys.map((key, i) => ({ key, value: `value-${i}`, ttlMs: 60_000 })));
    expect(await store.getMany([...keys, `${p}:{b}:absent`])).toEqual(['value-0', 'value-1', 'value-2', 'value-3', null]);
    expect(await store.deleteMany([keys[1]!, keys[2]!, `${p}:{c}:absent`])).toBe(2);
    expect(await store.getMany(keys)).toEqual(['value-0', null, null, 'value-3']);
  });

  it('an entry is gone once its TTL has passed; a long-lived one stays', async () => {
    const p = fresh();
    await store.setMany([
      { key: `${p}:{t}:short`, value: 'short', ttlMs: 50 },
      { key: `${p}:{t}:long`, value: 'long', ttlMs: 60_000 },
    ]);
    await eventually(async () => (await store.getMany([`${p}:{t}:short`]))[0] === null, 3_000, 'the 50 ms entry expiring');
    expect(await store.getMany([`${p}:{t}:short`, `${p}:{t}:long`])).toEqual([null, 'long']);
  });

  it('invalidate leaves a short-lived tombstone in each key and counts the keys that held an entry', async () => {
    const p = fresh();
    await store.setMany([
      { key: `${p}:{t}:a`, value: 'A', ttlMs: 60_000 },
      { key: `${p}:{t}:b`, value: 'B', ttlMs: 60_000 },
    ]);
    expect(await store.invalidate([`${p}:{t}:a`, `${p}:{t}:b`, `${p}:{t}:absent`], 1_000, 60)).toBe(2);
    const values = await store.getMany([`${p}:{t}:a`, `${p}:{t}:b`, `${p}:{t}:absent`]);
    expect(values.map((v) => tombstoneTime(v))).toEqual([1_000, 1_000, 1_000]);
    // A tombstone is not an entry: invalidating again counts nothing.
    expect(await store.invalidate([`${p}:{t}:a`], 2_000, 60)).toBe(0);
    await eventually(
      async () => (await store.getMany([`${p}:{t}:a`, `${p}:{t}:absent`])).every((v) => v === null),
      2_000,
      'tombstones expiring',
    );
  });

  it('invalidate replaces validators with the tombstones, in each tenant slot, with their own TTL', async () => {
    const p = fresh();
    const entries = [`${p}:{t1}:a`, `${p}:{t2}:b`];
    const validators = [`${p}:{t1}:~v:M:1`, `${p}:{t2}:~v:M:1`, `${p}:{t3}:~v:M:1`];
    await store.setMany([...entries, validators[0]!].map((key) => ({ key, value: 'old', ttlMs: 60_000 })));
    expect(await store.invalidate(entries, 1_000, 60_000, { keys: validators, value: 'v-2', ttlMs: 80 })).toBe(2);
    // The new value first; the one that held 'old' also journals the drop (see the next test).
    expect((await store.getMany(validators)).map((v) => v?.split('|')[0])).toEqual(['v-2', 'v-2', 'v-2']);
    expect((await store.getMany(entries)).map((v) => tombstoneTime(v))).toEqual([1_000, 1_000]);
    // Validators alone (a drop that found no entry of that slot) are still replaced.
    expect(await store.invalidate([], 2_000, 60_000, { keys: [validators[2]!], value: 'v-3', ttlMs: 60_000 })).toBe(0);
    expect((await store.getMany([validators[2]!]))[0]?.split('|')[0]).toBe('v-3');
    await eventually(async () => (await store.getMany(validators.slice(0, 2))).every((v) => v === null), 3_000, 'validators expiring');
  });

  it("invalidate journals each drop in the validator it replaces: the value it replaced and the dropped keys' hashes, the last three drops", async () => {
    const p = fresh();
    const key = (h: number) => `${p}:{t1}:HOUR:${h}`;
    const validator = `${p}:{t1}:~v:M:1`;
    // Absent before: the new value alone, so that nothing read before carries over.
    await store.invalidate([key(1)], 1_000, 60_000, { keys: [validator], value: 'v1', ttlMs: 60_000 });
    expect(await store.getMany([validator])).toEqual(['v1']);
    await store.invalidate([key(2), key(3)], 2_000, 60_000, { keys: [validator], value: 'v2', ttlMs: 60_000 });
    expect(await store.getMany([validator])).toEqual([`v2|v1:${journalHash(key(2))},${journalHash(key(3))}`]);
    expect(nextValidator('v1', 'v2', droppedToken([key(2), key(3)]))).toBe(`v2|v1:${droppedToken([key(2), key(3)])}`);
    await store.invalidate([key(4)], 3_000, 60_000, { keys: [validator], value: 'v3', ttlMs: 60_000 });
    await store.invalidate([key(5)], 4_000, 60_000, { keys: [validator], value: 'v4', ttlMs: 60_000 });
    // A fourth drop: the oldest entry goes, three stay, newest first.
    await store.invalidate([key(6)], 5_000, 60_000, { keys: [validator], value: 'v5', ttlMs: 60_000 });
    const [value] = await store.getMany([validator]);
    expect(value).toBe(`v5|v4:${journalHash(key(6))}|v3:${journalHash(key(5))}|v2:${journalHash(key(4))}`);
    // The same as the store-independent rule (the memory store and the Redis script agree).
    expect(value).toBe(nextValidator(`v4|v3:${journalHash(key(5))}|v2:${journalHash(key(4))}|v1:x`, 'v5', droppedToken([key(6)])));
    // A drop that names no key, or too many to list, journals "anything".
    await store.invalidate([], 6_000, 60_000, { keys: [validator], value: 'v6', ttlMs: 60_000 });
    expect((await store.getMany([validator]))[0]).toMatch(/^v6\|v5:\*\|v4:/);
    const many = Array.from({ length: JOURNAL_MAX_KEYS + 1 }, (_, i) => key(100 + i));
    await store.invalidate(many, 7_000, 60_000, { keys: [validator], value: 'v7', ttlMs: 60_000 });
    expect((await store.getMany([validator]))[0]).toMatch(/^v7\|v6:\*\|v5:\*\|v4:/);
  });

  it('setMany unlessInvalidatedSince keeps a newer tombstone and replaces an older one, per key', async () => {
    const p = fresh();
    const [older, newer, plain] = [`${p}:{u}:older`, `${p}:{u}:newer`, `${p}:{u}:plain`];
    await store.invalidate([older], 1_000, 60_000);
    await store.invalidate([newer], 5_000, 60_000);
    await store.setMany([{ key: plain, value: 'old', ttlMs: 60_000 }]);
    // A computation that read the source at 3000: after the first drop, before the second.
    await store.setMany(
      [older, newer, plain].map((key) => ({ key, value: 'computed', ttlMs: 60_000 })),
      { unlessInvalidatedSince: 3_000 },
    );
    const [o, n2, pl] = await store.getMany([older, newer, plain]);
    expect(o).toBe('computed');
    expect(tombstoneTime(n2)).toBe(5_000);
    expect(pl).toBe('computed');
  });

  it('setMany with the validator read before the source: unchanged, the tombstones decide; moved or lost, only older tombstones are written over', async () => {
    const p = fresh();
    const validator = `${p}:{u}:~v`;
    const keys = { older: `${p}:{u}:older`, newer: `${p}:{u}:newer`, entry: `${p}:{u}:entry`, absent: `${p}:{u}:absent` };
    const all = Object.values(keys);
    const arrange = async (validatorValue: string | undefined) => {
      await store.deleteMany([...all, validator]);
      await store.invalidate([keys.older], 1_000, 60_000);
      await store.invalidate([keys.newer], 5_000, 60_000);
      await store.setMany([{ key: keys.entry, value: 'earlier', ttlMs: 60_000 }]);
      if (validatorValue) await store.setMany([{ key: validator, value: validatorValue, ttlMs: 60_000 }]);
    };
    // A computation that read validator `v1`, then the source at 3000.
    const writeBack = () =>
      store.setMany(
        all.map((key) => ({ key, value: 'computed', ttlMs: 60_000 })),
        { unlessInvalidatedSince: 3_000, validator: { key: validator, value: 'v1' } },
      );
    const read = async () => (await store.getMany(all)).map((v) => tombstoneTime(v) ?? v);

    await arrange('v1');
    await writeBack();
    expect(await read()).toEqual(['computed', 5_000, 'computed', 'computed']);

    // Moved (a drop since) or lost (evicted, expired, the store restarted empty): a drop
    // may have left no tombstone, so only a key that shows none since is written.
    for (const now of ['v2', undefined]) {
      await arrange(now);
      await writeBack();
      expect(await read(), `validator ${now ?? 'lost'}`).toEqual(['computed', 5_000, 'earlier', null]);
    }
  });

  it('deleteMany resolves with how many of the keys existed, and deletes them', async () => {
    const p = fresh();
    await store.setMany([
      { key: `${p}:{a}:1`, value: '1', ttlMs: 60_000 },
      { key: `${p}:{b}:2`, value: '2', ttlMs: 60_000 },
      { key: `${p}:{a}:3`, value: '3', ttlMs: 60_000 },
    ]);
    expect(await store.deleteMany([`${p}:{a}:1`, `${p}:{b}:2`, `${p}:{b}:absent`])).toBe(2);
    expect(await store.getMany([`${p}:{a}:1`, `${p}:{b}:2`, `${p}:{a}:3`])).toEqual([null, null, '3']);
    expect(await store.deleteMany([`${p}:{a}:1`, `${p}:{b}:2`])).toBe(0);
  });

  it('deleteMany does not count a key whose TTL has passed: it no longer exists', async () => {
    const p = fresh();
    // `gone` is never read before the delete; `probe` outlives it, so once the probe
    // reads as absent, `gone` has certainly expired too.
    await store.setMany([
      { key: `${p}:{e}:gone`, value: 'x', ttlMs: 50 },
      { key: `${p}:{e}:probe`, value: 'x', ttlMs: 100 },
    ]);
    await eventually(async () => (await store.getMany([`${p}:{e}:probe`]))[0] === null, 3_000, 'the probe entry expiring');
    expect(await store.deleteMany([`${p}:{e}:gone`])).toBe(0);
  });

  it('deleteByPrefix removes exactly the keys under the prefix, across slots, and leaves the others', async () => {
    const p = fresh();
    const under = [`${p}:doomed:{a}:1`, `${p}:doomed:{b}:2`, `${p}:doomed:{c}:3`, `${p}:doomed:`];
    const kept = [`${p}:kept:{a}:1`, `${p}:doome`, `${p}:xdoomed:{b}:2`, `${p}:Doomed:{c}:3`];
    await store.setMany([...under, ...kept].map((key) => ({ key, value: key, ttlMs: 60_000 })));

    expect(await store.deleteByPrefix(`${p}:doomed:`)).toBe(under.length);
    expect(await store.getMany(under)).toEqual(under.map(() => null));
    expect(await store.getMany(kept)).toEqual(kept);
  });

  it('deleteByPrefix of a prefix with no keys under it resolves with 0', async () => {
    const p = fresh();
    await store.setMany([{ key: `${p}:other`, value: 'x', ttlMs: 60_000 }]);
    expect(await store.deleteByPrefix(`${p}:nothing-here:`)).toBe(0);
    expect(await store.getMany([`${p}:other`])).toEqual(['x']);
  });

  it('deleteByPrefix finds its keys among thousands of others (SCAN pages with no match in between)', async () => {
    const p = fresh();
    // More keys than one SCAN page holds (COUNT 1000), so that at least one page has
    // none of the prefix's keys in it.
    const others = Array.from({ length: 2_500 }, (_, i) => `${p}:other:{o${i % 50}}:${i}`);
    const under = [`${p}:target:{a}:1`, `${p}:target:{b}:2`];
    await store.setMany([...others, ...under].map((key) => ({ key, value: '1', ttlMs: 60_000 })));
    try {
      expect(await store.deleteByPrefix(`${p}:target:`)).toBe(2);
      expect(await store.getMany(under)).toEqual([null, null]);
      expect((await store.getMany(others)).filter((v) => v === '1')).toHaveLength(others.length);
    } finally {
      // The other tests' prefix deletes should not have to page through these.
      await store.deleteMany([...others, ...under]);
    }
  });

  it('deleteByPrefix matches glob characters in the prefix literally', async () => {
    const p = fresh();
    const prefix = `${p}:g*[ab]?\\:`;
    const under = [`${prefix}{a}one`, `${prefix}{b}two`, `${prefix}`];
    // Each of these would match the prefix read as a glob pattern (`*` any run,
    // `[ab]` one of a or b, `?` any character, `\:` a colon), and none starts with it.
    const lookalikes = [`${p}:gZZa!:{a}x`, `${p}:g*b?:{b}y`, `${p}:g*[ab]x:{c}z`, `${p}:g*a?:{a}w`];
    await store.setMany([...under, ...lookalikes].map((key) => ({ key, value: key, ttlMs: 60_000 })));

    expect(await store.deleteByPrefix(prefix)).toBe(under.length);
    expect(await store.getMany(under)).toEqual(under.map(() => null));
    expect(await store.getMany(lookalikes)).toEqual(lookalikes);
  });

  it('acquireLock is exclusive while held, even for the same token', async () => {
    const key = `${fresh()}:{l}:lock`;
    expect(await store.acquireLock(key, 'owner', 60_000)).toBe(true);
    expect(await store.acquireLock(key, 'other', 60_000)).toBe(false);
    expect(await store.acquireLock(key, 'owner', 60_000)).toBe(false);
  });

  it('a lock expires after its ttl, and then another caller acquires it', async () => {
    const key = `${fresh()}:{l}:lock`;
    expect(await store.acquireLock(key, 'first', 50)).toBe(true);
    await eventually(() => store.acquireLock(key, 'second', 60_000), 3_000, 'the 50 ms lock expiring');
    expect(await store.acquireLock(key, 'third', 60_000)).toBe(false);
  });

  it('releaseLock with a wrong token fails and keeps the lock; with the right token it frees it', async () => {
    const key = `${fresh()}:{l}:lock`;
    expect(await store.releaseLock(key, 'nobody')).toBe(false);
    expect(await store.acquireLock(key, 'owner', 60_000)).toBe(true);

    expect(await store.releaseLock(key, 'intruder')).toBe(false);
    expect(await store.acquireLock(key, 'next', 60_000)).toBe(false);

    expect(await store.releaseLock(key, 'owner')).toBe(true);
    expect(await store.releaseLock(key, 'owner')).toBe(false);
    expect(await store.acquireLock(key, 'next', 60_000)).toBe(true);
  });

  it("the old owner's token cannot release a lock that expired and was taken by a new owner", async () => {
    const key = `${fresh()}:{l}:lock`;
    expect(await store.acquireLock(key, 'old', 50)).toBe(true);
    await eventually(() => store.acquireLock(key, 'new', 60_000), 3_000, 'the 50 ms lock expiring');

    expect(await store.releaseLock(key, 'old')).toBe(false);
    expect(await store.acquireLock(key, 'third', 60_000)).toBe(false);
    expect(await store.releaseLock(key, 'new')).toBe(true);
  });

  it('of many concurrent acquireLock calls for one key, exactly one wins', async () => {
    const key = `${fresh()}:{l}:lock`;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.acquireLock(key, `token-${i}`, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('values from empty to 1 MB round-trip intact', async () => {
    const p = fresh();
    const values = {
      empty: '',
      one: 'x',
      kilobyte: patterned(1024, 'abcdefghijklmnopqrstuvwxyz0123456789'),
      megabyte: patterned(1024 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789{}[]":,'),
      // About 1 MB of UTF-8 from 2-, 3- and 4-byte characters.
      unicodeMegabyte: patterned(400_000, 'é日本🎉ß€'),
    };
    const entries = Object.entries(values);
    await store.setMany(entries.map(([k, value]) => ({ key: `${p}:{v}:${k}`, value, ttlMs: 60_000 })));
    const read = await store.getMany(entries.map(([k]) => `${p}:{v}:${k}`));
    read.forEach((value, i) => {
      const [k, expected] = entries[i]!;
      // Compare lengths first so that a failure does not print a megabyte.
      expect(value?.length, k).toBe(expected.length);
      expect(value === expected, k).toBe(true);
    });
  });

  it('unicode keys and values round-trip, and prefixes with unicode delete exactly their keys', async () => {
    const p = fresh();
    const pairs: Array<[string, string]> = [
      [`${p}:{ü}:日本語`, 'ünïcødé — 日本語 ✓'],
      [`${p}:{ü}:emoji:🎉`, '🎉🚀 astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢'],
      [`${p}:{é}:rtl:שלום`, 'مرحبا بالعالم'],
      [`${p}:{é}:combining:e\u0301`, 'e\u0301 ≠ \u00e9'],
      [`${p}:{ü}:space and\ttab`, 'line\nbreak\r\nand \u0000 nul'],
    ];
    await store.setMany(pairs.map(([key, value]) => ({ key, value, ttlMs: 60_000 })));
    expect(await store.getMany(pairs.map(([key]) => key))).toEqual(pairs.map(([, value]) => value));
    // NFC and NFD spellings are different keys.
    expect(await store.getMany([`${p}:{é}:combining:\u00e9`])).toEqual([null]);

    expect(await store.deleteByPrefix(`${p}:{ü}:`)).toBe(3);
    expect(await store.getMany(pairs.map(([key]) => key))).toEqual([null, null, pairs[2]![1], pairs[3]![1], null]);
  });
});
