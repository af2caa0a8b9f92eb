import { describe, expect, it } from 'vitest';
import { BUCKET_MS, bucketCount, bucketStart, bucketsOf, snapWindow } from '../../src/cache/buckets.js';

const HOUR = BUCKET_MS.HOUR;
const DAY = BUCKET_MS.DAY;
const t = (iso: string) => Date.parse(iso);

describe('BUCKET_MS', () => {
  it('has an hour and a 24-hour UTC day, frozen', () => {
    expect(BUCKET_MS.HOUR).toBe(3_600_000);
    expect(BUCKET_MS.DAY).toBe(86_400_000);
    expect(Object.isFrozen(BUCKET_MS)).toBe(true);
  });
});

describe('bucketStart', () => {
  it('floors to the start of the UTC hour', () => {
    expect(bucketStart(t('2026-11-25T14:37:12.345Z'), 'HOUR')).toBe(t('2026-11-25T14:00:00Z'));
  });

  it('floors to UTC midnight, not local midnight', () => {
    expect(bucketStart(t('2026-11-25T23:59:59.999Z'), 'DAY')).toBe(t('2026-11-25T00:00:00Z'));
    // 01:30 at +02:00 is still the previous UTC day.
    expect(bucketStart(t('2026-11-26T01:30:00+02:00'), 'DAY')).toBe(t('2026-11-25T00:00:00Z'));
  });

  it('leaves a bucket start where it is', () => {
    const start = t('2026-03-29T02:00:00Z');
    expect(bucketStart(start, 'HOUR')).toBe(start);
    expect(bucketStart(t('2026-03-29T00:00:00Z'), 'DAY')).toBe(t('2026-03-29T00:00:00Z'));
  });

  it('puts the last millisecond of a bucket in that bucket', () => {
    const start = t('2026-01-01T05:00:00Z');
    expect(bucketStart(start + HOUR - 1, 'HOUR')).toBe(start);
    expect(bucketStart(start + HOUR, 'HOUR')).toBe(start + HOUR);
  });

  it('handles instants before the epoch by flooring, not truncating', () => {
    expect(bucketStart(-1, 'HOUR')).toBe(-HOUR);
    expect(bucketStart(-1, 'DAY')).toBe(-DAY);
    expect(bucketStart(0, 'DAY')).toBe(0);
  });

  it('keeps every day 24 hours long across European DST changes', () => {
    const before = t('2026-03-29T00:00:00Z');
    expect(bucketStart(before + 23 * HOUR + 30 * 60_000, 'DAY')).toBe(before);
    expect(bucketStart(before + 24 * HOUR, 'DAY')).toBe(before + DAY);
  });
});

describe('snapWindow', () => {
  it('snaps both edges outward', () => {
    const w = snapWindow(t('2026-11-25T14:10:00Z'), t('2026-11-25T16:20:00Z'), 'HOUR');
    expect(w).toEqual({ granularity: 'HOUR', from: t('2026-11-25T14:00:00Z'), to: t('2026-11-25T17:00:00Z') });
  });

  it('leaves an already aligned range unchanged', () => {
    const from = t('2026-11-25T00:00:00Z');
    const to = t('2026-11-28T00:00:00Z');
    expect(snapWindow(from, to, 'DAY')).toEqual({ granularity: 'DAY', from, to });
    expect(snapWindow(from, to, 'HOUR')).toEqual({ granularity: 'HOUR', from, to });
  });

  it('turns a range inside one bucket into that whole bucket', () => {
    const w = snapWindow(t('2026-11-25T14:10:00Z'), t('2026-11-25T14:11:00Z'), 'HOUR');
    expect(w.from).toBe(t('2026-11-25T14:00:00Z'));
    expect(w.to).toBe(t('2026-11-25T15:00:00Z'));
  });

  it('treats `to` as exclusive: a `to` on an edge adds no bucket', () => {
    const w = snapWindow(t('2026-11-25T14:10:00Z'), t('2026-11-25T15:00:00Z'), 'HOUR');
    expect(w.to).toBe(t('2026-11-25T15:00:00Z'));
    const w2 = snapWindow(t('2026-11-25T14:10:00Z'), t('2026-11-25T15:00:00.001Z'), 'HOUR');
    expect(w2.to).toBe(t('2026-11-25T16:00:00Z'));
  });

  it('snaps to UTC days at DAY granularity', () => {
    const w = snapWindow(t('2026-11-25T23:00:00-05:00'), t('2026-11-26T05:00:00Z'), 'DAY');
    expect(w.from).toBe(t('2026-11-26T00:00:00Z'));
    expect(w.to).toBe(t('2026-11-27T00:00:00Z'));
  });

  it('throws RangeError when to is not after from', () => {
    const x = t('2026-11-25T14:00:00Z');
    expect(() => snapWindow(x, x, 'HOUR')).toThrow(RangeError);
    expect(() => snapWindow(x + 1, x, 'DAY')).toThrow(/must be after from/);
    expect(() => snapWindow(Number.NaN, x, 'HOUR')).toThrow(RangeError);
  });
});

describe('bucketCount and bucketsOf', () => {
  it('counts the buckets of a snapped window', () => {
    expect(bucketCount(snapWindow(t('2026-11-25T14:10:00Z'), t('2026-11-25T16:20:00Z'), 'HOUR'))).toBe(3);
    expect(bucketCount(snapWindow(t('2026-11-01T00:00:00Z'), t('2026-12-01T00:00:00Z'), 'DAY'))).toBe(30);
    expect(bucketCount(snapWindow(t('2026-11-01T00:00:00Z'), t('2026-11-02T00:00:00Z'), 'HOUR'))).toBe(24);
  });

  it('lists every bucket start in order, one size apart', () => {
    const w = snapWindow(t('2026-11-25T14:10:00Z'), t('2026-11-25T16:20:00Z'), 'HOUR');
    expect(bucketsOf(w)).toEqual([t('2026-11-25T14:00:00Z'), t('2026-11-25T15:00:00Z'), t('2026-11-25T16:00:00Z')]);
  });

  it('agrees with bucketCount and stays inside [from, to)', () => {
    const w = snapWindow(t('2026-01-03T07:00:00Z'), t('2026-02-11T19:45:00Z'), 'DAY');
    const starts = bucketsOf(w);
    expect(starts).toHaveLength(bucketCount(w));
    expect(starts[0]).toBe(w.from);
    expect(starts.at(-1)).toBe(w.to - DAY);
    for (const s of starts) expect(bucketStart(s, 'DAY')).toBe(s);
  });

  it('gives one bucket for a window of one bucket', () => {
    const w = snapWindow(t('2026-11-25T00:00:00Z'), t('2026-11-25T00:00:01Z'), 'DAY');
    expect(bucketsOf(w)).toEqual([t('2026-11-25T00:00:00Z')]);
    expect(bucketCount(w)).toBe(1);
  });
});
