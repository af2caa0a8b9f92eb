import { describe, expect, it } from 'vitest';
import { BUCKET_MS, bucketStart, type Granularity } from '../../src/cache/buckets.js';
import type { Entry } from '../../src/cache/entry.js';
import { DEFAULT_TTL, deadlines, decide, isOpen, physicalTtlMs, servesOnError, type TtlPolicy } from '../../src/cache/policy.js';

/** Distinct values, so that a mixed-up field shows. */
const TTL: TtlPolicy = { openFreshMs: 30_000, openStaleMs: 300_000, closedFreshMs: 86_400_000, closedStaleMs: 3_600_000 };
const NOW = Date.parse('2026-11-25T14:37:12.345Z');
const VERSION = '1/1';

const entryWith = (freshUntil: number, staleUntil: number, version = VERSION): Entry<number> => ({
  value: 42,
  computedAt: NOW,
  version,
  freshUntil,
  staleUntil,
});

describe('DEFAULT_TTL', () => {
  it('has the documented defaults and is frozen', () => {
    expect(DEFAULT_TTL).toEqual({ openFreshMs: 30_000, openStaleMs: 300_000, closedFreshMs: 86_400_000, closedStaleMs: 3_600_000 });
    expect(Object.isFrozen(DEFAULT_TTL)).toBe(true);
  });
});

describe.each<Granularity>(['HOUR', 'DAY'])('deadlines for %s buckets', (granularity) => {
  const size = BUCKET_MS[granularity];
  const current = bucketStart(NOW, granularity);
  const open = { freshUntil: NOW + TTL.openFreshMs, staleUntil: NOW + TTL.openFreshMs + TTL.openStaleMs };
  const closed = { freshUntil: NOW + TTL.closedFreshMs, staleUntil: NOW + TTL.closedFreshMs + TTL.closedStaleMs };

  it('treats the bucket containing now as open', () => {
    expect(isOpen(current, granularity, NOW)).toBe(true);
    expect(deadlines(current, granularity, NOW, TTL)).toEqual(open);
  });

  it('treats a future bucket as open', () => {
    expect(isOpen(current + size, granularity, NOW)).toBe(true);
    expect(deadlines(current + size, granularity, NOW, TTL)).toEqual(open);
    expect(deadlines(current + 10 * size, granularity, NOW, TTL)).toEqual(open);
  });

  it('treats a past bucket as closed', () => {
    expect(isOpen(current - size, granularity, NOW)).toBe(false);
    expect(deadlines(current - size, granularity, NOW, TTL)).toEqual(closed);
    expect(deadlines(current - 30 * size, granularity, NOW, TTL)).toEqual(closed);
  });

  it('closes a bucket exactly when it ends, not a millisecond earlier', () => {
    const end = current + size;
    expect(isOpen(current, granularity, end - 1)).toBe(true);
    expect(isOpen(current, granularity, end)).toBe(false);
    expect(deadlines(current, granularity, end - 1, TTL).freshUntil).toBe(end - 1 + TTL.openFreshMs);
    expect(deadlines(current, granularity, end, TTL).freshUntil).toBe(end + TTL.closedFreshMs);
  });

  it('opens a bucket at its first millisecond', () => {
    expect(isOpen(current, granularity, current)).toBe(true);
    expect(deadlines(current, granularity, current, TTL)).toEqual({
      freshUntil: current + TTL.openFreshMs,
      staleUntil: current + TTL.openFreshMs + TTL.openStaleMs,
    });
  });
});

describe('decide', () => {
  const freshUntil = NOW + 1_000;
  const staleUntil = NOW + 5_000;
  const entry = entryWith(freshUntil, staleUntil);

  it('is a miss without an entry', () => {
    expect(decide(null, NOW, VERSION)).toBe('miss');
    expect(decide(undefined, NOW, VERSION)).toBe('miss');
  });

  it('is fresh before freshUntil, stale from freshUntil, a miss from staleUntil', () => {
    expect(decide(entry, NOW, VERSION)).toBe('fresh');
    expect(decide(entry, freshUntil - 1, VERSION)).toBe('fresh');
    expect(decide(entry, freshUntil, VERSION)).toBe('stale');
    expect(decide(entry, staleUntil - 1, VERSION)).toBe('stale');
    expect(decide(entry, staleUntil, VERSION)).toBe('miss');
    expect(decide(entry, staleUntil + 1, VERSION)).toBe('miss');
  });

  it('is a miss when the version differs, however fresh the entry', () => {
    expect(decide(entry, NOW, '1/2')).toBe('miss');
    expect(decide(entry, NOW, '2/1')).toBe('miss');
    expect(decide(entry, freshUntil, '1/2')).toBe('miss');
    expect(decide(entryWith(freshUntil, staleUntil, '2/1'), NOW, VERSION)).toBe('miss');
  });

  it('is never stale when the stale window is empty', () => {
    const noStale = entryWith(freshUntil, freshUntil);
    expect(decide(noStale, freshUntil - 1, VERSION)).toBe('fresh');
    expect(decide(noStale, freshUntil, VERSION)).toBe('miss');
  });

  it('agrees with deadlines at their boundaries', () => {
    const current = bucketStart(NOW, 'HOUR');
    const d = deadlines(current, 'HOUR', NOW, TTL);
    const e = { ...entryWith(d.freshUntil, d.staleUntil) };
    expect(decide(e, NOW, VERSION)).toBe('fresh');
    expect(decide(e, NOW + TTL.openFreshMs - 1, VERSION)).toBe('fresh');
    expect(decide(e, NOW + TTL.openFreshMs, VERSION)).toBe('stale');
    expect(decide(e, NOW + TTL.openFreshMs + TTL.openStaleMs - 1, VERSION)).toBe('stale');
    expect(decide(e, NOW + TTL.openFreshMs + TTL.openStaleMs, VERSION)).toBe('miss');
  });
});

