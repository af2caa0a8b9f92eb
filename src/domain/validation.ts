/**
 * Checks of caller input, pure and shared by every entry point (GraphQL, the
 * event stream, the CLI). Each failure names the field and the limit.
 */
import { BUCKET_MS, bucketCount, snapWindow, type BucketWindow, type Granularity } from '../cache/buckets.js';
import { invalidInput } from '../errors.js';
import { isRegion, REGIONS, type Region } from '../source/types.js';

/** Longest range a dashboard may ask for, per granularity. */
export const MAX_RANGE_MS: Readonly<Record<Granularity, number>> = Object.freeze({
  HOUR: 90 * BUCKET_MS.DAY,
  DAY: 400 * BUCKET_MS.DAY,
});

/** Largest single amount accepted, in major units. */
export const MAX_AMOUNT = 1_000_000;
/** How far in the past a write may be dated. */
export const MAX_BACKDATE_MS = 400 * BUCKET_MS.DAY;
/** Clock skew tolerated for a write dated in the future. */
export const FUTURE_SKEW_MS = 5 * 60_000;
/** Longest id accepted for products, customers, visitors and rows. */
export const MAX_ID_LENGTH = 128;

/**
 * Checks a dashboard range and snaps it outward to whole buckets.
 * @param field the input path to name in errors.
 */
export function validateRange(from: number, to: number, granularity: Granularity, field = 'range'): BucketWindow {
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw invalidInput(field, `${field} needs both from and to.`);
  if (!(to > from)) {
    throw invalidInput(field, `${field}.to (${iso(to)}) must be after ${field}.from (${iso(from)}).`, { from: iso(from), to: iso(to) });
  }
  const limit = MAX_RANGE_MS[granularity];
  if (to - from > limit) {
    const days = limit / BUCKET_MS.DAY;
    throw invalidInput(
      field,
      `${field} spans ${formatDays(to - from)} days; at ${granularity} granularity the limit is ${days} days. Use a shorter range${granularity === 'HOUR' ? ' or granularity DAY' : ''}.`,
      { limitDays: days, granularity },
    );
  }
  return snapWindow(from, to, granularity);
}

/** Buckets a dashboard field would read, or 0 when its range would be refused anyway. */
export function costOfRange(from: number, to: number, granularity: Granularity): number {
  if (!(to > from) || to - from > MAX_RANGE_MS[granularity]) return 0;
  return bucketCount(snapWindow(from, to, granularity));
}

/**
 * `limit` when it is a whole number from `min` to `max` (both inclusive).
 * @throws DomainError E_INVALID_INPUT naming `field` and the bounds.
 */
export function validateLimit(limit: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(limit) || limit < min || limit > max) {
    throw invalidInput(field, `${field} must be a whole number from ${min} to ${max}, got ${limit}.`, { min, max });
  }
  return limit;
}

/** A money amount in major units to integer cents. */
export function validateAmount(amount: number, field = 'input.amount'): number {
  if (typeof amount !== 'number' || !Number.isFinite(amount)) {
    throw invalidInput(field, `${field} must be a finite number, got ${amount}.`);
  }
  if (amount < 0) throw invalidInput(field, `${field} must not be negative, got ${amount}.`);
  if (amount > MAX_AMOUNT) throw invalidInput(field, `${field} must be at most ${MAX_AMOUNT}, got ${amount}.`, { max: MAX_AMOUNT });
  // `+ 0` turns -0 into 0.
  const cents = Math.round(amount * 100) + 0;
  // More than two decimals would be silently rounded; refuse instead of guessing.
  if (Math.abs(cents - amount * 100) > 1e-6) {
    throw invalidInput(field, `${field} has more than two decimals (${amount}); send whole cents.`);
  }
  return cents;
}

/**
 * `value` trimmed, when that is 1 to `MAX_ID_LENGTH` characters without control
 * characters.
 * @throws DomainError E_INVALID_INPUT naming `field`.
 */
export function validateId(value: string, field: string): string {
  const id = value.trim();
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (id === '' || id.length > MAX_ID_LENGTH || /[\u0000-\u001f]/.test(id)) {
    throw invalidInput(field, `${field} must be 1 to ${MAX_ID_LENGTH} printable characters.`);
  }
  return id;
}

/**
 * The region a write lands in: the input's, which must match a region-scoped
 * token; else the token's; else the tenant's home region.
 */
export function resolveRegion(
  input: string | null | undefined,
  tokenRegion: Region | undefined,
  home: Region,
  field = 'input.region',
): Region {
  if (input === null || input === undefined) return tokenRegion ?? home;
  if (!isRegion(input)) throw invalidInput(field, `${field} must be one of ${REGIONS.join(', ')}, got "${input.slice(0, 20)}".`);
  if (tokenRegion !== undefined && input !== tokenRegion) {
    throw invalidInput(field, `${field} is ${input}, but this token may only write region ${tokenRegion}.`);
  }
  return input;
}

/** When a write happened: now when absent; not in the future, not too old. */
export function validateOccurredAt(value: number | undefined, nowMs: number, field = 'input.occurredAt'): number {
  if (value === undefined) return nowMs;
  if (!Number.isFinite(value)) throw invalidInput(field, `${field} must be a valid instant, got ${value}.`);
  if (value > nowMs + FUTURE_SKEW_MS) throw invalidInput(field, `${field} (${iso(value)}) is in the future.`);
  if (value < nowMs - MAX_BACKDATE_MS) {
    throw invalidInput(field, `${field} (${iso(value)}) is more than ${MAX_BACKDATE_MS / BUCKET_MS.DAY} days old.`);
  }
  return value;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

function formatDays(ms: number): string {
  return (ms / BUCKET_MS.DAY).toFixed(1).replace(/\.0$/, '');
}
