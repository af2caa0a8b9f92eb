import { describe, expect, it } from 'vitest';
import { BUCKET_MS, bucketsOf, type BucketWindow } from '../../src/cache/buckets.js';
import { decodeEntry, encodeEntry } from '../../src/cache/entry.js';
import { CacheError, CacheErrorCodes } from '../../src/cache/errors.js';
import { buildKey, lockKey } from '../../src/cache/keys.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import type { TtlPolicy } from '../../src/cache/policy.js';
import { createCacheCore, type BucketSpec, type CacheCoreOptions } from '../../src/cache/read-through.js';
import { createResilientStore } from '../../src/cache/resilient-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { eventually } from '../helpers/eventually.js';
import { createFlakyStore, deferred, flush, manualClock, recordingObserver, type Deferred } from './cache-test-kit.js';

const HOUR = BUCKET_MS.HOUR;
/** Now, in the middle of an hour. */
const NOW = Date.parse('2026-11-25T12:30:00Z');
/** Ten closed hourly buckets, 00:00 to 10:00 of the same day. */
const DAY_START = Date.parse('2026-11-25T00:00:00Z');
const WINDOW: BucketWindow = { granularity: 'HOUR', from: DAY_START, to: DAY_START + 10 * HOUR };
const BUCKETS = bucketsOf(WINDOW);
const b = (i: number) => DAY_START + i * HOUR;
const span = (from: number, to: number): BucketWindow => ({ granularity: 'HOUR', from: b(from), to: b(to) });

/** Distinct values per field so that a mixed-up deadline shows. */
const TTL: TtlPolicy = { openFreshMs: 1_000, openStaleMs: 10_000, closedFreshMs: 60_000, closedStaleMs: 600_000 };

/** The value the fake source gives bucket `bucket` in generation `generation`; hour 0 and 5 have no rows. */
const sourceValue = (bucket: number, generation: number) => generation * 1_000 + (bucket - DAY_START) / HOUR;
const hasRows = (bucket: number) => ((bucket - DAY_START) / HOUR) % 5 !== 0;
const expected = (bucket: number, generation = 1) => (hasRows(bucket) ? sourceValue(bucket, generation) : 0);

interface FakeSpec extends BucketSpec<number> {
  /** Every span compute was asked for, in order. */
  asked: BucketWindow[];
  /** What compute returns next. */
  generation: number;
  /** When set, compute waits for it. */
  gate: Deferred | undefined;
}

function fakeSpec(options: { metric?: string; metricVersion?: number; cacheVersion?: string; tenant?: string } = {}): FakeSpec {
  const metric = options.metric ?? 'REVENUE';
  const metricVersion = options.metricVersion ?? 1;
  const cacheVersion = options.cacheVersion ?? '1';
  const spec: FakeSpec = {
    metric,
    version: `${cacheVersion}/${metricVersion}`,
    granularity: 'HOUR',
    ttl: TTL,
    keyOf: (bucketStart) =>
      buildKey({
        prefix: 'test',
        cacheVersion: '1',
        tenant: options.tenant ?? 'acme',
        metric,
        metricVersion,
        region: 'EU',
        granularity: 'HOUR',
        bucketStart,
      }),
    asked: [],
    generation: 1,
    gate: undefined,
    async compute(window) {
      spec.asked.push(window);
      const generation = spec.generation;
      if (spec.gate) await spec.gate.promise;
      const values = new Map<number, number>();
      for (const bucket of bucketsOf(window)) if (hasRows(bucket)) values.set(bucket, sourceValue(bucket, generation));
      return values;
    },
    empty: 0,
  };
  return spec;
}

function setup(options: { inner?: CacheStore; lock?: CacheCoreOptions['lock']; failureThreshold?: number } = {}) {
  const clock = manualClock(NOW);
  const observer = recordingObserver();
  const inner = options.inner ?? createMemoryStore({ clock });
  const store = createResilientStore(inner, { observer, clock, failureThreshold: options.failureThreshold ?? 3 });
  const core = createCacheCore({ store, observer, clock, lock: options.lock });
  return { clock, observer, inner, store, core };
}

