/**
 * The in-process tier: its bound, its LRU order, its deadlines on an injected clock,
 * the validator rule; and through the read-through: a warm read sends only the
 * validators, a drop elsewhere (the validator replaced in the store) sends the next
 * read to the store, and a bucket turning stale inside the tier is served stale once
 * while one refresh replaces it.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, bucketCount, bucketsOf, type BucketWindow } from '../../src/cache/buckets.js';
import type { Entry } from '../../src/cache/entry.js';
import { createInvalidator } from '../../src/cache/invalidation.js';
import { buildKey, validatorKey } from '../../src/cache/keys.js';
import { carries, createLocalTier, estimateBytes } from '../../src/cache/local-tier.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createCacheCore, type BucketSpec } from '../../src/cache/read-through.js';
import { createResilientStore } from '../../src/cache/resilient-store.js';
import { droppedToken, nextValidator, VALIDATOR_JOURNAL_DEPTH } from '../../src/cache/store.js';
import { observeLocalTier } from '../../src/observability/cache-metrics.js';
import { eventually } from '../helpers/eventually.js';
import { createFlakyStore, manualClock } from './cache-test-kit.js';

const HOUR = BUCKET_MS.HOUR;
const NOW = Date.parse('2026-11-25T12:30:00Z');
const entry = (value: unknown, freshMs = 60_000, staleMs = 600_000): Entry => ({
  value,
  computedAt: NOW,
  version: '1/1',
  freshUntil: NOW + freshMs,
  staleUntil: NOW + freshMs + staleMs,
});

describe('the tier alone', () => {
  it('never holds more bytes than its bound, dropping the least recently used first', () => {
    const tier = createLocalTier({ maxBytes: 1_000, clock: manualClock(NOW) });
    for (let i = 0; i < 10; i++) tier.set(`k${i}`, entry(i), 'v', 300);
    expect(tier.bytes()).toBeLessThanOrEqual(1_000);
    expect(tier.bytes()).toBe(900);
    // The three most recent are there; touching k7 makes k8 the one to go next.
    expect(tier.get('k7', 'v')?.value).toBe(7);
    tier.set('k10', entry(10), 'v', 300);
    expect(tier.get('k8', 'v')).toBeUndefined();
    expect([7, 9, 10].map((i) => tier.get(`k${i}`, 'v')?.value)).toEqual([7, 9, 10]);
    // One item larger than the whole bound is not kept at all.
    tier.set('huge', entry('x'), 'v', 5_000);
    expect(tier.get('huge', 'v')).toBeUndefined();
    expect(tier.bytes()).toBeLessThanOrEqual(1_000);
    // The most it ever held (what /metrics reports as the peak): at the bound's edge, never over.
    expect(tier.peakBytes()).toBe(900);
  });

  it('reports what it holds, its peak and its bound at /metrics (cache_local_bytes)', async () => {
    const tier = createLocalTier({ maxBytes: 1_000, clock: manualClock(NOW) });
    const registry = new Registry();
    observeLocalTier(registry, tier);
    const gauge = async () =>
      Object.fromEntries((await registry.getSingleMetric('cache_local_bytes')!.get()).values.map((v) => [v.labels.kind, v.value]));
    expect(await gauge()).toEqual({ held: 0, peak: 0, bound: 1_000 });
    tier.set('a', entry(1), 'v', 400);
    tier.set('b', entry(2), 'v', 500);
    expect(await gauge()).toEqual({ held: 900, peak: 900, bound: 1_000 });
    // A key kept again smaller: held falls, the peak stays.
    tier.set('b', entry(2), 'v', 100);
    expect(await gauge()).toEqual({ held: 500, peak: 900, bound: 1_000 });
  });

  it('serves an item only under the validator it was kept under, never without one', () => {
    const tier = createLocalTier({ clock: manualClock(NOW) });
    tier.set('a', entry(1), 'v1', 100);
    tier.set('n', entry(2), null, 100);
    tier.set('u', entry(3), undefined, 100);
    expect(tier.get('a', 'v1')?.value).toBe(1);
    expect(tier.get('a', 'v2')).toBeUndefined();
    expect(tier.get('a', null)).toBeUndefined();
    expect(tier.get('a', undefined)).toBeUndefined();
    // Nothing is kept under "absent" or "unknown": either could match an item read
    // before a drop whose validator was lost since.
    expect(tier.get('n', null)).toBeUndefined();
    expect(tier.get('u', undefined)).toBeUndefined();
    expect(tier.bytes()).toBe(100);
  });

  it("keeps an item until its entry's stale deadline, and no longer than its longest life", () => {
    const clock = manualClock(NOW);
    const tier = createLocalTier({ clock, maxLifeMs: 120_000 });
    tier.set('short', entry('s', 1_000, 2_000), 'v', 100);
    tier.set('long', entry('l', 60_000, 600_000), 'v', 100);
    clock.advance(2_999);
    expect(tier.get('short', 'v')?.value).toBe('s');
    clock.advance(1);
    expect(tier.get('short', 'v')).toBeUndefined();
    clock.advance(117_000 - 1);
    expect(tier.get('long', 'v')?.value).toBe('l');
    clock.advance(1);
    expect(tier.get('long', 'v')).toBeUndefined();
  });

  it('estimates an item at about twice its JSON and key', () => {
    expect(estimateBytes('k'.repeat(50), 1_000)).toBe(2 * 1_050 + 96);
  });
});

describe('carries: a bucket read under an earlier validator, through the journal', () => {
  const k = (h: number) => `p:{acme}:M:HOUR:${h}`;
  const v1 = 'a1.x';
  const v2 = nextValidator(v1, 'a2.y', droppedToken([k(1)]));
  const v3 = nextValidator(v2, 'a3.z', droppedToken([k(2), k(3)]));

  it('carries a key no drop in between dropped, back to the value it was read under', () => {
    expect(carries(v1, v2, k(5))).toBe(true);
    expect(carries(v1, v3, k(5))).toBe(true);
    expect(carries(v2, v3, k(1))).toBe(true);
  });

  it('never carries a key a drop in between dropped', () => {
    expect(carries(v1, v2, k(1))).toBe(false);
    expect(carries(v1, v3, k(1))).toBe(false);
    expect(carries(v1, v3, k(3))).toBe(false);
    expect(carries(v2, v3, k(2))).toBe(false);
  });

  it('never carries past the journal, from a value it does not name, or over a drop of anything', () => {
    expect(carries('other.q', v3, k(5))).toBe(false);
    expect(carries(v1, 'a9.fresh', k(5))).toBe(false);
    const all = nextValidator(v3, 'a4.w', droppedToken([]));
    expect(carries(v3, all, k(5))).toBe(false);
    let deep = v1;
    for (let i = 0; i <= VALIDATOR_JOURNAL_DEPTH; i++) deep = nextValidator(deep, `b${i}.d`, droppedToken([k(100 + i)]));
    expect(carries(v1, deep, k(5))).toBe(false);
  });
});

describe('two processes, one store: whatever drops and reads interleave, every read equals the source (fast-check)', () => {
  const DAY_START = Date.parse('2026-11-25T00:00:00Z');
  const window: BucketWindow = { granularity: 'HOUR', from: DAY_START, to: DAY_START + 8 * HOUR };

  it('holds over random drops (any hours, from either process) and reads on both', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ read: fc.integer({ min: 0, max: 1 }) }),
            fc.record({
              drop: fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { minLength: 0, maxLength: 3 }),
              by: fc.integer({ min: 0, max: 1 }),
            }),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        async (steps) => {
          const clock = manualClock(NOW);
          const shared = createMemoryStore({ clock });
          const source = new Map<number, number>();
          const spec: BucketSpec<number> = {
            metric: 'M',
            version: '1/1',
            granularity: 'HOUR',
            ttl: { openFreshMs: 3_600_000, openStaleMs: 3_600_000, closedFreshMs: 3_600_000, closedStaleMs: 3_600_000 },
            keyOf: (bucketStart) =>
              buildKey({
                prefix: 'prop',
                cacheVersion: '1',
                tenant: 'acme',
                metric: 'M',
                metricVersion: 1,
                granularity: 'HOUR',
                bucketStart,
              }),
            validatorKey: validatorKey({ prefix: 'prop', cacheVersion: '1', tenant: 'acme', metric: 'M', metricVersion: 1 }),
            async compute(span) {
              return new Map(bucketsOf(span).map((b) => [b, source.get(b) ?? 0]));
            },
            empty: 0,
          };
          const processes = [0, 1].map(() => {
            const store = createResilientStore(shared, { clock, failureThreshold: 1_000 });
            return {
              core: createCacheCore({ store, clock, local: createLocalTier({ clock }), lock: { waitMs: 50 } }),
              invalidator: createInvalidator(store, undefined, clock),
            };
          });
          for (const step of steps) {
            if ('read' in step) {
              const { core } = processes[step.read]!;
              const values = (await core.read(spec, window, core.forRequest())).map((r) => r.value);
              await core.idle();
              expect(values).toEqual(bucketsOf(window).map((b) => source.get(b) ?? 0));
            } else {
              // A write: the source changes, then its drop returns (read your writes).
              const hours = step.drop.map((h) => DAY_START + h * HOUR);
              for (const b of hours) source.set(b, (source.get(b) ?? 0) + 1);
              await processes[step.by]!.invalidator.drop('M', 'order.recorded', hours.map(spec.keyOf), [spec.validatorKey!]);
            }
            clock.advance(1);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('the tier in the read-through', () => {
  const DAY_START = Date.parse('2026-11-25T00:00:00Z');
  const window: BucketWindow = { granularity: 'HOUR', from: DAY_START, to: DAY_START + 13 * HOUR };
  const space = { prefix: 'tier', cacheVersion: '1' };

  function setup() {
    const clock = manualClock(NOW);
    const inner = createFlakyStore({ inner: createMemoryStore({ clock }) });
    // A breaker that never opens: these tests are about the tier, not the breaker.
    const store = createResilientStore(inner, { clock, failureThreshold: 1_000 });
    const tier = createLocalTier({ clock });
    const core = createCacheCore({ store, clock, local: tier, lock: { waitMs: 50 } });
    let generation = 1;
    const asked: BucketWindow[] = [];
    const spec: BucketSpec<number> = {
      metric: 'M',
      version: '1/1',
      granularity: 'HOUR',
      ttl: { openFreshMs: 1_000, openStaleMs: 10_000, closedFreshMs: 60_000, closedStaleMs: 600_000 },
      keyOf: (bucketStart) => buildKey({ ...space, tenant: 'acme', metric: 'M', metricVersion: 1, granularity: 'HOUR', bucketStart }),
      validatorKey: validatorKey({ ...space, tenant: 'acme', metric: 'M', metricVersion: 1 }),
      async compute(span) {
        asked.push(span);
        return new Map(bucketsOf(span).map((b) => [b, generation * 100 + (b - DAY_START) / HOUR]));
      },
      empty: 0,
    };
    const invalidator = createInvalidator(store, undefined, clock);
    return { clock, inner, core, spec, asked, invalidator, tier, setGeneration: (g: number) => (generation = g) };
  }

  it('serves a warm read from the tier: the store sees the validator key only', async () => {
    const { inner, core, spec } = setup();
    await core.read(spec, window, core.forRequest());
    await core.idle();
    inner.reads.length = 0;
    const warm = await core.read(spec, window, core.forRequest());
    expect(warm.map((r) => r.how)).toEqual(Array(13).fill('hit'));
    expect(inner.reads).toEqual([[spec.validatorKey]]);
  });

  it('goes to the store once a drop has replaced the validator, for the dropped buckets only (the journal), and keeps what it read under the new one', async () => {
    const { inner, core, spec, invalidator, setGeneration, asked } = setup();
    await core.read(spec, window, core.forRequest());
    setGeneration(2);
    // Another instance drops hour 3: tombstone and new validator, in the shared store.
    await invalidator.drop('M', 'order.recorded', [spec.keyOf(DAY_START + 3 * HOUR)], [spec.validatorKey!]);
    inner.reads.length = 0;
    asked.length = 0;
    const after = await core.read(spec, window, core.forRequest());
    expect(after[3]).toMatchObject({ how: 'miss', value: 203 });
    expect(after[2]).toMatchObject({ how: 'hit', value: 102 });
    expect(inner.reads[0]).toEqual([spec.validatorKey]);
    // The new validator says what its drop dropped: the other twelve hours stand as held.
    expect(inner.reads[1]).toEqual([spec.keyOf(DAY_START + 3 * HOUR)]);
    expect(asked).toEqual([{ granularity: 'HOUR', from: DAY_START + 3 * HOUR, to: DAY_START + 4 * HOUR }]);
    inner.reads.length = 0;
    const again = await core.read(spec, window, core.forRequest());
    expect(inner.reads).toEqual([[spec.validatorKey]]);
    expect(again.map((r) => r.value)).toEqual(
      bucketsOf(window).map((b) => (b === DAY_START + 3 * HOUR ? 203 : 102 + (b - DAY_START - 2 * HOUR) / HOUR)),
    );
  });

  it('reads every bucket again when the way back is not in the journal: more drops than it holds, or a drop by prefix', async () => {
    const { inner, core, spec, invalidator } = setup();
    await core.read(spec, window, core.forRequest());
    // Four drops while this process read nothing: the journal holds three.
    for (const h of [1, 2, 3, 4]) await invalidator.drop('M', 'order.recorded', [spec.keyOf(DAY_START + h * HOUR)], [spec.validatorKey!]);
    inner.reads.length = 0;
    await core.read(spec, window, core.forRequest());
    expect(inner.reads[1]).toHaveLength(13);
    await invalidator.dropPrefix('M', 'manual', 'tier:', [spec.validatorKey!]);
    inner.reads.length = 0;
    await core.read(spec, window, core.forRequest());
    expect(inner.reads[1]).toHaveLength(13);
  });

  it('serves a bucket that turned stale inside the tier once, stale, while one refresh replaces it', async () => {
    const { clock, inner, core, spec, setGeneration, asked } = setup();
    // The open hour (12:00, now 12:30) is fresh for 1 s, then stale for 10 s.
    await core.read(spec, window, core.forRequest());
    setGeneration(2);
    asked.length = 0;
    clock.advance(1_500);
    inner.reads.length = 0;
    const stale = await core.read(spec, window, core.forRequest());
    expect(stale[12]).toMatchObject({ how: 'stale', value: 112 });
    expect(stale.slice(0, 12).every((r) => r.how === 'hit')).toBe(true);
    // Nothing but the validator was read to find it stale: the tier keeps the deadlines.
    expect(inner.reads[0]).toEqual([spec.validatorKey]);
    await core.idle();
    expect(asked).toEqual([{ granularity: 'HOUR', from: DAY_START + 12 * HOUR, to: DAY_START + 13 * HOUR }]);
    inner.reads.length = 0;
    const refreshed = await core.read(spec, window, core.forRequest());
    expect(refreshed[12]).toMatchObject({ how: 'hit', value: 212 });
    expect(inner.reads).toEqual([[spec.validatorKey]]);
  });

  it('keeps a refresh another instance stored first: its stale copy is served until that refresh is read, not until its stale deadline', async () => {
    const { clock, inner, core: b, spec, setGeneration, asked } = setup();
    // Instance A: a tier and a core of its own, over the same store.
    const a = createCacheCore({
      store: createResilientStore(inner.inner, { clock, failureThreshold: 1_000 }),
      clock,
      local: createLocalTier({ clock }),
      lock: { waitMs: 50 },
    });
    await b.read(spec, window, b.forRequest());
    await a.read(spec, window, a.forRequest());
    setGeneration(2);
    clock.advance(1_500);
    // A finds the open hour stale first and refreshes it into the store.
    expect((await a.read(spec, window, a.forRequest()))[12]).toMatchObject({ how: 'stale', value: 112 });
    await a.idle();
    asked.length = 0;
    // B's tier still holds the stale copy: served, while B's refresh finds A's value in the store.
    expect((await b.read(spec, window, b.forRequest()))[12]).toMatchObject({ how: 'stale', value: 112 });
    await b.idle();
    expect(asked).toEqual([]);
    inner.reads.length = 0;
    const after = await b.read(spec, window, b.forRequest());
    expect(after[12]).toMatchObject({ how: 'hit', value: 212 });
    expect(inner.reads).toEqual([[spec.validatorKey]]);
  });

  it('makes an absent validator anew, so that a validator lost from the store invalidates what was read under it', async () => {
    const { inner, core, spec } = setup();
    await core.read(spec, window, core.forRequest());
    const [made] = await inner.inner.getMany([spec.validatorKey!]);
    expect(made).toEqual(expect.any(String));
    // The store loses it (eviction, a restart without data): the next read makes another.
    await inner.inner.deleteMany([spec.validatorKey!]);
    inner.reads.length = 0;
    const after = await core.read(spec, window, core.forRequest());
    expect(inner.reads[1]).toHaveLength(13);
    expect(after.every((r) => r.how === 'hit')).toBe(true);
    const [again] = await inner.inner.getMany([spec.validatorKey!]);
    expect(again).toEqual(expect.any(String));
    expect(again).not.toBe(made);
  });

  it('does not use the tier while the validators cannot be read, and the source still answers', async () => {
    const { inner, core, spec } = setup();
    await core.read(spec, window, core.forRequest());
    inner.failing = true;
    const down = await core.read(spec, window, core.forRequest());
    expect(down.map((r) => r.value)).toEqual(bucketsOf(window).map((b) => 100 + (b - DAY_START) / HOUR));
    expect(down.every((r) => r.how === 'miss')).toBe(true);
    inner.failing = false;
    await eventually(async () => (await core.read(spec, window, core.forRequest())).every((r) => r.how === 'hit'), 5_000, 'back to hits');
  });
});

describe('merges from the coarsest buckets held (readCover)', () => {
  // Now is day 3, 12:30. The window: day 0 from 18:00 to day 3 at 13:00, by hour. Days 1
  // and 2 are whole and closed inside it; day 3 is open; day 0 only partly inside.
  const NOW3 = Date.parse('2026-11-28T12:30:00Z');
  const DAY = BUCKET_MS.DAY;
  const DAY0 = Date.parse('2026-11-25T00:00:00Z');
  const window: BucketWindow = { granularity: 'HOUR', from: DAY0 + 18 * HOUR, to: DAY0 + 3 * DAY + 13 * HOUR };
  const space = { prefix: 'cover', cacheVersion: '1' };
  /** Every hour's value: its hour index since day 0; a day's, the sum of its hours'. */
  const hourValue = (b: number) => (b - DAY0) / HOUR;
  const dayValue = (d: number) => bucketsOf({ granularity: 'HOUR', from: d, to: d + DAY }).reduce((sum, b) => sum + hourValue(b), 0);
  const sum = (results: ReadonlyArray<{ value: number }>) => Promise.resolve(results.reduce((s, r) => s + r.value, 0));
  const expectedTotal = bucketsOf(window).reduce((s, b) => s + hourValue(b), 0);

  function setup() {
    const clock = manualClock(NOW3);
    const inner = createFlakyStore({ inner: createMemoryStore({ clock }) });
    const store = createResilientStore(inner, { clock, failureThreshold: 1_000 });
    const core = createCacheCore({ store, clock, local: createLocalTier({ clock }), lock: { waitMs: 50 } });
    const ttl = { openFreshMs: 1_000, openStaleMs: 10_000, closedFreshMs: 60_000, closedStaleMs: 600_000 };
    const validator = validatorKey({ ...space, tenant: 'acme', metric: 'M', metricVersion: 1 });
    const specOf = (granularity: 'HOUR' | 'DAY', value: (b: number) => number) => {
      const asked: BucketWindow[] = [];
      const spec: BucketSpec<number> = {
        metric: 'M',
        version: '1/1',
        granularity,
        ttl,
        keyOf: (bucketStart) => buildKey({ ...space, tenant: 'acme', metric: 'M', metricVersion: 1, granularity, bucketStart }),
        validatorKey: validator,
        compute: (span) => {
          asked.push(span);
          return Promise.resolve(new Map(bucketsOf(span).map((b) => [b, value(b)])));
        },
        empty: 0,
      };
      return { spec, asked };
    };
    const hours = specOf('HOUR', hourValue);
    const days = specOf('DAY', dayValue);
    return { clock, inner, core, hours, days };
  }

  it('reads nothing coarse that is not held: a cold merge is the hourly read, one source query, no DAY computed', async () => {
    const { core, hours, days } = setup();
    const request = core.forRequest();
    expect(await core.readCover(hours.spec, days.spec, window, request, sum, () => 64)).toBe(expectedTotal);
    expect(hours.asked).toEqual([window]);
    expect(days.asked).toEqual([]);
    expect(request.stats.get('M')).toEqual({ hit: 0, miss: bucketCount(window), stale: 0 });
  });

  it('uses a closed day held fresh instead of its 24 hours, and never the open day', async () => {
    const { inner, core, hours, days } = setup();
    // Somebody read the DAY dashboard over days 0 to 3: every day is held, day 3 open.
    await core.read(days.spec, { granularity: 'DAY', from: DAY0, to: DAY0 + 4 * DAY }, core.forRequest());
    await core.idle();
    inner.reads.length = 0;
    const request = core.forRequest();
    const merged: number[][] = [];
    const total = await core.readCover(
      hours.spec,
      days.spec,
      window,
      request,
      (results) => {
        merged.push(results.map((r) => r.bucket));
        return sum(results);
      },
      () => 64,
    );
    expect(total).toBe(expectedTotal);
    // Days 1 and 2 stand for 48 hours; day 0's last 6 hours and day 3's 13 are read by the hour.
    expect(merged[0]!.sort((a, b) => a - b)).toEqual(
      [
        ...bucketsOf({ granularity: 'HOUR', from: window.from, to: DAY0 + DAY }),
        DAY0 + DAY,
        DAY0 + 2 * DAY,
        ...bucketsOf({ granularity: 'HOUR', from: DAY0 + 3 * DAY, to: window.to }),
      ].sort((a, b) => a - b),
    );
    expect(hours.asked).toEqual([
      { granularity: 'HOUR', from: window.from, to: DAY0 + DAY },
      { granularity: 'HOUR', from: DAY0 + 3 * DAY, to: window.to },
    ]);
    expect(request.stats.get('M')).toEqual({ hit: 2, miss: 6 + 13, stale: 0 });
    // The days came from the tier under the validator: the store saw the validator and the hours only.
    expect(inner.reads.flat().filter((k) => k.includes(':D:'))).toEqual([]);

    // Reused whole while nothing moved: the store sees the validator only.
    inner.reads.length = 0;
    const again = core.forRequest();
    expect(await core.readCover(hours.spec, days.spec, window, again, sum, () => 64)).toBe(expectedTotal);
    expect(inner.reads).toEqual([[hours.spec.validatorKey]]);
    expect(again.stats.get('M')).toEqual({ hit: 2 + 6 + 13, miss: 0, stale: 0 });
  });

  it('reads a day by the hour when its DAY entry is stale, missing or not usable', async () => {
    const { clock, core, hours, days } = setup();
    await core.read(days.spec, { granularity: 'DAY', from: DAY0 + DAY, to: DAY0 + 2 * DAY }, core.forRequest());
    // Only day 1 is held: day 2 goes by the hour, joined with day 3's hours into one read.
    expect(await core.readCover(hours.spec, days.spec, window, core.forRequest(), sum, () => 64)).toBe(expectedTotal);
    expect(hours.asked).toEqual([
      { granularity: 'HOUR', from: window.from, to: DAY0 + DAY },
      { granularity: 'HOUR', from: DAY0 + 2 * DAY, to: window.to },
    ]);
    // Past its fresh life (60 s for a closed bucket) day 1 is stale: its hours are read instead.
    clock.advance(61_000);
    const later = core.forRequest();
    expect(await core.readCover(hours.spec, days.spec, window, later, sum, () => 64)).toBe(expectedTotal);
    expect(later.stats.get('M')!.hit + later.stats.get('M')!.miss + later.stats.get('M')!.stale).toBe(bucketCount(window));
    expect(days.asked).toEqual([{ granularity: 'DAY', from: DAY0 + DAY, to: DAY0 + 2 * DAY }]);
  });

  it('never uses a held value the caller cannot merge exactly (an estimate)', async () => {
    const { core, hours, days } = setup();
    await core.read(days.spec, { granularity: 'DAY', from: DAY0, to: DAY0 + 4 * DAY }, core.forRequest());
    const request = core.forRequest();
    expect(
      await core.readCover(
        hours.spec,
        days.spec,
        window,
        request,
        sum,
        () => 64,
        () => false,
      ),
    ).toBe(expectedTotal);
    expect(hours.asked).toEqual([window]);
    expect(request.stats.get('M')).toEqual({ hit: 0, miss: bucketCount(window), stale: 0 });
  });
});
