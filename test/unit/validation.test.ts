import { describe, expect, it } from 'vitest';
import { BUCKET_MS } from '../../src/cache/buckets.js';
import {
  FUTURE_SKEW_MS,
  MAX_AMOUNT,
  MAX_BACKDATE_MS,
  MAX_ID_LENGTH,
  MAX_RANGE_MS,
  costOfRange,
  resolveRegion,
  validateAmount,
  validateId,
  validateLimit,
  validateOccurredAt,
  validateRange,
} from '../../src/domain/validation.js';
import { DomainError, ErrorCodes } from '../../src/errors.js';

const HOUR = BUCKET_MS.HOUR;
const DAY = BUCKET_MS.DAY;
const T0 = Date.parse('2026-11-25T00:00:00Z');

/** Runs `fn`, expects a DomainError E_INVALID_INPUT naming `field`, and returns it. */
function invalid(fn: () => unknown, field: string): DomainError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DomainError);
  const error = caught as DomainError;
  expect(error.code).toBe(ErrorCodes.E_INVALID_INPUT);
  expect(error.details.field).toBe(field);
  return error;
}

describe('validateRange', () => {
  it('returns the range snapped outward', () => {
    expect(validateRange(T0 + 10 * 60_000, T0 + 2 * HOUR + 1, 'HOUR')).toEqual({ granularity: 'HOUR', from: T0, to: T0 + 3 * HOUR });
    expect(validateRange(T0 + HOUR, T0 + DAY + HOUR, 'DAY')).toEqual({ granularity: 'DAY', from: T0, to: T0 + 2 * DAY });
  });

  it('refuses to equal to from, and to before from, naming the field', () => {
    const e = invalid(() => validateRange(T0, T0, 'HOUR', 'range'), 'range');
    expect(e.message).toContain('range.to');
    expect(e.message).toContain('must be after range.from');
    expect(e.details.from).toBe('2026-11-25T00:00:00.000Z');
    invalid(() => validateRange(T0 + 1, T0, 'DAY', 'input.range'), 'input.range');
  });

  it('refuses non-finite bounds', () => {
    const e = invalid(() => validateRange(Number.NaN, T0, 'HOUR'), 'range');
    expect(e.message).toMatch(/needs both from and to/);
    invalid(() => validateRange(T0, Number.POSITIVE_INFINITY, 'DAY'), 'range');
  });

  it('allows exactly 90 days at HOUR and refuses one millisecond more', () => {
    expect(MAX_RANGE_MS.HOUR).toBe(90 * DAY);
    expect(() => validateRange(T0, T0 + 90 * DAY, 'HOUR')).not.toThrow();
    const e = invalid(() => validateRange(T0, T0 + 90 * DAY + 1, 'HOUR', 'range'), 'range');
    expect(e.message).toContain('range spans');
    expect(e.message).toContain('HOUR granularity the limit is 90 days');
    expect(e.message).toContain('granularity DAY');
    expect(e.details).toMatchObject({ limitDays: 90, granularity: 'HOUR' });
  });

  it('allows exactly 400 days at DAY and refuses more', () => {
    expect(validateRange(T0, T0 + 400 * DAY, 'DAY').to).toBe(T0 + 400 * DAY);
    const e = invalid(() => validateRange(T0, T0 + 401 * DAY, 'DAY', 'range'), 'range');
    expect(e.message).toContain('range spans 401 days');
    expect(e.message).toContain('the limit is 400 days');
    expect(e.message).not.toContain('granularity DAY');
    expect(e.details).toMatchObject({ limitDays: 400, granularity: 'DAY' });
  });

  it('shows a fractional span with one decimal', () => {
    const e = invalid(() => validateRange(T0, T0 + 100 * DAY + 12 * HOUR, 'HOUR'), 'range');
    expect(e.message).toContain('spans 100.5 days');
  });
});

describe('costOfRange', () => {
  it('counts the buckets of the snapped range', () => {
    expect(costOfRange(T0, T0 + DAY, 'HOUR')).toBe(24);
    expect(costOfRange(T0 + 1, T0 + DAY, 'HOUR')).toBe(24);
    expect(costOfRange(T0 + 1, T0 + DAY + 1, 'HOUR')).toBe(25);
    expect(costOfRange(T0, T0 + 7 * DAY, 'DAY')).toBe(7);
    expect(costOfRange(T0, T0 + 90 * DAY, 'HOUR')).toBe(90 * 24);
  });

  it('costs 0 for a range that validateRange would refuse', () => {
    expect(costOfRange(T0, T0, 'HOUR')).toBe(0);
    expect(costOfRange(T0 + DAY, T0, 'DAY')).toBe(0);
    expect(costOfRange(T0, T0 + 90 * DAY + 1, 'HOUR')).toBe(0);
    expect(costOfRange(T0, T0 + 401 * DAY, 'DAY')).toBe(0);
    expect(costOfRange(Number.NaN, T0, 'DAY')).toBe(0);
  });
});

describe('validateLimit', () => {
  it('returns a whole number inside the bounds, inclusive', () => {
    expect(validateLimit(1, 1, 50, 'limit')).toBe(1);
    expect(validateLimit(50, 1, 50, 'limit')).toBe(50);
  });

  it('refuses out of bounds and fractional values, naming the field and bounds', () => {
    const e = invalid(() => validateLimit(51, 1, 50, 'topProducts.limit'), 'topProducts.limit');
    expect(e.message).toContain('topProducts.limit must be a whole number from 1 to 50, got 51');
    expect(e.details).toMatchObject({ min: 1, max: 50 });
    invalid(() => validateLimit(0, 1, 50, 'limit'), 'limit');
    invalid(() => validateLimit(2.5, 1, 50, 'limit'), 'limit');
    invalid(() => validateLimit(Number.NaN, 1, 50, 'limit'), 'limit');
  });
});