const bucketsAsked = (spec: FakeSpec) => spec.asked.flatMap((w) => bucketsOf(w));

describe('read-through: misses and hits', () => {
  it('computes each contiguous span of missing buckets once, and only the missing buckets', async () => {
    const { core, observer } = setup();
    const spec = fakeSpec();
    // Pre-warm hours 4 and 5 so that the window has two missing spans around them.
    await core.read(spec, span(4, 6), core.forRequest());
    expect(spec.asked).toEqual([span(4, 6)]);
    spec.asked.length = 0;
    observer.reset();

    const results = await core.read(spec, WINDOW, core.forRequest());

    expect([...spec.asked].sort((x, y) => x.from - y.from)).toEqual([span(0, 4), span(6, 10)]);
    expect(bucketsAsked(spec).sort((x, y) => x - y)).toEqual(BUCKETS.filter((bucket) => bucket !== b(4) && bucket !== b(5)));
    expect(observer.sourceQueries).toEqual(['REVENUE', 'REVENUE']);
    expect(observer.recomputes.map((r) => [r.metric, r.buckets])).toEqual([
      ['REVENUE', 4],
      ['REVENUE', 4],
    ]);
    expect(results.map((r) => r.bucket)).toEqual(BUCKETS);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
    expect(results.map((r) => r.how)).toEqual(['miss', 'miss', 'miss', 'miss', 'hit', 'hit', 'miss', 'miss', 'miss', 'miss']);
    expect(observer.lookups).toEqual(
      expect.arrayContaining([
        { metric: 'REVENUE', result: 'hit', count: 2 },
        { metric: 'REVENUE', result: 'miss', count: 8 },
      ]),
    );
    expect(observer.lookups).toHaveLength(2);
  });

  it('gives buckets the source has no rows for the empty value, and caches them too', async () => {
    const { core } = setup();
    const spec = fakeSpec();
    const cold = await core.read(spec, span(0, 1), core.forRequest());
    expect(cold).toEqual([{ bucket: b(0), value: 0, how: 'miss', freshUntil: expect.any(Number), staleUntil: expect.any(Number) }]);
    const warm = await core.read(spec, span(0, 1), core.forRequest());
    expect(warm).toEqual([{ bucket: b(0), value: 0, how: 'hit', freshUntil: expect.any(Number), staleUntil: expect.any(Number) }]);
    expect(spec.asked).toHaveLength(1);
  });

  it('serves a warm window from the store: all hits, no compute', async () => {
    const { core, observer } = setup();
    const spec = fakeSpec();
    await core.read(spec, WINDOW, core.forRequest());
    spec.asked.length = 0;
    observer.reset();

    const results = await core.read(spec, WINDOW, core.forRequest());

    expect(spec.asked).toEqual([]);
    expect(observer.sourceQueries).toEqual([]);
    expect(observer.recomputes).toEqual([]);
    expect(results.every((r) => r.how === 'hit')).toBe(true);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
    expect(observer.lookups).toEqual([{ metric: 'REVENUE', result: 'hit', count: 10 }]);
  });

  it('writes entries with the spec version and the policy deadlines', async () => {
    const { core, store } = setup();
    const spec = fakeSpec();
    await core.read(spec, span(1, 2), core.forRequest());
    const [text] = await store.getMany([spec.keyOf(b(1))]);
    expect(decodeEntry(text!)).toEqual({
      value: expected(b(1)),
      computedAt: NOW,
      version: '1/1',
      freshUntil: NOW + TTL.closedFreshMs,
      staleUntil: NOW + TTL.closedFreshMs + TTL.closedStaleMs,
    });
  });

  it('reads and counts a window once per request, however many fields ask for it', async () => {
    const { core } = setup();
    const revenue = fakeSpec({ metric: 'REVENUE' });
    const request = core.forRequest();
    const [first, second] = await Promise.all([core.read(revenue, WINDOW, request), core.read(revenue, WINDOW, request)]);
    const third = await core.read(revenue, WINDOW, request);
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(request.stats.get('REVENUE')).toEqual({ hit: 0, miss: 10, stale: 0 });
    // Another request reads the window again, on its own.
    const other = core.forRequest();
    expect(await core.read(revenue, WINDOW, other)).not.toBe(first);
    expect(other.stats.get('REVENUE')).toEqual({ hit: 10, miss: 0, stale: 0 });
    expect(revenue.asked).toEqual([WINDOW]);
  });

  it('keeps per-request stats per metric, each bucket once, accumulated over reads, separate per request', async () => {
    const { core } = setup();
    const revenue = fakeSpec({ metric: 'REVENUE' });
    const orders = fakeSpec({ metric: 'ORDERS' });
    const request = core.forRequest();
    await core.read(revenue, WINDOW, request); // 10 misses
    await core.read(revenue, span(8, 12), request); // 8 and 9 counted already; 10 and 11 missed
    await core.read(orders, span(0, 3), request); // 3 misses

    expect(request.stats).toEqual(
      new Map([
        ['REVENUE', { hit: 0, miss: 12, stale: 0 }],
        ['ORDERS', { hit: 0, miss: 3, stale: 0 }],
      ]),
    );

    const other = core.forRequest();
    expect(other.stats.size).toBe(0);
    await core.read(orders, span(0, 4), other);
    expect(other.stats).toEqual(new Map([['ORDERS', { hit: 3, miss: 1, stale: 0 }]]));
    expect(request.stats.get('ORDERS')).toEqual({ hit: 0, miss: 3, stale: 0 });
  });

  it('treats a corrupt entry as a miss, reports it, and recomputes it', async () => {
    const { core, store, observer } = setup();
    const spec = fakeSpec();
    await store.setMany([{ key: spec.keyOf(b(2)), value: '{"not":"an envelope"}', ttlMs: 60_000 }]);
    const results = await core.read(spec, span(2, 3), core.forRequest());
    expect(results).toEqual([
      { bucket: b(2), value: expected(b(2)), how: 'miss', freshUntil: expect.any(Number), staleUntil: expect.any(Number) },
    ]);
    expect(spec.asked).toEqual([span(2, 3)]);
    // Reported once per decode (the lookup, then the double check under the lock).
    expect(observer.storeErrors.length).toBeGreaterThanOrEqual(1);
    expect(observer.storeErrors.every((e) => e.operation === 'get')).toBe(true);
    expect(observer.storeErrors.every((e) => (e.error as CacheError).code === CacheErrorCodes.E_ENTRY_CORRUPT)).toBe(true);
    // The recomputed entry replaced the corrupt one.
    const again = await core.read(spec, span(2, 3), core.forRequest());
    expect(again).toEqual([
      { bucket: b(2), value: expected(b(2)), how: 'hit', freshUntil: expect.any(Number), staleUntil: expect.any(Number) },
    ]);
  });
});

