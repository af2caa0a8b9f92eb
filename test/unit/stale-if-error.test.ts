/**
 * Stale-if-error in the read-through (issue 10, "the source fails"), on the injected
 * clock: when the source fails to recompute, a bucket the store still holds is served
 * stale, also past its stale window for `staleIfErrorMs`, counted; a bucket nobody holds
 * fails the read; nothing built from such a value is kept as fresh; the store keeps each
 * entry for its fresh life, its stale window and the grace, no longer.
 */
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, bucketsOf, type BucketWindow } from '../../src/cache/buckets.js';
import { decodeEntry } from '../../src/cache/entry.js';
import { buildKey, validatorKey } from '../../src/cache/keys.js';
import { createLocalTier } from '../../src/cache/local-tier.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import type { TtlPolicy } from '../../src/cache/policy.js';
import { createCacheCore, type BucketResult, type BucketSpec } from '../../src/cache/read-through.js';
import { createResilientStore } from '../../src/cache/resilient-store.js';
import { manualClock, recordingObserver } from './cache-test-kit.js';

const HOUR = BUCKET_MS.HOUR;
const NOW = Date.parse('2026-11-25T12:30:00Z');
const DAY_START = Date.parse('2026-11-25T00:00:00Z');
/** Ten closed hourly buckets. */
const WINDOW: BucketWindow = { granularity: 'HOUR', from: DAY_START, to: DAY_START + 10 * HOUR };
const BUCKETS = bucketsOf(WINDOW);
const TTL: TtlPolicy = { openFreshMs: 1_000, openStaleMs: 10_000, closedFreshMs: 60_000, closedStaleMs: 600_000 };
/** A closed bucket computed at NOW stops being servable (without an error) here. */
const STALE_UNTIL = NOW + TTL.closedFreshMs + TTL.closedStaleMs;
const GRACE = 3_600_000;

interface FailingSpec extends BucketSpec<number> {
  /** What compute returns next (a value per bucket shows which computation it came from). */
  generation: number;
  /** When set, compute rejects with it, as a source that is down does. */
  failWith: Error | undefined;
  calls: number;
}

function failingSpec(withValidator = false): FailingSpec {
  const base = {
    prefix: 'test',
    cacheVersion: '1',
    tenant: 'acme',
    metric: 'ORDERS',
    metricVersion: 1,
    region: undefined,
    granularity: 'HOUR' as const,
  };
  const spec: FailingSpec = {
    metric: 'ORDERS',
    version: '1/1',
    granularity: 'HOUR',
    ttl: TTL,
    keyOf: (bucketStart) => buildKey({ ...base, bucketStart }),
    validatorKey: withValidator ? validatorKey(base) : undefined,
    generation: 1,
    failWith: undefined,
    calls: 0,
    async compute(span) {
      spec.calls++;
      if (spec.failWith) throw spec.failWith;
      return new Map(bucketsOf(span).map((b) => [b, spec.generation * 1_000 + (b - DAY_START) / HOUR]));
    },
    empty: 0,
  };
  return spec;
}

const value = (bucket: number, generation: number) => generation * 1_000 + (bucket - DAY_START) / HOUR;

function setup(options: { staleIfErrorMs?: number; tier?: boolean } = {}) {
  const clock = manualClock(NOW);
  const observer = recordingObserver();
  const inner = createMemoryStore({ clock });
  const store = createResilientStore(inner, { observer, clock });
  const local = options.tier ? createLocalTier({ clock }) : undefined;
  const core = createCacheCore({ store, observer, clock, local, staleIfErrorMs: options.staleIfErrorMs });
  return { clock, observer, inner, core };
}

const DOWN = new Error('connect ECONNREFUSED 127.0.0.1:5432');

