import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, type Entry } from '../../src/cache/entry.js';
import { CacheError, CacheErrorCodes } from '../../src/cache/errors.js';
import { sketchOf } from '../../src/cache/sketch.js';

const meta = { computedAt: 1_795_600_800_123, version: '1/3', freshUntil: 1_795_600_830_123, staleUntil: 1_795_601_130_123 };

/** Runs `fn` and returns the CacheError it throws (fails the test otherwise). */
function corruptionOf(fn: () => unknown): CacheError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CacheError);
    return error as CacheError;
  }
  throw new Error('expected a CacheError, nothing was thrown');
}

describe('encodeEntry / decodeEntry', () => {
  const values: unknown[] = [
    0,
    -12.5,
    123_456_789_012,
    'text with "quotes", :colons: and 😀',
    '',
    null,
    false,
    [],
    [1, 2, 3],
    { n: 3, s: sketchOf(['a', 'b', 'c']) },
    { 'product-1': { orders: 2, revenueCents: 1999 }, 'product-2': { orders: 1, revenueCents: 5 } },
  ];

  it.each(values.map((value) => [JSON.stringify(value), value]))('round-trips %s', (_label, value) => {
    const entry: Entry = { value, ...meta };
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
  });

  it('uses the short wire names v, c, x, f, s and nothing else', () => {
    const wire = JSON.parse(encodeEntry({ value: 7, ...meta })) as Record<string, unknown>;
    expect(wire).toEqual({ v: 7, c: meta.computedAt, x: meta.version, f: meta.freshUntil, s: meta.staleUntil });
  });

  it('decodes what another process wrote with the same wire names', () => {
    const text = JSON.stringify({ v: { a: 1 }, c: 1, x: '2/2', f: 3, s: 4 });
    expect(decodeEntry(text)).toEqual({ value: { a: 1 }, computedAt: 1, version: '2/2', freshUntil: 3, staleUntil: 4 });
  });
});

describe('decodeEntry on corrupt text', () => {
  it.each(['not json', '', '{"v":1,', '\u0000', 'undefined'])('throws E_ENTRY_CORRUPT with the parse error as cause for %j', (text) => {
    const error = corruptionOf(() => decodeEntry(text));
    expect(error.code).toBe(CacheErrorCodes.E_ENTRY_CORRUPT);
    expect(error.operation).toBe('get');
    expect(error.name).toBe('CacheError');
    expect(error.message).toMatch(/not JSON/);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  const full = { v: 1, c: 1, x: '1/1', f: 2, s: 3 };
  const withoutField = (field: keyof typeof full) => {
    const copy: Record<string, unknown> = { ...full };
    delete copy[field];
    return JSON.stringify(copy);
  };
  const notEnvelopes: Array<[string, string]> = [
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"{\\"v\\":1}"'],
    ['an array', '[1,2,3]'],
    ['an empty object', '{}'],
    ['no v', withoutField('v')],
    ['no c', withoutField('c')],
    ['no x', withoutField('x')],
    ['no f', withoutField('f')],
    ['no s', withoutField('s')],
    ['c as a string', JSON.stringify({ ...full, c: '1' })],
    ['x as a number', JSON.stringify({ ...full, x: 11 })],
    ['f as null', JSON.stringify({ ...full, f: null })],
    ['s as a string', JSON.stringify({ ...full, s: '3' })],
    ['long field names', JSON.stringify({ value: 1, computedAt: 1, version: '1/1', freshUntil: 2, staleUntil: 3 })],
  ];

  it.each(notEnvelopes)('throws E_ENTRY_CORRUPT for JSON that is not an envelope: %s', (_label, text) => {
    const error = corruptionOf(() => decodeEntry(text));
    expect(error.code).toBe(CacheErrorCodes.E_ENTRY_CORRUPT);
    expect(error.operation).toBe('get');
    expect(error.message).toMatch(/metadata/);
  });

  it('accepts a null value: only the metadata is required', () => {
    expect(decodeEntry(JSON.stringify({ ...full, v: null })).value).toBeNull();
  });
});