describe('read-through: freshness', () => {
  it('serves stale values at once, counts them, and refreshes the span exactly once in the background', async () => {
    const { core, clock, observer } = setup();
    const spec = fakeSpec();
    await core.read(spec, WINDOW, core.forRequest());
    spec.asked.length = 0;
    observer.reset();

    clock.advance(TTL.closedFreshMs); // now === freshUntil: stale, not yet gone
    spec.generation = 2;
    spec.gate = deferred();
    const request = core.forRequest();
    // The read resolves while the refresh's source query is still held at the gate.
    const results = await core.read(spec, WINDOW, request);

    expect(results.every((r) => r.how === 'stale')).toBe(true);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket, 1)));
    expect(observer.staleServes).toEqual([{ metric: 'REVENUE', count: 10 }]);
    expect(observer.lookups).toEqual([{ metric: 'REVENUE', result: 'stale', count: 10 }]);
    expect(request.stats.get('REVENUE')).toEqual({ hit: 0, miss: 0, stale: 10 });

    spec.gate.resolve();
    spec.gate = undefined;
    await core.idle();

    expect(spec.asked).toEqual([WINDOW]);
    expect(observer.sourceQueries).toEqual(['REVENUE']);
    expect(observer.recomputes.map((r) => r.buckets)).toEqual([10]);

    observer.reset();
    const after = await core.read(spec, WINDOW, core.forRequest());
    expect(after.every((r) => r.how === 'hit')).toBe(true);
    expect(after.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket, 2)));
    expect(spec.asked).toHaveLength(1);
    expect(observer.staleServes).toEqual([]);
  });

  it('refreshes each stale span once even when several requests see it stale at the same time', async () => {
    const { core, clock } = setup();
    const spec = fakeSpec();
    await core.read(spec, WINDOW, core.forRequest());
    clock.advance(30_000);
    await core.read(spec, span(10, 11), core.forRequest()); // fresh 30 s longer than the rest
    spec.asked.length = 0;
    clock.advance(30_000); // hours 0..9 stale, hour 10 fresh
    spec.gate = deferred();
    // Different windows (so no shared read), the same stale span 0..9.
    const reads = await Promise.all([
      core.read(spec, WINDOW, core.forRequest()),
      core.read(spec, span(0, 11), core.forRequest()),
      core.read(spec, WINDOW, core.forRequest()),
    ]);
    expect(reads[0].every((r) => r.how === 'stale')).toBe(true);
    expect(reads[1].map((r) => r.how)).toEqual([...Array<string>(10).fill('stale'), 'hit']);
    spec.gate.resolve();
    spec.gate = undefined;
    await core.idle();
    expect(spec.asked).toEqual([WINDOW]);
  });

  it('refreshes only the stale buckets, one span per contiguous run', async () => {
    const { core, clock, observer } = setup();
    const spec = fakeSpec();
    await core.read(spec, span(0, 3), core.forRequest());
    clock.advance(30_000);
    await core.read(spec, span(3, 6), core.forRequest()); // fresh for 30 s longer
    spec.asked.length = 0;
    observer.reset();
    clock.advance(30_000); // 0..2 are stale now, 3..5 still fresh

    const results = await core.read(spec, span(0, 6), core.forRequest());
    await core.idle();

    expect(results.map((r) => r.how)).toEqual(['stale', 'stale', 'stale', 'hit', 'hit', 'hit']);
    expect(spec.asked).toEqual([span(0, 3)]);
    expect(observer.staleServes).toEqual([{ metric: 'REVENUE', count: 3 }]);
  });

  it('treats an entry at or past staleUntil as a miss and recomputes it in the request', async () => {
    const { core, clock, observer } = setup();
    const spec = fakeSpec();
    await core.read(spec, WINDOW, core.forRequest());
    spec.asked.length = 0;
    observer.reset();

    clock.advance(TTL.closedFreshMs + TTL.closedStaleMs); // now === staleUntil
    spec.generation = 2;
    const results = await core.read(spec, WINDOW, core.forRequest());

    expect(results.every((r) => r.how === 'miss')).toBe(true);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket, 2)));
    expect(spec.asked).toEqual([WINDOW]);
    expect(observer.staleServes).toEqual([]);
    await core.idle();
    expect(spec.asked).toHaveLength(1);
  });

  it("misses on a new metric version and recomputes, leaving the old version's keys in the store", async () => {
    const { core, store, observer } = setup();
    const v1 = fakeSpec({ metricVersion: 1 });
    await core.read(v1, WINDOW, core.forRequest());
    observer.reset();

    const v2 = fakeSpec({ metricVersion: 2 });
    v2.generation = 2;
    const results = await core.read(v2, WINDOW, core.forRequest());

    expect(results.every((r) => r.how === 'miss')).toBe(true);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket, 2)));
    expect(v2.asked).toEqual([WINDOW]);
    expect(observer.lookups).toEqual([{ metric: 'REVENUE', result: 'miss', count: 10 }]);

    const oldTexts = await store.getMany(BUCKETS.map((bucket) => v1.keyOf(bucket)));
    expect(oldTexts.every((t) => t !== null)).toBe(true);
    const oldEntries = oldTexts.map((t) => decodeEntry<number>(t!));
    expect(oldEntries.every((e) => e.version === '1/1')).toBe(true);
    expect(oldEntries.map((e) => e.value)).toEqual(BUCKETS.map((bucket) => expected(bucket, 1)));
  });

  it('misses on an entry of another version under the same key', async () => {
    const { core } = setup();
    const before = fakeSpec({ cacheVersion: '1' });
    await core.read(before, span(0, 2), core.forRequest());
    const after = fakeSpec({ cacheVersion: '2' }); // same keys (the spec builds them), version 2/1
    expect(after.keyOf(b(0))).toBe(before.keyOf(b(0)));
    const results = await core.read(after, span(0, 2), core.forRequest());
    expect(results.map((r) => r.how)).toEqual(['miss', 'miss']);
    expect(after.asked).toEqual([span(0, 2)]);
  });
});