describe('physicalTtlMs', () => {
  it('keeps an entry exactly until staleUntil', () => {
    const entry = entryWith(NOW + 1_000, NOW + 5_000);
    expect(physicalTtlMs(entry, NOW)).toBe(5_000);
    expect(physicalTtlMs(entry, NOW + 4_999)).toBe(1);
  });

  it('equals staleUntil - now for entries made by deadlines, open and closed', () => {
    const current = bucketStart(NOW, 'HOUR');
    for (const bucket of [current, current - BUCKET_MS.HOUR, current + BUCKET_MS.HOUR]) {
      const d = deadlines(bucket, 'HOUR', NOW, TTL);
      const entry = entryWith(d.freshUntil, d.staleUntil);
      expect(physicalTtlMs(entry, NOW)).toBe(d.staleUntil - NOW);
    }
    expect(physicalTtlMs(entryWith(0, NOW + TTL.openFreshMs + TTL.openStaleMs), NOW)).toBe(330_000);
  });

  it('is at least 1 ms, even for an entry already past staleUntil', () => {
    expect(physicalTtlMs(entryWith(NOW - 10, NOW), NOW)).toBe(1);
    expect(physicalTtlMs(entryWith(NOW - 10, NOW - 5), NOW)).toBe(1);
    expect(physicalTtlMs(entryWith(0, 0), NOW)).toBe(1);
  });
});

describe('stale-if-error: servesOnError and the store TTL that covers it', () => {
  const GRACE = 86_400_000;
  const entry = entryWith(NOW + 1_000, NOW + 5_000);

  it('serves an entry while fresh, stale, and up to the grace past its stale deadline, not at it', () => {
    expect(servesOnError(entry, NOW, VERSION, GRACE)).toBe(true);
    expect(servesOnError(entry, NOW + 4_999, VERSION, GRACE)).toBe(true);
    expect(decide(entry, NOW + 5_000, VERSION)).toBe('miss');
    expect(servesOnError(entry, NOW + 5_000, VERSION, GRACE)).toBe(true);
    expect(servesOnError(entry, NOW + 5_000 + GRACE - 1, VERSION, GRACE)).toBe(true);
    expect(servesOnError(entry, NOW + 5_000 + GRACE, VERSION, GRACE)).toBe(false);
  });

  it('serves nothing past the stale deadline with the grace off (0)', () => {
    expect(servesOnError(entry, NOW + 4_999, VERSION, 0)).toBe(true);
    expect(servesOnError(entry, NOW + 5_000, VERSION, 0)).toBe(false);
  });

  it('never serves another version, or no entry', () => {
    expect(servesOnError(entryWith(NOW + 1_000, NOW + 5_000, '1/2'), NOW, VERSION, GRACE)).toBe(false);
    expect(servesOnError(null, NOW, VERSION, GRACE)).toBe(false);
    expect(servesOnError(undefined, NOW, VERSION, GRACE)).toBe(false);
  });

  it('keeps an entry in the store exactly as long as it may be served on error', () => {
    expect(physicalTtlMs(entry, NOW, GRACE)).toBe(5_000 + GRACE);
    expect(physicalTtlMs(entry, NOW + 5_000 + GRACE - 1, GRACE)).toBe(1);
    expect(physicalTtlMs(entry, NOW, 0)).toBe(physicalTtlMs(entry, NOW));
    // Bounded: a closed bucket made now lives its fresh life, its stale window and the grace, no more.
    const closed = deadlines(bucketStart(NOW, 'HOUR') - BUCKET_MS.HOUR, 'HOUR', NOW, TTL);
    expect(physicalTtlMs(entryWith(closed.freshUntil, closed.staleUntil), NOW, GRACE)).toBe(TTL.closedFreshMs + TTL.closedStaleMs + GRACE);
  });
});