describe('validateAmount', () => {
  it('converts major units to integer cents', () => {
    expect(validateAmount(0)).toBe(0);
    expect(validateAmount(19.99)).toBe(1999);
    expect(validateAmount(0.29)).toBe(29);
    expect(validateAmount(0.1 + 0.2)).toBe(30);
    expect(validateAmount(999_999.99)).toBe(99_999_999);
    expect(validateAmount(MAX_AMOUNT)).toBe(MAX_AMOUNT * 100);
  });

  it('refuses a negative amount', () => {
    const e = invalid(() => validateAmount(-0.01), 'input.amount');
    expect(e.message).toContain('must not be negative');
  });

  it('refuses NaN and Infinity (1e999)', () => {
    const e = invalid(() => validateAmount(Number.NaN), 'input.amount');
    expect(e.message).toContain('must be a finite number, got NaN');
    // eslint-disable-next-line no-loss-of-precision -- 1e999 is Infinity on purpose: non-finite input
    const inf = invalid(() => validateAmount(1e999), 'input.amount');
    expect(inf.message).toContain('Infinity');
    invalid(() => validateAmount(-Infinity), 'input.amount');
  });

  it('refuses a non-number', () => {
    invalid(() => validateAmount('10' as unknown as number), 'input.amount');
  });

  it('refuses more than two decimals instead of rounding', () => {
    const e = invalid(() => validateAmount(1.005), 'input.amount');
    expect(e.message).toContain('more than two decimals');
    invalid(() => validateAmount(0.001), 'input.amount');
    invalid(() => validateAmount(1e-7), 'input.amount');
  });

  it('refuses more than the maximum, naming it', () => {
    const e = invalid(() => validateAmount(MAX_AMOUNT + 0.01, 'order.amount'), 'order.amount');
    expect(e.message).toContain(`at most ${MAX_AMOUNT}`);
    expect(e.details.max).toBe(MAX_AMOUNT);
  });
});

describe('validateId', () => {
  it('returns the trimmed id', () => {
    expect(validateId('  p-1 ', 'input.productId')).toBe('p-1');
    expect(validateId('x'.repeat(MAX_ID_LENGTH), 'input.productId')).toHaveLength(MAX_ID_LENGTH);
  });

  it('refuses empty, blank, too long and control characters', () => {
    const e = invalid(() => validateId('', 'input.productId'), 'input.productId');
    expect(e.message).toContain(`1 to ${MAX_ID_LENGTH} printable characters`);
    invalid(() => validateId('   ', 'input.customerId'), 'input.customerId');
    invalid(() => validateId('x'.repeat(MAX_ID_LENGTH + 1), 'input.visitorId'), 'input.visitorId');
    invalid(() => validateId('a\u0000b', 'input.productId'), 'input.productId');
    invalid(() => validateId('a\nb', 'input.productId'), 'input.productId');
  });
});

describe('resolveRegion', () => {
  it('takes the input region when given', () => {
    expect(resolveRegion('APAC', undefined, 'EU')).toBe('APAC');
  });

  it('falls back to the token region, then the home region', () => {
    expect(resolveRegion(undefined, 'NA', 'EU')).toBe('NA');
    expect(resolveRegion(null, undefined, 'EU')).toBe('EU');
  });

  it('accepts the input when it matches a region-scoped token', () => {
    expect(resolveRegion('NA', 'NA', 'EU')).toBe('NA');
  });

  it('refuses an input that differs from a region-scoped token', () => {
    const e = invalid(() => resolveRegion('EU', 'NA', 'EU'), 'input.region');
    expect(e.message).toContain('input.region is EU, but this token may only write region NA');
  });

  it('refuses an unknown region, listing the allowed ones', () => {
    const e = invalid(() => resolveRegion('MARS', undefined, 'EU', 'row.region'), 'row.region');
    expect(e.message).toContain('EU, NA, APAC');
    expect(e.message).toContain('"MARS"');
    invalid(() => resolveRegion('eu', undefined, 'EU'), 'input.region');
    invalid(() => resolveRegion('', undefined, 'EU'), 'input.region');
  });
});

describe('validateOccurredAt', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');

  it('is now when absent', () => {
    expect(validateOccurredAt(undefined, now)).toBe(now);
  });

  it('accepts the past and the tolerated skew into the future', () => {
    expect(validateOccurredAt(now - DAY, now)).toBe(now - DAY);
    expect(validateOccurredAt(now + FUTURE_SKEW_MS, now)).toBe(now + FUTURE_SKEW_MS);
    expect(validateOccurredAt(now - MAX_BACKDATE_MS, now)).toBe(now - MAX_BACKDATE_MS);
  });

  it('refuses a time beyond the skew into the future', () => {
    const e = invalid(() => validateOccurredAt(now + FUTURE_SKEW_MS + 1, now), 'input.occurredAt');
    expect(e.message).toContain('is in the future');
    expect(e.message).toContain(new Date(now + FUTURE_SKEW_MS + 1).toISOString());
  });

  it('refuses a time more than 400 days old', () => {
    expect(MAX_BACKDATE_MS).toBe(400 * DAY);
    const e = invalid(() => validateOccurredAt(now - MAX_BACKDATE_MS - 1, now, 'occurredAt'), 'occurredAt');
    expect(e.message).toContain('more than 400 days old');
  });
});