describe('read-through: single-flight in one process', () => {
  it('computes a cold window once for concurrent readers', async () => {
    const { core, observer } = setup();
    const spec = fakeSpec();
    spec.gate = deferred();
    const reads = [1, 2, 3].map(() => core.read(spec, WINDOW, core.forRequest()));
    await eventually(() => spec.asked.length === 1, 2_000, 'the first source query');
    await flush(); // every reader is now past its store lookup
    spec.gate.resolve();
    const results = await Promise.all(reads);

    expect(spec.asked).toEqual([WINDOW]);
    expect(observer.sourceQueries).toEqual(['REVENUE']);
    expect(observer.lockWaits).toEqual([]); // the others joined in process, not through the store lock
    for (const result of results) {
      expect(result.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
      expect(result.every((r) => r.how === 'miss')).toBe(true);
    }
  });
});

describe('read-through: double check under the lock', () => {
  /** Entries as another worker would have written them at `now`. */
  const holderWrites = (spec: FakeSpec, buckets: number[], now: number, value: (bucket: number) => number) =>
    buckets.map((bucket) => ({
      key: spec.keyOf(bucket),
      value: encodeEntry({
        value: value(bucket),
        computedAt: now,
        version: spec.version,
        freshUntil: now + 60_000,
        staleUntil: now + 600_000,
      }),
      ttlMs: 600_000,
    }));

  it('uses entries written between its lookup and taking the lock, without computing', async () => {
    const inner = createFlakyStore();
    const { core, clock, observer } = setup({ inner });
    const spec = fakeSpec();
    // Another worker finishes the span and lets go of the lock just before we take it.
    inner.onCall = async (method) => {
      if (method !== 'acquireLock') return;
      inner.onCall = undefined;
      await inner.inner.setMany(holderWrites(spec, BUCKETS, clock(), (bucket) => 700 + bucket / HOUR));
    };
    const results = await core.read(spec, WINDOW, core.forRequest());
    expect(spec.asked).toEqual([]);
    expect(observer.sourceQueries).toEqual([]);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => 700 + bucket / HOUR));
    expect(inner.calls.acquireLock).toBe(1);
    expect(inner.calls.releaseLock).toBe(1);
  });

  it('computes when only part of the span was written meanwhile', async () => {
    const inner = createFlakyStore();
    const { core, clock } = setup({ inner });
    const spec = fakeSpec();
    inner.onCall = async (method) => {
      if (method !== 'acquireLock') return;
      inner.onCall = undefined;
      await inner.inner.setMany(holderWrites(spec, BUCKETS.slice(0, 9), clock(), () => -1));
    };
    const results = await core.read(spec, WINDOW, core.forRequest());
    expect(spec.asked).toEqual([WINDOW]);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
  });

  it('skips a background refresh when fresh entries appeared before it took the lock', async () => {
    const inner = createFlakyStore();
    const { core, clock } = setup({ inner });
    const spec = fakeSpec();
    await core.read(spec, WINDOW, core.forRequest());
    spec.asked.length = 0;
    clock.advance(TTL.closedFreshMs);
    inner.onCall = async (method) => {
      if (method !== 'acquireLock') return;
      inner.onCall = undefined;
      await inner.inner.setMany(holderWrites(spec, BUCKETS, clock(), (bucket) => 900 + bucket / HOUR));
    };
    const stale = await core.read(spec, WINDOW, core.forRequest());
    await core.idle();
    expect(stale.every((r) => r.how === 'stale')).toBe(true);
    expect(spec.asked).toEqual([]);
    const after = await core.read(spec, WINDOW, core.forRequest());
    expect(after.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => 900 + bucket / HOUR));
  });
});

