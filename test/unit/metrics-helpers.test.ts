import { describe, expect, it } from 'vitest';
import { BUCKET_MS, snapWindow } from '../../src/cache/buckets.js';
import type { GroupsBucket as ProductSalesByBucket } from '../../src/metrics/define.js';
import { mergeGroups as mergeProductBuckets, toSeries } from '../../src/metrics/service.js';

const HOUR = BUCKET_MS.HOUR;
const T0 = Date.parse('2026-11-25T00:00:00Z');

describe('toSeries', () => {
  const window = snapWindow(T0, T0 + 4 * HOUR, 'HOUR');

  it('gives every bucket of the window, zeros where the source had none', () => {
    const series = toSeries(
      window,
      new Map([
        [T0 + HOUR, 7],
        [T0 + 3 * HOUR, 2],
      ]),
      1,
    );
    expect(series).toEqual({
      total: 9,
      points: [
        { start: T0, value: 0 },
        { start: T0 + HOUR, value: 7 },
        { start: T0 + 2 * HOUR, value: 0 },
        { start: T0 + 3 * HOUR, value: 2 },
      ],
    });
  });

  it('divides by the unit only at the end, so cents sum exactly', () => {
    // 0.1 + 0.2 in floating point is not 0.3; 10 + 20 cents is.
    const series = toSeries(
      window,
      new Map([
        [T0, 10],
        [T0 + HOUR, 20],
      ]),
      100,
    );
    expect(series.total).toBe(0.3);
    expect(series.points.map((p) => p.value)).toEqual([0.1, 0.2, 0, 0]);
  });

  it('ignores buckets outside the window', () => {
    const series = toSeries(
      window,
      new Map([
        [T0 - HOUR, 100],
        [T0 + 4 * HOUR, 100],
        [T0, 1],
      ]),
      1,
    );
    expect(series.total).toBe(1);
    expect(series.points).toHaveLength(4);
    expect(series.points.map((p) => p.start)).not.toContain(T0 - HOUR);
  });

  it('gives all zeros for an empty source', () => {
    const series = toSeries(snapWindow(T0, T0 + 2 * BUCKET_MS.DAY, 'DAY'), new Map(), 100);
    expect(series).toEqual({
      total: 0,
      points: [
        { start: T0, value: 0 },
        { start: T0 + BUCKET_MS.DAY, value: 0 },
      ],
    });
  });
});

describe('mergeProductBuckets', () => {
  it('adds orders and revenue per product across buckets', () => {
    const buckets: ProductSalesByBucket[] = [
      { a: { orders: 1, revenueCents: 1000 }, b: { orders: 2, revenueCents: 500 } },
      { a: { orders: 3, revenueCents: 250 } },
      {},
      { c: { orders: 1, revenueCents: 1 }, b: { orders: 1, revenueCents: 5 } },
    ];
    const totals = mergeProductBuckets(buckets);
    expect(Object.fromEntries(totals)).toEqual({
      a: { orders: 4, revenueCents: 1250 },
      b: { orders: 3, revenueCents: 505 },
      c: { orders: 1, revenueCents: 1 },
    });
  });

  it('does not modify its input', () => {
    const first: ProductSalesByBucket = { a: { orders: 1, revenueCents: 100 } };
    const second: ProductSalesByBucket = { a: { orders: 2, revenueCents: 200 } };
    const totals = mergeProductBuckets([first, second]);
    expect(totals.get('a')).toEqual({ orders: 3, revenueCents: 300 });
    expect(first).toEqual({ a: { orders: 1, revenueCents: 100 } });
    expect(second).toEqual({ a: { orders: 2, revenueCents: 200 } });
  });

  it('accepts any iterable, such as a map of buckets', () => {
    const byBucket = new Map<number, ProductSalesByBucket>([
      [T0, { x: { orders: 1, revenueCents: 10 } }],
      [T0 + HOUR, { x: { orders: 1, revenueCents: 10 } }],
    ]);
    expect(mergeProductBuckets(byBucket.values()).get('x')).toEqual({ orders: 2, revenueCents: 20 });
  });

  it('gives an empty map for no buckets', () => {
    expect(mergeProductBuckets([]).size).toBe(0);
  });
});
