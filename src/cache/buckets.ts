/**
 * Time buckets: pure arithmetic on epoch milliseconds, UTC-aligned.
 * A bucket is named by its start; it covers [start, start + size).
 */

/** Bucket sizes by name. UTC has no DST, so a day is always 24 hours. */
export const BUCKET_MS = Object.freeze({
  HOUR: 3_600_000,
  DAY: 86_400_000,
});

/** A bucket size by name, as the schema's `Granularity` enum: `HOUR` or `DAY`. */
export type Granularity = keyof typeof BUCKET_MS;

/** Start of the bucket that contains `t`. */
export function bucketStart(t: number, granularity: Granularity): number {
  const size = BUCKET_MS[granularity];
  return Math.floor(t / size) * size;
}

/** A range snapped outward to whole buckets: [from, to) with both on bucket edges. */
export interface BucketWindow {
  readonly granularity: Granularity;
  /** First bucket start, inclusive. */
  readonly from: number;
  /** End of the last bucket, exclusive. */
  readonly to: number;
}

/**
 * Snaps [from, to) outward to bucket edges. `to` must be after `from`; callers
 * validate that first, so a violation here is a bug and throws RangeError.
 */
export function snapWindow(from: number, to: number, granularity: Granularity): BucketWindow {
  if (!(to > from)) throw new RangeError(`snapWindow: to (${to}) must be after from (${from})`);
  const size = BUCKET_MS[granularity];
  return {
    granularity,
    from: bucketStart(from, granularity),
    to: Math.ceil(to / size) * size,
  };
}

/** Number of buckets in a snapped window. */
export function bucketCount(window: BucketWindow): number {
  return (window.to - window.from) / BUCKET_MS[window.granularity];
}

/** Every bucket start of a snapped window, in order. */
export function bucketsOf(window: BucketWindow): number[] {
  const size = BUCKET_MS[window.granularity];
  const starts: number[] = [];
  for (let t = window.from; t < window.to; t += size) starts.push(t);
  return starts;
}