describe('read-through: single-flight of a span shared by different windows', () => {
  it('computes a missing span once when two different windows miss exactly it', async () => {
    const { core, observer } = setup();
    const spec = fakeSpec();
    await core.read(spec, span(5, 6), core.forRequest()); // hour 5 warm
    spec.asked.length = 0;
    observer.reset();
    spec.gate = deferred();
    // Window 0..6 misses 0..4; window 0..5 misses 0..4 too.
    const wide = core.read(spec, span(0, 6), core.forRequest());
    const narrow = core.read(spec, span(0, 5), core.forRequest());
    await eventually(() => spec.asked.length === 1, 2_000, 'the first source query');
    await flush();
    spec.gate.resolve();
    const [wideResults, narrowResults] = await Promise.all([wide, narrow]);

    expect(spec.asked).toEqual([span(0, 5)]);
    expect(observer.sourceQueries).toEqual(['REVENUE']);
    expect(observer.lockWaits).toEqual([]);
    expect(wideResults.map((r) => r.how)).toEqual(['miss', 'miss', 'miss', 'miss', 'miss', 'hit']);
    expect(wideResults.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5].map((i) => expected(b(i))));
    expect(narrowResults.map((r) => r.value)).toEqual([0, 1, 2, 3, 4].map((i) => expected(b(i))));
  });

  it("keeps each request's own stats when identical concurrent reads share one lookup", async () => {
    const { core } = setup();
    const spec = fakeSpec();
    spec.gate = deferred();
    const requests = [core.forRequest(), core.forRequest()];
    const reads = requests.map((request) => core.read(spec, WINDOW, request));
    await eventually(() => spec.asked.length === 1, 2_000, 'the first source query');
    await flush();
    spec.gate.resolve();
    await Promise.all(reads);
    for (const request of requests) expect(request.stats.get('REVENUE')).toEqual({ hit: 0, miss: 10, stale: 0 });
    expect(spec.asked).toEqual([WINDOW]);
  });
});