describe.each([
  ['without the in-process tier', false],
  ['with the in-process tier', true],
])('stale-if-error %s', (_, tier) => {
  it('serves every held bucket past its stale window when the source fails, stale, counted, with deadlines of now', async () => {
    const { core, clock, observer } = setup({ staleIfErrorMs: GRACE, tier });
    const spec = failingSpec(tier);
    await core.read(spec, WINDOW, core.forRequest());
    observer.reset();

    clock.set(STALE_UNTIL + 1_000);
    spec.failWith = DOWN;
    const request = core.forRequest();
    const results = await core.read(spec, WINDOW, request);

    expect(results.map((r) => r.value)).toEqual(BUCKETS.map((b) => value(b, 1)));
    expect(results.every((r) => r.how === 'stale' && r.staleIfError === true)).toBe(true);
    expect(results.every((r) => r.freshUntil === clock() && r.staleUntil === clock())).toBe(true);
    // What the whole-response layer and Cache-Control read: nothing to keep, nothing fresh.
    expect(request.freshUntil).toBe(clock());
    expect(request.staleUntil).toBe(clock());
    expect(request.stats.get('ORDERS')).toEqual({ hit: 0, miss: 0, stale: 10 });
    expect(observer.lookups).toEqual([{ metric: 'ORDERS', result: 'stale', count: 10 }]);
    expect(observer.staleServes).toEqual([{ metric: 'ORDERS', count: 10 }]);
    expect(observer.staleIfErrors).toEqual([{ metric: 'ORDERS', count: 10 }]);
    expect(observer.sourceFailures).toEqual([{ metric: 'ORDERS', error: DOWN }]);
  });

  it('serves them until the grace ends, then fails with the source error', async () => {
    const { core, clock } = setup({ staleIfErrorMs: GRACE, tier });
    const spec = failingSpec(tier);
    await core.read(spec, WINDOW, core.forRequest());
    spec.failWith = DOWN;

    clock.set(STALE_UNTIL + GRACE - 1);
    expect((await core.read(spec, WINDOW, core.forRequest())).every((r) => r.staleIfError)).toBe(true);
    clock.set(STALE_UNTIL + GRACE);
    await expect(core.read(spec, WINDOW, core.forRequest())).rejects.toBe(DOWN);
  });

  it('serves nothing past the stale window with the grace off (0)', async () => {
    const { core, clock } = setup({ staleIfErrorMs: 0, tier });
    const spec = failingSpec(tier);
    await core.read(spec, WINDOW, core.forRequest());
    spec.failWith = DOWN;
    clock.set(STALE_UNTIL);
    await expect(core.read(spec, WINDOW, core.forRequest())).rejects.toBe(DOWN);
  });

  it('fails a read when a bucket of it was never held, however much of the rest is', async () => {
    const { core, clock } = setup({ staleIfErrorMs: GRACE, tier });
    const spec = failingSpec(tier);
    await core.read(spec, { ...WINDOW, to: WINDOW.to - HOUR }, core.forRequest());
    spec.failWith = DOWN;
    // Still fresh: the nine held buckets are hits; the tenth was never computed.
    await expect(core.read(spec, WINDOW, core.forRequest())).rejects.toBe(DOWN);
    clock.set(STALE_UNTIL + 1);
    await expect(core.read(spec, WINDOW, core.forRequest())).rejects.toBe(DOWN);
  });

  it('computes fresh values again as soon as the source answers, and keeps composed values only then', async () => {
    const { core, clock } = setup({ staleIfErrorMs: GRACE, tier });
    const spec = failingSpec(tier);
    const compose = (results: ReadonlyArray<BucketResult<number>>) => Promise.resolve(results.reduce((sum, r) => sum + r.value, 0));
    const total = (generation: number) => BUCKETS.reduce((sum, b) => sum + value(b, generation), 0);
    expect(await core.readComposed(spec, WINDOW, core.forRequest(), compose, () => 100)).toBe(total(1));

    clock.set(STALE_UNTIL + 1_000);
    spec.failWith = DOWN;
    expect(await core.readComposed(spec, WINDOW, core.forRequest(), compose, () => 100)).toBe(total(1));

    spec.failWith = undefined;
    spec.generation = 2;
    const request = core.forRequest();
    expect(await core.readComposed(spec, WINDOW, request, compose, () => 100)).toBe(total(2));
    expect(request.stats.get('ORDERS')).toEqual({ hit: 0, miss: 10, stale: 0 });
    expect(request.freshUntil).toBe(clock() + TTL.closedFreshMs);
    const calls = spec.calls;
    // Fresh again: reused as a whole (every bucket a hit), no computation.
    const again = core.forRequest();
    expect(await core.readComposed(spec, WINDOW, again, compose, () => 100)).toBe(total(2));
    expect(again.stats.get('ORDERS')).toEqual({ hit: 10, miss: 0, stale: 0 });
    expect(spec.calls).toBe(calls);
  });
});

describe('stale-if-error: what the store keeps', () => {
  it('keeps each entry for its fresh life, its stale window and the grace, and no longer', async () => {
    const { core, clock, inner } = setup({ staleIfErrorMs: GRACE });
    const spec = failingSpec();
    await core.read(spec, WINDOW, core.forRequest());
    const keys = BUCKETS.map((b) => spec.keyOf(b));

    clock.set(STALE_UNTIL + GRACE - 1);
    const held = await inner.getMany(keys);
    expect(held.map((text) => decodeEntry<number>(text!).value)).toEqual(BUCKETS.map((b) => value(b, 1)));
    // lru-cache lets an entry go once its age exceeds its TTL: one millisecond after.
    clock.set(STALE_UNTIL + GRACE + 1);
    expect(await inner.getMany(keys)).toEqual(keys.map(() => null));
  });

  it('with the grace off, keeps an entry until its stale deadline only, as before', async () => {
    const { core, clock, inner } = setup({ staleIfErrorMs: 0 });
    const spec = failingSpec();
    await core.read(spec, WINDOW, core.forRequest());
    clock.set(STALE_UNTIL + 1);
    expect(await inner.getMany([spec.keyOf(DAY_START)])).toEqual([null]);
  });

  it('reports a failed background refresh of a stale bucket, and serves it stale meanwhile', async () => {
    const { core, clock, observer } = setup({ staleIfErrorMs: GRACE });
    const spec = failingSpec();
    await core.read(spec, WINDOW, core.forRequest());
    observer.reset();
    clock.set(NOW + TTL.closedFreshMs + 1);
    spec.failWith = DOWN;
    const results = await core.read(spec, WINDOW, core.forRequest());
    expect(results.every((r) => r.how === 'stale' && !r.staleIfError)).toBe(true);
    await core.idle();
    expect(observer.sourceFailures).toEqual([{ metric: 'ORDERS', error: DOWN }]);
    expect(observer.staleIfErrors).toEqual([]);
  });
});
