import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DateTimeScalar, parseDateTime } from '../../src/graphql/scalars.js';

/** Runs `fn`, expects a GraphQLError with code BAD_USER_INPUT, and returns it. */
function badInput(fn: () => unknown): GraphQLError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(GraphQLError);
  const error = caught as GraphQLError;
  expect(error.extensions.code).toBe('BAD_USER_INPUT');
  return error;
}

describe('parseDateTime', () => {
  it('parses UTC with Z, with and without seconds and fractions', () => {
    expect(parseDateTime('2026-11-25T14:00:00Z')).toBe(Date.UTC(2026, 10, 25, 14));
    expect(parseDateTime('2026-11-25T14:00Z')).toBe(Date.UTC(2026, 10, 25, 14));
    expect(parseDateTime('2026-11-25T14:00:00.250Z')).toBe(Date.UTC(2026, 10, 25, 14, 0, 0, 250));
  });

  it('converts an offset to UTC', () => {
    expect(parseDateTime('2026-11-25T14:00:00+02:00')).toBe(Date.UTC(2026, 10, 25, 12));
    expect(parseDateTime('2026-11-25T23:30:00-05:00')).toBe(Date.UTC(2026, 10, 26, 4, 30));
    expect(parseDateTime('2026-11-25T14:00:00+00:00')).toBe(Date.UTC(2026, 10, 25, 14));
  });

  it('reads a date alone as midnight UTC', () => {
    expect(parseDateTime('2026-11-25')).toBe(Date.UTC(2026, 10, 25));
    expect(parseDateTime('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
  });

  it('ignores surrounding whitespace', () => {
    expect(parseDateTime(' 2026-11-25T14:00:00Z ')).toBe(Date.UTC(2026, 10, 25, 14));
  });

  it.each([
    '2026-02-30',
    '2026-02-29',
    '2026-04-31T00:00:00Z',
    '2026-02-30T10:00:00Z',
    '2026-13-01',
    '2026-00-10',
    '2026-01-01T25:00:00Z',
    '2026-01-01T24:00:00Z',
  ])('refuses the impossible date %s', (value) => {
    badInput(() => parseDateTime(value));
  });

  // The JSDoc promises "refusing impossible dates such as 2026-02-30"; with an offset the
  // calendar check is skipped and Date.parse rolls the date over into March.
  it.each(['2026-02-30T10:00:00+01:00', '2026-02-29T00:00:00+00:00', '2026-04-31T12:00:00+02:00'])(
    'refuses the impossible date %s with an offset',
    (value) => {
      badInput(() => parseDateTime(value));
    },
  );

  it.each(['2026-11-25T14:00:00', '2026-11-25T14:00', '2026-11-25 14:00:00Z', '2026-11-25T14:00:00+0200', '2026-11-25T14:00:00 UTC'])(
    'refuses %s (no zone or wrong shape)',
    (value) => {
      const e = badInput(() => parseDateTime(value));
      expect(e.message).toContain('with a zone');
      expect(e.message).toContain(`"${value}"`);
    },
  );

  it.each(['', 'yesterday', '25/11/2026', '2026-1-5', '+02026-11-25'])('refuses the text %j', (value) => {
    badInput(() => parseDateTime(value));
  });

  it.each([1_764_079_200_000, null, undefined, true, {}, new Date(0)])('refuses the non-string %s', (value) => {
    const e = badInput(() => parseDateTime(value));
    expect(e.message).toContain('got');
  });

  it('shows at most 40 characters of a long bad value', () => {
    const e = badInput(() => parseDateTime('x'.repeat(100)));
    expect(e.message).toContain(`"${'x'.repeat(40)}"`);
    expect(e.message).not.toContain('x'.repeat(41));
  });
});

describe('DateTimeScalar', () => {
  it('serializes epoch ms and Dates as ISO-8601 UTC', () => {
    expect(DateTimeScalar.serialize(Date.UTC(2026, 10, 25, 14))).toBe('2026-11-25T14:00:00.000Z');
    expect(DateTimeScalar.serialize(new Date('2026-11-25T16:00:00+02:00'))).toBe('2026-11-25T14:00:00.000Z');
    expect(DateTimeScalar.serialize(0)).toBe('1970-01-01T00:00:00.000Z');
  });

  it('refuses to serialize what is not an instant', () => {
    expect(() => DateTimeScalar.serialize(Number.NaN)).toThrow(GraphQLError);
    expect(() => DateTimeScalar.serialize(new Date('nope'))).toThrow(/cannot represent/);
    expect(() => DateTimeScalar.serialize('2026-11-25T14:00:00Z')).toThrow(GraphQLError);
  });

  it('parses variable values to epoch ms', () => {
    expect(DateTimeScalar.parseValue('2026-11-25T14:00:00Z')).toBe(Date.UTC(2026, 10, 25, 14));
    badInput(() => DateTimeScalar.parseValue(42));
  });

  it('parses string literals and refuses other literal kinds', () => {
    const literal: ValueNode = { kind: Kind.STRING, value: '2026-11-25' };
    expect(DateTimeScalar.parseLiteral(literal, undefined)).toBe(Date.UTC(2026, 10, 25));
    const e = badInput(() => DateTimeScalar.parseLiteral({ kind: Kind.INT, value: '1764079200000' }, undefined));
    expect(e.message).toContain('IntValue');
  });

  it('round-trips: serialize then parse gives the same instant', () => {
    const ms = Date.UTC(2026, 5, 30, 23, 59, 59, 999);
    expect(DateTimeScalar.parseValue(DateTimeScalar.serialize(ms))).toBe(ms);
  });
});