describe('read-through: a failing store', () => {
  it('still answers from the source, and reports the store errors', async () => {
    const inner = createFlakyStore();
    inner.failing = true;
    const { core, observer } = setup({ inner, failureThreshold: 100 });
    const spec = fakeSpec();

    const first = await core.read(spec, WINDOW, core.forRequest());
    expect(first.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
    expect(first.every((r) => r.how === 'miss')).toBe(true);
    expect(observer.storeErrors.map((e) => e.operation)).toEqual(['get', 'lock', 'set']);
    // The read failed; the lock and the write-back that would have followed were not sent.
    expect(observer.storeErrors.map((e) => (e.error as CacheError).code)).toEqual([
      CacheErrorCodes.E_STORE_UNAVAILABLE,
      CacheErrorCodes.E_REQUEST_SKIPPED,
      CacheErrorCodes.E_REQUEST_SKIPPED,
    ]);

    // Nothing was cached, so the next read computes again, and still answers.
    const second = await core.read(spec, WINDOW, core.forRequest());
    expect(second.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
    expect(spec.asked).toEqual([WINDOW, WINDOW]);
  });

  it('still answers once the circuit is open, without asking the store', async () => {
    const inner = createFlakyStore();
    inner.failing = true;
    const { core, observer, store } = setup({ inner, failureThreshold: 2 });
    const spec = fakeSpec();
    // One failed command per request: two requests open the circuit.
    await core.read(spec, WINDOW, core.forRequest());
    await core.read(spec, WINDOW, core.forRequest());
    expect(store.breakerState()).toBe('open');
    const callsBefore = Object.values(inner.calls).reduce((a, c) => a + c, 0);
    observer.reset();

    const results = await core.read(spec, WINDOW, core.forRequest());

    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
    expect(Object.values(inner.calls).reduce((a, c) => a + c, 0)).toBe(callsBefore);
    // The circuit refuses the first command; the request sends none after it.
    expect(observer.storeErrors.map((e) => (e.error as CacheError).code)).toEqual([
      CacheErrorCodes.E_CIRCUIT_OPEN,
      CacheErrorCodes.E_REQUEST_SKIPPED,
      CacheErrorCodes.E_REQUEST_SKIPPED,
    ]);
  });

  it('waits on a store that hangs once per request, not once per command', async () => {
    const inner = createFlakyStore();
    const { core, observer } = setup({ inner, failureThreshold: 100 });
    const spec = { ...fakeSpec(), validatorKey: 'test:{acme}:v:REVENUE' };
    // Every command hangs until the test fails it, as a stalled Redis until its timeout.
    const hung: Array<Deferred> = [];
    inner.onCall = () => {
      const d = deferred();
      hung.push(d);
      return d.promise;
    };
    const read = core.read(spec, WINDOW, core.forRequest());
    await eventually(() => hung.length === 1, 1_000, 'the first command sent');
    hung[0]!.reject(new Error('Command timed out'));
    const results = await read;
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
    // The validators' read timed out; the buckets' read and the lock were not sent, and
    // no write-back was even tried: without the validator it cannot be checked.
    expect(hung).toHaveLength(1);
    expect(Object.values(inner.calls).reduce((a, c) => a + c, 0)).toBe(1);
    expect(observer.storeErrors.map((e) => [e.operation, (e.error as CacheError).code])).toEqual([
      ['get', CacheErrorCodes.E_STORE_UNAVAILABLE],
      ['get', CacheErrorCodes.E_REQUEST_SKIPPED],
      ['lock', CacheErrorCodes.E_REQUEST_SKIPPED],
    ]);

    // The next request starts afresh: it tries the store again.
    inner.onCall = undefined;
    const next = await core.read(spec, WINDOW, core.forRequest());
    expect(next.every((r) => r.how === 'miss')).toBe(true);
    expect(inner.calls.getMany).toBeGreaterThan(1);
    expect(inner.calls.setMany).toBe(1);
  });

  it('serves what the store had once it recovers', async () => {
    const inner = createFlakyStore();
    const { core, clock } = setup({ inner, failureThreshold: 100 });
    const spec = fakeSpec();
    await core.read(spec, WINDOW, core.forRequest());
    inner.failing = true;
    await core.read(spec, WINDOW, core.forRequest());
    inner.failing = false;
    clock.advance(1);
    const results = await core.read(spec, WINDOW, core.forRequest());
    expect(results.every((r) => r.how === 'hit')).toBe(true);
    expect(spec.asked).toEqual([WINDOW, WINDOW]);
  });
});

/**
 * Another worker holds the span's lock. Run over the plain memory store (the
 * embedded default) and over a double whose held locks are readable by getMany,
 * as a lock is in Redis; the protocol in lock.ts assumes the latter.
 */
describe.each([
  ['the memory store', false],
  ['a store whose locks getMany can read (as in Redis)', true],
])('read-through: a lock held by another worker, over %s', (_label, locksReadable) => {
  function lockedSetup(lock: CacheCoreOptions['lock']) {
    const memoryClock = manualClock(NOW);
    const inner = createFlakyStore({ inner: createMemoryStore({ clock: memoryClock }), locksReadable });
    const context = setup({ inner, lock });
    const spec = fakeSpec();
    const firstKey = spec.keyOf(WINDOW.from);
    const key = lockKey(firstKey, BUCKETS.length);
    const lockPolls = () => inner.reads.filter((keys) => keys.includes(key)).length;
    return { ...context, spec, key, lockPolls };
  }

  it('waits, then uses the entries the holder wrote, without computing', async () => {
    const { core, store, observer, spec, key, clock } = lockedSetup({ waitMs: 10_000, pollMs: 20 });
    expect(await store.acquireLock(key, 'holder-token', 10_000)).toBe(true);

    const waited = observer.next('lockWaited');
    const reading = core.read(spec, WINDOW, core.forRequest());
    await waited;
    // The holder finishes: it writes every bucket of the span, then releases.
    const now = clock();
    await store.setMany(
      BUCKETS.map((bucket) => ({
        key: spec.keyOf(bucket),
        value: encodeEntry({
          value: 500 + bucket / HOUR,
          computedAt: now,
          version: spec.version,
          freshUntil: now + 60_000,
          staleUntil: now + 600_000,
        }),
        ttlMs: 600_000,
      })),
    );
    const results = await reading;

    expect(observer.lockWaits).toEqual(['REVENUE']);
    expect(spec.asked).toEqual([]);
    expect(observer.sourceQueries).toEqual([]);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => 500 + bucket / HOUR));
    expect(await store.releaseLock(key, 'holder-token')).toBe(true);
  });

  it('keeps waiting while the lock is held and nothing is written, then computes itself after waitMs', async () => {
    const { core, store, observer, spec, key, clock, lockPolls } = lockedSetup({ waitMs: 50, pollMs: 5 });
    expect(await store.acquireLock(key, 'holder-token', 10_000)).toBe(true);

    const waited = observer.next('lockWaited');
    const reading = core.read(spec, WINDOW, core.forRequest());
    await waited;
    // The reader polls the entries and the lock until its deadline (on its clock).
    await eventually(() => lockPolls() >= 3 || spec.asked.length > 0, 2_000, 'three polls or a compute');
    expect(spec.asked).toEqual([]);
    expect(lockPolls()).toBeGreaterThanOrEqual(3);

    clock.advance(50);
    const results = await reading;

    expect(spec.asked).toEqual([WINDOW]);
    expect(observer.sourceQueries).toEqual(['REVENUE']);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
    expect(results.every((r) => r.how === 'miss')).toBe(true);
    // It computed without the lock: the holder's lock is untouched.
    expect(await store.releaseLock(key, 'holder-token')).toBe(true);
  });

  it('computes at once when the holder releases the lock without writing', async () => {
    const { core, store, observer, spec, key } = lockedSetup({ waitMs: 10_000, pollMs: 5 });
    expect(await store.acquireLock(key, 'holder-token', 10_000)).toBe(true);

    const waited = observer.next('lockWaited');
    const reading = core.read(spec, WINDOW, core.forRequest());
    await waited;
    expect(await store.releaseLock(key, 'holder-token')).toBe(true);
    const results = await reading; // the clock never moves: only "lock gone" ends the wait

    expect(spec.asked).toEqual([WINDOW]);
    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((bucket) => expected(bucket)));
  });
});
